"""Reading the centre's replies as untrusted input.

A reply may come from something that is not our centre at all: a village Wi-Fi login page,
a proxy, a look-alike server on a plain-HTTP link. So every reply is checked for the shape
the station expects before anything reads a field of it, and a push reply must carry the
centre's signature over the request it answers (``station.wire.auth``) before any work
leaves the outbox. Whatever fails a check is a ``BadReply``: one sentence, exit 3, and the
work stays queued for the next sync.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from station.sync.errors import BadReply, UnsignedReply
from station.wire import auth


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The reply's JSON object, or ``BadReply`` when it is anything else."""
    try:
        value = response.json()
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadReply(detail="not JSON", detail_zh="不是 JSON") from None
    if not isinstance(value, dict):
        raise BadReply(detail="not a JSON object", detail_zh="不是 JSON 对象")
    return value


def strings(value: Any, what: str) -> list[str]:
    """A list of strings from a reply field, or ``BadReply`` naming the field."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadReply(detail=f"{what} is not a list of texts",
                       detail_zh=f"{what} 不是文本列表")
    return value


@dataclass(frozen=True)
class IngestReply:
    """What the centre did with a batch of changesets (a push, or a carried bundle)."""

    accepted: list[str]
    duplicates: list[str]
    refused: list[dict[str, Any]]


def ingest_reply(response: httpx.Response) -> IngestReply:
    """The centre's answer to a batch of changesets, in the expected shape."""
    reply = json_object(response)
    refused = reply.get("refused")
    if not isinstance(refused, list) or not all(isinstance(r, dict) for r in refused):
        raise BadReply(detail="refused is not a list of refusals",
                       detail_zh="refused 不是拒收列表")
    return IngestReply(strings(reply.get("accepted"), "accepted"),
                       strings(reply.get("duplicates"), "duplicates"), refused)


def push_reply(response: httpx.Response, *, centre_public: bytes,
               sent: Iterable[str]) -> IngestReply:
    """The centre's answer to a push, checked: signed by the pinned centre key over this
    request's nonce, in the expected shape, and naming only changesets this batch sent."""
    nonce = response.request.headers.get(auth.H_NONCE, "")
    signature = response.headers.get(auth.H_CENTRE_SIGNATURE, "")
    if not (nonce and signature and auth.check_reply(centre_public, nonce=nonce,
                                                     body=response.content,
                                                     signature=signature)):
        raise UnsignedReply()
    reply = ingest_reply(response)
    ours = set(sent)
    if not ours.issuperset(reply.accepted) or not ours.issuperset(reply.duplicates):
        raise BadReply(detail="it names changesets this batch did not send",
                       detail_zh="回复中有本批没有发送的变更")
    return reply

"""What the town centre does, independent of HTTP: enroll, authenticate, ingest, serve pulls,
record staff decisions, publish catalogues.

Ingest (push and USB bundles) checks each sealed changeset on its own — signature, then
AEAD, then every op — so one bad item is refused with a reason naming it and the rest of the
batch is stored. Storing is idempotent by changeset id (G4: a retry after a lost reply changes
nothing) and happens in one transaction per batch, together with the centre's merged view of
each record. Bodies are kept encrypted under the centre's storage key.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson
import uuid_utils
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from station.centre.errors import (
    AmbiguousReceipt,
    BadCode,
    BadRequest,
    CentreError,
    NotAnApplication,
    NotCurrentKeys,
    Replayed,
    Revoked,
    StaffRefused,
    Superseded,
    Unauthenticated,
    UnknownReceipt,
    WrongStation,
)
from station.centre.keys import CentreKeys
from station.centre.opening import Opener, Signers
from station.centre.projector import Projector
from station.centre.repo import (
    CentreRecord,
    EnrollCode,
    LogEntry,
    Repository,
    StationRow,
    Tx,
    serving,
)
from station.domain import merge
from station.domain.casework import DECISION_FIELDS, centre_settles, decide_again, plan_move
from station.domain.catalogue import Catalogue, is_newer, shipped_catalogue
from station.domain.changeset import CENTRE, Changeset, Op
from station.domain.chinatime import china_day
from station.domain.errors import StationError
from station.domain.followup import Facts, Figures, Month, figures
from station.domain.gc_pause import paused_gc
from station.domain.hlc import DEFAULT_MAX_SKEW_MS, Clock
from station.domain.records import field_for
from station.domain.rules import check_changeset
from station.domain.validate import check_text
from station.wire import auth
from station.wire.bundle import check_pull
from station.wire.codec import encode_changeset
from station.wire.downlink import (
    ENTRY_CATALOGUE,
    ENTRY_CHANGESET,
    Entry,
    ack_entry,
    read_batch_header,
    seal_batch,
)
from station.wire.envelope import read_header
from station.wire.errors import Malformed, WireError
from station.wire.keys import seal

NONCE_TTL_MS = 2 * auth.WINDOW_MS
MAX_PULL = 2000
# A batch ends before its entries pass this many bytes (marked incomplete, the rest follows):
# each may be 512 KiB, and a reply over the station's 64 MiB limit would be refused every
# time, leaving that station stuck at its cursor for good.
MAX_PULL_BYTES = 8 << 20
MAX_CARRIED_BATCHES = 200
MAX_CURSOR = 1 << 62
CATALOGUE_PREFIX = "catalogue:"
MAX_STAFF = 64  # who decided: a name and a title, as the history shows it


class Report(NamedTuple):
    """The month's figures by group, and each matter or department group's (zh, en) name."""

    groups: dict[str, Figures]
    names: dict[str, tuple[str, str]]


class UnknownStation(StationError):
    code = "centre.unknown_station"
    zh = "站点 {station} 尚未在镇中心登记"
    en = "Station {station} is not enrolled at the town centre"


class RecordMismatch(StationError):
    code = "centre.record_mismatch"
    zh = ("变更 {item} 所改的记录 {record} 是 {scope} 的 {kind} 记录，"
          "而变更自称属于 {claimed_scope} 的 {claimed_kind} 记录")
    en = ("Changeset {item} is for record {record}, a {kind} record of {scope}, but claims "
          "a {claimed_kind} record of {claimed_scope}")


@dataclass
class Refusal:
    """One refused item: its position in the batch (even when its header is unreadable), its
    changeset id and station when they can be read, and why."""

    index: int
    item: str | None
    station: str | None
    error: StationError

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "id": self.item, "station": self.station,
                **self.error.as_dict()}


@dataclass
class IngestResult:
    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)

    def as_dict(self, now_ms: int) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates,
                "refused": [r.as_dict() for r in self.refused], "time": now_ms}


class Storage:
    """AES-256-GCM for bodies at rest, under keys derived from the centre's storage key."""

    def __init__(self, key: bytes) -> None:
        self._aead = {p: AESGCM(HKDF(hashes.SHA256(), 32, None,
                                     f"station/centre/{p}".encode()).derive(key))
                      for p in ("log", "records")}

    def seal(self, purpose: str, data: bytes, aad: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead[purpose].encrypt(nonce, data, aad.encode())

    def open(self, purpose: str, blob: bytes, aad: str) -> bytes:
        try:
            return self._aead[purpose].decrypt(blob[:12], blob[12:], aad.encode())
        except InvalidTag:
            raise BadRequest(detail=f"stored data {aad} failed authentication",
                             detail_zh=f"中心保存的数据 {aad} 校验失败（被改动或损坏）") from None


def cursor_out_of_range() -> BadRequest:
    """A pull's cursor (``after``) below 0 or past what the log can ever reach."""
    return BadRequest(detail="the cursor is out of range",
                      detail_zh="同步位置（游标）超出范围")


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.replace("-", "").upper().encode()).digest()


def new_token() -> str:
    text = base64.b32encode(secrets.token_bytes(10)).decode()  # 80 bits, 16 characters
    return "-".join(text[i:i + 4] for i in range(0, 16, 4))


class Centre:
    """The town centre: keys, storage, and the rules of every endpoint."""

    def __init__(self, repo: Repository, keys: CentreKeys, *, public_url: str,
                 now_ms: Callable[[], int] | None = None,
                 check_processes: int | None = None) -> None:
        self.repo = repo
        self.keys = keys
        self.public_url = public_url.rstrip("/")
        self.now_ms = now_ms or (lambda: time.time_ns() // 1_000_000)
        self.storage = Storage(keys.storage)
        self.clock = Clock("centre", now=self.now_ms)
        self.opener = Opener(keys.seal, processes=check_processes)
        self.projector = Projector(repo, self.storage, self.now_ms)

    # --- enrollment ------------------------------------------------------------------------

    def enroll_code(self, station: str, scope: Sequence[str], expires_s: int) -> str:
        """A one-time code: centre URL, token, and the fingerprint of the centre's keys."""
        token = new_token()
        self.repo.add_code(EnrollCode(token_hash(token), station.upper(),
                                      serving(station, scope),
                                      self.now_ms() + expires_s * 1000))
        return f"{self.public_url}#{token}/{self.keys.fingerprint}"

    def enroll(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            token, station = str(body["token"]), str(body["station"]).upper()
            keys = {k: bytes.fromhex(str(body[k]))
                    for k in ("sign_public", "seal_public", "transport_public")}
            device = str(body.get("device", ""))[:64]
        except (KeyError, ValueError, TypeError):
            raise BadRequest(detail="an enrollment needs token, station and three public keys",
                             detail_zh="登记请求应有登记码、站点编号和三把公钥") from None
        if len(keys["sign_public"]) != 32 or len(keys["transport_public"]) != 32:
            raise BadRequest(detail="public keys have the wrong length",
                             detail_zh="公钥的长度不对")
        try:  # a key nothing can be sealed to would break every pull: refuse it before the
            seal(b"probe", keys["seal_public"], b"station/enroll-check")  # code is used up
        except (Malformed, ValueError):
            raise BadRequest(detail="the station's sealing key is not usable",
                             detail_zh="站点的加密公钥不能使用") from None
        code = self.repo.take_code(token_hash(token), self.now_ms(), station=station)
        if code is None:
            code = self._enrolled_already(token_hash(token), station, keys)
            if code is None:
                raise BadCode()
        elif code.station != station:
            raise WrongStation(expected=code.station, given=station)
        else:
            self.repo.register(StationRow(station, code.scope, keys["sign_public"],
                                          keys["seal_public"], keys["transport_public"],
                                          device, self.now_ms()))
        return {"station": station, "scope": list(code.scope),
                "centre": {"sign_public": self.keys.signer.public_bytes().hex(),
                           "seal_public": self.keys.seal.public_bytes().hex(),
                           "fingerprint": self.keys.fingerprint},
                "time": self.now_ms()}

    def _enrolled_already(self, hashed: bytes, station: str,
                          keys: dict[str, bytes]) -> EnrollCode | None:
        """The code of an enrollment that went through but whose reply was lost on the way
        back (the link dropped): the same station asking again with the same keys, while
        the code is unexpired, gets the same reply, so it is not left unenrolled with a used
        code. Nothing is written, and the reply is public keys the asker holds already: the
        code alone, or other keys with it, still gets nothing."""
        code = self.repo.used_code(hashed, self.now_ms())
        row = self.repo.station(station)
        if code is None or code.station != station or row is None or row.revoked_ms:
            return None
        same = (row.sign_public, row.seal_public, row.transport_public) == (
            keys["sign_public"], keys["seal_public"], keys["transport_public"])
        return code if same else None

    def revoke(self, station: str) -> bool:
        return self.repo.revoke(station.upper(), self.now_ms())

    # --- request authentication -------------------------------------------------------------

    def authenticate(self, *, method: str, target: str, body: bytes,
                     headers: dict[str, str]) -> StationRow:
        """The enrolled, unrevoked station that signed this request, or a 401/403."""
        signed = auth.read_headers(headers)
        if signed is None:
            raise Unauthenticated("headers")
        row = self.repo.station(signed.station)
        if row is None:
            raise Unauthenticated("unknown", station=signed.station)
        if not auth.check_signature(signed, row.transport_public, method=method,
                                    target=target, body=body):
            raise self._not_current(signed, method=method, target=target, body=body)
        if row.revoked_ms is not None:
            raise Revoked(station=row.id)
        now = self.now_ms()
        if abs(signed.time_ms - now) > auth.WINDOW_MS:
            raise Replayed("window")
        if not self.repo.remember_nonce(row.id, signed.nonce, now + NONCE_TTL_MS, now):
            raise Replayed("nonce")
        return row


    def _not_current(self, signed: auth.SignedRequest, *, method: str, target: str,
                     body: bytes) -> CentreError:
        """Why a request not signed with the station's current key is refused: signed with
        a key of its that the staff revoked, one a later enrollment retired, or neither."""
        def signed_with(keys: list[bytes]) -> bool:
            return any(auth.check_signature(signed, key, method=method, target=target,
                                            body=body) for key in keys)
        if signed_with(self.repo.revoked_retired_keys(signed.station)):
            return Revoked(station=signed.station)
        if signed_with(self.repo.retired_keys(signed.station)):
            return Superseded(station=signed.station)
        return Unauthenticated("signature")

    # --- ingest ------------------------------------------------------------------------------

    def ingest(self, blobs: Sequence[bytes]) -> IngestResult:
        """Verify, open, validate and store sealed changesets (a push, or a USB bundle carried
        by anyone: the stations' signatures are the proof). Each is judged on its own; the
        good ones commit together."""
        # the checked changesets come back from the pool as new objects: no GC passes
        with self.projector.serving_station(), paused_gc():
            return self._ingest(blobs)

    def _ingest(self, blobs: Sequence[bytes]) -> IngestResult:
        result = IngestResult()
        opened: list[tuple[int, Changeset, bytes]] = []
        known_signers: dict[str, Signers | StationError] = {}
        work: list[tuple[int, bytes, Signers]] = []
        for index, blob in enumerate(blobs):
            try:
                station = read_header(blob).station
                if station not in known_signers:
                    known_signers[station] = self._signers(station)
                signers = known_signers[station]
                if isinstance(signers, StationError):
                    raise signers
                work.append((index, blob, signers))
            except StationError as exc:
                head = _safe_header(blob)
                result.refused.append(Refusal(index, head[0], head[1], exc))
        checked = self.opener.check([(blob, signers) for _, blob, signers in work],
                                    self._today())
        for (index, blob, _), outcome in zip(work, checked, strict=True):
            if isinstance(outcome, StationError):
                head = _safe_header(blob)
                result.refused.append(Refusal(index, head[0], head[1], outcome))
            else:
                opened.append((index, *outcome))
        result.refused.sort(key=lambda r: r.index)
        if not opened:
            return result
        now = self.now_ms()
        with self.repo.writing(now) as tx:
            known = tx.known([cs.id for _, cs, _ in opened])
            identities = tx.record_identities(list({cs.record for _, cs, _ in opened}))
            entries: list[LogEntry] = []
            logged: list[Changeset] = []
            for index, cs, encoded in opened:
                if cs.id in known:
                    result.duplicates.append(cs.id)
                    continue
                known.add(cs.id)
                identity = identities.get(cs.record)
                if identity is not None and identity != (cs.scope, cs.kind):
                    # the scope check trusts the changeset's own label: a station must not
                    # reach another village's record by naming its id under its own
                    result.refused.append(Refusal(index, cs.id, cs.origin, RecordMismatch(
                        item=cs.id, record=cs.record, kind=identity[1], scope=identity[0],
                        claimed_kind=cs.kind, claimed_scope=cs.scope)))
                    continue
                identities[cs.record] = (cs.scope, cs.kind)
                entries.append(self._entry(tx, cs, encoded))
                logged.append(cs)
                result.accepted.append(cs.id)
            tx.append_many(entries)
        result.refused.sort(key=lambda r: r.index)
        if entries:
            self.projector.nudge(logged)
        return result

    def _signers(self, station: str) -> Signers | StationError:
        """Who may sign for ``station``: its keys (superseded ones too, for work exported
        before a reinstall) and its villages — or why nothing from it is accepted."""
        row = self.repo.station(station)
        if row is None:
            return UnknownStation(station=station)
        if row.revoked_ms is not None:
            return Revoked(station=row.id)
        return Signers(row.id, (row.sign_public, *self.repo.superseded_sign_keys(row.id)),
                       row.scope)

    def _today(self) -> dt.date:
        return china_day(self.now_ms())

    def _entry(self, tx: Tx, cs: Changeset, encoded: bytes) -> LogEntry:
        """The log entry of one changeset, body encrypted; a wild clock is flagged."""
        ahead = cs.hlc.wall - self.now_ms()
        if ahead > DEFAULT_MAX_SKEW_MS:
            tx.flag_clock(cs.hlc.device, ahead)  # kept, but that laptop's clock is flagged
        else:
            self.clock.observe(cs.hlc)
        return LogEntry(cs.id, "changeset", cs.scope, cs.origin, cs.record, cs.hlc.encode(),
                        self.storage.seal("log", encoded, f"log|{cs.id}"),
                        record_kind=cs.kind)

    # --- pull --------------------------------------------------------------------------------

    def pull(self, station: StationRow, after: int, limit: int, *,
             acks: Sequence[str] = (), own_upto: str | None = None) -> bytes:
        """Everything in the station's scope after its cursor, sealed to it, signed by us;
        with ``acks`` (changesets of its own we hold), an acknowledgement of them first.
        Its own install's changesets are left out, up to ``own_upto`` when it says how far
        it knows we hold them (``Repository.read_log``)."""
        with self.projector.serving_station():
            return self._pull(station, after, limit, acks, own_upto)

    def _pull(self, station: StationRow, after: int, limit: int, acks: Sequence[str],
              own_upto: str | None) -> bytes:
        limit = max(1, min(limit, MAX_PULL))
        if not 0 <= after < MAX_CURSOR:
            raise cursor_out_of_range()
        head = self.repo.head()  # read first: every entry up to it had committed by then
        own = ((station.id, station.device, own_upto) if after > 0 and station.device
               else None)
        entries = self.repo.read_log(after, station.scope, exclude_own=own, limit=limit)
        out: list[Entry] = []
        size = 0
        for e in entries:
            data = self.storage.open("log", e.body, f"log|{e.id}")
            if out and size + len(data) > MAX_PULL_BYTES:
                break
            kind = ENTRY_CATALOGUE if e.kind == "catalogue" else ENTRY_CHANGESET
            out.append(Entry(kind, e.seq, data))
            size += len(data)
        upto = out[-1].seq if out else after
        complete = len(out) == len(entries) < limit
        if complete:  # nothing more in scope: skip past other villages' traffic
            upto = max(upto, head, after)
        if acks:  # first, so a station reads them before anything else in the batch
            out.insert(0, ack_entry(acks))
        return seal_batch(out, station=station.id, after=after, upto=upto, complete=complete,
                          centre_time_ms=self.now_ms(), station_public=station.seal_public,
                          signer=self.keys.signer)

    def carried_pull(self, request: dict[str, Any]) -> list[bytes]:
        """The downlink of a station whose signed pull request came on a USB stick.

        No time window or nonce applies (the stick may travel for days); the signature proves
        the request is the station's, and the batches are sealed so only it can open them.
        The first batch acknowledges those of the changesets the request names that we hold
        from that station, stored by this upload or an earlier one: a station that never
        pushes online has no other way to learn its work arrived."""
        station = str(request.get("station", ""))
        row = self.repo.station(station) if station else None
        if row is None:
            raise UnknownStation(station=station or "?")
        if row.revoked_ms is not None:
            raise Revoked(station=row.id)
        if not check_pull(request, row.transport_public):
            # one of the station's own earlier keys (it was set up and enrolled again) is
            # said as that; any other signature is a forgery or damage, said as such
            if any(check_pull(request, key) for key in self.repo.retired_keys(row.id)):
                raise NotCurrentKeys(station=row.id)
            raise Unauthenticated("signature")
        after = int(request["after"])
        if not 0 <= after < MAX_CURSOR:
            raise cursor_out_of_range()
        named = request.get("changesets") or []
        held = self.repo.held_from(row.id, named) if named else set()
        acks = [cid for cid in named if cid in held]
        batches: list[bytes] = []
        while len(batches) < MAX_CARRIED_BATCHES:
            blob = self.pull(row, after, MAX_PULL, acks=[] if batches else acks)
            batches.append(blob)
            head = read_batch_header(blob)
            if head.complete or head.upto <= after:
                break
            after = head.upto
        return batches

    # --- staff -------------------------------------------------------------------------------

    def catalogue(self) -> Catalogue:
        raw = self.repo.setting("catalogue")
        return Catalogue.from_json_bytes(raw.encode()) if raw else shipped_catalogue()

    def publish_catalogue(self, raw: bytes) -> Catalogue:
        """Validate and publish a new catalogue; it flows down to every station."""
        catalogue = Catalogue.from_json_bytes(raw)
        self._keeps_matters_in_use(catalogue)
        canonical = encode_catalogue(catalogue)
        entry_id = f"{CATALOGUE_PREFIX}{catalogue.version}"
        with self.repo.writing(self.now_ms()) as tx:
            current = self.catalogue()  # read under the append lock: no two publish at once
            if catalogue.version == current.version or tx.known([entry_id]):
                raise StaffRefused(detail=f"Catalogue version {catalogue.version} is already "
                                          "published",
                                   detail_zh=f"事项清单版本 {catalogue.version} 已经发布过")
            if not is_newer(catalogue, current):
                raise StaffRefused(detail=f"Catalogue version {catalogue.version} is older "
                                          f"than the published {current.version}",
                                   detail_zh=f"事项清单版本 {catalogue.version} 比已发布的 "
                                             f"{current.version} 旧")
            tx.append(LogEntry(entry_id, "catalogue", "*", CENTRE, None,
                               self.clock.tick().encode(),
                               self.storage.seal("log", canonical, f"log|{entry_id}")))
            tx.set_setting("catalogue", canonical.decode())
        return catalogue

    def _keeps_matters_in_use(self, catalogue: Catalogue) -> None:
        """A version that leaves out a matter open cases were filed under would strand them:
        no station could move them on and the centre could not decide them."""
        self.projector.catch_up()
        dropped = sorted(self.repo.matters_in_use() - {m.code for m in catalogue})
        if dropped:
            codes = ", ".join(dropped)
            raise StaffRefused(
                detail=f"Catalogue version {catalogue.version} leaves out {codes}, which "
                       "applications on record were filed under; keep every such matter in "
                       "the catalogue so those cases can still be followed to the end",
                detail_zh=f"事项清单版本 {catalogue.version} 删去了 {codes}，而已有代办件按这些"
                          "事项受理；请保留这些事项，以便这些件能一办到底")

    def decide(self, receipt: str, outcome: str, *, reason: str, staff: str) -> dict[str, Any]:
        """A staff decision (办结/退回): centre-authority ops that flow down to the station."""
        if outcome not in ("completed", "returned"):
            raise BadRequest(detail="the outcome is completed or returned",
                             detail_zh="结果只能是办结（completed）或退回（returned）")
        reason = check_text(reason, label=("原因（--reason）", "The reason (--reason)"),
                            field_name="outcome_reason", multiline=True,
                            max_len=_max_len("application", "outcome_reason"))
        staff = check_text(staff, label=("决定人（--staff）", "Who decided (--staff)"),
                           field_name="staff", max_len=MAX_STAFF) or CENTRE
        if outcome == "returned" and not reason.strip():
            # the station has to tell the resident, once, what to put right (一次告知)
            raise StaffRefused(detail="Returning an application needs a reason (--reason): "
                                      "what the resident has to put right",
                               detail_zh="退回代办件须写明原因（--reason）：申请人需要补正什么")
        receipt = receipt.strip()
        found = self.find_receipt(receipt) if receipt else []
        if not found:
            raise UnknownReceipt(receipt=receipt or "“”")
        if len(found) > 1:
            raise AmbiguousReceipt(receipt=receipt, ids=", ".join(r.id for r in found))
        rec = found[0]
        if rec.kind != "application":
            raise NotAnApplication(receipt=rec.receipt or rec.id, kind=rec.kind)
        state = self.projector.state(rec)
        fields = merge.fields(state)
        matter = self.catalogue().get(fields["matter"]) if fields.get("matter") else None
        conflicted = {c.field for c in merge.conflicts(state)}
        status = decide_again(conflicted, fields["status"], outcome, reason=reason)
        # deciding again settles disagreeing decisions: it supersedes every status it saw
        status_prev = (tuple(h.op_id for h in merge.status_heads(state))
                       if status is not None else ())
        if status is None:
            status = plan_move(rec.kind, fields, fields["status"], outcome, reason=reason,
                               matter=matter, writer=CENTRE)
        ops = [Op("set", "outcome", outcome,
                  prev=tuple(h.op_id for h in merge.register_heads(state, "outcome")))]
        if reason.strip() or "outcome_reason" in conflicted:  # no reason left standing
            ops.append(Op("set", "outcome_reason", reason.strip() or None,
                          prev=tuple(h.op_id for h in merge.register_heads(state,
                                                                           "outcome_reason"))))
        ops.append(Op("set", "closed_on", self._today().isoformat(),
                      prev=tuple(h.op_id for h in merge.register_heads(state, "closed_on"))))
        ops.append(Op("status", "status", status, prev=status_prev))
        now = self.now_ms()
        cs = Changeset(_uuid7(), rec.id, rec.kind, rec.scope, CENTRE, staff,
                       self.clock.tick(), tuple(ops))
        check_changeset(cs, today=self._today())
        with self.repo.writing(now) as tx:
            tx.append_many([self._entry(tx, cs, encode_changeset(cs))])
        self.projector.catch_up()
        return {"changeset": cs.id, "record": rec.id, "receipt": rec.receipt,
                "status": status, "outcome": outcome}

    def conflicts(self, *, scope: str | None = None, station: str | None = None
                  ) -> list[dict[str, Any]]:
        """Every open conflict the centre holds, oldest first: each competing value with who
        wrote it, from which station and when, and who settles it — the centre (two staff
        decided the same case at once) or the stations that hold the record's village.

        A value is sent only where centre staff see such values today (decisions, dates,
        choices, the matter); a resident's name, ID number, phone or address, and free text
        a station wrote, stay at the stations (G2: staff requests may travel in plain HTTP)."""
        self.projector.catch_up()
        stations = [s for s in self.repo.stations() if s.revoked_ms is None]
        scopes: list[str] | None = None
        if station is not None:
            row = next((s for s in stations if s.id == station.upper()), None)
            if row is None:
                raise UnknownStation(station=station.upper())
            scopes = list(row.scope)
        if scope is not None:
            scopes = [v for v in (scopes or [scope.upper()]) if v == scope.upper()]
        catalogue = self.catalogue()
        out: list[dict[str, Any]] = []
        for rec, state, found in self._open_conflicts(scopes):
            code = merge.fields(state).get("matter")
            matter = catalogue.get(code) if code and code in catalogue else None
            holders = [s.id for s in stations if rec.scope in s.scope]
            origins = self.repo.origins(sorted({h.op_id.rpartition(":")[0]
                                                for c in found for h in c.heads}))
            out += [_conflict_view(rec, c, centre_settles(rec.kind, c.field, matter),
                                   holders, origins, catalogue, code) for c in found]
        return out

    def _open_conflicts(self, scopes: list[str] | None = None
                        ) -> Iterator[tuple[CentreRecord, merge.State, list[merge.Conflict]]]:
        """Each record with a conflict open (in these villages), its state and conflicts."""
        for rec in self.repo.conflicted(scopes):
            state = self.projector.state(rec)
            found = merge.conflicts(state)
            if found:  # else projected by an older centre, and nothing disagrees
                yield rec, state, found

    def report(self, month: Month, by: str | None = None) -> Report:
        """The month's figures across every station, or grouped by station, matter,
        department or channel (the same definitions as at a station), with the catalogue's
        names of the matter or department groups. A record with an open conflict is counted
        by its value for now, and counted in ``conflicted`` too."""
        self.projector.catch_up()
        open_ = {rec.id: len(found) for rec, _, found in self._open_conflicts()}
        facts = [Facts(**{**data, "contact_months": tuple(data["contact_months"]),
                          "conflicts": open_.get(data["id"], 0)})
                 for data in map(orjson.loads, self.repo.all_facts())]
        catalogue = self.catalogue()

        def department(f: Facts) -> str:
            if f.matter and f.matter in catalogue:
                return catalogue.get(f.matter).department("zh")
            return "-"

        keys: dict[str | None, Any] = {
            None: None, "station": lambda f: f.station or "-",
            "matter": lambda f: f.matter or "-", "department": department,
            "channel": lambda f: f.channel or "-"}
        if by not in keys:
            raise BadRequest(detail="group by station, matter, department or channel",
                             detail_zh="只能按 station、matter、department 或 channel 分组")
        groups = figures(facts, month, self._today(), by=keys[by])
        return Report(groups, catalogue.group_names(by, groups))

    def find_receipt(self, receipt: str) -> list[CentreRecord]:
        """The records with this receipt number (or id), from an up-to-date view."""
        self.projector.catch_up()
        return self.repo.find_receipt(receipt)

    def close(self) -> None:
        self.projector.stop()
        self.opener.close()
        self.repo.close()

    def health(self) -> dict[str, Any]:
        return {"ok": True, "time": self.now_ms(), "backend": self.repo.backend,
                "fingerprint": self.keys.fingerprint}


# Field types whose values centre staff may be shown: choices, dates, the matter. Free text
# (a visit's result, a rating's comment, a village group) and personal fields stay at the
# stations, as every staff command has kept them so far.
SHOWN_TYPES = frozenset({"choice", "date", "datetime", "bool", "matter"})


def _conflict_view(rec: CentreRecord, conflict: merge.Conflict, by_centre: bool,
                   holders: list[str], origins: dict[str, str], catalogue: Catalogue,
                   matter: str | None) -> dict[str, Any]:
    """One conflict as the staff's listing carries it (see ``Centre.conflicts``): the
    record's matter by its code and its names, as staff know a case by what it is for."""
    ref = rec.receipt or rec.id
    heads = [_head_view(rec.kind, conflict.field, h,
                        origins.get(h.op_id.rpartition(":")[0], "?"))
             for h in conflict.heads]
    if conflict.field == "matter":  # the competing matters, named as well
        heads = [{**h, **_matter_names(catalogue, h.get("value"))} for h in heads]
    return {"id": f"{ref}:{conflict.field}", "record": rec.id, "receipt": rec.receipt,
            "kind": rec.kind, "scope": rec.scope, "field": conflict.field,
            "matter": matter, **_matter_names(catalogue, matter),
            "centre_settles": by_centre, "stations": [] if by_centre else holders,
            "heads": heads}


def _matter_names(catalogue: Catalogue, code: Any) -> dict[str, str]:
    """``matter_zh`` and ``matter_en`` of a matter code the catalogue knows, else nothing
    (a code from a newer catalogue than this centre has is still listed, by its code)."""
    if not isinstance(code, str) or code not in catalogue:
        return {}
    found = catalogue.get(code)
    return {"matter_zh": found.name_zh, "matter_en": found.name_en}


def _head_view(kind: str, field_name: str, head: merge.Head, origin: str) -> dict[str, Any]:
    """One competing value: its value only where the staff may see it (``SHOWN_TYPES``, and
    the centre's own decisions), else ``shown`` False and no value at all."""
    spec = field_for(kind, field_name)
    value = head.value
    shown = spec is not None and not spec.personal and (
        field_name in DECISION_FIELDS or spec.type in SHOWN_TYPES)
    if shown and field_name == "status" and isinstance(value, dict) and origin != CENTRE:
        value = {k: v for k, v in value.items() if k != "reason"}  # a station's free text
    view = {"tag": head.tag, "author": head.author, "device": head.device,
            "station": origin, "hlc": head.hlc, "shown": shown}
    return {**view, "value": value} if shown else view


def _max_len(kind: str, field_name: str) -> int:
    """How long the record's field may be, so a decision is refused here, in words, rather
    than by the changeset check with the field's inner name."""
    spec = field_for(kind, field_name)
    return spec.max_len if spec is not None else MAX_STAFF


def encode_catalogue(catalogue: Catalogue) -> bytes:
    return orjson.dumps(catalogue.to_dict(), option=orjson.OPT_SORT_KEYS)


def _uuid7() -> str:
    return str(uuid_utils.uuid7())


def _safe_header(blob: bytes) -> tuple[str | None, str | None]:
    try:
        head = read_header(blob)
    except (WireError, Malformed):
        return None, None
    return head.changeset_id, head.station


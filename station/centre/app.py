"""The centre's HTTP API (FastAPI): thin handlers over ``Centre``.

Every refusal is a JSON ``{"error": {"code", "zh", "en"}}`` with a 4xx status: unauthenticated,
revoked, forged, replayed, oversized (413) or malformed requests never reach a 500. Bodies
are read with a hard cap before anything else looks at them. Each request is logged as one
JSON line and counted in the Prometheus metrics at ``/metrics``.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import prometheus_client as prom
from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic import ValidationError as ModelError
from pydantic_core import PydanticCustomError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException

from station.centre.errors import (
    FRAMEWORK_ZH,
    FRAMEWORK_ZH_OTHER,
    BadField,
    BadRequest,
    CentreError,
    SlowBody,
    StaffOnly,
    TooLarge,
)
from station.centre.repo import serving
from station.centre.service import MAX_CURSOR, Centre
from station.domain.errors import StationError
from station.domain.followup import Month
from station.domain.validate import has_control_chars
from station.wire import auth
from station.wire.bundle import MAX_NAMED
from station.wire.framing import pack, unpack

log = logging.getLogger("station.centre")

MAX_BODY = 8 * 1024 * 1024
MAX_JSON = 256 * 1024
MAX_CATALOGUE = 2 * 1024 * 1024
MAX_PUSH_ITEMS = 5000
MAX_SEALED = 512 * 1024
# How long one piece of a request body may keep us waiting. Per piece, not per body: an
# 8 MiB push over a village's slow link takes minutes, but it keeps coming.
BODY_TIMEOUT_S = 30.0
PUSH_MAGIC = b"SCB1"
DOWNLINK_ITEMS = b"DLB1"
BINARY = "application/octet-stream"
_BINARY_BODY = {"requestBody": {"required": True,
                                "content": {BINARY: {"schema": {"type": "string",
                                                                "format": "binary"}}}}}


# A village (or station) code as changesets carry it: a NUL or a lone surrogate here would
# reach the database (a 500 on both back ends) and nothing else could ever match it anyway.
_VILLAGE = r"^[A-Za-z0-9_-]{1,32}$"
VillageCode = Annotated[str, Field(min_length=1, max_length=32, pattern=_VILLAGE)]


# An encoded HLC (station.domain.hlc), or "" for none: how far a station knows we hold its own
OWN_UPTO = re.compile(r"(\d{13}\.\d{5}\.[A-Za-z0-9_.-]{1,80})?")

# A changeset id as stations write them (a UUID, lowercase); signed over as given, so no
# other spelling of the same UUID is accepted in its place.
ChangesetId = Annotated[str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-"
                                           r"[0-9a-f]{4}-[0-9a-f]{12}$")]


def _printable(text: str, *, multiline: bool = False) -> str:
    """A pydantic check over the domain's rule for typed text; its error type is what
    ``BadField`` words as "contains control characters"."""
    if has_control_chars(text, multiline=multiline):
        raise PydanticCustomError("control_chars", "control characters are not allowed here")
    return text


# Free text that is stored and shown (a device name, who decided, why): a NUL would be kept
# on SQLite and refused by PostgreSQL, and no screen can show it. Lone surrogates never get
# this far: pydantic refuses them as not a string.
Line = Annotated[str, AfterValidator(_printable)]


class EnrollRequest(BaseModel):
    token: Line = Field(max_length=64)
    station: VillageCode
    sign_public: str = Field(max_length=128)
    seal_public: str = Field(max_length=4096)
    transport_public: str = Field(max_length=128)
    device: Line = Field(default="", max_length=64)


class CarriedPull(BaseModel):
    """A station's signed pull request as a USB stick carries it (``signed_pull``).

    The endpoint parses the JSON itself (to refuse NaN and deep nesting), so this is what
    checks each field before the station is looked up or the signature is rebuilt: strict,
    so a cursor of ``true``, ``"5"`` or ``1.5`` is refused rather than coerced."""

    model_config = ConfigDict(strict=True)

    station: VillageCode
    after: int = Field(ge=0, lt=MAX_CURSOR)
    time_ms: int = Field(ge=0, lt=1 << 63)
    nonce: str = Field(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    signature: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9+/]+=*$")
    # the bundle's changesets the station asks us to acknowledge (ids only: nothing personal)
    changesets: list[ChangesetId] = Field(default_factory=list, max_length=MAX_NAMED)


class CodeRequest(BaseModel):
    station: str = Field(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9_-]+$")
    scope: list[VillageCode] = Field(default_factory=list, max_length=100)
    expires_s: int = Field(default=7 * 86400, ge=60, le=90 * 86400)


class RevokeRequest(BaseModel):
    station: str = Field(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9_-]+$")


class DecideRequest(BaseModel):
    receipt: Line = Field(min_length=1, max_length=64)
    outcome: str = Field(pattern=r"^(completed|returned)$")
    # typed by a person: ``Centre.decide`` checks them by the domain's rule for typed text,
    # which names the option and says what is wrong in both languages (the body is capped)
    reason: str = ""
    staff: str = "centre"


class Metrics:
    def __init__(self) -> None:
        self.registry = prom.CollectorRegistry()
        self.requests = prom.Counter("station_requests", "HTTP requests", ["endpoint", "status"],
                                     registry=self.registry)
        self.pushes = prom.Counter("station_pushes", "push and bundle uploads",
                                   registry=self.registry)
        self.pulls = prom.Counter("station_pulls", "pulls served", registry=self.registry)
        self.stored = prom.Counter("station_changesets_stored", "changesets stored",
                                   registry=self.registry)
        self.refusals = prom.Counter("station_refusals", "refused requests and changesets",
                                     ["reason"], registry=self.registry)


def error_response(exc: StationError, status: int | None = None) -> JSONResponse:
    code = status or (exc.status if isinstance(exc, CentreError) else 400)
    retry = exc.retry_after_s if isinstance(exc, CentreError) else None
    return JSONResponse({"error": exc.as_dict()}, status_code=code,
                        headers=None if retry is None else {"Retry-After": str(retry)})


class BodyCap:
    """Every request body is read here first, up to a cap for its path, before any handler
    or validator sees it: an oversized body gets a 413 without being held in memory, and one
    that stops arriving (a cut link, a client that lied about its length) a 408 after
    ``BODY_TIMEOUT_S`` instead of holding the connection forever."""

    LIMITS = (("/v1/pull", 0), ("/v1/push", MAX_BODY), ("/v1/bundle/pull", MAX_JSON),
              ("/v1/bundle", MAX_BODY), ("/v1/staff/catalogue", MAX_CATALOGUE))

    def __init__(self, app: Any) -> None:
        self.app = app

    def limit(self, path: str) -> int:
        return next((n for prefix, n in self.LIMITS if path.startswith(prefix)), MAX_JSON)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope["path"])
        declared = dict(scope.get("headers", [])).get(b"content-length")
        refusal: CentreError | None = None
        if declared is not None:
            try:
                if int(declared) > limit:
                    refusal = TooLarge(limit=limit)
            except ValueError:
                refusal = BadRequest(detail="a bad Content-Length header",
                                     detail_zh="请求头 Content-Length 不是有效的长度")
        chunks, size, more = [], 0, refusal is None
        while more:
            try:
                async with asyncio.timeout(BODY_TIMEOUT_S):
                    message = await receive()
            except TimeoutError:
                refusal = SlowBody(seconds=f"{BODY_TIMEOUT_S:g}")
                break
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                refusal = TooLarge(limit=limit)
                break
            chunks.append(chunk)
            more = message.get("more_body", False)
        if refusal is not None:
            await error_response(refusal)(scope, receive, send)
            return
        body = b"".join(chunks)
        sent = False

        async def replay() -> Any:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class Observe:
    """The outermost layer: every reply (a 413 or 408 from ``BodyCap`` too) gets the centre's
    time, is counted in the metrics and is logged as one JSON line.

    Plain ASGI rather than ``@app.middleware("http")``: a client that hangs up before its body
    is in gets no response at all, which Starlette's http middleware logs as an error with a
    traceback ("No response returned"); a cut village link is no error, so here it is one
    info line."""

    def __init__(self, app: Any, *, centre: Centre, metrics: Metrics) -> None:
        self.app, self.centre, self.metrics = app, centre, metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status: int | None = None

        async def stamped(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[auth.H_CENTRE_TIME] = str(self.centre.now_ms())
            await send(message)

        await self.app(scope, receive, stamped)
        # the route's template, not the raw path, keeps the metrics' labels few; a request
        # cut off before routing has none, and its own path says more than "unmatched"
        path = getattr(scope.get("route"), "path", "unmatched" if status else scope["path"])
        fields = {"method": scope["method"], "path": path, "status": status,
                  "station": Headers(scope=scope).get(auth.H_STATION),
                  "ms": round((time.perf_counter() - start) * 1000, 1)}
        if status is None:
            log.info("client went away", extra={"fields": fields})
            return
        self.metrics.requests.labels(path, str(status)).inc()
        log.info("request", extra={"fields": fields})


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is out of range")
    return value


def _target(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def create_app(centre: Centre, *, staff_token_hash: bytes,
               close_on_shutdown: bool = False) -> FastAPI:
    """The centre's HTTP API. ``close_on_shutdown``: the server owns the centre, and closes
    it (the projector, the processes that check pushes, the database) when it shuts down."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if close_on_shutdown:
            centre.close()

    app = FastAPI(title="station — town centre API", version="1", lifespan=lifespan,
                  description="Sync endpoint for village service stations (DESIGN §7).")
    metrics = Metrics()
    app.add_middleware(BodyCap)
    app.add_middleware(Observe, centre=centre, metrics=metrics)  # added last: outermost
    app.state.centre = centre
    app.state.metrics = metrics

    @app.exception_handler(StationError)
    async def station_error(request: Request, exc: StationError) -> JSONResponse:
        metrics.refusals.labels(exc.code).inc()
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        """A field the schema refuses, named as the person knows it, with what is wrong."""
        metrics.refusals.labels("centre.bad_request").inc()
        return error_response(BadField.of(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """The framework's own refusals (404, 405, an unreadable body) in both languages."""
        status = exc.status_code
        zh = FRAMEWORK_ZH.get(status, FRAMEWORK_ZH_OTHER.format(status=status))
        return JSONResponse({"error": {"code": f"http.{status}", "zh": zh,
                                       "en": str(exc.detail)}},
                            status_code=status, headers=exc.headers)

    def staff(request: Request) -> None:
        """A dependency: checked before the body is even validated."""
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        given = hashlib.sha256(token.encode()).digest()
        if not token or not hmac.compare_digest(given, staff_token_hash):
            raise StaffOnly()

    staff_only = [Depends(staff)]

    async def signed(request: Request) -> tuple[Any, bytes]:
        body = await request.body()
        headers = {k: request.headers[k] for k in (auth.H_STATION, auth.H_TIME, auth.H_NONCE,
                                                   auth.H_SIGNATURE) if k in request.headers}
        row = await run_in_threadpool(centre.authenticate, method=request.method,
                                      target=_target(request), body=body, headers=headers)
        return row, body

    async def ingest(body: bytes) -> JSONResponse:
        blobs = unpack(PUSH_MAGIC, body, what="push", max_items=MAX_PUSH_ITEMS,
                       max_item=MAX_SEALED)
        result = await run_in_threadpool(centre.ingest, blobs)
        metrics.pushes.inc()
        metrics.stored.inc(len(result.accepted))
        for refusal in result.refused:
            metrics.refusals.labels(refusal.error.code).inc()
        return JSONResponse(result.as_dict(centre.now_ms()))

    @app.get("/v1/health")
    async def health() -> dict[str, Any]:
        """Liveness, the centre's clock (stations correct their own by it) and key fingerprint."""
        return centre.health()

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return Response(prom.generate_latest(metrics.registry),
                        media_type=prom.CONTENT_TYPE_LATEST)

    @app.post("/v1/enroll")
    async def enroll(body: EnrollRequest) -> dict[str, Any]:
        """Register a station's public keys with a one-time code; answers the centre's keys."""
        return await run_in_threadpool(centre.enroll, body.model_dump())

    @app.post("/v1/push", openapi_extra=_BINARY_BODY)
    async def push(request: Request) -> JSONResponse:
        """A signed batch of sealed changesets from an enrolled station. The reply is signed
        over the request's nonce: the station drops work from its outbox only on our word."""
        _, body = await signed(request)
        reply = await ingest(body)
        reply.headers.update(auth.sign_reply(centre.keys.signer,
                                             nonce=request.headers[auth.H_NONCE],
                                             body=bytes(reply.body)))
        return reply

    @app.post("/v1/bundle", openapi_extra=_BINARY_BODY)
    async def bundle(request: Request) -> JSONResponse:
        """Sealed changesets carried by anyone (a USB stick): each one's signature is the proof."""
        return await ingest(await request.body())

    @app.post("/v1/bundle/pull", response_class=Response,
              responses={200: {"content": {BINARY: {}}}},
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": CarriedPull.model_json_schema()}}}})
    async def bundle_pull(request: Request) -> Response:
        """A station's downlink, for a pull request it signed and someone carried here."""
        raw = await request.body()
        try:
            carried = CarriedPull.model_validate(
                json.loads(raw, parse_constant=_not_json, parse_float=_finite))
        except ModelError as exc:  # a ValueError too: caught first, to name the field
            raise RequestValidationError(exc.errors()) from None
        except (ValueError, RecursionError):  # not JSON, NaN/Infinity/1e999, [[[[…]]]]
            raise BadRequest(detail="the body must be a signed pull request (JSON)",
                             detail_zh="请求内容应为站点签名的同步请求（JSON）") from None
        batches = await run_in_threadpool(centre.carried_pull, carried.model_dump())
        metrics.pulls.inc()
        return Response(pack(DOWNLINK_ITEMS, batches), media_type=BINARY)

    @app.get("/v1/pull", response_class=Response,
             responses={200: {"content": {BINARY: {}}}})
    async def pull(request: Request, after: int = 0, limit: int = 500,
                   own: str | None = None) -> Response:
        """Everything in the station's scope after its cursor, sealed to it, signed by us.
        ``own``: the newest of its own changesets the station knows we hold ("" for none)."""
        if after < 0 or not 0 < limit <= 100_000:
            raise BadRequest(detail="after must be ≥ 0 and limit between 1 and 100000",
                             detail_zh="after 不能小于 0，limit 应在 1 到 100000 之间")
        if own is not None and not OWN_UPTO.fullmatch(own):
            raise BadRequest(detail="own must be a timestamp as the station encodes them",
                             detail_zh="own 应为站点编码的时间戳")
        row, _ = await signed(request)
        blob = await run_in_threadpool(functools.partial(centre.pull, own_upto=own), row,
                                       after, limit)
        metrics.pulls.inc()
        return Response(blob, media_type=BINARY)

    @app.post("/v1/staff/enroll-code", dependencies=staff_only)
    async def enroll_code(request: Request, body: CodeRequest) -> dict[str, Any]:
        """A one-time enrollment code for a station (and the villages it serves)."""
        code = await run_in_threadpool(centre.enroll_code, body.station, body.scope,
                                       body.expires_s)
        return {"code": code, "station": body.station.upper(), "expires_s": body.expires_s,
                "scope": list(serving(body.station, body.scope))}

    @app.post("/v1/staff/revoke", dependencies=staff_only)
    async def revoke(request: Request, body: RevokeRequest) -> dict[str, Any]:
        return {"station": body.station.upper(),
                "revoked": await run_in_threadpool(centre.revoke, body.station)}

    @app.post("/v1/staff/decide", dependencies=staff_only)
    async def decide(request: Request, body: DecideRequest) -> dict[str, Any]:
        """办结 or 退回 an application: the decision flows down to its station on pull."""
        return await run_in_threadpool(centre.decide, body.receipt, body.outcome,
                                       reason=body.reason, staff=body.staff)

    @app.post("/v1/staff/catalogue", dependencies=staff_only,
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": {"type": "object"}}}}})
    async def publish(request: Request) -> dict[str, Any]:
        """Validate and publish a new matter catalogue; every station gets it on pull."""
        raw = await request.body()
        catalogue = await run_in_threadpool(centre.publish_catalogue, raw)
        return {"version": catalogue.version, "matters": len(catalogue)}

    @app.get("/v1/staff/report", dependencies=staff_only)
    async def report(month: str = Query(pattern=r"^\d{4}-\d{1,2}$"),
                     by: str | None = Query(default=None,
                                            pattern="^(station|matter|department|channel)$")
                     ) -> dict[str, Any]:
        """The month's figures across stations (completion, on-time, contact, satisfaction)."""
        try:
            chosen = Month.parse(month)
        except ValueError:
            raise BadField(detail=f"{month} is not a month like 2026-11 (--month)",
                             detail_zh=f"{month} 不是有效的月份，应如 2026-11（--month）") from None
        groups, names = await run_in_threadpool(centre.report, chosen, by)
        return {"month": str(chosen), "by": by,
                "conflicted": sum(g.conflicted for g in groups.values()),
                "figures": {k: v.as_dict() for k, v in groups.items()}, "names": names}

    @app.get("/v1/staff/conflicts", dependencies=staff_only)
    async def conflicts(scope: str | None = Query(default=None, pattern=_VILLAGE),
                        station: str | None = Query(default=None, pattern=_VILLAGE)
                        ) -> list[dict[str, Any]]:
        """Every open conflict, and who settles it: the centre, or the stations named."""
        return await run_in_threadpool(
            functools.partial(centre.conflicts, scope=scope, station=station))

    @app.get("/v1/staff/stations", dependencies=staff_only)
    async def stations(request: Request) -> list[dict[str, Any]]:
        """The stations, and how far ahead a laptop's clock was when last flagged (DESIGN §4:
        the centre flags it; the staff are the ones who can have it set right)."""
        rows = await run_in_threadpool(centre.repo.stations)
        flags = {device: (ahead, seen) for device, ahead, seen
                 in await run_in_threadpool(centre.repo.clock_flags)}
        return [{"station": r.id, "scope": list(r.scope), "device": r.device,
                 "enrolled_ms": r.enrolled_ms, "revoked_ms": r.revoked_ms,
                 "clock_ahead_ms": flags.get(r.device, (None, None))[0],
                 "clock_flagged_ms": flags.get(r.device, (None, None))[1]} for r in rows]

    return app

"""Errors the centre answers with: a stable code, a sentence in zh and en, an HTTP status.

Every refusal is a 4xx with a JSON body ``{"error": {"code", "zh", "en"}}``; the API never
answers 500 for anything a client sends (the fuzz tests hold it to that). When the fault is
ours and passing (the database restarting, down, busy or full), the answer is a 503 with
``Retry-After``, which the stations' sync honours: their work stays in the outbox.

    CentreError (4xx)
     ├── Unauthenticated 401   missing, malformed or forged request signature
     ├── Replayed        401   a nonce seen before, or a time outside the window
     ├── Revoked         403   the station (or these keys of it) were revoked
     │    └── Superseded 403   these keys were retired by a later enrollment of it
     ├── Forbidden       403   a staff token that does not match
     ├── NotFound        404   (UnknownReceipt: a decision on a receipt it does not hold)
     ├── SlowBody        408   a request body that stopped arriving before it was complete
     ├── NotAnApplication 400  a decision asked of a visit or a resident
 ├── AmbiguousReceipt 409  a receipt number held by two records
     ├── TooLarge        413
     ├── BadRequest      400   malformed body or parameters
 ├── StaffRefused    400   a staff action the rules refuse, said as a plain sentence
     ├── BadCode         400   an enrollment code that is unknown, used, or expired
     └── Unavailable     503   the database cannot be used right now (with Retry-After)
          └── Overloaded 503   every pooled connection busy with other requests

The web framework refuses some requests itself before any handler runs (an unknown address,
a wrong method, a body it cannot parse); those keep its English detail, with the Chinese
sentence for their status from ``FRAMEWORK_ZH``, under the code ``http.<status>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from station.domain.errors import StationError


class CentreError(StationError):
    status: ClassVar[int] = 400
    retry_after_s: ClassVar[int | None] = None  # sent as Retry-After when set
    code = "centre.error"
    zh = "请求有误：{detail_zh}"
    en = "Bad request: {detail}"


class BadRequest(CentreError):
    code = "centre.bad_request"


class BadField(BadRequest):
    """A request field the API's schema refuses (a control character, too long, the wrong
    shape), said per field by its name as the person gave it (the option of the CLI, or the
    JSON name) and what is wrong, instead of the framework's "body.receipt: Value error".
    Same code as ``BadRequest``: scripts that look at the code see no change. The sentences
    alone, as ``StaffRefused``: "Bad request:" before them reads as a fault of the program."""

    zh = "{detail_zh}"
    en = "{detail}"

    # the name a person knows a field by: the CLI's option or argument where there is one
    FIELDS: ClassVar[dict[str, tuple[str, str]]] = {
        "receipt": ("编号（RECEIPT）", "The receipt number (RECEIPT)"),
        "outcome": ("结果", "The outcome"),
        "reason": ("原因（--reason）", "The reason (--reason)"),
        "staff": ("决定人（--staff）", "Who decided (--staff)"),
        "station": ("站点编号", "The station code"),
        "scope": ("服务的村（--scope）", "The villages served (--scope)"),
        "expires_s": ("有效期（秒）", "The time the code is valid (seconds)"),
        "month": ("月份（--month）", "The month (--month)"),
        "by": ("分组（--by）", "The grouping (--by)"),
        "token": ("登记码", "The enrollment code"),
        "device": ("设备名", "The device name"),
        # what a station's software sends: named for the technician who reads the refusal
        "sign_public": ("签名公钥", "The signing public key (sign_public)"),
        "seal_public": ("加密公钥", "The sealing public key (seal_public)"),
        "transport_public": ("传输公钥", "The transport public key (transport_public)"),
        "after": ("同步位置（游标）", "The cursor (after)"),
        "time_ms": ("请求时间", "The request time (time_ms)"),
        "nonce": ("请求随机码", "The request nonce"),
        "signature": ("站点签名", "The station's signature"),
        "changesets": ("变更编号列表", "The list of changesets"),
    }
    # what is wrong, by the schema's error type; {n} is its limit where it has one
    WHY: ClassVar[dict[str, tuple[str, str]]] = {
        "missing": ("缺少", "is missing"),
        "control_chars": ("含有不可见的控制字符", "contains control characters"),
        "string_too_long": ("不能超过 {n} 个字符", "must be at most {n} characters"),
        "string_too_short": ("不能为空", "cannot be empty"),
        "too_long": ("不能超过 {n} 项", "must have at most {n} items"),
        "string_pattern_mismatch": ("格式不对{form_zh}", "is not in the right form{form_en}"),
        "string_type": ("应为文字", "must be text"),
        "int_type": ("应为整数", "must be a whole number"),
        "int_parsing": ("应为整数", "must be a whole number"),
        "int_from_float": ("应为整数", "must be a whole number"),
        "list_type": ("应为列表", "must be a list"),
        "greater_than_equal": ("不能小于 {n}", "must be at least {n}"),
        "less_than_equal": ("不能大于 {n}", "must be at most {n}"),
        "less_than": ("应小于 {n}", "must be less than {n}"),
        "greater_than": ("应大于 {n}", "must be more than {n}"),
        "json_invalid": ("不是有效的 JSON", "is not valid JSON"),
        "model_attributes_type": ("应为 JSON 对象", "must be a JSON object"),
        "dict_type": ("应为 JSON 对象", "must be a JSON object"),
    }
    # the form a patterned field takes, said with "is not in the right form"
    FORMS: ClassVar[dict[str, tuple[str, str]]] = {
        "outcome": ("：只能是 completed（办结）或 returned（退回）",
                    ": completed or returned"),
        "station": ("：只能用字母、数字、- 和 _", ": letters, digits, - and _ only"),
        "scope": ("：只能用字母、数字、- 和 _", ": letters, digits, - and _ only"),
        "month": ("：应如 2026-11", ": a month like 2026-11"),
        "by": ("：只能是 station、matter、department 或 channel",
               ": station, matter, department or channel"),
    }

    @classmethod
    def of(cls, errors: Sequence[Mapping[str, Any]]) -> BadField:
        """One sentence per refused field (the first few), in both languages; the body as a
        whole when the framework names none."""
        said = [cls._sentence(e) for e in errors[:5]] or [("请求内容不对", "The body is not valid")]
        return cls(detail="; ".join(en for _, en in said),
                   detail_zh="；".join(zh for zh, _ in said))

    @classmethod
    def _sentence(cls, error: Mapping[str, Any]) -> tuple[str, str]:
        loc = [p for p in error.get("loc", ()) if p not in ("body", "query", "path")]
        name = next((p for p in reversed(loc) if isinstance(p, str)), "")
        label_zh, label_en = cls.FIELDS.get(name, (name or "请求内容", name or "The body"))
        item = next((p for p in reversed(loc) if isinstance(p, int)), None)
        if item is not None:
            label_zh, label_en = f"{label_zh}第 {item + 1} 项", f"{label_en}, item {item + 1},"
        ctx = error.get("ctx") or {}
        limit = next((ctx[k] for k in _LIMITS if k in ctx), "")
        form_zh, form_en = cls.FORMS.get(name, ("", ""))
        why_zh, why_en = cls.WHY.get(str(error.get("type")), ("不对", "is not valid"))
        return (label_zh + why_zh.format(n=limit, form_zh=form_zh),
                f"{label_en} " + why_en.format(n=limit, form_en=form_en))


_LIMITS = ("max_length", "min_length", "ge", "le", "lt", "gt")  # a schema error's limit


class StaffRefused(CentreError):
    """A staff action the rules refuse (a catalogue version already out, a return with no
    reason): the sentence alone, since "Bad request:" before it reads as a fault of the
    program rather than something the person can put right."""

    code = "centre.staff_refused"
    zh = "{detail_zh}"
    en = "{detail}"


class Unauthenticated(CentreError):
    status = 401
    code = "centre.unauthenticated"
    zh = "请求未通过身份验证：{why_zh}"
    en = "The request is not authenticated: {why_en}"
    WHY: ClassVar[dict[str, tuple[str, str]]] = {
        "headers": ("缺少或格式错误的站点签名头", "missing or malformed X-Station headers"),
        "unknown": ("站点 {station} 未登记", "station {station} is not enrolled"),
        "signature": ("签名不符", "the signature does not match"),
    }

    def __init__(self, why: str, **params: str) -> None:
        zh, en = self.WHY[why]
        super().__init__(why=why, why_zh=zh.format(**params), why_en=en.format(**params))


class NotCurrentKeys(CentreError):
    """A carried pull request whose signature is not the station's current transport key:
    in practice a bundle exported before the station was set up again and enrolled anew
    (``init --force`` asks for exactly that export first). "Not authenticated: the signature
    does not match" read to the clerk as a forged stick, or an upload that failed."""

    status = 401
    code = "centre.not_current_keys"
    zh = ("这个数据包不是站点 {station} 现在的密钥签的（多半是站点重新安装、重新登记之前导出的）："
          "其中的变更已按上面所列处理，但回传包只能给站点现在的安装。请在站点上重新导出数据包，"
          "上传后带回它的回传包")
    en = ("This bundle was not signed with station {station}'s current keys (most likely it "
          "was exported before the station was set up and enrolled again): its changes were "
          "handled as listed above, but a reply can only go to the station as it is now. "
          "Export a new bundle at the station, upload it and bring back its reply")


class Replayed(CentreError):
    status = 401
    code = "centre.replayed"
    zh = "请求被拒绝：{why_zh}"
    en = "Request refused: {why_en}"
    WHY: ClassVar[dict[str, tuple[str, str]]] = {
        "window": ("请求时间与镇中心相差超过 5 分钟（本机时钟不准？）",
                   "the request time is more than 5 minutes from the centre's (a wrong clock?)"),
        "nonce": ("这个请求已经收到过一次（重放）", "this request was already received once"),
    }

    def __init__(self, why: str) -> None:
        zh, en = self.WHY[why]
        super().__init__(why=why, why_zh=zh, why_en=en)


class Revoked(CentreError):
    status = 403
    code = "centre.revoked"
    zh = "站点 {station} 的密钥已被镇中心吊销；请联系镇中心重新登记"
    en = "The keys of station {station} were revoked by the town centre; ask it to enroll you again"


class Superseded(Revoked):
    """Keys retired by a later enrollment of the same station, not by the staff: the
    replacement of a laptop nobody revoked (the clerk forgot), or the old disk of one set
    up again. "Revoked by the town centre" sent its agent to ask who had revoked them;
    the code stays ``centre.revoked``, as the station is refused all the same."""

    zh = ("站点 {station} 已在另一台电脑上（或本机重新安装后）重新登记，这台电脑的旧密钥已停用，"
          "同步被拒绝；这里的工作没有丢失：如果这台电脑仍是本站，请向镇中心要一个新登记码，"
          "再运行 station enroll 登记码")
    en = ("Station {station} was enrolled again on another computer (or after being set up "
          "again here), so this laptop's old keys were retired and its syncs are refused; "
          "nothing here is lost: if this laptop is still the station, ask the town centre for "
          "a new code and run `station enroll CODE`")


class Forbidden(CentreError):
    status = 403
    code = "centre.forbidden"
    zh = "没有权限：{detail_zh}"
    en = "Not allowed: {detail}"


class StaffOnly(Forbidden):
    code = "centre.staff_only"
    zh = "需要有效的工作人员令牌（镇中心目录下的 staff.token）"
    en = "A valid staff token is needed (staff.token in the centre's home)"


class NotFound(CentreError):
    status = 404
    code = "centre.not_found"
    zh = "找不到 {what}"
    en = "No such {what}"


class UnknownReceipt(NotFound):
    """A decision on a receipt number the centre does not hold: mistyped, or its station has
    not synced the case yet."""

    zh = "镇中心没有编号为 {receipt} 的记录：请核对编号，或先让受理它的站点同步"
    en = ("No such record {receipt} at the town centre: check the receipt number, or have the "
          "station that received it sync first")


class NotAnApplication(CentreError):
    """A decision (办结/退回) asked of a home visit or a resident: only applications have an
    outcome, and the lattice's own "no such status" would not say so."""

    KINDS: ClassVar[dict[str, tuple[str, str]]] = {
        "visit": ("上门服务记录", "a home visit"), "resident": ("居民记录", "a resident")}
    code = "centre.not_an_application"
    zh = "{receipt} 是{kind_zh}，不是代办件：只有代办件由镇中心办结或退回"
    en = ("{receipt} is {kind_en}, not an application: only applications are completed or "
          "returned by the centre")

    def __init__(self, receipt: str, kind: str) -> None:
        zh, en = self.KINDS.get(kind, (f"{kind} 记录", f"a {kind} record"))
        super().__init__(receipt=receipt, kind=kind, kind_zh=zh, kind_en=en)


class SlowBody(CentreError):
    status = 408
    code = "centre.timeout"
    zh = "请求内容在 {seconds} 秒内没有继续传来，已放弃；请检查网络后重试"
    en = ("The rest of the request did not arrive within {seconds} s, so it was dropped; "
          "check the connection and try again")


class AmbiguousReceipt(CentreError):
    status = 409
    code = "centre.ambiguous_receipt"
    zh = "编号 {receipt} 对应多条记录（{ids}）；请改用记录 ID"
    en = "Receipt no. {receipt} is held by several records ({ids}); use the record id"


class TooLarge(CentreError):
    status = 413
    code = "centre.too_large"
    zh = "请求太大（上限 {limit} 字节）；请分批发送"
    en = "The request is too large (limit {limit} bytes); send it in smaller batches"


class BadCode(CentreError):
    code = "centre.bad_code"
    zh = "登记码无效、已用过或已过期；请向镇中心索取新的登记码"
    en = "That enrollment code is unknown, already used or expired; ask the centre for a new one"


class WrongStation(CentreError):
    code = "centre.wrong_station"
    zh = "这个登记码是给站点 {expected} 的，不是 {given}"
    en = "This enrollment code is for station {expected}, not {given}"


class Unavailable(CentreError):
    """The centre's database cannot serve this request now; ``why`` is one of ``WHY`` (the
    driver's own text, with hosts and ports, goes to the centre's log, not to clients)."""

    status = 503
    retry_after_s = 5
    code = "centre.unavailable"
    zh = "镇中心的数据库暂时无法使用（{why_zh}）；请稍后再试，站点的工作已保存"
    en = ("The town centre's database cannot be used right now ({why_en}); try again in a "
          "moment: the station's work is kept")
    WHY: ClassVar[dict[str, tuple[str, str]]] = {
        "unreachable": ("连接不上数据库", "it cannot be reached"),
        "busy": ("数据库正忙", "it is busy"),
        "no_answer": ("数据库没有及时响应", "it did not answer in time"),
        "full": ("磁盘已满", "its disk is full"),
        "read_only": ("数据库只读", "it is read-only"),
        "disk": ("读写数据库文件出错", "its file cannot be read or written"),
    }

    def __init__(self, why: str) -> None:
        zh, en = self.WHY[why]
        super().__init__(why=why, why_zh=zh, why_en=en)


class Overloaded(Unavailable):
    """Every pooled connection to the database was serving other requests for the whole
    wait: the database is up, the centre is busy. Said as that, with its figures, so neither
    a station's agent nor the technician goes looking for a database that is down."""

    zh = ("镇中心正忙：它与数据库的 {size} 个连接都在处理其他请求，{wait:.0f} 秒内没有空出来；"
          "请稍后再试，站点的工作已保存")
    en = ("The town centre is busy: all {size} of its connections to the database were serving "
          "other requests and none came free within {wait:.0f} s; try again in a moment: the "
          "station's work is kept")

    def __init__(self, size: int, wait: float) -> None:
        CentreError.__init__(self, why="connections", size=size, wait=wait)


class NewerDatabase(CentreError):
    """At start: the database's schema is newer than this centre knows, so writing to it
    could corrupt what the newer version keeps."""

    code = "centre.newer_database"
    zh = ("镇中心的数据库由更新版本的 station 建立（结构版本 {found}，本版本只认识到 {known}）；"
          "请先升级 station 再启动镇中心")
    en = ("The centre's database was made by a newer version of station (schema version "
          "{found}; this one knows up to {known}): upgrade station before starting the centre")


class ForeignDatabase(CentreError):
    """At start: the database holds tables by the centre's names that are not the centre's."""

    code = "centre.foreign_database"
    zh = "这个数据库里已有不属于镇中心的表（{tables}）；请给镇中心一个单独的数据库"
    en = ("This database already holds tables that are not the town centre's ({tables}); "
          "give the centre a database of its own")


FRAMEWORK_ZH: dict[int, str] = {
    400: "请求格式不对，无法读取请求内容",
    401: "请求未通过身份验证",
    404: "找不到这个地址",
    405: "这个地址不支持这种请求方法",
    413: "请求太大，请分批发送",
}
FRAMEWORK_ZH_OTHER = "镇中心无法处理这个请求（HTTP {status}）"

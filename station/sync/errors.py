"""Errors of the sync client, translated at the boundary from httpx and the centre's replies.

    SyncError
     ├── CentreUnreachable   no connection, timeout, 5xx after retries (exit 3: work kept)
     │    ├── Throttled      429/503: the centre asked us to come back later (Retry-After)
     │    └── EnrollUnreachable  the same during `station enroll`: nothing is enrolled yet
     ├── SyncBusy            another sync of this station is under way (exit 3: work kept)
     ├── BadReply            the reply is not what the centre sends (exit 3: work kept)
     │    ├── UnsignedReply  a push reply without the pinned centre's signature
     │    └── EnrollBadReply the same during `station enroll`: nothing is enrolled yet
     ├── UntrustedCertificate  https, and this computer does not trust the certificate (exit 3)
     ├── NotHttps            https given, but the server speaks plain http (exit 3)
     ├── NoSuchPath          a 404 that is not the centre's own answer: a wrong address or path
     ├── Refused             the centre said no (4xx), with its own sentence in zh and en
     ├── BadEnrollCode       the code is not in the expected shape
     └── FingerprintMismatch the centre's keys are not the ones the code promised
"""

from __future__ import annotations

from typing import ClassVar

from station.domain.errors import StationError


class SyncError(StationError):
    code = "sync.error"
    zh = "同步出错：{detail_zh}"
    en = "Sync problem: {detail}"


class CentreUnreachable(SyncError):
    code = "sync.unreachable"
    exit_code: ClassVar[int] = 3
    zh = "无法连接镇中心（{detail_zh}）；已保存的工作会在下次联网时发送"
    en = "Cannot reach the town centre ({detail}); saved work will be sent when the link is back"


class Throttled(CentreUnreachable):
    code = "sync.throttled"
    zh = "镇中心繁忙，要求 {retry_after:.0f} 秒后再试；工作已保存"
    en = "The town centre is busy and asked to retry in {retry_after:.0f} s; work is kept"


class SyncBusy(SyncError):
    """Another sync of this station is under way (the app's sync screen, a scheduled
    ``station sync --unattended``, a ``--watch``): this one does not start, rather than send
    the same outbox a second time over a slow link. Nothing is lost: the other one sends and
    brings everything, and a scheduled sync simply runs again at its next time."""

    code = "sync.busy"
    exit_code: ClassVar[int] = 3
    zh = ("本站的另一次同步正在进行（在本程序的同步页面，或定时运行的 station sync），"
          "这次没有开始；没有丢失任何工作，等那次同步结束后再同步即可")
    en = ("Another sync of this station is under way (in the app's sync screen, or a scheduled "
          "station sync), so this one did not start; no work is lost: sync again once that one "
          "has finished")


class BadReply(SyncError):
    """A reply that cannot be our centre's answer (a login page, a proxy, a look-alike)."""

    code = "sync.bad_reply"
    exit_code: ClassVar[int] = 3
    zh = "镇中心的回复无法识别（{detail_zh}）；工作已保存，下次同步时再发送"
    en = ("The town centre's reply was not understood ({detail}); work is kept and will be "
          "sent at the next sync")


class UnsignedReply(BadReply):
    code = "sync.unsigned_reply"
    zh = ("收到的回复没有镇中心的签名，未把任何工作标为已发送（网络上是否有登录页面或代理？）；"
          "工作已保存，下次同步时再发送")
    en = ("The reply did not carry the town centre's signature, so no work was marked as sent "
          "(is a Wi-Fi login page or a proxy in the way?); work is kept for the next sync")


class EnrollUnreachable(CentreUnreachable):
    """``station enroll`` could not reach the centre: "saved work will be sent" would have
    the agent wait for a sync that cannot happen before the station is enrolled."""

    code = "sync.enroll_unreachable"
    zh = "无法连接镇中心（{detail_zh}），本站尚未登记：联网后请用同一登记码再运行 station enroll"
    en = ("Cannot reach the town centre ({detail}), so this station is not enrolled yet: run "
          "station enroll again with the same code once the link is back")


class EnrollBadReply(BadReply):
    """``station enroll`` met a server whose reply no centre sends (a Wi-Fi login page, a
    proxy, another service at that address): nothing is enrolled, and no sync will mend it."""

    code = "sync.enroll_bad_reply"
    zh = ("镇中心的回复无法识别（{detail_zh}），本站尚未登记：请核对登记码中的地址；"
          "网络上是否有需要先登录的页面或代理？")
    en = ("The town centre's reply was not understood ({detail}), so this station is not "
          "enrolled: check the address in the code; is a Wi-Fi login page or a proxy in the "
          "way?")


def not_enrolled(error: CentreUnreachable | BadReply) -> SyncError:
    """What went wrong during an enrollment, said as such: the station is not enrolled."""
    detail = {"detail": error.params.get("detail", error.message("en")),
              "detail_zh": error.params.get("detail_zh", error.message("zh"))}
    if isinstance(error, BadReply):
        return EnrollBadReply(**detail)
    return EnrollUnreachable(**detail)


class UntrustedCertificate(SyncError):
    """An https address whose certificate this computer does not trust. Retrying cannot
    help, and "cannot reach" would send the agent to check the cable."""

    code = "sync.untrusted_certificate"
    exit_code: ClassVar[int] = 3
    zh = ("{url} 的 HTTPS 证书不受本机信任（{detail_zh}），没有发送任何数据。请核对地址；"
          "如果镇中心用的是自己签发的证书，请向镇中心工作人员索取证书文件，并把环境变量 "
          "SSL_CERT_FILE 设为该文件的路径")
    en = ("This computer does not trust the HTTPS certificate of {url} ({detail}), so nothing "
          "was sent. Check the address; if the centre uses a certificate of its "
          "own, ask the centre's staff for the certificate file and set the environment "
          "variable SSL_CERT_FILE to its path")


class NotHttps(SyncError):
    """An https address where the server speaks plain http (or the reverse)."""

    code = "sync.not_https"
    exit_code: ClassVar[int] = 3
    zh = ("地址 {url} 用的是 https，但那里的服务器不用 HTTPS 应答（{detail_zh}），"
          "没有发送任何数据。请核对地址，例如改成 http:// 开头")
    en = ("The address {url} says https, but the server there does not answer in HTTPS "
          "({detail}), so nothing was sent. Check the address: it may need to start with "
          "http://")


class NoSuchPath(SyncError):
    """A 404 that is no answer of the centre's: the address has a path the centre does not
    serve (a reverse proxy's, a page copied from a browser), or nothing there is a centre."""

    code = "sync.no_such_path"
    zh = ("{url} 上没有镇中心的接口 {path}（HTTP 404）：请核对地址，通常只写 http://主机:端口，"
          "不带路径；也可能镇中心的版本较旧")
    en = ("There is no town centre service {path} at {url} (HTTP 404): check the address, "
          "which is usually just http://host:port with no path; or the centre may run an "
          "older version")


class Refused(SyncError):
    """The centre's 4xx: its own sentence, shown as it sent it."""

    code = "sync.refused"
    zh = "镇中心拒绝了请求：{zh_text}"
    en = "The town centre refused: {en_text}"


class BadEnrollCode(SyncError):
    code = "sync.bad_code"
    zh = "登记码格式不对：应形如 http://地址:端口#XXXX-XXXX-XXXX-XXXX/XXXX-XXXX-XXXX-XXXX"
    en = ("That enrollment code is not in the expected shape: "
          "http://host:port#XXXX-XXXX-XXXX-XXXX/XXXX-XXXX-XXXX-XXXX")


class FingerprintMismatch(SyncError):
    code = "sync.fingerprint"
    zh = ("镇中心的密钥指纹 {got} 与登记码中的 {expected} 不符，未做登记：请核对登记码是否抄错；"
          "如果没有抄错，可能连到了冒充的服务器")
    en = ("The centre's key fingerprint {got} does not match the code's {expected}, so nothing "
          "was enrolled: check the code for a typing mistake; if it is right, this may not be "
          "your town centre")

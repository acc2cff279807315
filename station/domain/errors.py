"""The root of every error station shows to a person.

Each error has a stable ``code`` and its text in Chinese and English right next to it, so
the CLI, the TUI and the centre's JSON replies all say the same sentence. Messages are
``str.format`` templates over the keyword arguments the error was raised with.

    StationError
     ├── domain:  ValidationError, TransitionRefused, CatalogueError, ChangesetError
     ├── wire:    WireError (bad signature, cannot open, malformed)        station/wire/errors.py
     ├── store:   StoreError (not a station, corrupt, newer schema, …),
     │            VaultError (wrong passphrase, tampered ciphertext, …)   station/store/errors.py
     ├── sync:    SyncError, CentreUnreachable (exit 3), Refused          station/sync/errors.py
     └── centre:  CentreError (with an HTTP status)                        station/centre/errors.py

The CLI prints ``message(lang)`` on stderr and exits with ``exit_code`` (1 for a user error,
3 when the centre cannot be reached and the work is kept for later); the TUI shows it in a
notification or a modal.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any, ClassVar, Self

if TYPE_CHECKING:
    from station.domain.records import Field

LANGS = ("zh", "en")


# Why a file could not be read or written, for the causes agents meet (a mistyped folder,
# a full or write-protected USB stick). The system's own text is English only.
OS_REASONS: dict[int, tuple[str, str]] = {
    errno.ENOENT: ("文件夹不存在，请检查路径", "that folder does not exist: check the path"),
    errno.ENOTDIR: ("路径中有一段不是文件夹", "part of the path is not a folder"),
    errno.EISDIR: ("这是一个文件夹，请写上文件名", "that is a folder: add a file name"),
    errno.EACCES: ("没有权限写入这里", "not allowed to write there"),
    errno.EPERM: ("没有权限写入这里", "not allowed to write there"),
    errno.ENOSPC: ("磁盘或 U 盘已满", "the disk or USB stick is full"),
    errno.EROFS: ("磁盘或 U 盘是只读的（写保护）", "the disk or USB stick is read-only"),
    errno.EIO: ("读写出错：U 盘是否已拔出或损坏？", "an I/O error: was the USB stick pulled out?"),
    errno.ENAMETOOLONG: ("路径太长，请检查是否粘贴了别的内容",
                         "that path is too long: was something else pasted?"),
    errno.EINVAL: ("路径中有文件名不能用的字符", "the path holds a character no file name can"),
    errno.EEXIST: ("那里已有同名的文件（需要的是文件夹？）",
                   "a file of that name is already there (where a folder was needed?)"),
}


# Where reading fails for another reason than writing would.
READ_REASONS: dict[int, tuple[str, str]] = {
    errno.ENOENT: ("文件不存在，请检查路径和文件名", "the file does not exist: check its path"),
    errno.EACCES: ("没有权限读取这个文件", "not allowed to read that file"),
    errno.EPERM: ("没有权限读取这个文件", "not allowed to read that file"),
    errno.EISDIR: ("这是一个文件夹，请写上文件名", "that is a folder: give a file name"),
}


def os_reason(error: OSError, *, reading: bool = False) -> tuple[str, str]:
    """What an ``OSError`` means, in both languages; an uncommon one keeps its errno name
    (EIO…) in Chinese, which a technician can look up."""
    if reading and error.errno in READ_REASONS:
        return READ_REASONS[error.errno]
    if error.errno in OS_REASONS:
        return OS_REASONS[error.errno]
    name = errno.errorcode.get(error.errno or 0, "")
    return (f"系统错误（{name or error.__class__.__name__}）", error.strerror or str(error))


class StationError(Exception):
    """Base of all errors with a sentence for a person, in both languages."""

    code: ClassVar[str] = "station.error"
    zh: ClassVar[str] = "出现错误：{detail_zh}"
    en: ClassVar[str] = "Something went wrong: {detail}"
    exit_code: ClassVar[int] = 1

    def __init__(self, **params: Any) -> None:
        self.params = params
        super().__init__(self.message("en"))

    def message(self, lang: str = "en") -> str:
        """The sentence for a person, in ``lang`` ("zh" or "en")."""
        template = self.zh if lang == "zh" else self.en
        try:  # a Chinese template may name detail_zh; without one, the detail stands in
            return template.format(**{"detail_zh": self.params.get("detail", ""),
                                      **self.params})
        except (KeyError, IndexError):
            return template

    @classmethod
    def writing(cls, error: OSError, **params: Any) -> Self:
        """This error for a file that could not be written, its cause in words in both
        languages (``detail`` and ``detail_zh``) instead of the system's English."""
        zh, en = os_reason(error)
        return cls(detail=en, detail_zh=zh, **params)

    @classmethod
    def reading(cls, error: OSError, **params: Any) -> Self:
        """This error for a file that could not be read, its cause in words (as ``writing``)."""
        zh, en = os_reason(error, reading=True)
        return cls(detail=en, detail_zh=zh, **params)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form: the stable code and both sentences."""
        return {"code": self.code, "zh": self.message("zh"), "en": self.message("en")}

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross process boundaries (the centre checks changesets on every core);
        # subclasses have their own __init__ signatures, so rebuild without calling it.
        return (_rebuild, (type(self), dict(self.__dict__)))


def _rebuild(cls: type[StationError], state: dict[str, Any]) -> StationError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, error.message("en"))
    return error


class ValidationError(StationError):
    """One or more fields of a form were refused; ``problems`` says which and why."""

    code = "domain.invalid"
    zh = "输入有误：{summary}"
    en = "Some input was refused: {summary}"

    def __init__(self, problems: list[Any]) -> None:
        self.problems = list(problems)
        super().__init__(summary="; ".join(p.message("en") for p in self.problems))

    def message(self, lang: str = "en") -> str:
        sep = "；" if lang == "zh" else "; "
        summary = sep.join(p.message(lang) for p in self.problems)
        template = self.zh if lang == "zh" else self.en
        return template.format(summary=summary)


class TransitionRefused(StationError):
    """A status change a person asked for that the rules do not allow."""

    code = "domain.transition_refused"
    zh = "不能把状态从“{from_zh}”改为“{to_zh}”：{why_zh}"
    en = "Cannot change the status from “{from_en}” to “{to_en}”: {why_en}"


class CatalogueError(StationError):
    """The matter catalogue (shipped or published) is malformed or lacks a matter."""

    code = "domain.catalogue"
    zh = "事项清单有误：{detail_zh}"
    en = "Matter catalogue problem: {detail}"


class UnknownMatter(CatalogueError):
    code = "domain.unknown_matter"
    zh = "事项清单中没有编码为 {matter} 的事项"
    en = "There is no matter with code {matter} in the catalogue"


class ChangesetError(StationError):
    """A changeset or op that does not follow the rules (bad field, bad op, bad value)."""

    code = "domain.bad_changeset"
    zh = "变更记录无效：{detail_zh}"
    en = "Invalid changeset: {detail}"


class AuthorityRefused(ChangesetError):
    """A station tried to write a field only the town centre may write."""

    code = "domain.centre_authority"
    zh = "“{label_zh}”只能由镇便民服务中心填写"
    en = "Only the town centre may write “{label_en}”"

    @classmethod
    def on(cls, spec: Field) -> AuthorityRefused:
        """Refusing a write to ``spec``, named as a person reads it, not by its inner name."""
        return cls(field=spec.name, label_zh=spec.zh, label_en=spec.en)

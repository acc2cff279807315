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

from typing import Any, ClassVar

LANGS = ("zh", "en")


class StationError(Exception):
    """Base of all errors with a sentence for a person, in both languages."""

    code: ClassVar[str] = "station.error"
    zh: ClassVar[str] = "出现错误：{detail}"
    en: ClassVar[str] = "Something went wrong: {detail}"
    exit_code: ClassVar[int] = 1

    def __init__(self, **params: Any) -> None:
        self.params = params
        super().__init__(self.message("en"))

    def message(self, lang: str = "en") -> str:
        """The sentence for a person, in ``lang`` ("zh" or "en")."""
        template = self.zh if lang == "zh" else self.en
        try:
            return template.format(**self.params)
        except (KeyError, IndexError):
            return template

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
    zh = "事项清单有误：{detail}"
    en = "Matter catalogue problem: {detail}"


class UnknownMatter(CatalogueError):
    code = "domain.unknown_matter"
    zh = "事项清单中没有编码为 {matter} 的事项"
    en = "There is no matter with code {matter} in the catalogue"


class ChangesetError(StationError):
    """A changeset or op that does not follow the rules (bad field, bad op, bad value)."""

    code = "domain.bad_changeset"
    zh = "变更记录无效：{detail}"
    en = "Invalid changeset: {detail}"


class AuthorityRefused(ChangesetError):
    """A station tried to write a field only the town centre may write."""

    code = "domain.centre_authority"
    zh = "字段“{field}”只能由镇便民服务中心填写"
    en = "Only the town centre may write the field “{field}”"

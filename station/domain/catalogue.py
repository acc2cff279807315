"""The matter catalogue (事项清单): what a village station can take in for a resident.

Every application names a matter by its code, and the matter says which materials to collect
(and which of them are *essential*, i.e. may not be missing under 容缺受理), the legal time
limit the promised completion date is computed from, whether a home visit may take it in, and
who decides it: the station itself (街社同权) or the town centre. A *bundle* ("一件事") is one
application that covers several ordinary matters.

A catalogue ships as package data and the town centre publishes newer versions, so a
catalogue is only ever built through ``Catalogue.from_dict`` (or ``from_json_bytes``), which
checks everything and names the matter and field at fault: a station must refuse a broken
catalogue as a whole rather than half-apply it.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal, NoReturn, cast

from station.domain.errors import CatalogueError, UnknownMatter, ValidationError
from station.domain.validate import check_text, has_control_chars

DecidedAt = Literal["station", "centre"]
DECIDED_AT: tuple[DecidedAt, ...] = ("station", "centre")

# Loose on purpose: the centre may add new areas (prefix) or grow past 999 in one area.
MATTER_CODE = re.compile(r"^[A-Z]{2,4}-\d{3,4}$")
MATERIAL_CODE = re.compile(r"^M\d{2}$")  # as the records' ops name them: M01 … M99
# No legal time limit of a village-level matter comes near a working year; more is a typo.
MAX_TIME_LIMIT_DAYS = 250
# A version names the centre's log entry of the catalogue and its numbers are compared as
# integers (``version_key``): short, and plain ASCII, keeps both sane.
MAX_VERSION_LEN = 32
VERSION = re.compile(r"[0-9A-Za-z]+([.-][0-9A-Za-z]+)*")
# Names are a line on a screen or a receipt; the longest shipped one is under 100 characters.
MAX_NAME_LEN = 200

_TOP_KEYS = ("version", "published", "matters")
_MATTER_KEYS = ("code", "name_zh", "name_en", "department_zh", "department_en",
                "time_limit_days", "materials", "home_service", "decided_at")
_MATTER_OPTIONAL_KEYS = ("parts",)
_MATERIAL_KEYS = ("code", "name_zh", "name_en", "essential")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class MalformedCatalogue(CatalogueError):
    """A ``CatalogueError`` whose detail is written in both languages.

    The base class formats the same ``detail`` into both templates; a station operator
    refusing a published catalogue should read why in Chinese, so this carries ``detail_zh``.
    """

    zh = "事项清单有误：{detail_zh}"


@dataclass(frozen=True)
class _Where:
    """Where in the catalogue a problem is, in both languages, for error messages."""

    en: str
    zh: str

    def fail(self, en: str, zh: str) -> NoReturn:
        raise MalformedCatalogue(detail=f"{self.en}: {en}", detail_zh=f"{self.zh}：{zh}")


_TOP = _Where("the catalogue", "清单")


@dataclass(frozen=True)
class Material:
    """One document or item the resident brings for a matter."""

    code: str
    name_zh: str
    name_en: str
    essential: bool

    def name(self, lang: str) -> str:
        """The name in ``lang`` ("zh", anything else gives English, like ``errors``)."""
        return self.name_zh if lang == "zh" else self.name_en


@dataclass(frozen=True)
class Matter:
    """One matter, or a bundle of matters (一件事) when ``parts`` is not empty."""

    code: str
    name_zh: str
    name_en: str
    department_zh: str
    department_en: str
    time_limit_days: int
    materials: tuple[Material, ...]
    home_service: bool
    decided_at: DecidedAt
    parts: tuple[str, ...] = ()

    @property
    def is_bundle(self) -> bool:
        """True for a "一件事" bundle, which is applied for once but covers several matters."""
        return bool(self.parts)

    def material(self, code: str) -> Material:
        """The material with ``code``; a ``CatalogueError`` if this matter has none such."""
        for item in self.materials:
            if item.code == code:
                return item
        raise MalformedCatalogue(
            detail=f"matter {self.code} has no material {code}",
            detail_zh=f"事项 {self.code} 没有编码为 {code} 的材料",
        )

    def name(self, lang: str) -> str:
        """The matter's name in ``lang`` ("zh", anything else gives English)."""
        return self.name_zh if lang == "zh" else self.name_en

    def department(self, lang: str) -> str:
        """The deciding (or leading) department in ``lang``."""
        return self.department_zh if lang == "zh" else self.department_en

    @property
    def essential_codes(self) -> frozenset[str]:
        """Codes of the materials that may never be missing, even under 容缺受理."""
        return frozenset(m.code for m in self.materials if m.essential)

    @property
    def optional_codes(self) -> frozenset[str]:
        """Codes of the materials that may be promised for later (容缺)."""
        return frozenset(m.code for m in self.materials if not m.essential)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, keys in the order the published file uses."""
        out: dict[str, Any] = {
            "code": self.code,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "department_zh": self.department_zh,
            "department_en": self.department_en,
            "time_limit_days": self.time_limit_days,
            "materials": [
                {"code": m.code, "name_zh": m.name_zh, "name_en": m.name_en,
                 "essential": m.essential}
                for m in self.materials
            ],
            "home_service": self.home_service,
            "decided_at": self.decided_at,
        }
        if self.parts:
            out["parts"] = list(self.parts)
        return out


class Catalogue:
    """One published version of the matter catalogue, consistent as a whole.

    The constructor checks what involves several matters (unique codes, bundles); the shape of
    each entry is checked by ``from_dict``, the way catalogues normally come in.
    """

    def __init__(self, version: str, published: str, matters: Iterable[Matter]) -> None:
        self.version = version
        self.published = published
        self._matters: tuple[Matter, ...] = tuple(matters)
        self._by_code: dict[str, Matter] = {}
        first_index: dict[str, int] = {}
        for index, matter in enumerate(self._matters, 1):
            if matter.code in first_index:
                _named(matter.code, index).fail(
                    f"the code is already used by matter #{first_index[matter.code]}",
                    f"该编码已被第 {first_index[matter.code]} 个事项使用",
                )
            first_index[matter.code] = index
            self._by_code[matter.code] = matter
        for matter in self._matters:
            if matter.is_bundle:
                self._check_bundle(matter)

    def _check_bundle(self, bundle: Matter) -> None:
        """A bundle must be made of real, ordinary matters and promise no faster than they do."""
        where = _Where(f"bundle {bundle.code}", f"一件事 {bundle.code}")
        if len(bundle.parts) < 2:
            where.fail("a bundle needs at least two parts (leave out 'parts' for one matter)",
                       "一件事至少应包含两个事项（单个事项请不要写 parts）")
        if len(set(bundle.parts)) != len(bundle.parts):
            twice = sorted({p for p in bundle.parts if bundle.parts.count(p) > 1})
            where.fail(f"field 'parts' lists {', '.join(twice)} more than once",
                       f"字段 parts 中 {'、'.join(twice)} 重复")
        parts: list[Matter] = []
        for code in bundle.parts:
            part = self._by_code.get(code)
            if part is None:
                where.fail(f"part {code} is not in the catalogue",
                           f"所含事项 {code} 不在清单中")
            if part.is_bundle:
                where.fail(f"part {code} is itself a bundle; list its matters instead",
                           f"所含事项 {code} 本身是一件事，请直接列出其中的事项")
            parts.append(part)
        slowest = max(parts, key=lambda p: p.time_limit_days)
        if bundle.time_limit_days < slowest.time_limit_days:
            where.fail(
                f"field 'time_limit_days' is {bundle.time_limit_days} working days, less than "
                f"the {slowest.time_limit_days} of its part {slowest.code}",
                f"字段 time_limit_days 为 {bundle.time_limit_days} 个工作日，"
                f"少于所含事项 {slowest.code} 的 {slowest.time_limit_days} 个工作日",
            )
        centre_parts = [p.code for p in parts if p.decided_at == "centre"]
        if bundle.decided_at == "station" and centre_parts:
            where.fail(
                f"field 'decided_at' is \"station\" but its part {centre_parts[0]} is decided "
                f"at the centre",
                f"字段 decided_at 为 station，但所含事项 {centre_parts[0]} 由中心办理",
            )

    # --- lookup -----------------------------------------------------------------------------

    def get(self, code: str) -> Matter:
        """The matter with ``code``; ``UnknownMatter`` if this version does not have it."""
        try:
            return self._by_code[code]
        except KeyError:
            raise UnknownMatter(matter=code) from None

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code in self._by_code

    def __iter__(self) -> Iterator[Matter]:
        """Matters (bundles included) in the order of the published file."""
        return iter(self._matters)

    def __len__(self) -> int:
        return len(self._matters)

    def __repr__(self) -> str:
        return f"<Catalogue {self.version} ({self.published}), {len(self)} matters>"

    def bundles(self) -> list[Matter]:
        """The "一件事" bundles, in file order."""
        return [m for m in self._matters if m.is_bundle]

    def parts_of(self, code: str) -> list[Matter]:
        """The matters a bundle covers (empty for an ordinary matter)."""
        return [self._by_code[p] for p in self.get(code).parts]

    def group_names(self, by: str | None, keys: Iterable[str]) -> dict[str, tuple[str, str]]:
        """The (Chinese, English) name of each figures group that is a matter (keyed by its
        code) or a department (keyed by its Chinese name, as the centre groups them): a
        report by matter listed bare codes, and one by department read Chinese under an
        English table. Groups this catalogue does not name are left out."""
        if by == "matter":
            return {k: (f"{k} {m.name_zh}", f"{k} {m.name_en}")
                    for k in keys if (m := self._by_code.get(k)) is not None}
        if by == "department":
            english = {m.department_zh: m.department_en for m in self._matters}
            return {k: (k, english[k]) for k in keys if k in english}
        return {}

    def search(self, text: str, lang: str | None = None) -> list[Matter]:
        """Matters whose code or name contains ``text``, ignoring case, in file order.

        ``lang`` "zh" or "en" limits the names searched to that language; a blank ``text``
        matches everything, so an empty search box lists the whole catalogue.
        """
        needle = text.strip().casefold()
        found = []
        for matter in self._matters:
            haystack = [matter.code]
            if lang in (None, "zh"):
                haystack.append(matter.name_zh)
            if lang in (None, "en"):
                haystack.append(matter.name_en)
            if any(needle in h.casefold() for h in haystack):
                found.append(matter)
        return found

    # --- (de)serialisation ------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The JSON form; ``from_dict(c.to_dict())`` gives an equal catalogue."""
        return {
            "version": self.version,
            "published": self.published,
            "matters": [m.to_dict() for m in self._matters],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Catalogue:
        """Build and check a catalogue; ``CatalogueError`` naming the matter and field if bad."""
        _check_keys(_TOP, data, _TOP_KEYS)
        version = _text(_TOP, data, "version", max_len=MAX_VERSION_LEN)
        if not VERSION.fullmatch(version):
            _TOP.fail(f"field 'version' must look like 2026.11.1 (ASCII letters and digits "
                      f"between dots or dashes), not {version!r}",
                      f"字段 version 应形如 2026.11.1（点或短横线分隔的英文字母和数字），"
                      f"而不是 {version!r}")
        published = _text(_TOP, data, "published")
        if not _ISO_DATE.match(published) or not _is_date(published):
            _TOP.fail(f"field 'published' must be a date like 2026-11-01, not {published!r}",
                      f"字段 published 应为 2026-11-01 这样的日期，而不是 {published!r}")
        raw_matters = data["matters"]
        if not isinstance(raw_matters, list) or not raw_matters:
            _TOP.fail("field 'matters' must be a non-empty list",
                      "字段 matters 应为非空列表")
        matters = [_matter(index, raw) for index, raw in enumerate(raw_matters, 1)]
        return cls(version, published, matters)

    @classmethod
    def from_json_bytes(cls, raw: bytes) -> Catalogue:
        """Parse a catalogue file as published (UTF-8 JSON; a leading BOM is tolerated)."""
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            _TOP.fail(f"it is not UTF-8 text (bad byte at offset {exc.start})",
                      f"不是 UTF-8 编码的文本（第 {exc.start} 字节有误）")
        try:
            data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
        except json.JSONDecodeError as exc:
            _TOP.fail(f"it is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
                      f"不是有效的 JSON（第 {exc.lineno} 行第 {exc.colno} 列：{exc.msg}）")
        except _DuplicateKey as exc:
            _TOP.fail(f"the key {exc.key!r} appears twice in one object",
                      f"同一对象中键 {exc.key!r} 出现了两次")
        except (RecursionError, ValueError):  # [[[[…]]]] nesting, a 5 000-digit number
            _TOP.fail("it is not a catalogue (nested too deeply or absurd numbers)",
                      "不是事项清单（嵌套过深或数字异常）")
        if not isinstance(data, dict):
            _TOP.fail("the top level must be a JSON object", "顶层应为 JSON 对象")
        return cls.from_dict(data)


def version_key(version: str) -> tuple[tuple[int, str], ...]:
    """Order catalogue versions like ``2026.11.1`` < ``2026.11.10`` < ``2027.1.1``.

    Only ASCII digits make a number (``str.isdigit`` also takes "²", which ``int`` refuses),
    and only up to ``MAX_VERSION_LEN`` of them; anything else is compared as text."""
    return tuple((int(part), "")
                 if part.isascii() and part.isdigit() and len(part) <= MAX_VERSION_LEN
                 else (-1, part)
                 for part in version.replace("-", ".").split("."))


def is_newer(candidate: Catalogue, current: Catalogue) -> bool:
    return version_key(candidate.version) > version_key(current.version)


@functools.cache
def shipped_catalogue() -> Catalogue:
    """The catalogue shipped with this release, used until the centre publishes a newer one."""
    raw = resources.files("station.domain").joinpath("data/catalogue.json").read_bytes()
    return Catalogue.from_json_bytes(raw)


# --- checking helpers -----------------------------------------------------------------------


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json hook: a hand-edited file with a key twice would otherwise silently keep the last."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _check_keys(where: _Where, data: object, required: Iterable[str],
                optional: Iterable[str] = ()) -> None:
    """Refuse a non-object, missing keys and unknown keys (typos would otherwise be dropped)."""
    if not isinstance(data, Mapping):
        where.fail(f"must be a JSON object, not {_json_type(data)}",
                   f"应为 JSON 对象，而不是 {_json_type(data)}")
    required = tuple(required)
    missing = [k for k in required if k not in data]
    if missing:
        where.fail(f"missing field(s) {', '.join(missing)}",
                   f"缺少字段 {'、'.join(missing)}")
    known = set(required) | set(optional)
    extra = sorted(repr(k) for k in data if k not in known)  # repr: a key may be unprintable
    if extra:
        where.fail(f"unknown field(s) {', '.join(extra)}",
                   f"有未知字段 {'、'.join(extra)}")


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, Mapping) else type(value).__name__


def _text(where: _Where, data: Mapping[str, Any], key: str,
          max_len: int = MAX_NAME_LEN) -> str:
    """A text field, trimmed; refused when it holds control characters or lone surrogates
    (nothing can store, send or show them), or is too long — the same rule as typed text."""
    value = data[key]
    if not isinstance(value, str) or not value.strip():
        where.fail(f"field '{key}' must be non-empty text, not {_json_type(value)}",
                   f"字段 {key} 应为非空文本，而不是 {_json_type(value)}")
    try:
        return check_text(value, label=(f"字段 {key} ", f"field '{key}'"), field_name=key,
                          max_len=max_len)
    except ValidationError as exc:
        problem = exc.problems[0]
        where.fail(problem.message("en"), problem.message("zh"))


def _bool(where: _Where, data: Mapping[str, Any], key: str) -> bool:
    value = data[key]
    if not isinstance(value, bool):
        where.fail(f"field '{key}' must be true or false, not {_json_type(value)}",
                   f"字段 {key} 应为 true 或 false，而不是 {_json_type(value)}")
    return value


def _named(code: str, index: int) -> _Where:
    return _Where(f"matter {code} (#{index})", f"事项 {code}（第 {index} 个）")


def _nameable(code: object) -> bool:
    """Whether an error message may name an entry by this code (it is checked later)."""
    return isinstance(code, str) and bool(code.strip()) and not has_control_chars(code)


def _matter_where(index: int, raw: object) -> _Where:
    """Name a matter by its code when it has a usable one, else by its position."""
    code = raw.get("code") if isinstance(raw, Mapping) else None
    if _nameable(code):
        return _named(code, index)
    return _Where(f"matter #{index}", f"第 {index} 个事项")


def _matter(index: int, raw: object) -> Matter:
    where = _matter_where(index, raw)
    _check_keys(where, raw, _MATTER_KEYS, _MATTER_OPTIONAL_KEYS)
    data = cast(Mapping[str, Any], raw)
    code = _text(where, data, "code")
    if not MATTER_CODE.match(code):
        where.fail(f"field 'code' must look like HJ-001, not {code!r}",
                   f"字段 code 应形如 HJ-001，而不是 {code!r}")
    names = {k: _text(where, data, k)
             for k in ("name_zh", "name_en", "department_zh", "department_en")}

    limit = data["time_limit_days"]
    if not isinstance(limit, int) or isinstance(limit, bool):
        where.fail(f"field 'time_limit_days' must be a whole number, not {_json_type(limit)}",
                   f"字段 time_limit_days 应为整数，而不是 {_json_type(limit)}")
    if not 0 <= limit <= MAX_TIME_LIMIT_DAYS:
        where.fail(
            f"field 'time_limit_days' must be 0 to {MAX_TIME_LIMIT_DAYS} working days, "
            f"not {limit}",
            f"字段 time_limit_days 应为 0 到 {MAX_TIME_LIMIT_DAYS} 个工作日，而不是 {limit}",
        )

    home_service = _bool(where, data, "home_service")
    decided_at = data["decided_at"]
    if decided_at not in DECIDED_AT:
        where.fail(f"field 'decided_at' must be \"station\" or \"centre\", not {decided_at!r}",
                   f"字段 decided_at 应为 station 或 centre，而不是 {decided_at!r}")

    raw_materials = data["materials"]
    if not isinstance(raw_materials, list) or not raw_materials:
        where.fail("field 'materials' must be a non-empty list (at least the ID card)",
                   "字段 materials 应为非空列表（至少有身份证件）")
    materials = tuple(_material(where, i, m) for i, m in enumerate(raw_materials, 1))
    seen: set[str] = set()
    for item in materials:
        if item.code in seen:
            where.fail(f"material code {item.code} is used twice",
                       f"材料编码 {item.code} 重复")
        seen.add(item.code)
    if not any(item.essential for item in materials):
        where.fail("no material is essential; at least the applicant's ID must be",
                   "没有必需材料；至少申请人身份证件应为必需")

    parts: tuple[str, ...] = ()
    if "parts" in data:
        raw_parts = data["parts"]
        if not isinstance(raw_parts, list) or not all(
            isinstance(p, str) and MATTER_CODE.match(p) for p in raw_parts
        ):
            where.fail("field 'parts' must be a list of matter codes",
                       "字段 parts 应为事项编码的列表")
        if len(raw_parts) < 2:
            # An empty list would silently turn a bundle into an ordinary matter.
            where.fail("a bundle needs at least two parts (leave out 'parts' for one matter)",
                       "一件事至少应包含两个事项（单个事项请不要写 parts）")
        parts = tuple(raw_parts)

    return Matter(
        code=code,
        time_limit_days=limit,
        materials=materials,
        home_service=home_service,
        decided_at=cast(DecidedAt, decided_at),
        parts=parts,
        **names,
    )


def _material(matter: _Where, index: int, raw: object) -> Material:
    code = raw.get("code") if isinstance(raw, Mapping) else None
    if _nameable(code):
        where = _Where(f"{matter.en}, material {code}", f"{matter.zh}的材料 {code}")
    else:
        where = _Where(f"{matter.en}, material #{index}", f"{matter.zh}的第 {index} 项材料")
    _check_keys(where, raw, _MATERIAL_KEYS)
    data = cast(Mapping[str, Any], raw)
    code = _text(where, data, "code")
    if not MATERIAL_CODE.match(code):
        where.fail(f"field 'code' must look like M01, not {code!r}",
                   f"字段 code 应形如 M01，而不是 {code!r}")
    return Material(
        code=code,
        name_zh=_text(where, data, "name_zh"),
        name_en=_text(where, data, "name_en"),
        essential=_bool(where, data, "essential"),
    )

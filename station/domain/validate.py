"""Validation of what people type: ID numbers, mobile numbers, dates and free text.

Every check returns the cleaned value or raises ``ValidationError`` with one ``Problem`` per
field, each with a sentence in Chinese and English, so a form can show it next to the field.

ID numbers follow GB 11643-1999: 17 digits (6-digit region code, 8-digit birth date, 3-digit
sequence) and an ISO 7064 MOD 11-2 check character (0-9 or X). A lowercase x is accepted and
normalised to X. Region codes are checked for shape (a real province-level prefix, no zero
county part) rather than against the full, yearly-changing list of county codes, so residents
registered under a since-renamed county still validate.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from operator import mul
from typing import Any

from station.domain.chinatime import CHINA
from station.domain.errors import ValidationError
from station.domain.records import choice_code, choice_label

PROBLEM_TEXT: dict[str, tuple[str, str]] = {
    # code: (zh, en)
    "required": ("{label_zh}不能为空", "{label_en} is required"),
    "too_long": ("{label_zh}不能超过 {max} 个字", "{label_en} must be at most {max} characters"),
    "control_chars": ("{label_zh}含有不可见的控制字符", "{label_en} contains control characters"),
    "line_break": (
        "{label_zh}只能写一行，不能换行（表格单元格里的换行也算）；请改成一行",
        "{label_en} is one line and cannot hold a line break (a line break inside a "
        "spreadsheet cell counts too); put it on one line",
    ),
    "not_scalar": (
        "{label_zh}应是一个值，不能是列表或对象（JSON 中用方括号或花括号括起来的内容）",
        "{label_en} must be one value, not a list or an object (a value in square or curly "
        "brackets in JSON)",
    ),
    "broken_text": (
        "{label_zh}含有无法识别的字符（文字编码可能有误）",
        "{label_en} contains characters that are not valid text (a broken encoding?)",
    ),
    "id_length": (
        "身份证号码应为 18 位（现为 {length} 位）",
        "An ID number has 18 characters (this one has {length})",
    ),
    "id_chars": (
        "身份证号码前 17 位应为数字，最后一位为数字或 X",
        "An ID number is 17 digits followed by a digit or X",
    ),
    # Nor is the region code: it is the first six characters of the ID number.
    "id_region": (
        "身份证号码的地区码（前 6 位）不存在",
        "The region code of the ID number (its first 6 characters) does not exist",
    ),
    # The birth date is not repeated: a refusal reason is kept in plaintext (the outbox's
    # quarantine, logs), and part of an ID number must never be (G2).
    "id_birth_date": (
        "身份证号码中的出生日期（第 7–14 位）不是有效日期",
        "The birth date in the ID number (characters 7–14) is not a real date",
    ),
    "id_birth_future": (
        "身份证号码中的出生日期（第 7–14 位）晚于今天",
        "The birth date in the ID number (characters 7–14) is in the future",
    ),
    "id_birth_past": (
        "身份证号码中的出生日期（第 7–14 位）早于 1900 年",
        "The birth date in the ID number (characters 7–14) is before 1900",
    ),
    "id_excel": (
        "身份证号码被 Excel 变成了数字（如 1.10105E+17），后几位已经丢失，无法恢复；请在 Excel "
        "中把这一列设为“文本”格式，重新填入身份证号码后再保存",
        "Excel turned the ID number into a number (like 1.10105E+17) and its last digits are "
        "lost for good; format the column as Text in Excel, enter the ID numbers again, and "
        "save the file again",
    ),
    "id_excel_zeros": (
        "身份证号码以 000 结尾且校验位不符：Excel 把它当成数字，只保留了前 15 位；请在 Excel "
        "中把这一列设为“文本”格式，重新填入身份证号码后再保存",
        "The ID number ends in 000 and its check character is wrong: Excel kept it as a "
        "number, which holds only 15 digits; format the column as Text in Excel, enter the "
        "ID numbers again, and save the file again",
    ),
    "id_checksum": (
        "身份证号码校验位不符（应为 {expected}），请核对是否抄错",
        "The ID number's check character should be {expected}: please check for a typo",
    ),
    "mobile": (
        "手机号码应为 1 开头、第二位为 3–9 的 11 位数字",
        "A mobile number has 11 digits, starting 13–19",
    ),
    "mobile_landline": (
        "这是座机号码；这里只填 11 位手机号码，座机号码请写在备注里",
        "This is a landline number: this field takes an 11-digit mobile number only (put a "
        "landline in the notes)",
    ),
    "mobile_excel": (
        "手机号码被 Excel 变成了科学计数法（如 1.39123E+10），后几位已经丢失；请在 Excel 中把"
        "这一列设为“文本”格式，重新填入后再保存",
        "Excel turned the mobile number into a number (like 1.39123E+10) and its last digits "
        "are lost; format the column as Text in Excel, enter the numbers again, and save the "
        "file again",
    ),
    "date_format": (
        "{label_zh}应为 年-月-日 格式的日期（如 2026-11-23）",
        "{label_en} must be a date like 2026-11-23",
    ),
    "date_no_month": (
        "{label_zh} {value} 不是有效日期：没有 {month} 月",
        "{label_en} {value} is not a real date: there is no month {month}",
    ),
    "date_no_day": (
        "{label_zh} {value} 不是有效日期：{year} 年 {month} 月只有 {days} 天",
        "{label_en} {value} is not a real date: {month_en} {year} has {days} days",
    ),
    "date_excel": (
        "{label_zh}是 Excel 内部的日期序号，不是日期；请在 Excel 中把这一列设为“日期”格式"
        "（年-月-日）后再保存",
        "{label_en} is a date as Excel numbers its days, not a date; format the column as "
        "Date (year-month-day) in Excel and save the file again",
    ),
    "datetime_format": (
        "{label_zh}应为 年-月-日 时:分 格式（如 2026-11-23 14:30）",
        "{label_en} must be a date and time like 2026-11-23 14:30",
    ),
    "date_far_past": (
        "{label_zh} {value} 太早了（早于 {limit}）",
        "{label_en} {value} is too far in the past (before {limit})",
    ),
    "date_far_future": (
        "{label_zh} {value} 太晚了（晚于 {limit}）",
        "{label_en} {value} is too far in the future (after {limit})",
    ),
    "choice": (
        "{label_zh}只能是：{choices_zh}",
        "{label_en} must be one of: {choices}",
    ),
    "own_action": (
        "{label_zh}不能直接修改，请用“{action_zh}”",
        "{label_en} is not edited directly: use “{action_en}”",
    ),
    "before": (
        "{label_zh} {value} 不能早于{other_zh} {other}",
        "{label_en} {value} cannot be before {other_en} {other}",
    ),
    "after": (
        "{label_zh} {value} 不能晚于{other_zh} {other}",
        "{label_en} {value} cannot be after {other_en} {other}",
    ),
    "closed_only": (
        "{label_zh}是办件办结、退回或作废的日期，还在办的件没有：请在改为办结（或退回）时"
        "一并填写，或改好状态后再更正",
        "{label_en} is the day a case was completed, returned or voided, and a case still in "
        "hand has none: give it with the move to completed (or returned), or correct it "
        "after",
    ),
    "not_yet": (
        "{label_zh} {value} 还没有到（现在是 {now}）：这里填已经发生的时间；还没去的上门请填在"
        "“预约时间”里",
        "{label_en} {value} has not come yet (it is now {now}): this is the time it was "
        "done; a visit still to make goes in Scheduled",
    ),
    "map_key": (
        "{label_zh}要按材料编号逐项填写，例如 {example}",
        "{label_en} is given per material code, e.g. {example}",
    ),
    # The value typed is not repeated: whatever was put in the wrong column (a name, a phone)
    # must not reach a refusal reason (G2); the line or the field says where it is.
    "matter_code": (
        "{label_zh}应是事项编码，如 HJ-001（两到四个大写字母、连字符和三位数字；"
        "station catalogue 列出全部事项）",
        "{label_en} must be a matter code like HJ-001 (two to four capital letters, a hyphen "
        "and three digits; station catalogue lists them all)",
    ),
    "material_code": (
        "{label_zh}应是材料编号，如 M01（M 和两位数字，见事项的材料清单）",
        "{label_en} must be material codes like M01 (M and two digits, as in the matter's "
        "list of materials)",
    ),
    "record_ref": (
        "{label_zh}应填代办件的编号，如 V001-20261123-0001",
        "{label_en}: give receipt numbers of applications, like V001-20261123-0001",
    ),
    "linked": ("{label_zh}：{why_zh}", "{label_en}: {why_en}"),
    "applications_only": ("{label_zh}只用于代办件", "{label_en} are kept for applications only"),
    "essential_missing": (
        "已受理的件不能缺少必要材料：{missing}",
        "A received case cannot lack its essential materials: {missing_en}",
    ),
    "unchanged": (
        "没有修改：填写的内容与记录现有的相同",
        "Nothing to change: the values given are the ones the record already has",
    ),
}


@dataclass(frozen=True)
class Problem:
    """One refused field: which field, why (a code of ``PROBLEM_TEXT``), and the details."""

    field: str
    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def message(self, lang: str = "en") -> str:
        zh, en = PROBLEM_TEXT[self.code]
        if lang == "zh":  # choices are listed by their Chinese labels when they have them
            return zh.format(**{"choices_zh": self.params.get("choices", ""), **self.params})
        return en.format(**self.params)


def invalid(field_name: str, code: str, **params: Any) -> ValidationError:
    """A ``ValidationError`` for one field."""
    return ValidationError([Problem(field_name, code, params)])


# --- ID numbers (GB 11643-1999) -----------------------------------------------------------

# Province-level codes of GB/T 2260 (plus 71 Taiwan, 81/82 Hong Kong/Macao, 83 the residence
# permits of Taiwan residents, 91 overseas issued).
PROVINCE_CODES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
     50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83, 91}
)
_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_CHECK_CHARS = "10X98765432"
# ASCII digits only: ``\d`` would also take other scripts' digits (NFKC makes only the
# full-width ones plain), which would then be stored, indexed and shown as they were typed.
_ID_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")
# What Excel shows for a long number in a General column: 1.10105E+17
_EXCEL_NUMBER = re.compile(r"^\d(\.\d+)?E\+\d+$", re.IGNORECASE)


def _as_typed(value: object) -> str:
    """A number as people type it, reduced to ASCII: full-width digits and letters (１２３,
    Ｘ) made plain, spaces of any width removed."""
    return "".join(unicodedata.normalize("NFKC", str(value)).split())


def id_check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits of an ID number."""
    if len(first17) != 17:
        raise ValueError("an ID number's check character needs 17 digits")
    return _CHECK_CHARS[sum(map(mul, map(int, first17), _WEIGHTS)) % 11]


def id_birth_date(id_number: str) -> dt.date:
    """The birth date encoded in a (valid) ID number."""
    return dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def check_id_number(value: str, *, today: dt.date, field_name: str = "id_number") -> str:
    """Return the ID number normalised (ASCII, no spaces or dashes between its groups, X
    upper-case), or raise ``ValidationError``."""
    text = _as_typed(value).upper().replace("-", "")
    if _EXCEL_NUMBER.match(text):
        raise invalid(field_name, "id_excel")
    if len(text) != 18:
        raise invalid(field_name, "id_length", length=len(text))
    if not _ID_SHAPE.match(text):
        raise invalid(field_name, "id_chars")
    region = text[:6]
    if int(region[:2]) not in PROVINCE_CODES or (region[2:] == "0000" and region[:2] not in (
        "71", "81", "82", "83", "91"
    )):
        raise invalid(field_name, "id_region")
    try:
        born = id_birth_date(text)
    except ValueError:
        raise invalid(field_name, "id_birth_date") from None
    if born > today:
        raise invalid(field_name, "id_birth_future")
    if born.year < 1900:
        raise invalid(field_name, "id_birth_past")
    expected = id_check_char(text[:17])
    if text[17] != expected:
        if text.endswith("000"):
            raise invalid(field_name, "id_excel_zeros")
        raise invalid(field_name, "id_checksum", expected=expected)
    return text


# --- phones, dates, text ------------------------------------------------------------------

_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
# Unicode category Cc is exactly U+0000–U+001F and U+007F–U+009F.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROL_MULTILINE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# lone surrogates: what undecodable bytes become (surrogateescape) and what broken JSON
# escapes hold; no database, encryption or JSON encoder downstream can store them
_SURROGATE = re.compile("[\ud800-\udfff]")


_LANDLINE = re.compile(r"^(0\d{9,11}|[2-9]\d{6,7})$")  # area code and number, or local
_COUNTRY_CODE = re.compile(r"^(\+86|0086|86)(?=1\d{10}$)")


def check_mobile(value: str, *, field_name: str = "phone") -> str:
    """Return an 11-digit mainland mobile number (full-width digits made plain; spaces,
    dashes, brackets and the country code +86, 0086 or 86 removed). A landline is refused
    with its own reason: the field is what SMS reminders and look-up by phone use."""
    text = _COUNTRY_CODE.sub("", re.sub(r"[\-()]", "", _as_typed(value)))
    if _MOBILE.match(text):
        return text
    if _EXCEL_NUMBER.match(text):
        raise invalid(field_name, "mobile_excel")
    raise invalid(field_name, "mobile_landline" if _LANDLINE.match(text) else "mobile")


# 2024-1-5, 2024/1/5, 2024.1.5 and 2024年1月5日: year first, as dates are written in China
_YMD = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
_YMD_PACKED = re.compile(r"^(\d{4})(\d{2})(\d{2})$")  # 20240105
_EXCEL_SERIAL = re.compile(r"^\d{5}$")  # days since 1899-12-30: 45296 is 2024-01-05
_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")


def _typed_date(value: object, label: tuple[str, str], field_name: str) -> dt.date:
    """A date as people write it (ISO, 20240105, or year-month-day with / . 年月日), or
    ``ValidationError``. Day-first and month-first dates are refused: 1/5/2024 could be
    either."""
    text = _as_typed(value)
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    code = "date_excel" if _EXCEL_SERIAL.match(text) else "date_format"
    if found := _YMD.match(text) or _YMD_PACKED.match(text):
        year, month, day = map(int, found.groups())
        try:
            return dt.date(year, month, day)
        except ValueError:
            raise _not_a_day(text, year, month, label, field_name) from None
    raise invalid(field_name, code, label_zh=label[0], label_en=label[1])


_NOT_A_DAY = frozenset({"date_no_month", "date_no_day"})


def _not_a_day(text: str, year: int, month: int, label: tuple[str, str],
               field_name: str) -> ValidationError:
    """A date written the right way that the calendar does not have (2026/2/29, 20261301):
    which part is wrong, so the person does not retype it as the same impossible day."""
    if year < dt.MINYEAR:  # year 0000: the shape is wrong, not the month or the day
        return invalid(field_name, "date_format", label_zh=label[0], label_en=label[1])
    if not 1 <= month <= 12:
        return invalid(field_name, "date_no_month", label_zh=label[0], label_en=label[1],
                       value=text, month=month)
    return invalid(field_name, "date_no_day", label_zh=label[0], label_en=label[1],
                   value=text, year=year, month=month, month_en=_MONTHS_EN[month - 1],
                   days=calendar.monthrange(year, month)[1])


def check_date(
    value: str | dt.date,
    *,
    today: dt.date,
    label: tuple[str, str],
    field_name: str,
    past_years: int = 120,
    future_years: int = 5,
) -> dt.date:
    """Parse a date as people write it (``_typed_date``) and refuse one absurdly far in the
    past or future."""
    label_zh, label_en = label
    day = value if isinstance(value, dt.date) else _typed_date(value, label, field_name)
    low = today.replace(year=today.year - past_years, day=min(today.day, 28))
    high = today.replace(year=today.year + future_years, day=min(today.day, 28))
    if day < low:
        raise invalid(field_name, "date_far_past", label_zh=label_zh, label_en=label_en,
                      value=day.isoformat(), limit=low.isoformat())
    if day > high:
        raise invalid(field_name, "date_far_future", label_zh=label_zh, label_en=label_en,
                      value=day.isoformat(), limit=high.isoformat())
    return day


# the time after a date, as people write it: 14:30, 14：30, 14时30分, 14点30, 14点; after a
# space, a T, or straight after 日 (2026年11月23日14时30分, as an input method writes it)
_TIME = re.compile(
    r"^(?P<day>.+?)(?:\s+|T|(?<=日))(?P<h>\d{1,2})(?:[:时点](?P<m>\d{1,2})?分?)?$")


def check_datetime(
    value: str,
    *,
    today: dt.date,
    label: tuple[str, str],
    field_name: str,
    plausible: bool = True,
) -> dt.datetime:
    """A date and time as people type it, in China time: the date in any form
    ``check_date`` takes (2026/11/23, 2026年11月23日, full-width digits), then the time
    (14:30, 14时30分); a date alone is its midnight. With ``plausible``, a year absurdly
    far off is refused as it is for a date: 0001 or 2999 is a slip, not a visit (without,
    for changesets received, a value saved before this rule still merges)."""
    text = unicodedata.normalize("NFKC", str(value)).strip()
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        moment = _typed_datetime(text, label, field_name)
    if moment.tzinfo is not None:
        moment = moment.astimezone(CHINA)
    if plausible:
        check_date(moment.date(), today=today, label=label, field_name=field_name)
    return moment.replace(second=0, microsecond=0, tzinfo=None)


def _typed_datetime(text: str, label: tuple[str, str], field_name: str) -> dt.datetime:
    found = _TIME.match(text)
    day_text, hour, minute = (found["day"], found["h"], found["m"] or "0") if found else (
        text, "0", "0")
    try:
        day = _typed_date(day_text, label, field_name)
        return dt.datetime.combine(day, dt.time(int(hour), int(minute)))
    except ValidationError as exc:
        if exc.problems[0].code in _NOT_A_DAY:  # the day is impossible: say which part
            raise
        raise invalid(field_name, "datetime_format", label_zh=label[0],
                      label_en=label[1]) from None
    except ValueError:
        raise invalid(field_name, "datetime_format", label_zh=label[0],
                      label_en=label[1]) from None


def has_lone_surrogates(text: str) -> bool:
    """Whether ``text`` holds what undecodable bytes or a broken ``\\ud800`` escape become:
    text that no UTF-8 file, database or terminal can take."""
    return _SURROGATE.search(text) is not None


def has_control_chars(text: str, *, multiline: bool = False) -> bool:
    """Whether ``text`` holds a control character (tabs and newlines are allowed when
    ``multiline``) or a lone surrogate: text that cannot be shown, stored or sent as is."""
    return bool((_CONTROL_MULTILINE if multiline else _CONTROL).search(text)
                or has_lone_surrogates(text))


def check_scalar(value: Any, *, label: tuple[str, str], field_name: str) -> None:
    """Refuse a list or an object where one value belongs: written as text it would be
    stored as "['甲']", a name or a number nobody typed (a JSON import can hold either)."""
    if isinstance(value, list | tuple | set | frozenset | dict):
        raise invalid(field_name, "not_scalar", label_zh=label[0], label_en=label[1])


def check_text(
    value: Any,
    *,
    label: tuple[str, str],
    field_name: str,
    max_len: int = 200,
    required: bool = False,
    multiline: bool = False,
) -> str:
    """Trim text, normalise it to NFC, refuse control characters and overlong values.

    Line ends are one "\n", whoever wrote them: a cell typed on Windows in several lines
    comes out of a CSV with "\r\n" in it. A line break where one line belongs is refused
    as such, not as an invisible "control character" nobody can find in the cell."""
    label_zh, label_en = label
    check_scalar(value, label=label, field_name=field_name)
    text = unicodedata.normalize("NFC", "" if value is None else str(value)).strip()
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if required and not text:
        raise invalid(field_name, "required", label_zh=label_zh, label_en=label_en)
    if has_lone_surrogates(text):
        raise invalid(field_name, "broken_text", label_zh=label_zh, label_en=label_en)
    if not multiline and "\n" in text:
        raise invalid(field_name, "line_break", label_zh=label_zh, label_en=label_en)
    if has_control_chars(text, multiline=multiline):
        raise invalid(field_name, "control_chars", label_zh=label_zh, label_en=label_en)
    if len(text) > max_len:
        raise invalid(field_name, "too_long", label_zh=label_zh, label_en=label_en, max=max_len)
    return text


def check_choice(value: Any, choices: tuple[str, ...], *, label: tuple[str, str],
                 field_name: str) -> str:
    """Accept only one of ``choices`` (or its Chinese label)."""
    text = choice_code(str(value), choices)
    if text not in choices:
        raise invalid(field_name, "choice", label_zh=label[0], label_en=label[1],
                      choices=", ".join(choices),
                      choices_zh="、".join(choice_label(c, "zh") for c in choices))
    return text

"""ID numbers (GB 11643-1999), mobiles, dates and text, as an agent types them."""

import datetime as dt

import pytest

from station.domain.errors import ValidationError
from station.domain.validate import (
    check_date,
    check_datetime,
    check_id_number,
    check_mobile,
    check_text,
    id_check_char,
)

TODAY = dt.date(2026, 11, 23)


def make_id(region: str = "110105", birth: str = "19491231", seq: str = "002") -> str:
    first17 = region + birth + seq
    return first17 + id_check_char(first17)


def problem_code(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return exc.value.problems[0].code


def test_check_character_matches_the_standard_example():
    # GB 11643-1999 appendix example: 11010519491231002X
    assert id_check_char("11010519491231002") == "X"
    assert check_id_number("11010519491231002X", today=TODAY) == "11010519491231002X"


@pytest.mark.parametrize("region", ["110105", "440305", "513722", "650102", "810000"])
def test_computed_valid_numbers_pass(region):
    number = make_id(region=region, birth="19800229", seq="123")
    assert check_id_number(number, today=TODAY) == number


def test_lowercase_x_and_spaces_are_normalised():
    assert check_id_number(" 11010519491231002x ", today=TODAY) == "11010519491231002X"


def full_width(text: str) -> str:
    """As a Chinese input method in full-width mode types it: １３８…, Ｘ."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@pytest.mark.parametrize("typed", [full_width("11010519491231002X"),
                                   full_width("11010519491231002x"),
                                   full_width("11010519491231002") + "X",
                                   "110105\u300019491231002X"])
def test_an_id_number_typed_in_full_width_is_kept_in_ascii(typed):
    """Otherwise the check character "should be X" while the agent typed Ｘ, or a number
    with an ASCII last digit is stored full-width and never found by the ASCII one."""
    assert check_id_number(typed, today=TODAY) == "11010519491231002X"


def test_digits_of_other_scripts_are_not_an_id_number():
    with pytest.raises(ValidationError) as exc:
        check_id_number("١١٠١٠٥١٩٤٩١٢٣١٠٠٢X", today=TODAY)
    assert problem_code(exc) == "id_chars"


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("1101051949123100", "id_length"),
        ("11010519491231002X1", "id_length"),
        ("1101051949123100AX", "id_chars"),
        (make_id(region="990105"), "id_region"),
        (make_id(region="110000"), "id_region"),
        (make_id(birth="19490230"), "id_birth_date"),
        (make_id(birth="20261231"), "id_birth_future"),
        (make_id(birth="18991231"), "id_birth_past"),
        ("110105194912310021", "id_checksum"),
    ],
)
def test_each_kind_of_bad_id_number_is_refused_with_its_reason(number, code):
    with pytest.raises(ValidationError) as exc:
        check_id_number(number, today=TODAY)
    assert problem_code(exc) == code
    assert exc.value.message("zh") and exc.value.message("en")


@pytest.mark.parametrize("birth", ["19490230", "20261231", "18991231"])
def test_a_refused_birth_date_is_not_repeated_in_the_reason(birth):
    """Reasons are kept in plaintext (a refusal in the outbox, a log line): they name the
    part of the ID number to check, never its digits."""
    with pytest.raises(ValidationError) as exc:
        check_id_number(make_id(birth=birth), today=TODAY)
    said = [exc.value.message("zh"), exc.value.message("en"),
            repr(exc.value.problems[0].params)]
    for text in said:
        assert birth not in text and f"{birth[:4]}-{birth[4:6]}" not in text, text
    assert "第 7–14 位" in said[0] and "characters 7–14" in said[1]


@pytest.mark.parametrize("region", ["990105", "110000"])
def test_a_refused_region_code_is_not_repeated_in_the_reason(region):
    with pytest.raises(ValidationError) as exc:
        check_id_number(make_id(region=region), today=TODAY)
    said = [exc.value.message("zh"), exc.value.message("en"),
            repr(exc.value.problems[0].params)]
    assert all(region not in text for text in said), said
    assert "前 6 位" in said[0] and "first 6 characters" in said[1]


def test_checksum_message_says_what_the_check_character_should_be():
    with pytest.raises(ValidationError) as exc:
        check_id_number("110105194912310021", today=TODAY)
    assert "X" in exc.value.message("en")
    assert "校验位" in exc.value.message("zh")


@pytest.mark.parametrize("phone", ["13912345678", "139 1234 5678", "+86 139-1234-5678",
                                   "19912345678"])
def test_mobile_numbers_accepted_in_the_ways_people_write_them(phone):
    assert check_mobile(phone) == phone.replace(" ", "").replace("-", "").replace("+86", "")


@pytest.mark.parametrize("phone", [full_width("13912345678"), full_width("139-1234-5678"),
                                   "1" + full_width("3912345678"), full_width("+8613912345678")])
def test_a_mobile_typed_in_full_width_is_kept_in_ascii(phone):
    assert check_mobile(phone) == "13912345678"


@pytest.mark.parametrize("phone", ["13٩١٢٣٤٥٦٧٨", "12912345678", "1391234567", "139123456789",
                                   "0571-8888888", "1391234567a"])
def test_bad_mobile_numbers_refused(phone):
    with pytest.raises(ValidationError):
        check_mobile(phone)


@pytest.mark.parametrize("typed", ["１１０１０５１９４９１２３１００２Ｘ", "11010519491231002ｘ",
                                   "110105\u300019491231\t002x", "110105-19491231-002X",
                                   "110105－19491231－002x"])
def test_id_numbers_typed_full_width_or_spaced_are_normalised(typed):
    assert check_id_number(typed, today=TODAY) == "11010519491231002X"


@pytest.mark.parametrize(("typed", "code"), [
    ("1.10105E+17", "id_excel"), ("1.10105e+17", "id_excel"),
    ("110105194912310000", "id_excel_zeros"),
])
def test_an_id_number_excel_ate_the_digits_of_says_so_and_how_to_fix_it(typed, code):
    with pytest.raises(ValidationError) as exc:
        check_id_number(typed, today=TODAY)
    assert problem_code(exc) == code
    assert "Excel" in exc.value.message("en") and "format the column as Text" in \
        exc.value.message("en")
    assert "设为“文本”格式" in exc.value.message("zh")


@pytest.mark.parametrize("typed", ["86-13912345678", "0086 139 1234 5678", "8613912345678",
                                   "１３９１２３４５６７８", "(+86) 139-1234-5678"])
def test_mobiles_with_a_country_code_or_full_width_digits_are_normalised(typed):
    assert check_mobile(typed) == "13912345678"


@pytest.mark.parametrize(("typed", "code"), [
    ("0571-88886666", "mobile_landline"), ("(0571)8888666", "mobile_landline"),
    ("88886666", "mobile_landline"), ("1.39123E+10", "mobile_excel"), ("12345", "mobile"),
])
def test_a_landline_or_a_mangled_mobile_is_refused_with_its_own_reason(typed, code):
    with pytest.raises(ValidationError) as exc:
        check_mobile(typed)
    assert problem_code(exc) == code
    if code == "mobile_landline":
        assert "landline" in exc.value.message("en") and "座机" in exc.value.message("zh")


@pytest.mark.parametrize("typed", ["2026-12-05", "2026/12/5", "2026-12-5", "2026.12.05",
                                   "2026年12月5日", "20261205", "２０２６年１２月５日"])
def test_dates_are_read_as_people_write_them_year_first(typed):
    day = check_date(typed, today=TODAY, label=("受理日期", "Received on"), field_name="d")
    assert day == dt.date(2026, 12, 5)


@pytest.mark.parametrize(("typed", "code"), [
    ("46361", "date_excel"), ("5/12/2026", "date_format"), ("2026/2/30", "date_no_day"),
])
def test_an_excel_day_number_or_a_day_first_date_is_refused_with_its_reason(typed, code):
    with pytest.raises(ValidationError) as exc:
        check_date(typed, today=TODAY, label=("受理日期", "Received on"), field_name="d")
    assert problem_code(exc) == code
    if code == "date_excel":
        assert "format the column as Date" in exc.value.message("en")
        assert "设为“日期”格式" in exc.value.message("zh")


@pytest.mark.parametrize(("typed", "zh", "en"), [
    ("2026/2/29", "2026 年 2 月只有 28 天", "February 2026 has 28 days"),
    ("2026-02-30", "2026 年 2 月只有 28 天", "February 2026 has 28 days"),
    ("２０２６年４月３１日", "2026 年 4 月只有 30 天", "April 2026 has 30 days"),
    ("20261301", "没有 13 月", "there is no month 13"),
    ("2026-0-10", "没有 0 月", "there is no month 0"),
])
def test_a_day_the_calendar_does_not_have_is_said_with_what_is_wrong_in_it(typed, zh, en):
    """2026/2/29 is written the right way: 'must be a date like 2026-11-23' sent the agent
    to retype the same impossible day. Which part is wrong is said, for a visit time too."""
    for check in (check_date, check_datetime):
        with pytest.raises(ValidationError) as exc:
            check(typed, today=TODAY, label=("受理日期", "Received on"), field_name="d")
        assert "不是有效日期" in exc.value.message("zh") and zh in exc.value.message("zh")
        assert "is not a real date" in exc.value.message("en")
        assert en in exc.value.message("en")


@pytest.mark.parametrize("typed", [
    "2026-11-23 14:30", "2026/11/23 14:30", "2026年11月23日 14时30分", "2026.11.23 14点30",
    "２０２６-１１-２３ １４：３０", "2026-11-23T06:30+00:00", "2026年11月23日14时30分",
    "2026年11月23日14:30", "２０２６年１１月２３日１４点３０"])
def test_a_visit_time_is_read_as_people_write_it_in_china_time(typed):
    moment = check_datetime(typed, today=TODAY, label=("实际时间", "Visited at"),
                            field_name="actual_at")
    assert moment == dt.datetime(2026, 11, 23, 14, 30)


@pytest.mark.parametrize(("typed", "code"), [
    ("2999-01-01 10:00", "date_far_future"), ("0001-01-01 00:00", "date_far_past"),
    ("2026-11-23 25:00", "datetime_format"), ("下午三点", "datetime_format")])
def test_a_visit_time_in_an_impossible_year_or_hour_is_refused(typed, code):
    with pytest.raises(ValidationError) as exc:
        check_datetime(typed, today=TODAY, label=("实际时间", "Visited at"),
                       field_name="actual_at")
    assert problem_code(exc) == code
    assert "实际时间" in exc.value.message("zh") and "Visited at" in exc.value.message("en")


def test_dates_far_in_the_future_or_past_are_refused():
    label = ("承诺日期", "Promised date")
    day = check_date("2026-12-01", today=TODAY, label=label, field_name="d")
    assert day == dt.date(2026, 12, 1)
    for bad, code in (("2036-01-01", "date_far_future"), ("1800-01-01", "date_far_past"),
                      ("2026-13-01", "date_no_month"), ("next week", "date_format")):
        with pytest.raises(ValidationError) as exc:
            check_date(bad, today=TODAY, label=label, field_name="d")
        assert problem_code(exc) == code


def test_text_is_trimmed_length_limited_and_control_characters_refused():
    label = ("姓名", "Name")
    assert check_text("  王桂英 ", label=label, field_name="n") == "王桂英"
    with pytest.raises(ValidationError) as exc:
        check_text("王\x00桂英", label=label, field_name="n")
    assert problem_code(exc) == "control_chars"
    with pytest.raises(ValidationError) as exc:  # "\ud800" in JSON: nothing can store it
        check_text("王\ud800", label=label, field_name="n")
    assert problem_code(exc) == "broken_text"
    with pytest.raises(ValidationError) as exc:
        check_text("王" * 51, label=label, field_name="n", max_len=50)
    assert problem_code(exc) == "too_long"
    with pytest.raises(ValidationError) as exc:
        check_text("   ", label=label, field_name="n", required=True)
    assert "姓名不能为空" in exc.value.message("zh")
    assert check_text("line one\nline two", label=label, field_name="n", multiline=True)

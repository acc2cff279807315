"""Realistic sample data (station.domain.sample)."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

import pytest

from station.domain import sample
from station.domain.records import (
    CATEGORIES,
    CHANNELS,
    RELATIONSHIPS,
    SCHEMAS,
    SERVICES,
    VISIT_REASONS,
    choice_code,
    split_items,
)
from station.domain.sample import (
    CSV_FIELDS,
    CSV_HEADERS,
    age_on,
    applications,
    residents,
    to_csv_rows,
    visits,
)
from station.domain.validate import check_id_number, check_mobile, id_birth_date, id_check_char

TODAY = date(2026, 11, 23)


# --- a tiny catalogue with the duck type of station.domain.catalogue ---------------------


@dataclass(frozen=True)
class FakeMaterial:
    code: str
    essential: bool


@dataclass(frozen=True)
class FakeMatter:
    code: str
    materials: tuple[FakeMaterial, ...]
    is_bundle: bool = False
    home_service: bool = False


class FakeCatalogue:
    def __init__(self, *matters: FakeMatter) -> None:
        self.matters = matters

    def __iter__(self):
        return iter(self.matters)


CATALOGUE = FakeCatalogue(
    FakeMatter("YL-001", (FakeMaterial("M01", True),), home_service=True),
    FakeMatter("CJ-002", (FakeMaterial("M01", True), FakeMaterial("M02", True),
                          FakeMaterial("M03", False), FakeMaterial("M04", False)),
               home_service=True),
    FakeMatter("HJ-003", (FakeMaterial("M01", True), FakeMaterial("M05", False))),
    FakeMatter("YJS-01", (FakeMaterial("M01", True), FakeMaterial("M06", False),
                          FakeMaterial("M07", True)), is_bundle=True),
)
BY_CODE = {m.code: m for m in CATALOGUE}


@pytest.fixture(scope="module")
def village() -> list[dict]:
    return list(residents(10_000, seed=7, today=TODAY))


def field_names(kind: str) -> set[str]:
    return {f.name for f in SCHEMAS[kind]} | {"kind"}


# --- residents ----------------------------------------------------------------------------


def test_deterministic_by_seed() -> None:
    assert list(residents(300, seed=1, today=TODAY)) == list(residents(300, seed=1, today=TODAY))
    assert list(residents(300, seed=1, today=TODAY)) != list(residents(300, seed=2, today=TODAY))
    people = list(residents(100, seed=3, today=TODAY))
    for make in (lambda: list(applications(200, catalogue=CATALOGUE, seed=4, today=TODAY,
                                           people=people)),
                 lambda: list(visits(200, seed=4, today=TODAY, people=people)),
                 lambda: list(applications(50, catalogue=CATALOGUE, seed=4, today=TODAY))):
        assert make() == make()


def test_first_rows_do_not_depend_on_n() -> None:
    assert list(residents(57, seed=5, today=TODAY)) == list(residents(500, seed=5,
                                                                     today=TODAY))[:57]
    assert list(residents(0, today=TODAY)) == []


def test_rows_are_in_the_import_format(village: list[dict]) -> None:
    names = field_names("resident")
    for row in village:
        assert row["kind"] == "resident"
        assert set(row) <= names
        assert {"resident.name", "resident.id_number", "resident.address",
                "resident.village_group", "categories"} <= set(row)


def test_every_id_number_and_phone_validates(village: list[dict]) -> None:
    for row in village:
        assert check_id_number(row["resident.id_number"], today=TODAY) == \
            row["resident.id_number"]
        if "resident.phone" in row:
            assert check_mobile(row["resident.phone"]) == row["resident.phone"]
    # nearly everyone gives some number; old people often a child's, shared in the family
    with_phone = [r["resident.phone"] for r in village if "resident.phone" in r]
    assert len(with_phone) > 0.95 * len(village)
    assert max(Counter(with_phone).values()) >= 3


def test_id_numbers_unique(village: list[dict]) -> None:
    ids = [r["resident.id_number"] for r in village]
    assert len(set(ids)) == len(ids) == 10_000


def test_check_character_agrees_with_validate() -> None:
    for row in residents(2000, seed=11, today=TODAY):
        number = row["resident.id_number"]
        assert number[17] == id_check_char(number[:17])


def test_region_codes_are_the_county_and_its_neighbours(village: list[dict]) -> None:
    regions = Counter(r["resident.id_number"][:6] for r in village)
    assert set(regions) <= {"411525", "411524", "411526", "411527", "341522"}
    assert regions["411525"] > 0.7 * len(village)


def test_birth_dates_match_age_groups(village: list[dict]) -> None:
    ages = []
    for row in village:
        age = age_on(row["resident.id_number"], TODAY)
        cats = row["categories"]
        assert 0 <= age <= 110
        assert ("elderly" in cats) == (age >= 60), row
        if "living_alone" in cats:
            assert age >= 60
        if "left_behind_child" in cats:
            assert age < 16
        assert list(cats) == [c for c in CATEGORIES if c in cats]  # known, ordered, no repeats
        assert not {"low_income", "extreme_poverty"} <= set(cats)
        ages.append(age)

    def share(low: int, high: int) -> float:
        return sum(low <= a < high for a in ages) / len(ages)

    assert 0.25 < share(60, 200) < 0.5  # many elderly
    assert share(80, 200) > 0.02
    assert 0.3 < share(18, 60) < 0.6  # working age
    assert 0.08 < share(0, 16) < 0.3  # children


def test_sex_digit_and_generation_match_the_given_name(village: list[dict]) -> None:
    surnames = sorted((s for s, _ in sample._SURNAMES), key=len, reverse=True)
    for row in village:
        name, number = row["resident.name"], row["resident.id_number"]
        surname = next(s for s in surnames if name.startswith(s))
        given = name[len(surname):]
        born = id_birth_date(number).year
        until, men, women = next(g for g in sample._GIVEN if born <= g[0])
        male = int(number[16]) % 2 == 1
        assert given in (men if male else women), (name, number, until)


def test_names_look_like_a_village(village: list[dict]) -> None:
    surnames = Counter(r["resident.name"][0] for r in village)
    top3 = sum(c for _, c in surnames.most_common(3))
    assert top3 > 0.3 * len(village)  # two or three clans
    assert len(surnames) > 40  # and wives from elsewhere
    assert Counter(r["resident.name"] for r in village).most_common(1)[0][1] > 1  # namesakes


def test_addresses(village: list[dict]) -> None:
    pattern = re.compile(r"^青石村([一二三四五六七八九十]+组) (\d+) 号$")
    households = Counter()
    for row in village:
        m = pattern.match(row["resident.address"])
        assert m, row["resident.address"]
        assert m.group(1) == row["resident.village_group"]
        households[row["resident.address"]] += 1
    assert max(households.values()) >= 4  # three-generation households
    other = next(residents(1, village="白马村", today=TODAY))
    assert other["resident.address"].startswith("白马村")


# --- applications ---------------------------------------------------------------------------


def test_applications_use_only_the_catalogue_and_keep_essentials(village: list[dict]) -> None:
    people = village[:500]
    ids = {p["resident.id_number"] for p in people}
    names = field_names("application")
    rows = list(applications(3000, catalogue=CATALOGUE, seed=2, today=TODAY, people=people))
    due_count = 0
    for row in rows:
        assert set(row) <= names, set(row) - names
        matter = BY_CODE[row["matter"]]
        codes = [m.code for m in matter.materials]
        essential = {m.code for m in matter.materials if m.essential}
        received, due = row["materials.received"], row["materials.due"]
        assert essential <= set(received)
        assert set(due).isdisjoint(received) and sorted(received + list(due)) == sorted(codes)
        received_on = date.fromisoformat(row["received_on"])
        assert received_on <= TODAY and received_on.weekday() < 5
        for promised in due.values():
            assert date.fromisoformat(promised) > received_on
        due_count += bool(due)
        assert row["applicant.id_number"] in ids
        check_id_number(row["applicant.id_number"], today=TODAY)
        if "applicant.phone" in row:
            check_mobile(row["applicant.phone"])
        assert row["authorisation.relationship"] in RELATIONSHIPS
        assert row["channel"] in CHANNELS
        if row["channel"] == "home_visit":
            assert matter.home_service
        if age_on(row["applicant.id_number"], TODAY) < 18:
            assert row["authorisation.relationship"] in ("parent", "guardian")
        assert isinstance(row["authorisation.signed"], bool)
        assert all(isinstance(n, str) and n for n in row["notes"])
    assert 0.05 * len(rows) < due_count < 0.5 * len(rows)  # some 容缺, not most
    assert {r["matter"] for r in rows} == set(BY_CODE)


def test_applications_without_people_use_the_village() -> None:
    rows = list(applications(30, catalogue=CATALOGUE, seed=9, today=TODAY))
    village_ids = {r["resident.id_number"] for r in residents(60, seed=9, today=TODAY)}
    assert {r["applicant.id_number"] for r in rows} <= village_ids


def test_applications_need_matters() -> None:
    with pytest.raises(ValueError, match="no matters"):
        list(applications(1, catalogue=FakeCatalogue(), today=TODAY))


def test_applications_with_the_shipped_catalogue() -> None:
    catalogue_module = pytest.importorskip("station.domain.catalogue")
    catalogue = catalogue_module.shipped_catalogue()
    by_code = {m.code: m for m in catalogue}
    for row in applications(500, catalogue=catalogue, today=TODAY):
        matter = by_code[row["matter"]]
        assert {m.code for m in matter.materials if m.essential} <= set(
            row["materials.received"])


# --- visits -------------------------------------------------------------------------------


def test_visits(village: list[dict]) -> None:
    people = village[:800]
    ids = {p["resident.id_number"] for p in people}
    names = field_names("visit")
    now = datetime(2026, 11, 23, 12, 0)
    rows = list(visits(2000, seed=3, today=TODAY, people=people))
    upcoming = 0
    for row in rows:
        assert set(row) <= names, set(row) - names
        assert row["resident.id_number"] in ids
        assert row["reason"] in VISIT_REASONS
        assert set(row["services"]) <= set(SERVICES)
        scheduled = datetime.fromisoformat(row["scheduled_at"])
        if scheduled >= now:
            upcoming += 1
            assert "actual_at" not in row and "result" not in row and not row["services"]
        if "actual_at" in row:
            actual = datetime.fromisoformat(row["actual_at"])
            assert scheduled < now and abs(actual - scheduled).total_seconds() < 2 * 3600
            assert row["services"] and row["result"]
            assert date.fromisoformat(row["next_visit"]) > actual.date()
    assert 0 < upcoming < 0.3 * len(rows)
    reasons = Counter(r["reason"] for r in rows)
    assert reasons["elderly"] > reasons["other"]  # visits go to those who need them


def test_sample_visits_are_never_made_after_the_time_they_are_saved_at():
    """The demo saves today's visits at 09:00: a visit made at 10:42 would be refused by the
    store, which no longer keeps a visit's actual time later than now, and left out."""
    people = list(residents(300, seed=7, today=TODAY))
    at_nine = datetime(2026, 11, 23, 9, 0)
    rows = list(visits(400, seed=7, today=TODAY, people=people, now=at_nine))
    actual = [datetime.fromisoformat(r["actual_at"]) for r in rows if "actual_at" in r]
    assert actual and max(actual) <= at_nine
    assert any(a.date() == TODAY for a in actual)


# --- CSV ------------------------------------------------------------------------------------


def test_csv_round_trips(village: list[dict]) -> None:
    rows = village[:2000]
    text = "".join(to_csv_rows(rows))
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert tuple(reader.fieldnames or ()) == CSV_HEADERS
    back = list(reader)
    assert len(back) == len(rows)
    for row, line in zip(rows, back, strict=True):
        for header, field in CSV_FIELDS.items():
            if field == "categories":
                codes = [choice_code(p, CATEGORIES) for p in split_items(line[header])]
                assert codes == row["categories"]
            else:
                assert line[header] == row.get(field, "")


def test_csv_lines_and_skips_other_kinds() -> None:
    lines = list(to_csv_rows([{"kind": "visit"}, next(residents(1, today=TODAY))],
                             header=False))
    assert len(lines) == 1 and lines[0].endswith("\n") and lines[0].count("\n") == 1

"""The matter catalogue (station.domain.catalogue): the shipped data and the checks on it."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from importlib import resources
from typing import Any

import pytest

from station.domain.catalogue import Catalogue, Matter, shipped_catalogue
from station.domain.errors import CatalogueError, UnknownMatter


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return shipped_catalogue()


def shipped_raw() -> dict[str, Any]:
    return json.loads(
        resources.files("station.domain").joinpath("data/catalogue.json").read_bytes()
    )


# --- the shipped catalogue ---------------------------------------------------------------


def test_shipped_catalogue_loads_with_enough_matters_and_bundles(cat: Catalogue) -> None:
    assert cat.version == "2026.11.1"
    assert cat.published == "2026-11-01"
    ordinary = [m for m in cat if not m.is_bundle]
    assert len(ordinary) >= 30
    assert len(cat.bundles()) >= 3
    assert len(cat) == len(ordinary) + len(cat.bundles())


def test_shipped_catalogue_is_loaded_once(cat: Catalogue) -> None:
    assert shipped_catalogue() is cat


@pytest.mark.parametrize(
    "name_zh",
    [
        "居住证", "出生登记", "养老保险待遇领取资格认证", "困难残疾人生活补贴",
        "重度残疾人护理补贴", "残疾人证新办", "最低生活保障", "特困人员救助供养",
        "城乡居民基本医疗保险参保登记", "城乡居民基本医疗保险缴费",
        "城乡居民基本养老保险参保登记", "老年人优待证", "高龄津贴", "就业登记", "失业登记",
        "停保", "关系转移接续", "临时救助", "医疗救助", "户口迁移", "居民身份证申领",
        "死亡", "丧葬", "宅基地", "独生子女父母奖励扶助", "退役军人", "生育登记",
        "异地就医备案", "门诊慢特病", "社会保障卡",
    ],
)
def test_named_matters_are_present(cat: Catalogue, name_zh: str) -> None:
    found = cat.search(name_zh, lang="zh")
    assert [m for m in found if not m.is_bundle], f"no matter named like {name_zh}"


def test_required_bundles_are_present(cat: Catalogue) -> None:
    names = {m.name_zh for m in cat.bundles()}
    assert "就业创业一件事" in names
    assert "新生儿出生一件事" in names
    assert "身后一件事" in names


def test_every_matter_has_an_essential_identity_document(cat: Catalogue) -> None:
    for matter in cat:
        essential = [m for m in matter.materials if m.essential]
        assert essential, matter.code
        assert any("身份证" in m.name_zh or "户口簿" in m.name_zh for m in essential), matter.code


def test_material_codes_are_unique_and_split_into_essential_and_optional(
    cat: Catalogue,
) -> None:
    for matter in cat:
        codes = [m.code for m in matter.materials]
        assert len(codes) == len(set(codes)), matter.code
        assert matter.essential_codes | matter.optional_codes == set(codes)
        assert not matter.essential_codes & matter.optional_codes


def test_codes_are_prefixed_by_area(cat: Catalogue) -> None:
    areas = {"HJ", "SB", "YB", "MZ", "CL", "WJ", "JY", "TY", "ZR"}
    for matter in cat:
        prefix = matter.code.split("-")[0]
        assert prefix == "YJS" if matter.is_bundle else prefix in areas, matter.code


def test_time_limits_are_realistic_working_days(cat: Catalogue) -> None:
    for matter in cat:
        assert 0 <= matter.time_limit_days <= 60, matter.code
    # 即办件 decided at the station itself
    assert cat.get("SB-002").time_limit_days == 0
    assert cat.get("SB-002").decided_at == "station"
    assert cat.get("MZ-007").decided_at == "station"
    assert cat.get("MZ-001").decided_at == "centre"


def test_bundles_are_made_of_existing_ordinary_matters(cat: Catalogue) -> None:
    for bundle in cat.bundles():
        assert len(bundle.parts) >= 2
        parts = cat.parts_of(bundle.code)
        assert [p.code for p in parts] == list(bundle.parts)
        assert all(p.code in cat and not p.is_bundle for p in parts)
        assert bundle.time_limit_days >= max(p.time_limit_days for p in parts), bundle.code
        if any(p.decided_at == "centre" for p in parts):
            assert bundle.decided_at == "centre"


def test_changing_jobs_bundle_stops_and_transfers_social_insurance(cat: Catalogue) -> None:
    bundle = next(m for m in cat.bundles() if m.name_zh == "就业创业一件事")
    names = [p.name_zh for p in cat.parts_of(bundle.code)]
    assert any("停保" in n for n in names)
    assert any("转移接续" in n for n in names)
    assert any("就业登记" in n for n in names)


def test_bundle_materials_cover_each_parts_essential_identity(cat: Catalogue) -> None:
    # The applicant brings their identity documents once, for the whole bundle.
    for bundle in cat.bundles():
        assert any("身份证" in m.name_zh for m in bundle.materials if m.essential), bundle.code


def test_ordinary_matters_are_not_bundles(cat: Catalogue) -> None:
    matter = cat.get("HJ-001")
    assert not matter.is_bundle
    assert matter.parts == ()
    assert cat.parts_of("HJ-001") == []


def test_shipped_file_round_trips_exactly(cat: Catalogue) -> None:
    assert cat.to_dict() == shipped_raw()
    again = Catalogue.from_dict(cat.to_dict())
    assert list(again) == list(cat)
    assert again.version == cat.version and again.published == cat.published


def test_from_json_bytes_matches_the_shipped_file(cat: Catalogue) -> None:
    raw = json.dumps(cat.to_dict(), ensure_ascii=False).encode("utf-8")
    assert list(Catalogue.from_json_bytes(raw)) == list(cat)
    assert list(Catalogue.from_json_bytes(b"\xef\xbb\xbf" + raw)) == list(cat)  # BOM tolerated


# --- lookup --------------------------------------------------------------------------------


def test_get_and_contains(cat: Catalogue) -> None:
    matter = cat.get("HJ-001")
    assert isinstance(matter, Matter)
    assert "HJ-001" in cat
    assert "XX-999" not in cat
    assert 42 not in cat


def test_get_of_an_unknown_code_raises_unknown_matter(cat: Catalogue) -> None:
    with pytest.raises(UnknownMatter) as info:
        cat.get("XX-999")
    assert info.value.params["matter"] == "XX-999"
    assert "XX-999" in info.value.message("en")
    assert "XX-999" in info.value.message("zh")
    assert isinstance(info.value, CatalogueError)


def test_names_and_departments_in_both_languages(cat: Catalogue) -> None:
    matter = cat.get("HJ-001")
    assert matter.name("zh") == "居住证申领"
    assert matter.name("en") == "Residence permit application"
    assert "公安" in matter.department("zh")
    assert "Public Security" in matter.department("en")
    assert matter.material("M01").name("zh") == "申请人居民身份证"


def test_material_lookup(cat: Catalogue) -> None:
    matter = cat.get("HJ-001")
    assert matter.material("M01").essential
    assert "M01" in matter.essential_codes
    with pytest.raises(CatalogueError) as info:
        matter.material("M99")
    assert "HJ-001" in info.value.message("en") and "M99" in info.value.message("en")
    assert "M99" in info.value.message("zh")


def test_search_finds_residence_permit_in_both_languages(cat: Catalogue) -> None:
    assert [m.code for m in cat.search("居住证")] == ["HJ-001"]
    assert [m.code for m in cat.search("residence permit")] == ["HJ-001"]
    assert [m.code for m in cat.search("RESIDENCE Permit", lang="en")] == ["HJ-001"]
    assert cat.search("residence permit", lang="zh") == []


def test_search_by_code_and_blank(cat: Catalogue) -> None:
    assert [m.code for m in cat.search("hj-00")][:3] == ["HJ-001", "HJ-002", "HJ-003"]
    assert {m.code for m in cat.search("YJS")} == {m.code for m in cat.bundles()}
    assert cat.search("  ") == list(cat)
    assert cat.search("no such matter anywhere") == []


def test_iteration_keeps_file_order(cat: Catalogue) -> None:
    assert [m.code for m in cat] == [m["code"] for m in shipped_raw()["matters"]]


# --- malformed catalogues ------------------------------------------------------------------


def small() -> dict[str, Any]:
    """A valid three-matter catalogue with one bundle, for breaking in tests."""
    def matter(code: str, days: int, at: str = "centre") -> dict[str, Any]:
        return {
            "code": code, "name_zh": f"事项{code}", "name_en": f"Matter {code}",
            "department_zh": "县民政局", "department_en": "County Civil Affairs Bureau",
            "time_limit_days": days,
            "materials": [
                {"code": "M01", "name_zh": "居民身份证", "name_en": "ID card", "essential": True},
                {"code": "M02", "name_zh": "照片", "name_en": "Photo", "essential": False},
            ],
            "home_service": True, "decided_at": at,
        }
    bundle = matter("YJS-001", 20)
    bundle["parts"] = ["MZ-001", "MZ-002"]
    return {"version": "t1", "published": "2026-11-01",
            "matters": [matter("MZ-001", 20), matter("MZ-002", 5, "station"), bundle]}


def test_the_small_catalogue_is_valid() -> None:
    cat = Catalogue.from_dict(small())
    assert len(cat) == 3 and [b.code for b in cat.bundles()] == ["YJS-001"]
    assert Catalogue.from_dict(cat.to_dict()).to_dict() == small()


def edit(fn: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    data = copy.deepcopy(small())
    fn(data)
    return data


def m(data: dict[str, Any], i: int) -> dict[str, Any]:
    return data["matters"][i]


BROKEN: list[tuple[str, Callable[[dict[str, Any]], Any], list[str]]] = [
    # (what, how to break it, what the English message must mention)
    ("top-level key missing", lambda d: d.pop("version"), ["missing", "version"]),
    ("top-level extra key", lambda d: d.update(extra=1), ["unknown", "extra"]),
    ("version with a non-ASCII digit", lambda d: d.update(version="2026.\u00b2"), ["version"]),
    ("version too long", lambda d: d.update(version="2027." + "9" * 5000), ["version", "32"]),
    ("lone surrogate in version", lambda d: d.update(version="2027.\ud800"), ["version"]),
    ("NUL in a name", lambda d: m(d, 0).update(name_zh="户口\x00"), ["name_zh", "control"]),
    ("lone surrogate in a material name",
     lambda d: m(d, 0)["materials"][0].update(name_en="ID\udc00"), ["name_en", "not valid text"]),
    ("published not a date", lambda d: d.update(published="2026-13-01"), ["published"]),
    ("published wrong shape", lambda d: d.update(published="20261101"), ["published"]),
    ("matters empty", lambda d: d.update(matters=[]), ["matters"]),
    ("matters not a list", lambda d: d.update(matters={}), ["matters"]),
    ("matter not an object", lambda d: d["matters"].append("HJ-001"), ["matter #4", "object"]),
    ("matter key missing", lambda d: m(d, 1).pop("name_en"), ["MZ-002", "missing", "name_en"]),
    ("matter extra key", lambda d: m(d, 0).update(notes="x"), ["MZ-001", "unknown", "notes"]),
    ("code missing", lambda d: m(d, 1).pop("code"), ["matter #2", "code"]),
    ("code badly shaped", lambda d: m(d, 0).update(code="mz 1"), ["mz 1", "code"]),
    ("duplicate matter code", lambda d: m(d, 1).update(code="MZ-001"),
     ["MZ-001", "#2", "already used by matter #1"]),
    ("name blank", lambda d: m(d, 0).update(name_zh="  "), ["MZ-001", "name_zh"]),
    ("department wrong type", lambda d: m(d, 0).update(department_en=3),
     ["MZ-001", "department_en", "number"]),
    ("time limit negative", lambda d: m(d, 1).update(time_limit_days=-1),
     ["MZ-002", "time_limit_days", "-1"]),
    ("time limit absurd", lambda d: m(d, 1).update(time_limit_days=1500),
     ["MZ-002", "time_limit_days", "1500"]),
    ("time limit not whole", lambda d: m(d, 1).update(time_limit_days=2.5),
     ["MZ-002", "time_limit_days"]),
    ("time limit a boolean", lambda d: m(d, 1).update(time_limit_days=True),
     ["MZ-002", "time_limit_days"]),
    ("time limit a string", lambda d: m(d, 1).update(time_limit_days="5"),
     ["MZ-002", "time_limit_days"]),
    ("home_service not boolean", lambda d: m(d, 0).update(home_service="yes"),
     ["MZ-001", "home_service"]),
    ("bad decided_at", lambda d: m(d, 0).update(decided_at="town"),
     ["MZ-001", "decided_at", "town"]),
    ("no materials", lambda d: m(d, 0).update(materials=[]), ["MZ-001", "materials"]),
    ("materials not a list", lambda d: m(d, 0).update(materials="ID"), ["MZ-001", "materials"]),
    ("material not an object", lambda d: m(d, 0)["materials"].append(None),
     ["MZ-001", "material #3", "object"]),
    ("material key missing", lambda d: m(d, 0)["materials"][1].pop("essential"),
     ["MZ-001", "material M02", "essential"]),
    ("material extra key", lambda d: m(d, 0)["materials"][1].update(copies=2),
     ["MZ-001", "material M02", "copies"]),
    ("material code bad", lambda d: m(d, 0)["materials"][1].update(code="photo"),
     ["MZ-001", "photo", "M01"]),
    # every application receiving an M100 would be refused: a record's ops name M01 … M99
    ("material code of three digits", lambda d: m(d, 0)["materials"][1].update(code="M100"),
     ["MZ-001", "M100", "M01"]),
    ("material essential not boolean", lambda d: m(d, 0)["materials"][0].update(essential=1),
     ["MZ-001", "material M01", "essential"]),
    ("duplicate material codes", lambda d: m(d, 0)["materials"][1].update(code="M01"),
     ["MZ-001", "M01", "twice"]),
    ("nothing essential", lambda d: m(d, 0)["materials"][0].update(essential=False),
     ["MZ-001", "essential"]),
    ("parts not a list", lambda d: m(d, 2).update(parts="MZ-001"), ["YJS-001", "parts"]),
    ("empty parts", lambda d: m(d, 2).update(parts=[]), ["YJS-001", "two parts"]),
    ("one part", lambda d: m(d, 2).update(parts=["MZ-001"]), ["YJS-001", "two parts"]),
    ("repeated part", lambda d: m(d, 2).update(parts=["MZ-001", "MZ-001"]),
     ["YJS-001", "MZ-001", "more than once"]),
    ("unknown part", lambda d: m(d, 2).update(parts=["MZ-001", "MZ-404"]),
     ["YJS-001", "MZ-404", "not in the catalogue"]),
    ("part is a bundle", lambda d: m(d, 2).update(parts=["MZ-001", "YJS-001"]),
     ["YJS-001", "itself a bundle"]),
    ("bundle faster than a part", lambda d: m(d, 2).update(time_limit_days=10),
     ["YJS-001", "time_limit_days", "MZ-001", "20"]),
    ("bundle at station with a centre part", lambda d: m(d, 2).update(decided_at="station"),
     ["YJS-001", "decided_at", "MZ-001"]),
]


@pytest.mark.parametrize(("what", "breaker", "mentions"), BROKEN, ids=[b[0] for b in BROKEN])
def test_malformed_catalogue_is_refused_with_a_precise_message(
    what: str, breaker: Callable[[dict[str, Any]], Any], mentions: list[str]
) -> None:
    with pytest.raises(CatalogueError) as info:
        Catalogue.from_dict(edit(breaker))
    en = info.value.message("en")
    assert en.startswith("Matter catalogue problem: ")
    for word in mentions:
        assert word in en, f"{what}: {word!r} not in {en!r}"
    zh = info.value.message("zh")
    assert zh.startswith("事项清单有误：") and "{" not in zh
    assert info.value.as_dict()["code"] == "domain.catalogue"


def test_top_level_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(CatalogueError, match="object"):
        Catalogue.from_dict([])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "mentions"),
    [
        (b"\xff\xfe{}", "UTF-8"),
        ("{}".encode("utf-16"), "UTF-8"),
        (b'{"version": "x",', "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"version": "a", "version": "b", "published": "2026-11-01", "matters": []}',
         "'version' appears twice"),
    ],
)
def test_bad_bytes_are_refused(raw: bytes, mentions: str) -> None:
    with pytest.raises(CatalogueError) as info:
        Catalogue.from_json_bytes(raw)
    assert mentions in info.value.message("en")


def test_errors_leave_no_half_built_catalogue() -> None:
    # A broken bundle at the end refuses the whole catalogue, not just the bundle.
    data = edit(lambda d: m(d, 2).update(parts=["MZ-001", "MZ-404"]))
    with pytest.raises(CatalogueError):
        Catalogue.from_dict(data)

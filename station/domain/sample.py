"""Realistic, deterministic sample data: a village's residents, applications and visits.

Used by ``station demo``, the benchmarks (100 000 residents) and the tests. Realism matters
because each consumer tests something real with it: the name search must cope with many
people sharing a surname (a village is often two or three clans) and with duplicate names;
the blind index must cope with one phone number shared by a whole household (elderly people
usually give a child's number); the deadline views need overdue 容缺 dates; the codec's
compression dictionary is trained on rows like these.

Everything is a pure function of its arguments: a seeded ``random.Random`` (string seeds are
hashed with SHA-512, so runs and machines agree), no clock, no I/O. Rows are plain dicts in
the *import format* (what ``station import`` reads): flat dotted field names as in
``station.domain.records.SCHEMAS`` plus ``"kind"``. A scalar field with no value (a resident
without any phone, a visit not yet made) is left out of the row, as a blank on a paper form;
collections (materials, notes, categories, services) are always present, possibly empty.

The population is generated *household by household*: an elderly couple, an old person
living alone, grandparents with left-behind grandchildren (留守儿童), a working family, a
single adult. Members share an address, children their father's surname, and old people
without a mobile of their own the number of a child working away. ID numbers use the region
codes of 固始县 (Gushi county, Xinyang, Henan, 411525: a large rural county with many migrant
workers), with wives married in from neighbouring counties, so they are valid GB 11643
numbers with the right check character and the right sex digit.
"""

from __future__ import annotations

import csv
import io
import random
from bisect import bisect
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime, timedelta
from itertools import accumulate
from typing import Any, Protocol

from station.domain.records import CATEGORIES, CHOICE_LABELS
from station.domain.validate import id_birth_date

__all__ = [
    "CATEGORY_ZH",
    "CSV_FIELDS",
    "CSV_HEADERS",
    "applications",
    "residents",
    "to_csv_rows",
    "visits",
]


# --- the catalogue, as far as this module needs it (duck-typed) -------------------------


class MaterialLike(Protocol):
    """A required material of a matter: its code and whether 容缺 is refused for it."""

    code: str
    essential: bool


class MatterLike(Protocol):
    """A catalogue entry: only what the generator reads."""

    code: str
    materials: Sequence[MaterialLike]
    is_bundle: bool
    home_service: bool


class CatalogueLike(Protocol):
    """Anything that iterates over matters (``station.domain.catalogue.Catalogue`` does)."""

    def __iter__(self) -> Iterator[MatterLike]: ...


# --- names --------------------------------------------------------------------------------

# Surnames with their approximate share (per cent) of the population, after the 2020 census
# counts; the long tail is cut, compound surnames kept so search meets two-character ones.
_SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 7.1), ("李", 7.0), ("张", 6.7), ("刘", 5.4), ("陈", 4.6), ("杨", 3.1), ("黄", 2.0),
    ("赵", 2.0), ("吴", 1.9), ("周", 1.9), ("徐", 1.5), ("孙", 1.5), ("马", 1.4), ("朱", 1.3),
    ("胡", 1.3), ("郭", 1.2), ("何", 1.2), ("林", 1.1), ("高", 1.1), ("罗", 1.1), ("郑", 1.0),
    ("梁", 0.9), ("谢", 0.8), ("宋", 0.8), ("唐", 0.8), ("许", 0.7), ("韩", 0.7), ("冯", 0.7),
    ("邓", 0.7), ("曹", 0.7), ("彭", 0.6), ("曾", 0.6), ("肖", 0.6), ("田", 0.6), ("董", 0.5),
    ("潘", 0.5), ("袁", 0.5), ("蔡", 0.5), ("蒋", 0.5), ("余", 0.5), ("于", 0.5), ("杜", 0.5),
    ("叶", 0.4), ("程", 0.4), ("魏", 0.4), ("苏", 0.4), ("吕", 0.4), ("丁", 0.4), ("任", 0.4),
    ("卢", 0.4), ("姚", 0.3), ("沈", 0.3), ("钟", 0.3), ("姜", 0.3), ("崔", 0.3), ("谭", 0.3),
    ("陆", 0.3), ("范", 0.3), ("汪", 0.3), ("廖", 0.3), ("石", 0.3), ("金", 0.3), ("贾", 0.3),
    ("夏", 0.3), ("付", 0.3), ("方", 0.3), ("邹", 0.2), ("熊", 0.2), ("白", 0.2), ("孟", 0.2),
    ("秦", 0.2), ("邱", 0.2), ("侯", 0.2), ("江", 0.2), ("尹", 0.2), ("薛", 0.2), ("闫", 0.2),
    ("段", 0.2), ("雷", 0.2), ("史", 0.2), ("陶", 0.2), ("贺", 0.2), ("毛", 0.2), ("郝", 0.2),
    ("欧阳", 0.04), ("司马", 0.01), ("诸葛", 0.01),
)
_SURNAME_NAMES = tuple(s for s, _ in _SURNAMES)
_SURNAME_CUM = tuple(accumulate(w for _, w in _SURNAMES))
# Share of the men of the village (and their children) who belong to its two or three clans.
_CLAN_SHARE = 0.55

# Given names typical of each generation of rural residents: (born up to year, male, female).
_GIVEN: tuple[tuple[int, tuple[str, ...], tuple[str, ...]], ...] = (
    (1955,
     ("德明", "德福", "长生", "福生", "永福", "有才", "金贵", "树林", "德胜", "保国", "宝山",
      "富贵", "振华", "玉山", "荣华", "贵生", "春生", "水生", "茂林", "文华", "有福", "来福",
      "世昌", "启明", "明山", "广才"),
     ("桂英", "秀兰", "秀英", "玉兰", "桂兰", "凤英", "淑珍", "翠花", "素珍", "玉珍", "秀珍",
      "桂芳", "兰英", "春兰", "金凤", "玉梅", "桂珍", "秀芝", "玉英", "凤兰", "淑英", "冬梅",
      "金花", "彩云", "银凤", "招娣")),
    (1979,
     ("建国", "国强", "建华", "建军", "卫东", "红军", "志强", "国庆", "建平", "海军", "永红",
      "立新", "爱国", "卫国", "建设", "跃进", "建明", "国华", "志刚", "文明", "新民", "向阳",
      "学军", "东升", "援朝", "胜利"),
     ("春梅", "红梅", "丽华", "秀芳", "红霞", "玉梅", "桂香", "丽萍", "艳红", "小红", "海燕",
      "彩霞", "红英", "美华", "建英", "爱华", "卫红", "秀梅", "金莲", "月英", "桂红", "冬英",
      "红艳", "春燕")),
    (1999,
     ("伟", "磊", "强", "军", "勇", "涛", "斌", "超", "鹏", "杰", "浩", "刚", "明", "俊",
      "峰", "波", "辉", "亮", "健", "志伟", "建伟", "海涛", "晓东", "文杰", "永强", "小龙",
      "国伟", "俊峰"),
     ("丽", "静", "敏", "燕", "婷", "娟", "芳", "霞", "艳", "琳", "倩", "丹", "晶", "雪",
      "丽娟", "晓燕", "海霞", "春燕", "小燕", "慧", "玲", "晓丽", "美玲", "雪梅", "倩倩")),
    (2009,
     ("浩然", "宇航", "俊杰", "家豪", "博文", "天宇", "文博", "志豪", "子豪", "宇轩", "浩宇",
      "鑫", "鹏飞", "嘉豪", "晨阳", "一鸣", "子健", "梓豪"),
     ("欣怡", "雨欣", "佳怡", "梦瑶", "思雨", "雨涵", "紫涵", "欣悦", "佳琪", "梦琪", "雨婷",
      "诗雨", "文静", "心怡", "子涵", "佳慧")),
    (9999,
     ("浩宇", "宇轩", "子轩", "梓睿", "沐宸", "一诺", "俊熙", "梓豪", "奕辰", "宇泽", "浩然",
      "皓轩", "思远", "铭泽", "子涵", "睿", "梓航", "锦程"),
     ("梓涵", "一诺", "欣怡", "梓萱", "诗涵", "若汐", "语桐", "可馨", "子涵", "依诺", "雨桐",
      "欣妍", "芷若", "思彤", "梦琪", "安然", "沐瑶")),
)
_GIVEN_UNTIL = tuple(until for until, _, _ in _GIVEN)

_GROUPS = ("一组", "二组", "三组", "四组", "五组", "六组", "七组", "八组", "九组", "十组",
           "十一组", "十二组", "十三组", "十四组", "十五组")

# --- ID numbers ---------------------------------------------------------------------------

# GB/T 2260 county codes: 固始县 for people born here; for wives married in, also the
# neighbouring counties 商城县, 潢川县, 淮滨县 (Xinyang) and 霍邱县 (Lu'an, Anhui).
HOME_COUNTY = "411525"
_NATIVE_REGIONS = ((HOME_COUNTY, 0.95), ("411526", 0.02), ("411524", 0.02), ("411527", 0.01))
_MARRIED_IN_REGIONS = ((HOME_COUNTY, 0.55), ("411526", 0.12), ("411524", 0.12),
                       ("411527", 0.08), ("341522", 0.13))

# --- phones ---------------------------------------------------------------------------------

# Mobile number blocks of the three operators, weighted towards the older 13x/15x/18x ones
# that rural users have had for years.
_MOBILE_PREFIXES: tuple[tuple[str, float], ...] = (
    *((f"13{d}", 3.0) for d in range(10)),
    *((f"15{d}", 2.0) for d in (0, 1, 2, 3, 5, 6, 7, 8, 9)),
    *((f"18{d}", 2.0) for d in range(10)),
    ("147", 0.5), ("166", 0.5), ("173", 0.5), ("177", 0.5), ("191", 0.5), ("198", 0.5),
    ("199", 0.5),
)

# --- categories ---------------------------------------------------------------------------

CATEGORY_ZH: dict[str, str] = {c: CHOICE_LABELS[c][0] for c in CATEGORIES}

# --- CSV ------------------------------------------------------------------------------------

CSV_HEADERS: tuple[str, ...] = ("姓名", "身份证号", "手机号", "住址", "村民小组", "类别")
CSV_FIELDS: dict[str, str] = {
    "姓名": "resident.name",
    "身份证号": "resident.id_number",
    "手机号": "resident.phone",
    "住址": "resident.address",
    "村民小组": "resident.village_group",
    "类别": "categories",
}

ELDERLY_AGE = 60
_MAX_AGE = 110
CHILD_AGE = 16  # 留守儿童: under 16 with both parents away


def _weighted(items: Sequence[tuple[str, float]]) -> tuple[tuple[str, ...], tuple[float, ...]]:
    return tuple(k for k, _ in items), tuple(accumulate(w for _, w in items))


_PREFIX_NAMES, _PREFIX_CUM = _weighted(_MOBILE_PREFIXES)
_NATIVE = _weighted(_NATIVE_REGIONS)
_MARRIED_IN = _weighted(_MARRIED_IN_REGIONS)


def _pick(rng: random.Random, table: tuple[tuple[str, ...], tuple[float, ...]]) -> str:
    names, cum = table
    return names[bisect(cum, rng.random() * cum[-1])]


# ISO 7064 MOD 11-2 as in ``validate.id_check_char``, split by part: the region's and the
# birth date's weighted sums are computed once and cached, the sequence's looked up, which
# makes 100 000 ID numbers three times cheaper (tests check agreement with id_check_char).
_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_CHECK_CHARS = "10X98765432"


def _digit_sum(digits: str, start: int) -> int:
    """Weighted sum of ``digits`` placed at position ``start`` of the 17 digits."""
    return sum(int(d) * w for d, w in zip(digits, _WEIGHTS[start:], strict=False))


_REGION_SUM = {region: _digit_sum(region, 0)
               for region, _ in (*_NATIVE_REGIONS, *_MARRIED_IN_REGIONS)}
# "MMDD" and its weighted sum at positions 10–13, for every day of a leap year
_MONTH_DAYS = {
    (d.month, d.day): (f"{d.month:02d}{d.day:02d}", _digit_sum(f"{d.month:02d}{d.day:02d}", 10))
    for d in (date(2000, 1, 1) + timedelta(days=i) for i in range(366))
}
_SEQ_SUM = tuple(_digit_sum(f"{seq:03d}", 14) for seq in range(1000))


def age_on(id_number: str, today: date) -> int:
    """Whole years of age on ``today`` of the holder of a valid ID number."""
    born = id_birth_date(id_number)
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


class _Village:
    """What is fixed for one village and run: its clans and groups, the house numbers and
    the ID numbers and phones already given out (to keep them unique).

    Built once per call so that 100 000 people cost a few dictionary look-ups each: the birth
    date range of each age, and per birth date its "YYYYMMDD", check-digit sum and the given
    names of that generation, are computed once here.
    """

    def __init__(self, rng: random.Random, village: str, today: date) -> None:
        self.rng = rng
        self.village = village
        self.today = today
        # The village's own layout does not depend on the run's seed, only on its name.
        layout = random.Random(f"station.sample.village:{village}")
        clans = layout.sample(_SURNAME_NAMES[:30], 3)
        weights = (0.5, 0.3, 0.2)
        self.clans = tuple(clans)
        self.clan_cum = tuple(accumulate(weights))
        self.groups = _GROUPS[: layout.randint(6, 12)]
        self.next_house = dict.fromkeys(self.groups, 1)
        self.used_ids: set[str] = set()
        self.used_phones: set[str] = set()
        # per age: the first birth ordinal of someone that old today, and how many days
        self._spans: list[tuple[int, int]] = []
        for age in range(_MAX_AGE + 1):
            latest = _years_before(today, age).toordinal()
            earliest = _years_before(today, age + 1).toordinal() + 1
            self._spans.append((earliest, latest - earliest + 1))
        # per birth ordinal: "YYYYMMDD", its weighted digit sum, the generation's names
        self._births: dict[int, tuple[str, int, tuple[str, ...], tuple[str, ...]]] = {}
        self._years: dict[int, tuple[str, int, tuple[str, ...], tuple[str, ...]]] = {}

    # people

    def surname(self, clan: bool) -> str:
        rng = self.rng
        if clan and rng.random() < _CLAN_SHARE:
            return self.clans[bisect(self.clan_cum, rng.random())]
        return _SURNAME_NAMES[bisect(_SURNAME_CUM, rng.random() * _SURNAME_CUM[-1])]

    def given(self, birth_year: int, male: bool) -> str:
        _, men, women = _GIVEN[bisect(_GIVEN_UNTIL, birth_year - 1)]
        names = men if male else women
        return names[int(self.rng.random() * len(names))]

    def person(self, surname: str, age: int, male: bool, married_in: bool) -> tuple[str, str]:
        """Name and ID number of someone ``age`` years old today (the hot path: one call per
        resident, so it caches per birth date and draws with ``random()`` only)."""
        rnd = self.rng.random
        low, width = self._spans[age]
        birth = low + int(rnd() * width)
        cached = self._births.get(birth)
        if cached is None:
            d = date.fromordinal(birth)
            year = self._years.get(d.year)
            if year is None:
                y = f"{d.year:04d}"
                _, men, women = _GIVEN[bisect(_GIVEN_UNTIL, d.year - 1)]
                year = self._years[d.year] = (y, _digit_sum(y, 6), men, women)
            md, md_sum = _MONTH_DAYS[d.month, d.day]
            cached = self._births[birth] = (year[0] + md, year[1] + md_sum, year[2], year[3])
        ymd, ymd_sum, men, women = cached
        names = men if male else women
        name = surname + names[int(rnd() * len(names))]
        regions, cum = _MARRIED_IN if married_in else _NATIVE
        region = regions[bisect(cum, rnd() * cum[-1])]
        base = _REGION_SUM[region] + ymd_sum
        used = self.used_ids
        while True:
            # sequence code: the last of its 3 digits is odd for men, even for women
            seq = 2 * int(rnd() * 500) + male
            first17 = f"{region}{ymd}{seq:03d}"
            if first17 not in used:
                used.add(first17)
                return name, first17 + _CHECK_CHARS[(base + _SEQ_SUM[seq]) % 11]

    def mobile(self) -> str:
        rnd = self.rng.random
        while True:
            prefix = _PREFIX_NAMES[bisect(_PREFIX_CUM, rnd() * _PREFIX_CUM[-1])]
            number = f"{prefix}{int(rnd() * 100_000_000):08d}"
            if number not in self.used_phones:
                self.used_phones.add(number)
                return number

    def address(self) -> tuple[str, str]:
        group = self.groups[int(self.rng.random() * len(self.groups))]
        house = self.next_house[group]
        self.next_house[group] = house + 1
        return f"{self.village}{group} {house} 号", group


def _years_before(day: date, years: int) -> date:
    """``day`` moved back ``years`` years (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _own_phone_share(age: int) -> float:
    """How likely someone of ``age`` is to give a mobile number of their own."""
    if age < CHILD_AGE:
        return 0.0
    if age < 18:
        return 0.5
    if age < ELDERLY_AGE:
        return 0.97
    if age < 70:
        return 0.7
    if age < 80:
        return 0.45
    return 0.2


def _between(rnd: Callable[[], float], low: int, high: int) -> int:
    """A uniform integer in [low, high]: ``randint`` without its overhead (hot path)."""
    return low + int(rnd() * (high - low + 1))


def _household(v: _Village) -> list[dict[str, Any]]:
    """One household's members as resident rows: the elders, then the parents, then the
    children, all at one address."""
    rng = v.rng
    rnd = rng.random
    address, group = v.address()
    members: list[tuple[int, bool, str, bool]] = []  # (age, male, surname, married_in)
    kind = rnd()
    away_parent = False  # both parents work away: the children are left behind
    living_alone = False
    if kind < 0.25:  # an elderly couple
        husband = ELDERLY_AGE + int(rng.triangular(0, 35, 3))
        members += [(husband, True, v.surname(True), False),
                    (max(ELDERLY_AGE, husband - _between(rnd, -2, 5)), False,
                     v.surname(False), True)]
    elif kind < 0.40:  # an old person living alone, more often a widow
        male = rnd() < 0.4
        age = ELDERLY_AGE + 5 + int(rng.triangular(0, 30, 10))
        members.append((age, male, v.surname(male), not male))
        living_alone = True
    elif kind < 0.57:  # grandparents with grandchildren; the parents mostly work in cities
        grandfather = 56 + int(rng.triangular(0, 28, 8))
        surname = v.surname(True)
        members.append((grandfather, True, surname, False))
        if rnd() < 0.75:
            members.append((grandfather - _between(rnd, -2, 5), False, v.surname(False), True))
        parent_age = min(grandfather - 22, 25 + int(rng.triangular(0, 18, 8)))
        if rnd() < 0.35:  # one parent stayed, usually the mother
            members.append((parent_age - _between(rnd, 0, 3), False, v.surname(False), True))
        else:
            away_parent = True
        for _ in range(1 + (rnd() < 0.45)):
            members.append((_between(rnd, 0, min(15, parent_age - 20)), rnd() < 0.53,
                            surname, False))
    elif kind < 0.92:  # a working family
        husband = 24 + int(rng.triangular(0, 35, 16))
        surname = v.surname(True)
        members += [(husband, True, surname, False),
                    (max(20, husband - _between(rnd, -2, 5)), False, v.surname(False), True)]
        if husband >= 40 and rnd() < 0.3:  # a widowed mother lives with them
            members.insert(0, (min(husband + _between(rnd, 22, 32), 98), False,
                               v.surname(False), True))
        for _ in range((0, 1, 1, 1, 2, 2)[int(rnd() * 6)]):
            members.append((_between(rnd, 0, min(30, husband - 22)), rnd() < 0.53, surname,
                            False))
    else:  # a single adult, more often a man (rural bachelors)
        male = rnd() < 0.75
        members.append((20 + int(rng.triangular(0, 40, 20)), male, v.surname(male), False))

    # Whose number the others give: a working-age member's, else a child's working away.
    household_low_income = rnd() < 0.06
    contact: str | None = None
    rows: list[dict[str, Any]] = []
    for age, male, surname, married_in in members:
        name, id_number = v.person(surname, age, male, married_in)
        own = rnd() < _own_phone_share(age)
        phone = v.mobile() if own else None
        if phone is not None and ELDERLY_AGE > age >= 18 and contact is None:
            contact = phone
        cats: list[str] = []
        if age >= ELDERLY_AGE:
            cats.append("elderly")
            if living_alone:
                cats.append("living_alone")
        disabled_share = 0.08 if age >= ELDERLY_AGE else 0.02
        if rnd() < disabled_share:
            cats.append("disabled")
        if living_alone and rnd() < 0.08:
            cats.append("extreme_poverty")
        elif household_low_income:
            cats.append("low_income")
        if away_parent and age < CHILD_AGE:
            cats.append("left_behind_child")
        if male and age >= 45 and rnd() < 0.03:
            cats.append("veteran")
        if rnd() < (0.05 if age >= 45 else 0.01):
            cats.append("seriously_ill")
        # appended in the order of records.CATEGORIES (low_income and extreme_poverty
        # exclude each other), so no sort is needed
        rows.append({
            "kind": "resident",
            "resident.name": name,
            "resident.id_number": id_number,
            "resident.phone": phone,
            "resident.address": address,
            "resident.village_group": group,
            "categories": cats,
        })
    for row in rows:
        if row["resident.phone"] is None:
            if contact is None and not (living_alone and rnd() < 0.1):
                contact = v.mobile()  # a son or daughter working in the city
            if contact is None:
                del row["resident.phone"]  # nobody to call: a visit is the only way
            else:
                row["resident.phone"] = contact
    return rows


def residents(n: int, *, seed: int = 0, village: str = "青石村", today: date
              ) -> Iterator[dict[str, Any]]:
    """``n`` resident rows of ``village``, as of ``today``, deterministic in ``seed``.

    The first ``k`` rows do not depend on ``n``, so a demo with 200 people and a benchmark
    with 100 000 share their first villagers. About two in five are 60 or older, one in
    five a child under 16.
    """
    v = _Village(random.Random(f"station.sample.residents:{village}:{seed}"), village, today)
    left = n
    while left > 0:
        for row in _household(v):
            yield row
            left -= 1
            if left == 0:
                return


# --- staff ----------------------------------------------------------------------------------


def _staff(village: str, role: str, count: int, today: date) -> tuple[str, ...]:
    """The village's proxy agents or grid workers: fixed per village, whatever the seed."""
    rng = random.Random(f"station.sample.staff:{role}:{village}")
    v = _Village(rng, village, today)
    names = []
    for _ in range(count):
        male = rng.random() < 0.4
        age = rng.randint(26, 55)
        names.append(v.surname(True) + v.given(today.year - age, male))
    return tuple(names)


class _Draw:
    """Draws people from a pool with weights by category, caching what each row yields.

    Proxy work and visits go to those who need them (the old, the disabled, the ill), not
    uniformly to the village. The per-person fields, age and categories are worked out the
    first time someone is drawn, so 100 000 rows over a small pool cost little.
    """

    def __init__(self, people: Sequence[dict[str, Any]] | None, n: int, seed: int,
                 village: str, today: date, prefix: str, weights: dict[str, float],
                 other: float) -> None:
        if people is None:
            people = list(residents(max(60, min(n, 20_000)), seed=seed, village=village,
                                    today=today))
        if not people:
            raise ValueError("people must hold at least one resident row")
        self.people = people
        self.today = today
        self.prefix = prefix
        cum: list[float] = []
        total = 0.0
        for p in people:
            cats = p.get("categories") or ()
            total += max((weights.get(c, other) for c in cats), default=other)
            cum.append(total)
        self.cum = cum
        self.total = total
        self.cache: dict[int, tuple[dict[str, Any], int, frozenset[str]]] = {}

    def __call__(self, rnd: Callable[[], float]) -> tuple[dict[str, Any], int, frozenset[str]]:
        """``(fields under prefix, age today, categories)`` of a drawn person."""
        index = bisect(self.cum, rnd() * self.total)
        hit = self.cache.get(index)
        if hit is None:
            person = self.people[index]
            fields = {}
            for key in ("name", "id_number", "phone", "address", "village_group"):
                value = person.get(f"resident.{key}")
                if value:
                    fields[f"{self.prefix}.{key}"] = value
            id_number = person.get("resident.id_number")
            age = age_on(id_number, self.today) if id_number else 40
            hit = self.cache[index] = (fields, age, frozenset(person.get("categories") or ()))
        return hit


def _choice(rnd: Callable[[], float], items: Sequence[Any]) -> Any:
    """``rng.choice`` without its overhead (hot path)."""
    return items[int(rnd() * len(items))]


def _off_weekend(day: date, forward: bool) -> date:
    """Move a Saturday or Sunday to the next Monday (or the Friday before)."""
    wd = day.weekday()
    if wd < 5:
        return day
    return day + timedelta(days=7 - wd) if forward else day - timedelta(days=wd - 4)


# --- applications ---------------------------------------------------------------------------

_RELATIONS_ELDERLY = (("self", 0.45), ("child", 0.35), ("spouse", 0.1), ("grandchild", 0.05),
                      ("other_relative", 0.05))
_RELATIONS_ADULT = (("self", 0.78), ("spouse", 0.1), ("parent", 0.05), ("sibling", 0.05),
                    ("other_relative", 0.02))
_RELATIONS_MINOR = (("parent", 0.8), ("guardian", 0.2))
_APPLICANT_WEIGHTS = {"elderly": 3.0, "living_alone": 4.0, "disabled": 4.0,
                      "seriously_ill": 3.0, "low_income": 2.0, "extreme_poverty": 4.0}
_NOTES_ELDERLY = ("老人行动不便，材料由子女代为提交", "老人听力不好，已向其子女电话说明办理进度",
                  "申请人不识字，委托书由其按手印确认")
_NOTES_ANY = ("已核对身份证原件", "申请人电话常打不通，请联系其家属", "申请人要求办结后电话告知",
              "材料复印件已由申请人签字确认")
_NOTE_UNSIGNED_AWAY = "委托书未签：申请人在外务工，回村后补签"
_NOTE_UNSIGNED = "委托书待家属签字后补交"


def applications(n: int, *, catalogue: CatalogueLike, seed: int = 0, village: str = "青石村",
                 today: date, people: Sequence[dict[str, Any]] | None = None
                 ) -> Iterator[dict[str, Any]]:
    """``n`` application rows for matters of ``catalogue``, received up to ``today``.

    Applicants are drawn from ``people`` (resident rows), or from this village's
    ``residents(seed=seed)`` when none are given, with the old, disabled and ill more likely.
    Essential materials are always received; about a third of the applications with
    non-essential materials accept one or two missing (容缺) against a promised date, some
    of them already overdue, so the deadline views have something to show.
    """
    matters = list(catalogue)
    if not matters:
        raise ValueError("the catalogue has no matters")
    rng = random.Random(f"station.sample.applications:{village}:{seed}")
    rnd = rng.random
    draw = _Draw(people, n, seed, village, today, "applicant", _APPLICANT_WEIGHTS, 1.0)
    agents = _staff(village, "agent", 3, today)
    rel_elderly = _weighted(_RELATIONS_ELDERLY)
    rel_adult = _weighted(_RELATIONS_ADULT)
    rel_minor = _weighted(_RELATIONS_MINOR)
    plans = [(m, tuple(x.code for x in m.materials),
              tuple(x.code for x in m.materials if not x.essential)) for m in matters]
    for _ in range(n):
        fields, age, cats = draw(rnd)
        matter, codes, optional = _choice(rnd, plans)
        if age < 18:
            relationship = _pick(rng, rel_minor)
        elif age >= ELDERLY_AGE:
            relationship = _pick(rng, rel_elderly)
        else:
            relationship = _pick(rng, rel_adult)
        needs_help = age >= 70 or "disabled" in cats
        r = rnd()
        if matter.home_service and needs_help and r < 0.45:
            channel = "home_visit"
        elif r > 0.88:
            channel = "bus"
        else:
            channel = "station"
        received = _off_weekend(today - timedelta(days=min(365, int(rng.expovariate(1 / 40)))),
                                forward=False)
        due: dict[str, str] = {}
        if optional and rnd() < 0.35:
            for code in rng.sample(optional, min(len(optional), 1 + (rnd() < 0.25))):
                promised = _off_weekend(received + timedelta(days=_between(rnd, 3, 20)),
                                        forward=True)
                # most residents bring a missing document by the promised date: then it is
                # simply received; the rest stay due, some of them overdue by now
                if promised > today or rnd() < 0.25:
                    due[code] = promised.isoformat()
        signed = rnd() < 0.93
        notes: list[str] = []
        if due:
            notes.append(f"已一次告知所缺材料：{'、'.join(due)}，申请人承诺按期补交")
        if not signed:
            notes.append(_NOTE_UNSIGNED_AWAY if ELDERLY_AGE > age >= 18 else _NOTE_UNSIGNED)
        if age >= ELDERLY_AGE and relationship != "self" and rnd() < 0.5:
            notes.append(_choice(rnd, _NOTES_ELDERLY))
        if rnd() < 0.2:
            notes.append(_choice(rnd, _NOTES_ANY))
        yield {
            "kind": "application",
            "matter": matter.code,
            **fields,
            "authorisation.relationship": relationship,
            "authorisation.signed": signed,
            "agent": _choice(rnd, agents),
            "channel": channel,
            "materials.received": [c for c in codes if c not in due],
            "materials.due": due,
            "received_on": received.isoformat(),
            "notes": notes,
        }


# --- visits -------------------------------------------------------------------------------

_VISIT_WEIGHTS = {"living_alone": 5.0, "disabled": 4.0, "seriously_ill": 4.0,
                  "extreme_poverty": 5.0, "elderly": 2.0}
_RESULTS_DONE = {
    "alive_certification": "已完成养老金领取资格认证",
    "consultation": "已解答服务对象咨询的问题",
    "document_collection": "已代收身份证、户口本复印件，下周报送",
    "insurance_payment": "已协助缴纳城乡居民医保",
    "subsidy_application": "已协助填写补贴申请表",
    "medicine_delivery": "已送去常用药品",
    "health_check": "已协助村医测量血压，情况平稳",
    "policy_explanation": "已讲解养老、医保相关政策",
    "safety_check": "已检查用电、燃气安全，无隐患",
    "other": "已帮助处理家中琐事",
}
_HOURS = (8, 9, 10, 14, 15, 16)
_MISSED = ("上门时家中无人，已电话联系其子女，改日再访", "老人去镇上看病未在家，已约定下次时间")


def visits(n: int, *, seed: int = 0, village: str = "青石村", today: date,
           people: Sequence[dict[str, Any]] | None = None,
           now: datetime | None = None) -> Iterator[dict[str, Any]]:
    """``n`` home-visit rows: most in the last four months, some scheduled for the next
    three weeks (not yet made, so without services, ``actual_at`` or ``result``), a few
    missed. ``now`` (China wall time; noon of ``today`` if not given) is when the rows are
    saved: a visit made is never made after it, as the store refuses such a time.

    Residents are drawn from ``people`` (or this village's ``residents(seed=seed)``), the
    old living alone, the disabled and the ill far more often, as grid workers visit them
    monthly. Services follow the reason, and medical insurance payment help is frequent in
    the autumn collection season.
    """
    rng = random.Random(f"station.sample.visits:{village}:{seed}")
    rnd = rng.random
    draw = _Draw(people, n, seed, village, today, "resident", _VISIT_WEIGHTS, 0.2)
    staff = _staff(village, "grid", 4, today)
    now = now or datetime(today.year, today.month, today.day, 12, 0)
    for _ in range(n):
        fields, _age, cats = draw(rnd)
        if "disabled" in cats:
            reason = "disabled"
        elif "seriously_ill" in cats:
            reason = "ill"
        elif "elderly" in cats:
            reason = "elderly"
        else:
            reason = "other"
        offset = -int(rng.triangular(0, 120, 0)) if rnd() < 0.85 else _between(rnd, 1, 21)
        day = _off_weekend(today + timedelta(days=offset), forward=offset > 0)
        scheduled = datetime(day.year, day.month, day.day, _choice(rnd, _HOURS),
                             _choice(rnd, (0, 30)))
        done = scheduled < now
        # only what was done is recorded: a visit still to come has no services yet
        services = _services(rnd, reason, cats, day.month) if done else []
        row: dict[str, Any] = {
            "kind": "visit",
            **fields,
            "reason": reason,
            "services": services,
            "scheduled_at": scheduled.isoformat(timespec="minutes"),
            "staff": _choice(rnd, staff),
        }
        if done:
            if rnd() < 0.08:
                row["services"] = []
                row["result"] = _choice(rnd, _MISSED)
                row["next_visit"] = (day + timedelta(days=_between(rnd, 2, 7))).isoformat()
            else:
                actual = min(scheduled + timedelta(minutes=_between(rnd, -15, 75)), now)
                row["actual_at"] = actual.isoformat(timespec="minutes")
                row["result"] = "；".join(_RESULTS_DONE[s] for s in services)
                monthly = not cats.isdisjoint(("living_alone", "disabled", "extreme_poverty"))
                gap = 30 if monthly else _choice(rnd, (30, 60, 90))
                row["next_visit"] = (actual.date() + timedelta(days=gap)).isoformat()
        yield row


def _services(rnd: Callable[[], float], reason: str, cats: frozenset[str], month: int
              ) -> list[str]:
    """Services done on a visit, following its reason; the medical insurance collection for
    next year runs in the autumn, when grid workers help many old people pay."""
    chances = (
        ("consultation", 0.5),
        ("alive_certification", 0.35 if "elderly" in cats else 0.0),
        ("policy_explanation", 0.3),
        ("safety_check", 0.5 if "living_alone" in cats else 0.1),
        ("health_check", 0.4 if reason in ("elderly", "ill") else 0.1),
        ("insurance_payment", 0.3 if month >= 9 else 0.05),
        ("document_collection", 0.15),
        ("medicine_delivery", 0.6 if reason == "ill" else 0.05),
        ("subsidy_application", 0.4 if reason == "disabled" or "low_income" in cats else 0.05),
        ("other", 0.03),
    )
    done = [s for s, p in chances if rnd() < p]
    return done or ["consultation"]


# --- CSV ------------------------------------------------------------------------------------


def to_csv_rows(rows: Iterable[dict[str, Any]], *, header: bool = True) -> Iterator[str]:
    """Resident rows as lines of CSV text with the Chinese headers of ``CSV_HEADERS``.

    This is the shape of the spreadsheets villages keep (姓名, 身份证号, …, 类别 as Chinese
    labels joined by 、), so ``station import`` is fed and benchmarked with what it will
    meet. Lines end with "\\n"; write them to a file opened with ``newline=""``. Rows of
    other kinds are skipped.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if header:
        writer.writerow(CSV_HEADERS)
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    for row in rows:
        if row.get("kind", "resident") != "resident":
            continue
        writer.writerow((
            row.get("resident.name", ""),
            row.get("resident.id_number", ""),
            row.get("resident.phone", ""),
            row.get("resident.address", ""),
            row.get("resident.village_group", ""),
            "、".join(CATEGORY_ZH[c] for c in row.get("categories") or ()),
        ))
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()

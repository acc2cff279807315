"""``station demo``: a town centre and two stations with a real history, then the app.

What a newcomer sees in one command (``make demo``):

- an **embedded town centre** (``station.cli.embedded``): the real centre on 127.0.0.1, a free
  port, SQLite in a temporary directory, keys protected by a key file;
- the **village station** V001 (青石村便民服务站) with its residents (imported from a CSV, as a
  village's spreadsheet would be), a year of applications and home visits (a JSON Lines
  import), completed cases with their ratings over the last months, contacts logged, and
  decisions the centre made that came down on a pull;
- the **service bus** BUS01 (便民服务直通车, serving V001 and V002) with its own visits and
  applications in 红岩村 (V002);
- both **enrolled** (a one-time code from the centre, ``station.sync.client.enroll``) and
  **synced**, with what makes a station's day: an **open conflict** (the village and the bus
  both changed the same applicant's phone while offline), **overdue cases** (a promised
  date has passed), a **poor rating** whose follow-up is still open, and a little work on
  each side not yet synced, so that the first sync in the app really moves something.

Then the app opens on the village station (its sync screen syncs against the embedded centre
for real). Quitting the app stops the centre and removes the temporary directory, unless
``--keep`` (or ``--home DIR``) says to keep it. ``--no-tui`` prints the summary instead of
opening the app (for CI, and for people without a terminal; it is also what happens when the
output is not a terminal).

History is written the way it would have happened: the demo stations run on a clock the
builder can set back (``DemoClock``), so a case completed in August has ``closed_on`` in
August and the monthly figures have a trend to show. Afterwards the clock is the real one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from station.cli.common import Env, detect_lang, or_before_command
from station.cli.embedded import EmbeddedCentre
from station.cli.followup import print_figures
from station.cli.records import print_summaries
from station.domain import sample
from station.domain.chinatime import CHINA, china_now, china_wall
from station.domain.errors import StationError
from station.domain.followup import Month
from station.domain.validate import id_check_char
from station.store.importer import import_file
from station.store.service import Station
from station.store.vault import FAST_KDF
from station.sync.client import enroll, link_for
from station.sync.engine import SyncReport, sync_once

DEMO_PASSPHRASE = "demo-passphrase"
VILLAGE = ("V001", "青石村", "青石村便民服务站", "李春梅")
BUS = ("BUS01", "便民服务直通车（一号车）", "王建国")
OTHER_VILLAGE = ("V002", "红岩村")
CENTRE_STAFF = "镇便民服务中心 张丽"
IMPORT_HOUR = 9  # the village's casework of a day is saved at 09:00 of that day


class DemoClock:
    """Real time in China (as every station keeps it), except while the builder writes
    history (``at``)."""

    def __init__(self) -> None:
        self.fixed: dt.datetime | None = None

    def __call__(self) -> dt.datetime:
        return self.fixed if self.fixed is not None else china_now()

    @contextmanager
    def at(self, day: dt.date, hour: int = 10, minute: int = 0) -> Iterator[None]:
        self.fixed = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=CHINA)
        try:
            yield
        finally:
            self.fixed = None


@dataclass
class Demo:
    """What the demo made: where it lives, and the cases worth looking at."""

    base: Path
    centre: EmbeddedCentre
    village: Station
    bus: Station
    took_s: float = 0.0
    conflict: str = ""  # receipt of the application both sides edited
    poor: str = ""  # receipt of the poor rating whose follow-up is open
    overdue: str = ""  # receipt of a case past its promised date
    steps: list[str] = field(default_factory=list)

    @property
    def village_home(self) -> Path:
        return self.village.home

    @property
    def bus_home(self) -> Path:
        return self.bus.home

    def close(self) -> None:
        for station in (self.village, self.bus):
            with contextlib.suppress(Exception):  # closed twice, or by the app already
                station.close()


def sync(station: Station) -> SyncReport:
    """One push + pull with the station's pinned centre, as ``station sync`` does."""
    with link_for(station.sync) as link:
        return sync_once(station.sync, link, station=station)


def _new_station(home: Path, station_id: str, name: str, agent: str,
                 clock: DemoClock) -> Station:
    station, _ = Station.init(home, station_id=station_id, name=name, agent=agent,
                              passphrase=DEMO_PASSPHRASE, kdf=FAST_KDF, now=clock)
    return station


def _import_rows(station: Station, rows: list[dict[str, Any]], name: str) -> None:
    path = station.home / name
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")
    try:
        import_file(station, path, skip_bad=True)
    finally:
        path.unlink(missing_ok=True)


def _create_in(station: Station, rows: list[dict[str, Any]], scope: str) -> None:
    """Records the bus makes in one of its villages (each record belongs to a village)."""
    prepared = []
    for row in rows:
        values = {k: v for k, v in row.items() if k != "kind"}
        try:
            prepared.append(station.prepare(row["kind"], values, scope=scope))
        except StationError:
            continue  # a generated row this catalogue refuses: leave it out
    station.create_many(prepared)


def _work_day(day: dt.date, today: dt.date) -> dt.date:
    """The nearest weekday on or after ``day``, never after ``today``."""
    while day.weekday() >= 5 and day < today:
        day += dt.timedelta(days=1)
    return min(day, today)


def _history_matters(station: Station) -> list[Any]:
    """Matters a village station decides itself (即办件): these it completes on the spot."""
    return [m for m in station.catalogue if m.decided_at == "station"]


def fill_village(station: Station, clock: DemoClock, *, residents: int = 300,
                 applications: int = 40, visits: int = 24, history: int = 60,
                 seed: int = 7) -> None:
    """The village's list of residents, its casework, and a few months of history."""
    _, village, _, _ = VILLAGE
    today = station.today()
    rng = random.Random(f"station.demo:{seed}")
    people = list(sample.residents(residents, seed=seed, village=village, today=today))
    csv_path = station.home / "residents.csv"
    csv_path.write_text("".join(sample.to_csv_rows(people)), encoding="utf-8-sig")
    try:
        import_file(station, csv_path)
    finally:
        csv_path.unlink(missing_ok=True)
    rows = [*sample.applications(applications, catalogue=station.catalogue, seed=seed,
                                 village=village, today=today, people=people),
            *sample.visits(visits, seed=seed, village=village, today=today, people=people,
                           now=dt.datetime.combine(today, dt.time(IMPORT_HOUR)))]
    # Cases done on the spot over the last six months: every material in, to be completed.
    spot = _history_matters(station)
    for row in sample.applications(history, catalogue=spot, seed=seed + 1, village=village,
                                   today=today, people=people):
        matter = station.catalogue.get(row["matter"])
        row["materials.received"] = [m.code for m in matter.materials]
        row["materials.due"] = {}
        row["notes"] = [n for n in row["notes"] if not n.startswith("已一次告知")]
        back = rng.randint(1, 180)
        row["received_on"] = _work_day(today - dt.timedelta(days=back), today).isoformat()
        rows.append(row)
    # each day's applications are received on that day (their receipt numbers say so)
    by_day: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_day.setdefault(row.get("received_on", today.isoformat()), []).append(row)
    for day, group in sorted(by_day.items()):
        with clock.at(min(dt.date.fromisoformat(day), today), IMPORT_HOUR):
            _import_rows(station, group, "casework.jsonl")
    _write_history(station, clock, rng, spot_codes={m.code for m in spot})


def _write_history(station: Station, clock: DemoClock, rng: random.Random, *,
                   spot_codes: set[str]) -> None:
    """Completions, ratings and contacts on the days they happened."""
    today = station.today()
    this_month = Month.of(today)
    apps = station.list(kind="application", limit=10_000)
    for s in sorted(apps, key=lambda s: s.receipt or ""):
        record = station.get(s.id)
        received = dt.date.fromisoformat(record.fields["received_on"])
        if s.matter in spot_codes and s.status == "received" and received < today:
            closed = _work_day(received + dt.timedelta(
                days=rng.choice((0, 0, 0, 0, 0, 0, 1, 3))), today)
            if _complete_and_rate(station, clock, rng, s.id, closed):
                continue
        if s.status in ("received", "awaiting_materials"):
            _past_contacts(station, clock, rng, s.id, received, this_month)
    # home visits that took place, rated by most residents
    for s in station.list(kind="visit", limit=10_000):
        record = station.get(s.id)
        if not record.fields.get("actual_at"):
            continue
        day = dt.date.fromisoformat(str(record.fields["actual_at"])[:10])
        with clock.at(min(day, today), 17):
            try:
                station.change_status(s.id, "done")
            except StationError:
                continue
            if rng.random() < 0.7:
                grade = rng.choices(("good", "average"), (88, 12))[0]
                station.rate(s.id, grade, _comment(grade, rng))


def _complete_and_rate(station: Station, clock: DemoClock, rng: random.Random,
                       record_id: str, closed: dt.date) -> bool:
    """Complete a case on the day it was done; most residents rate it there and then."""
    today = station.today()
    with clock.at(closed, 9 + rng.randint(0, 7)):
        try:
            station.change_status(record_id, "completed")
        except StationError:
            return False
        if rng.random() > 0.85:
            return True  # not every resident rates
        grade = rng.choices(("good", "average", "poor"), (82, 14, 4))[0]
        station.rate(record_id, grade, _comment(grade, rng))
    if grade == "poor":  # an old poor rating: its follow-up was closed since
        with clock.at(_work_day(closed + dt.timedelta(days=2), today), 15):
            station.close_followup(record_id, "已电话回访并致歉，解释了办理流程，居民表示理解")
    return True


def _past_contacts(station: Station, clock: DemoClock, rng: random.Random, record_id: str,
                   received: dt.date, this_month: Month) -> None:
    """The monthly contact about an open case: most months, sometimes forgotten."""
    today = station.today()
    month = Month.of(received)
    while (month.year, month.month) <= (this_month.year, this_month.month):
        day = max(received + dt.timedelta(days=3),
                  month.first + dt.timedelta(days=rng.randint(2, 20)))
        if month.holds(day.isoformat()) and day < today and rng.random() < 0.8:
            with clock.at(_work_day(day, today), 10):
                via = rng.choice(("phone", "phone", "visit", "message"))
                station.add_contact(record_id, via, rng.choice(_CONTACT_NOTES),
                                    "已告知办理进度")
        month = Month(month.year + month.month // 12, month.month % 12 + 1)


_CONTACT_NOTES = ("电话告知材料已报送镇中心，正在审核", "上门告知办理进度，提醒补交材料",
                  "微信告知申请人审核进度", "联系其子女说明还需等待镇中心审核")


def _comment(grade: str, rng: random.Random) -> str:
    return rng.choice({"good": ("办事快，态度好", "不用跑镇上，很方便", "代办员很耐心", ""),
                       "average": ("等的时间有点长", "材料要求没一次说清楚", ""),
                       "poor": ("跑了两趟才办好", "电话一直打不通")}[grade])


def fill_bus(bus: Station, clock: DemoClock, *, seed: int = 11) -> None:
    """The bus's own work in 红岩村 (V002): home visits and a few applications."""
    code, village = OTHER_VILLAGE
    today = bus.today()
    people = list(sample.residents(60, seed=seed, village=village, today=today))
    now = china_wall(bus.now())
    rows = [*sample.visits(10, seed=seed, village=village, today=today, people=people, now=now),
            *sample.applications(6, catalogue=bus.catalogue, seed=seed, village=village,
                                 today=today, people=people)]
    _create_in(bus, rows, code)


def _open_case(station: Station) -> str:
    """An open application of the village's own (received, nothing missing, not overdue)."""
    today = station.today().isoformat()
    for s in station.list(kind="application", status="received", limit=10_000):
        if s.next_due and s.next_due < today:
            continue
        record = station.get(s.id)
        if record.scope == station.station_id and not record.conflicts:
            return s.id
    raise RuntimeError("the demo data has no open application")  # pragma: no cover


def _id_number(first17: str) -> str:
    return first17 + id_check_char(first17)


def _make_overdue(station: Station, clock: DemoClock) -> str:
    """A case received three weeks ago whose promised material date has passed (容缺)."""
    today = station.today()
    received = _work_day(today - dt.timedelta(days=24), today)
    with clock.at(received, 9, 40):
        record = station.create("application", {
            "matter": "MZ-006", "applicant.name": "周桂兰",
            "applicant.id_number": _id_number("41152519420315002"),
            "applicant.phone": "13703761245",
            "applicant.address": "青石村五组 8 号", "applicant.village_group": "五组",
            "authorisation.relationship": "child", "authorisation.signed": True,
            "materials.received": ["M01", "M03"],
            "materials.due": {"M02": (received + dt.timedelta(days=7)).isoformat()},
            "notes": ["已一次告知所缺材料：M02（户口簿），其子女在外地，承诺一周内寄回"]})
    return record.receipt or record.id


def build_demo(base: Path, *, centre: EmbeddedCentre | None = None, seed: int = 7,
               say: Callable[[str, str], None] | None = None) -> Demo:
    """Make the whole demo under ``base`` (the centre in ``base/centre`` unless given)."""
    started = time.monotonic()

    def step(zh: str, en: str) -> None:
        if say is not None:
            say(zh, en)

    own = centre is None
    if centre is None:
        step("正在启动镇中心……", "Starting the town centre…")
        centre = EmbeddedCentre(base / "centre").start()
    clock = DemoClock()
    v_id, _, v_name, v_agent = VILLAGE
    b_id, b_name, b_agent = BUS
    step("正在建立村站和直通车，导入居民和办件……",
         "Making the village station and the bus, importing residents and casework…")
    try:
        village = _new_station(base / v_id, v_id, v_name, v_agent, clock)
        bus = _new_station(base / b_id, b_id, b_name, b_agent, clock)
    except BaseException:
        if own:
            centre.stop()
        raise
    demo = Demo(base, centre, village, bus)
    try:
        fill_village(village, clock, seed=seed)
        demo.overdue = _make_overdue(village, clock)
        fill_bus(bus, clock)
        step("正在登记并同步……", "Enrolling and syncing…")
        enroll(village, centre.enroll_code(v_id, [v_id]))
        enroll(bus, centre.enroll_code(b_id, [v_id, OTHER_VILLAGE[0]]))
        sync(village)
        sync(bus)
        _centre_decides(village, centre)
        sync(village)  # the decisions come down
        # both offline, both change the same applicant's phone: a conflict once both sync
        case = _open_case(village)
        village.update(case, {"applicant.phone": "13803762210"})
        bus.update(case, {"applicant.phone": "15937614408"})
        sync(village)
        sync(bus)
        sync(village)
        demo.conflict = village.get(case).receipt or case
        demo.poor = _poor_rating(village)
        _unsynced_work(village, bus)
        sync(bus)  # the bus's new visit waits at the centre for the village's next pull
    except BaseException:
        demo.close()
        if own:
            centre.stop()
        raise
    demo.took_s = time.monotonic() - started
    return demo


def _centre_decides(village: Station, centre: EmbeddedCentre) -> None:
    """Town-centre staff decide a few cases the village forwarded; the outcomes come down."""
    decided = 0
    for s in village.list(kind="application", status="received", limit=10_000):
        record = village.get(s.id)
        matter = village.catalogue.get(record.fields["matter"])
        if matter.decided_at != "centre" or record.fields.get("received_on", "") >= \
                village.today().isoformat():
            continue
        outcome, reason = ("returned", "户籍地址与身份证不一致，请核实后重新申请") \
            if decided == 3 else ("completed", "")
        try:
            centre.decide(s.receipt or s.id, outcome, reason=reason, staff=CENTRE_STAFF)
        except StationError:
            continue
        decided += 1
        if decided == 4:
            return


def _poor_rating(village: Station) -> str:
    """A completed case the resident rated poor: its follow-up stays open."""
    completed = [village.get(s.id) for s in
                 village.list(kind="application", status="completed", limit=10_000)]
    # a case the centre decided this month first: the resident waited on the town
    completed.sort(key=lambda r: (not r.fields.get("outcome"), r.receipt or ""))
    for record in completed:
        if not record.fields.get("rating"):
            village.rate(record.id, "poor", "等了很久才办好，中间没人告诉我进度")
            return record.receipt or record.id
    raise RuntimeError("the demo data has no completed case to rate")  # pragma: no cover


def _unsynced_work(village: Station, bus: Station) -> None:
    """Today's work not yet sent: a new application at the village, a visit on the bus."""
    village.create("application", {
        "matter": "SB-002", "applicant.name": "李德顺",
        "applicant.id_number": _id_number("41152519390512003"), "applicant.phone": "13937612290",
        "applicant.address": "青石村二组 3 号", "applicant.village_group": "二组",
        "authorisation.relationship": "self", "authorisation.signed": True,
        "materials.received": ["M01", "M02"], "notes": ["老人腿脚不便，由孙子陪同来站"]})
    person = next(iter(village.list(kind="resident", limit=1)))
    resident = village.get(person.id).fields
    now = bus.now()
    bus.create("visit", {
        "resident.name": resident.get("resident.name", "王桂英"),
        **{f"resident.{k}": resident[f"resident.{k}"] for k in ("id_number", "address")
           if resident.get(f"resident.{k}")},
        "reason": "elderly", "services": ["alive_certification", "policy_explanation"],
        "scheduled_at": now.strftime("%Y-%m-%dT%H:00"), "staff": BUS[2],
        "result": "已完成养老金领取资格认证；已讲解医保缴费政策"}, scope=VILLAGE[0])


# --- the command ---------------------------------------------------------------------------


def _summary(env: Env, demo: Demo, *, opening: bool, keep: bool) -> None:
    village, bus = demo.village, demo.bus
    counts, board = village.counts(), village.dashboard()
    env.say(f"\n演示已就绪（用时 {demo.took_s:.1f} 秒）",
            f"\nThe demo is ready ({demo.took_s:.1f} s)")
    env.say(
        f"  镇中心  {demo.centre.url}（在本进程中运行；日志 {demo.centre.log_file}）\n"
        f"  村站    {village.station_id} {village.station_name}，数据目录 {village.home}\n"
        f"  直通车  {bus.station_id} {bus.station_name}（服务 V001、V002），数据目录 {bus.home}\n"
        f"  口令    {DEMO_PASSPHRASE}（代办员 {village.agent} / {bus.agent}）\n"
        f"  居民 {counts['residents']} 人，代办件 {counts['applications']} 件，上门服务 "
        f"{counts['visits']} 次；冲突 {board.conflicts} 处（{demo.conflict}），超期 "
        f"{board.overdue} 件，差评待整改 {board.open_poor} 件（{demo.poor}），未发送 "
        f"{board.unsent} 条",
        f"  Centre   {demo.centre.url} (running in this process; log {demo.centre.log_file})\n"
        f"  Village  {village.station_id} {village.station_name}, home {village.home}\n"
        f"  Bus      {bus.station_id} {bus.station_name} (serves V001, V002), home "
        f"{bus.home}\n"
        f"  Passphrase  {DEMO_PASSPHRASE} (agents {village.agent} / {bus.agent})\n"
        f"  {counts['residents']} residents, {counts['applications']} applications, "
        f"{counts['visits']} visits; {board.conflicts} conflict ({demo.conflict}), "
        f"{board.overdue} overdue, {board.open_poor} poor rating to follow up "
        f"({demo.poor}), {board.unsent} changes not yet sent")
    if opening:
        env.say("  在应用里：s 同步（再按 s 立即同步），c 处理冲突，p 月度报表，"
                "Ctrl+Q 退出并停止镇中心。\n"
                f"  另开一个终端可打开直通车：station --home {bus.home}",
                "  In the app: s opens sync (s again syncs now), c conflicts, p reports, "
                "Ctrl+Q quits and stops the centre.\n"
                f"  In another terminal, open the bus: station --home {bus.home}")
    elif keep:
        env.say(f"  打开村站：station --home {village.home}",
                f"  Open the village station: station --home {village.home}")


def _after(env: Env, demo: Demo, keep: bool) -> None:
    if keep:
        centre = demo.centre
        env.say(f"镇中心已停止。演示数据保留在 {demo.base}；重新启动镇中心：\n"
                f"  station centre serve --home {centre.home} --key-file {centre.key_file} "
                f"--port {centre.port}",
                f"The centre has stopped. The demo is kept in {demo.base}; to start its "
                f"centre again:\n  station centre serve --home {centre.home} --key-file "
                f"{centre.key_file} --port {centre.port}")
    else:
        env.say("镇中心已停止，临时目录已删除。", "The centre has stopped; the temporary directory "
                "is removed.")


@click.command("demo")
@click.option("--home", "base", type=click.Path(file_okay=False, path_type=Path),
              callback=or_before_command,
              help="Make the demo in this directory (kept) instead of a temporary one.")
@click.option("--keep", is_flag=True, help="Keep the temporary directory when the demo ends.")
@click.option("--no-tui", is_flag=True,
              help="Print the summary instead of opening the app (CI, no terminal).")
@click.option("--lang", type=click.Choice(["zh", "en"]), callback=or_before_command,
              help="Language of the app.")
def demo_cmd(base: Path | None, keep: bool, no_tui: bool, lang: str | None) -> None:
    """A town centre and two stations (village and bus) with sample data, then the app."""
    env = Env(base or Path("."), detect_lang(lang), None, None)
    opening = not no_tui and sys.stdin.isatty() and sys.stdout.isatty()
    if base is not None:
        keep = True
        base.mkdir(parents=True, exist_ok=True)
        if any((base / d).exists() for d in (VILLAGE[0], BUS[0], "centre")):
            raise click.UsageError(env.t(f"{base} 里已经有演示数据：请换一个目录",
                                         f"{base} already holds a demo: choose another directory"))
    else:
        base = Path(tempfile.mkdtemp(prefix="station-demo-"))
    centre = EmbeddedCentre(base / "centre")
    demo: Demo | None = None
    try:
        env.say("正在启动镇中心……", "Starting the town centre…")
        centre.start()
        demo = build_demo(base, centre=centre, say=env.say)
        _summary(env, demo, opening=opening, keep=keep)
        if opening:
            from station.tui import run_app

            demo.bus.close()
            village = demo.village
            env.say("正在打开村站……", "Opening the village station…")
            run_app(village.home, lang=env.lang, station=village, centre_url=centre.url,
                    on_exit=centre.stop)
        else:
            env.say("\n最近的代办件：", "\nLatest applications:")
            print_summaries(env, demo.village.list(kind="application", limit=12), demo.village)
            print_figures(env, demo.village.report(), env.t("本月", "this month"))
            env.say(
                f"\n演示站点 {demo.village.station_id}（{demo.village.station_name}）已就绪",
                f"\nDemo station {demo.village.station_id} ({demo.village.station_name}) "
                "is ready")
    finally:
        if demo is not None:
            demo.close()
        centre.stop()
        if demo is not None:
            _after(env, demo, keep)
        if not keep:
            shutil.rmtree(base, ignore_errors=True)

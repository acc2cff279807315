"""``station check``: every record read back and compared with the changes it was made from.

The changesets are the source of truth and each is authenticated (AES-GCM bound to its row).
What is derived from them can go wrong without anyone noticing until it is read: the merged
state and the name label (encrypted), and the plaintext columns, look-up tokens and conflict
rows that lists, due dates, reports and searches read without decrypting anything. Those
plaintext columns carry no authentication of their own — someone who can write the file can
change a status or a date with SQL — so this check derives every one of them again from the
changesets and compares. ``repair`` writes the derived rows back, each record in its own
transaction (G1): what is derived is rebuilt, never a change itself. A changeset that does not
open cannot be mended here, nor a record row whose changesets are all gone (nothing deletes
one); the town centre holds their copies.

Findings name a record by receipt number or id, never by anything personal (G2): they are
printed, and may be pasted into a message to the centre.

The tables beside the records are looked at too, and never changed, with or without
``repair``: each row there is the only copy this station has of what it holds. A changeset
from the centre kept aside for a newer version (``changesets_held``) whose sealed body no
longer opens is a finding named by its keyed mark, since it would otherwise wait there for
good while every sync said it was waiting for an update. What merely waits (held changesets
that open, damaged downlink batches set aside, import marks whose record is not here, so
that their rows would be imported again) is counted in ``notes`` for a technician.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from station.domain import merge
from station.domain.english import number_words
from station.domain.errors import StationError
from station.store.db import write
from station.store.ledger import Ledger, Stored
from station.store.projection import Record, columns, view
from station.store.rows import RECORD_COLUMNS, conflict_rows, indexed
from station.wire.codec import unpack_state

# what each finding means, for a person (zh, en)
PROBLEMS: dict[str, tuple[str, str]] = {
    "changesets": ("有变更无法解密或不属于这条记录，本机无法修复；请联系镇中心",
                   "a change of it does not open or belongs to another record; it cannot be "
                   "mended here: ask the town centre"),
    "missing": ("有变更但没有记录行", "it has changes but no record row"),
    "unfounded": ("有记录行但它的变更全部缺失，本机无法核对或修复；请联系镇中心",
                  "it has a record row but every change it was made from is missing; it "
                  "cannot be checked or mended here: ask the town centre"),
    "state": ("加密的内容已损坏，或与变更不一致", "its encrypted content is damaged or differs "
              "from its changes"),
    "columns": ("列表和报表读取的明文列与变更不一致（可能被改动过）",
                "the plaintext columns lists and reports read differ from its changes "
                "(altered?)"),
    "label": ("加密的姓名标签已损坏或不一致", "its encrypted name label is damaged or differs"),
    "search": ("身份证号、手机号的查找索引不一致", "its ID-number and phone look-up differs"),
    "conflicts": ("待处理冲突的清单不一致", "its list of open conflicts differs"),
    "held": ("一项从镇中心收到、留待新版本读取的变更已无法解密，本机无法修复；请联系镇中心",
             "a change from the town centre kept for a newer version no longer opens; it "
             "cannot be mended here: ask the town centre"),
}
# findings no repair here can mend: the only good copy is at the town centre
UNMENDABLE = frozenset({"changesets", "unfounded", "held"})
# what waits beside the records, for a technician (zh, en), each with its count
NOTES: dict[str, tuple[str, str]] = {
    "held": ("{n} 项从镇中心收到的变更本版本无法读取，正等待升级 station 后合并",
             "{n} change{s} from the town centre wait{vs} for a newer version of station to merge"),
    "set_aside": ("{n} 批损坏的下行数据已放在一边，供技术人员查看；其中的变更已重新下载",
                  "{n} damaged downlink batch{es} {are} kept aside for a technician; their "
                  "changes were pulled again"),
    "import_marks": ("{n} 个导入标记指向本机没有的记录：再次导入同一份名单时，这些行会被重新导入",
                     "{n} import mark{s} name{vs} records that are not here: importing the same "
                     "list again would bring those rows in again"),
}
# a ciphertext overwritten with text reads as damaged, never as an error decoding it
_SELECT = ", ".join(f"CAST({c} AS BLOB)" if c in ("state", "label") else c
                    for c in RECORD_COLUMNS)
_DERIVED = tuple(c for c in RECORD_COLUMNS if c not in ("state", "label", "version"))
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Finding:
    record: str  # receipt number, else id
    problems: tuple[str, ...]
    repaired: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"record": self.record, "problems": list(self.problems),
                "repaired": self.repaired,
                "zh": "；".join(PROBLEMS[p][0] for p in self.problems),
                "en": "; ".join(PROBLEMS[p][1] for p in self.problems)}


@dataclass
class CheckReport:
    records: int = 0
    changesets: int = 0
    integrity: str = "ok"
    findings: list[Finding] = field(default_factory=list)
    notes: dict[str, int] = field(default_factory=dict)  # NOTES' codes with a count above 0

    @property
    def clean(self) -> bool:
        return self.integrity == "ok" and all(f.repaired for f in self.findings)

    def note_lines(self) -> list[tuple[str, str]]:
        """Each note as a sentence (zh, en)."""
        return [(NOTES[code][0].format(n=n), NOTES[code][1].format(**number_words(n)))
                for code, n in self.notes.items()]

    def as_dict(self) -> dict[str, Any]:
        return {"records": self.records, "changesets": self.changesets,
                "integrity": self.integrity, "clean": self.clean,
                "findings": [f.as_dict() for f in self.findings],
                "notes": [{"code": code, "count": n, "zh": zh, "en": en} for (code, n), (zh, en)
                          in zip(self.notes.items(), self.note_lines(), strict=True)]}


def check(ledger: Ledger, *, repair: bool = False,
          progress: Progress | None = None) -> CheckReport:
    """Check every record of the station; with ``repair``, rebuild what can be rebuilt."""
    db = ledger.db
    report = CheckReport()
    row = db.execute("PRAGMA integrity_check").fetchone()
    report.integrity = str(row[0])
    if report.integrity != "ok":  # SQLite's own pages: nothing above them can be trusted
        return report
    ids = [r[0] for r in db.execute(
        "SELECT id FROM records UNION SELECT record FROM changesets ORDER BY 1")]
    report.changesets = int(db.execute("SELECT count(*) FROM changesets").fetchone()[0])
    for n, record_id in enumerate(ids, 1):
        with write(db) if repair else _reading(db):  # one record as of one moment
            finding = _check_one(ledger, record_id, repair)
        if finding is not None:
            report.findings.append(finding)
        report.records += 1
        if progress and (n % 500 == 0 or n == len(ids)):
            progress(n, len(ids))
    with _reading(db):
        _check_beside(ledger, report)
    return report


def _check_beside(ledger: Ledger, report: CheckReport) -> None:
    """The tables beside the records (see the module's doc): read only, never repaired."""
    db = ledger.db
    waiting = 0
    for mark, body in db.execute("SELECT mark, CAST(body AS BLOB) FROM changesets_held "
                                 "ORDER BY mark").fetchall():
        if ledger.held_opens(mark, body):
            waiting += 1
        else:
            report.findings.append(Finding(f"held:{bytes(mark).hex()[:12]}", ("held",)))
    counts = {"held": waiting,
              "set_aside": db.execute("SELECT count(*) FROM inbox_set_aside").fetchone()[0],
              "import_marks": db.execute(
                  "SELECT count(*) FROM import_rows i WHERE NOT EXISTS (SELECT 1 FROM records "
                  "r WHERE r.id = i.record) AND NOT EXISTS (SELECT 1 FROM changesets c "
                  "WHERE c.record = i.record)").fetchone()[0]}
    report.notes = {code: int(n) for code, n in counts.items() if n}


def _check_one(ledger: Ledger, record_id: str, repair: bool) -> Finding | None:
    db = ledger.db
    try:
        changesets = ledger.changesets_of(record_id)
    except StationError:
        return Finding(_name_of(ledger, record_id), ("changesets",))
    if not changesets:  # nothing deletes a changeset: its row stands on nothing now
        return Finding(_name_of(ledger, record_id), ("unfounded",))
    truth = merge.merge(changesets)
    expected = view(truth)
    row = db.execute(f"SELECT {_SELECT} FROM records WHERE id=?",
                     [record_id]).fetchone()
    problems = (["missing"] if row is None else
                _compare(ledger, expected, truth, dict(zip(RECORD_COLUMNS, row, strict=True))))
    if not problems:
        return None
    if repair:
        ledger.reproject(truth, None if row is None else Stored(
            row[RECORD_COLUMNS.index("version")], truth, 1, indexed(tuple(row))))
    return Finding(expected.receipt or record_id, tuple(problems), repaired=repair)


def _compare(ledger: Ledger, expected: Record, truth: merge.State,
             got: dict[str, Any]) -> list[str]:
    keys, rid, version = ledger.keys, expected.id, got["version"]
    problems = []
    try:
        stored = unpack_state(keys.open("records", got["state"], f"records|{rid}|{version}"))
        if merge.dump(merge.load(stored)) != merge.dump(truth):
            problems.append("state")
    except StationError:
        problems.append("state")
    want = columns(expected, version)
    if any(want[c] != got[c] for c in _DERIVED):
        problems.append("columns")
    try:
        label = keys.open("labels", got["label"], f"labels|{rid}|{version}").decode()
        if label != expected.name:
            problems.append("label")
    except (StationError, UnicodeDecodeError):
        problems.append("label")
    tokens = {r[0] for r in ledger.db.execute("SELECT token FROM blind_index WHERE record=?",
                                              [rid])}
    if tokens != ledger.rows.tokens(expected):
        problems.append("search")
    stored_conflicts = sorted(tuple(r) for r in ledger.db.execute(
        "SELECT record, field, heads, opened FROM conflicts WHERE record=?", [rid]))
    if stored_conflicts != sorted(conflict_rows(expected)):
        problems.append("conflicts")
    return problems


def _name_of(ledger: Ledger, record_id: str) -> str:
    row = ledger.db.execute("SELECT receipt FROM records WHERE id=?", [record_id]).fetchone()
    return row[0] if row and row[0] else record_id


@contextmanager
def _reading(db: Any) -> Iterator[None]:
    """A read transaction: what is compared was all there at one moment, even while another
    process (the app, a sync) writes."""
    db.conn.execute("BEGIN")
    try:
        yield
    finally:
        db.conn.execute("COMMIT")

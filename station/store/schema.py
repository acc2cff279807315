"""The station database schema, as forward-only migrations (sqlite-utils ``Migrations``).

Each migration runs in one transaction together with the record that it ran, and bumps
``meta.schema_version``. Migrations only add: no changeset, outbox or inbox row is ever
dropped by an upgrade (DESIGN §7, "unsent work deleted by an upgrade").

Every index costs pages written on each save, so there are only the ones lists and look-ups
need (a save must stay close to the cost of a bare SQLite commit). Changeset ids are UUIDv7,
time-ordered, so the changesets table (keyed by id) grows at its right edge.

Plaintext columns hold nothing personal: kinds, statuses, matter codes, dates, receipt
numbers, HLCs and flags. Names, ID numbers, phones and addresses live only inside AES-GCM
bodies (``state``, ``label``, ``body``) and as HMAC tokens in ``blind_index`` and
``import_rows``.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

MIGRATIONS = Migrations("station")
SCHEMA_VERSION = 5


def _run(db: sqlite_utils.Database, script: str) -> None:
    # Not executescript(): it would COMMIT first and break the migration's transaction.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _set_version(db: sqlite_utils.Database, version: int) -> None:
    db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)",
               [str(version)])


@MIGRATIONS(name="0001_initial")
def _v1(db: sqlite_utils.Database) -> None:
    _run(
        db,
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE keyslots (
            label TEXT PRIMARY KEY, kind TEXT NOT NULL, params TEXT NOT NULL,
            salt BLOB NOT NULL, wrapped BLOB NOT NULL, created TEXT NOT NULL);
        CREATE TABLE secrets (name TEXT PRIMARY KEY, body BLOB NOT NULL);
        CREATE TABLE changesets (
            id TEXT PRIMARY KEY, record TEXT NOT NULL,
            origin TEXT NOT NULL, hlc TEXT NOT NULL, local INTEGER NOT NULL,
            acked INTEGER NOT NULL DEFAULT 0, exported INTEGER NOT NULL DEFAULT 0,
            body BLOB NOT NULL) WITHOUT ROWID;
        CREATE INDEX changesets_record ON changesets(record, hlc);
        CREATE TABLE records (
            id TEXT PRIMARY KEY, kind TEXT NOT NULL, scope TEXT NOT NULL,
            receipt TEXT, status TEXT NOT NULL, round INTEGER NOT NULL DEFAULT 0,
            matter TEXT, channel TEXT, received_on TEXT, promised_date TEXT,
            next_due TEXT, closed_on TEXT, last_contact TEXT, contact_months TEXT,
            rating TEXT, rated_on TEXT, followup_open INTEGER NOT NULL DEFAULT 0,
            conflicts INTEGER NOT NULL DEFAULT 0, created TEXT NOT NULL, updated TEXT NOT NULL,
            version INTEGER NOT NULL,
            state BLOB NOT NULL, label BLOB);
        CREATE INDEX records_receipt ON records(receipt);
        CREATE INDEX records_kind_status ON records(kind, status);
        CREATE INDEX records_due ON records(next_due);
        CREATE TABLE blind_index (
            token BLOB NOT NULL, record TEXT NOT NULL, PRIMARY KEY (token, record))
            WITHOUT ROWID;
        CREATE INDEX blind_index_record ON blind_index(record);
        CREATE TABLE conflicts (
            record TEXT NOT NULL, field TEXT NOT NULL, heads INTEGER NOT NULL,
            opened TEXT NOT NULL, PRIMARY KEY (record, field)) WITHOUT ROWID;
        CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY, changeset TEXT NOT NULL UNIQUE, sealed BLOB NOT NULL,
            created TEXT NOT NULL, refused TEXT);
        CREATE TABLE inbox (
            seq INTEGER PRIMARY KEY, batch TEXT NOT NULL UNIQUE, sealed BLOB NOT NULL,
            received TEXT NOT NULL);
        CREATE TABLE receipt_counters (day TEXT PRIMARY KEY, n INTEGER NOT NULL);
        CREATE TABLE clock_skew (
            device TEXT PRIMARY KEY, ahead_ms INTEGER NOT NULL, seen TEXT NOT NULL);
        """
    )
    _set_version(db, 1)


@MIGRATIONS(name="0002_drafts")
def _v2(db: sqlite_utils.Database) -> None:
    """Unsaved forms, kept encrypted so a crash or a closed laptop loses no typing."""
    _run(
        db,
        """
        CREATE TABLE drafts (
            id TEXT PRIMARY KEY, kind TEXT NOT NULL, record TEXT, updated TEXT NOT NULL,
            body BLOB NOT NULL);
        """
    )
    _set_version(db, 2)


@MIGRATIONS(name="0003_import_rows")
def _v3(db: sqlite_utils.Database) -> None:
    """A keyed mark (HMAC) of each imported row that has no ID number to be known by, with
    the record it made: the same list of applications or visits imported again is passed
    over instead of doubled (``station.store.importer``). A mark, never the row's content."""
    _run(
        db,
        """
        CREATE TABLE import_rows (
            mark BLOB PRIMARY KEY, record TEXT NOT NULL) WITHOUT ROWID;
        """
    )
    _set_version(db, 3)


@MIGRATIONS(name="0004_inbox_set_aside")
def _v4(db: sqlite_utils.Database) -> None:
    """Kept downlink batches found damaged at unlock move here, out of the inbox, so the
    same range pulled again can be kept anew (``inbox.batch`` is unique). They stay sealed,
    as they came, for a technician to look at; the centre sends their entries again."""
    _run(
        db,
        """
        CREATE TABLE inbox_set_aside (
            seq INTEGER PRIMARY KEY, batch TEXT NOT NULL, sealed BLOB NOT NULL,
            received TEXT NOT NULL, set_aside TEXT NOT NULL, reason TEXT NOT NULL);
        """
    )
    _set_version(db, 4)


@MIGRATIONS(name="0005_changesets_held")
def _v5(db: sqlite_utils.Database) -> None:
    """Changesets of a verified downlink batch that this version cannot read or refuses (a
    field or value from a newer station, relayed by the centre) are kept here, sealed like
    every changeset body, so the rest of the batch merges and the cursor moves on instead of
    the same batch failing at every pull. Keyed by a keyed mark of their bytes (the same
    changeset met again is kept once), with the code of why; tried again at each sync and
    unlock, and gone from here once they merge (an upgraded station reads them)."""
    _run(
        db,
        """
        CREATE TABLE changesets_held (
            mark BLOB PRIMARY KEY, held TEXT NOT NULL, reason TEXT NOT NULL,
            body BLOB NOT NULL) WITHOUT ROWID;
        """
    )
    _set_version(db, 5)

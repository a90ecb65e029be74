"""Versioned schema: numbered SQL files per component and dialect, applied in order, recorded in the database.

A component (the shop, the conversations) keeps its files in a package folder, one per dialect:
`knowledge/migrations/postgres/0001_shop.sql`, ... `migrate(db, component, package, folder)` applies the ones
not yet recorded in `schema_migrations`, all in one transaction under a lock (two workers starting at once
apply them once), and refuses a database already at a higher version than the code knows (`SchemaMismatch`).
It never rewrites or reverses an applied file: a change of schema is a new, higher-numbered file.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from importlib import resources

from .errors import SchemaMismatch

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    component TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, applied DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (component, version))"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations(package: str, folder: str, dialect: str) -> list[Migration]:
    """The component's migration files for this dialect, in version order (numbers must be 1, 2, 3, ...)."""
    root = resources.files(package).joinpath(folder, dialect)
    found = []
    for entry in root.iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise ValueError(f"{package}/{folder}/{dialect}: migrations must be numbered 0001, 0002, ... without gaps")
    return found


def version(db, component: str) -> int:
    """The highest applied migration of `component` (0: none, or no schema_migrations table yet)."""
    try:
        rows = db.rows("SELECT MAX(version) FROM schema_migrations WHERE component = ?", (component,))
    except Exception as exc:  # the table does not exist yet: a new database
        if "schema_migrations" in str(exc):
            return 0
        raise
    return rows[0][0] or 0


def migrate(db, component: str, package: str, folder: str = "migrations") -> int:
    """Bring `component`'s tables to the latest version; returns how many migrations were applied."""
    known = migrations(package, folder, db.dialect)
    latest = known[-1].version if known else 0
    current = version(db, component)
    if current > latest:
        raise SchemaMismatch(component, current, latest)
    if current == latest:
        return 0
    with db.transaction() as conn:
        db.lock(conn, f"migrate:{component}")
        conn.script(TABLE)
        row = conn.execute("SELECT MAX(version) FROM schema_migrations WHERE component = ?", (component,)).fetchone()
        current = row[0] or 0  # another worker may have migrated while this one waited for the lock
        pending = [m for m in known if m.version > current]
        for m in pending:
            conn.script(m.sql)
            conn.execute("INSERT INTO schema_migrations (component, version, name, applied) VALUES (?, ?, ?, ?)",
                         (component, m.version, m.name, time.time()))
    return len(pending)

"""The embedded backend: one SQLite file in WAL mode, for one machine.

Writes go through one connection behind a lock (BEGIN IMMEDIATE ... COMMIT), so they are serialised within the
process and, through SQLite's own lock, across processes. Reads use one connection per thread and run
concurrently beside the writer (WAL lets readers see the last committed state while a write is under way).
"""
from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Sequence

from .base import Row

PRAGMAS = ("busy_timeout=10000",  # another connection writing: wait up to 10 s for the lock instead of failing
           "synchronous=FULL", "foreign_keys=ON",
           "secure_delete=ON")  # erased rows are overwritten, not left in free pages


def _row(cursor: sqlite3.Cursor, values: tuple) -> Row:
    return Row(values, {d[0]: i for i, d in enumerate(cursor.description)})


def connect(path: Path, writer: bool = True) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.row_factory = _row
    for pragma in PRAGMAS:
        conn.execute(f"PRAGMA {pragma}")
    if writer:  # WAL is a property of the file: set once by the writer (a reader setting it would need a lock)
        conn.execute("PRAGMA journal_mode=WAL")
    return conn


class _Tx:
    """The writer connection inside BEGIN IMMEDIATE: `execute` as sqlite3's, `script` for several statements."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    def execute(self, sql: str, args: Sequence[Any] = ()):
        return self._conn.execute(sql, args)

    def executemany(self, sql: str, rows) -> None:
        self._conn.executemany(sql, rows)

    def insert_rows(self, table: str, rows) -> None:
        """Many rows into `table` (all its columns, in order)."""
        rows = list(rows)
        if rows:
            self._conn.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)

    def script(self, sql: str) -> None:
        # executescript would COMMIT the open transaction first; run the statements one by one instead.
        statement = ""
        for line in sql.splitlines(keepends=True):
            statement += line
            if sqlite3.complete_statement(statement):
                self._conn.execute(statement)
                statement = ""
        if statement.strip() and sqlite3.complete_statement(statement + ";"):
            self._conn.execute(statement)  # the last statement without its semicolon (or only comments)
        elif statement.strip():
            raise ValueError(f"incomplete SQL statement at the end of a script: {statement.strip()[:80]!r}")


class SqliteDatabase:
    dialect = "sqlite"
    for_update = ""  # BEGIN IMMEDIATE already holds the database's write lock for the whole transaction

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.where = str(self.path)
        self._lock = threading.RLock()
        self._writer = connect(self.path)
        self._local = threading.local()
        self._readers_lock = threading.Lock()  # not the writer's lock: a read never waits for a transaction
        self._readers: list[sqlite3.Connection] = []
        self._closed = False

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, writer=False)
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        if self._closed:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        return self._reader().execute(sql, args).fetchall()

    @contextmanager
    def transaction(self):
        """BEGIN IMMEDIATE ... COMMIT on the writer connection, or ROLLBACK on any exception."""
        with self._lock:
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield _Tx(self._writer)
            except BaseException:
                self._writer.execute("ROLLBACK")
                raise
            self._writer.execute("COMMIT")

    def lock(self, conn, name: str) -> None:
        """Serialise a transaction against others of the same name: BEGIN IMMEDIATE already does."""

    def run_script(self, sql: str) -> None:
        with self.transaction() as conn:
            conn.script(sql)

    def json_text(self, column: str, key: str) -> str:
        return f"json_extract({column}, '$.{key}')"

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the file and cut it to zero bytes."""
        with self._lock:
            self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock, self._readers_lock:
            self._closed = True
            for conn in self._readers:
                conn.close()
            self._readers.clear()
            self._writer.close()

"""The assistant's memory: sessions, turns, feedback and hand-over tickets in one SQLite file.

`ConversationStore(data_dir / "conversations.db")` keeps conversations across restarts (WAL, synchronous FULL)
and is safe to share between the web server's threads. Erasing a customer or a session deletes the rows, then
rewrites the file (secure_delete, VACUUM, WAL checkpoint TRUNCATE) so the words are gone from the disk too. It
stores what it is given; understanding is `bot.agent`'s. Identification is bound to its session and lapses after
`identity_ttl_s` without a turn: the session then forgets who the customer is and any request in progress, so
they must identify again. A reply is recorded with `record_exchange` (the customer's turn, the session, any ticket
and the reply in one transaction), after `check_writable` has shown the store can take it. The queries and rules
are bot/memory_base.py's, shared with PostgreSQL (bot/memory_pg.py); this module is the SQLite connection, its
transactions and its dialect. Opened by `Bot.load`; tests: tests/bot/test_memory_*, tests/test_pg_memory.py,
tests/ui/test_ui_sessions.py, tests/security/test_security_degraded.py.
"""
from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Sequence

# The records, limits and errors are bot.memory_base's; callers import them from here, as before.
from .memory_base import (KEPT_AFTER_IDENTITY_LAPSES, LOW_CONFIDENCE, MAX_ID_CHARS,  # noqa: F401
                          MAX_TEXT_CHARS, MAX_UNANSWERED, PERSON_INTENTS, ROLES, STATUSES, TICKET_STATUSES,
                          TOP_INTENTS, UNANSWERED_INTENTS, BaseConversationStore, ConversationSummary,
                          MemoryStoreError, SessionState, Ticket, TicketNotFound, Turn, TurnNotFound, clean_text)

IDENTITY_TTL_S = 30 * 60  # idle seconds after which a session forgets who the customer is (the web app's setting)
# Room an exchange may take (a 4,000-character message and its reply, state and ticket, in UTF-8, with margin): a
# store that cannot grow by this much is refused before the bot acts, so no action is taken it cannot record.
EXCHANGE_RESERVE_BYTES = 256 * 1024

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY, user_id TEXT, state TEXT NOT NULL DEFAULT '{}',
    personalise INTEGER NOT NULL DEFAULT 1, status TEXT NOT NULL DEFAULT 'open',
    handled_by TEXT,  -- the staff member who last answered, once a person has taken the conversation
    created REAL NOT NULL, updated REAL NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user_id);
CREATE TABLE IF NOT EXISTS turns (
    turn_id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, so feedback cannot land on a later turn
    session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
    role TEXT NOT NULL, text TEXT NOT NULL, reply TEXT, created REAL NOT NULL,
    helpful INTEGER);  -- NULL: no feedback; 0: thumbs down; 1: thumbs up
CREATE INDEX IF NOT EXISTS turns_session ON turns(session_id, turn_id);
CREATE TABLE IF NOT EXISTS tickets (
    ticket_id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
    user_id TEXT, reason TEXT NOT NULL, summary TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'open',
    created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS tickets_session ON tickets(session_id);
"""


class ErasureIncomplete(MemoryStoreError):
    """The rows are deleted but another connection kept the old bytes in the write-ahead log."""


class ConversationStore(BaseConversationStore):
    """One shop's conversation memory. Safe to share between threads (one connection behind a lock)."""

    _creation_order = "rowid"
    # The probe turn is as large as an exchange: its pages must be allocatable (SQLite's max_page_count,
    # query_only, a read-only file), so a store that could not take the exchange fails here.
    _probe_text = ("zeroblob(?)", (EXCHANGE_RESERVE_BYTES,))

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time,
                 identity_ttl_s: float | None = IDENTITY_TTL_S):
        super().__init__(clock=clock, identity_ttl_s=identity_ttl_s)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        if not self.path.exists():  # conversations are personal data: only the shop's own user may read them
            self.path.touch(mode=0o600)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON",
                       "secure_delete=ON",  # deleted rows are overwritten with zeros, not left in free pages
                       "temp_store=MEMORY"):  # VACUUM's temporary copy never touches the disk
            self._conn.execute(f"PRAGMA {pragma}")
        with self._lock:
            self._conn.executescript(f"BEGIN IMMEDIATE; {SCHEMA} COMMIT;")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # ---------------------------------------------------------------- the hooks of bot.memory_base
    def _transaction(self):
        return _Transaction(self._conn, self._lock)

    @contextmanager
    def _snapshot(self):
        with self._lock:  # one connection: no other thread's write can fall between the reads
            yield self._conn

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def _insert_id(self, conn, sql: str, args: Sequence[Any], key: str) -> int:
        return conn.execute(sql, args).lastrowid  # `key` is the table's INTEGER PRIMARY KEY, its rowid

    def _in(self, column: str, values: list) -> tuple[str, Sequence[Any]]:
        return f"{column} IN ({','.join('?' * len(values))})", list(values)

    def _json_text(self, column: str, key: str) -> str:
        return f"json_extract({column}, '$.{key}')"

    _json_number = _json_text  # SQLite's SUM reads a number from JSON text too

    def _check_room(self) -> None:
        """The file must be writable and the disk must hold an exchange besides the probe's pages, as pages are
        only written to the disk at commit."""
        if not os.access(self.path, os.W_OK):
            raise PermissionError(errno.EACCES, "the conversation store cannot be written", str(self.path))
        if shutil.disk_usage(self.path.parent).free < EXCHANGE_RESERVE_BYTES:
            raise OSError(errno.ENOSPC, "no room on the disk for the conversation store", str(self.path.parent))

    def _erase(self, session_ids: list[str] | None, user_id: str | None) -> dict[str, int]:
        with self._lock:  # the DELETEs and the file's rewrite with no other write of this store between them
            return super()._erase(session_ids, user_id)

    def _scrub(self, tries: int = 20) -> None:
        """Rewrite the file without free pages (VACUUM), then copy the WAL in and cut it to zero bytes."""
        with self._lock:
            self._conn.execute("VACUUM")
            for _ in range(tries):
                busy, _log, _done = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                if not busy:
                    return
                time.sleep(0.05)  # another connection is reading; its snapshot ends soon
        raise ErasureIncomplete(f"{self.path}: another connection kept the write-ahead log open; "
                                "the rows are deleted, but old copies stay in the log until it closes")


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT under the store's lock, or ROLLBACK on any exception."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock):
        self._conn, self._lock = conn, lock

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        return self._conn

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if not exc_type:
                self._conn.execute("COMMIT")
            elif self._conn.in_transaction:  # SQLITE_FULL and I/O errors may have rolled it back already
                self._conn.execute("ROLLBACK")
        finally:
            self._lock.release()

"""The assistant's memory: sessions, turns, feedback and hand-over tickets in one SQLite file.

`ConversationStore(data_dir / "conversations.db")` keeps conversations across restarts (WAL, synchronous FULL)
and is safe to share between the web server's threads. Erasing a customer or a session deletes the rows, then
rewrites the file (secure_delete, VACUUM, WAL checkpoint TRUNCATE) so the words are gone from the disk too. It
stores what it is given; understanding is `bot.agent`'s. Identification is bound to its session and lapses after
`identity_ttl_s` without a turn: the session then forgets who the customer is and any request in progress, so
they must identify again. A reply is recorded with `record_exchange` (the customer's turn, the session, any ticket
and the reply in one transaction), after `check_writable` has shown the store can take it. Opened by `Bot.load`;
tests: tests/bot/test_memory_*, tests/ui/test_ui_sessions.py, tests/security/test_security_degraded.py.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .errors import BotError

ROLES = ("user", "assistant", "staff", "system")
STATUSES = ("open", "handover", "closed")
TICKET_STATUSES = ("open", "closed")
MAX_TEXT_CHARS = 100_000  # a turn longer than this is cut; the bot already cuts messages to 4,000 characters
MAX_ID_CHARS = 200  # session and user ids come from front ends and HTTP headers
LOW_CONFIDENCE = 0.5  # an assistant reply below this counts as a question the bot could not answer
UNANSWERED_INTENTS = frozenset({"unknown", "unclear", "out_of_scope"})
# The customer asked for a person: a hand-over for these is not a question the assistant missed.
PERSON_INTENTS = frozenset({"contact_human_agent", "contact_customer_service", "talk_to_person", "handover"})
TOP_INTENTS = 10
MAX_UNANSWERED = 50
# What a session keeps when its identification lapses: what the conversation is about, never who or what task.
KEPT_AFTER_IDENTITY_LAPSES = ("focus", "unclear")
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


class MemoryStoreError(BotError):
    """The conversation memory could not do what was asked."""

    public_message = "Sorry, I could not find that in our conversation records."


class TurnNotFound(MemoryStoreError, LookupError):
    def __init__(self, session_id: str, turn_id: int):
        super().__init__(f"no turn {turn_id!r} in session {session_id!r}")
        self.session_id, self.turn_id = session_id, turn_id


class TicketNotFound(MemoryStoreError, LookupError):
    def __init__(self, ticket_id: int):
        super().__init__(f"no ticket {ticket_id!r}")
        self.ticket_id = ticket_id


class ErasureIncomplete(MemoryStoreError):
    """The rows are deleted but another connection kept the old bytes in the write-ahead log."""


@dataclass(frozen=True)
class Turn:
    turn_id: int
    session_id: str
    role: str  # 'user' | 'assistant' | 'staff' | 'system'
    text: str
    reply: dict | None  # Reply.to_dict() for assistant turns; {"staff": name} for staff turns
    created: float
    helpful: bool | None


@dataclass(frozen=True)
class SessionState:
    session_id: str
    user_id: str | None
    state: dict
    personalise: bool
    status: str  # 'open' | 'handover' | 'closed'
    created: float
    updated: float
    handled_by: str | None = None  # set once a staff member has answered in this conversation


@dataclass(frozen=True)
class Ticket:
    ticket_id: int
    session_id: str
    user_id: str | None
    reason: str
    summary: str
    status: str  # 'open' | 'closed'
    created: float


@dataclass(frozen=True)
class ConversationSummary:
    session_id: str
    user_id: str | None
    status: str
    turns: int
    last_message: str
    updated: float
    intents: list[str] = field(default_factory=list)  # distinct intents of the assistant's replies, in order


def clean_text(text, limit: int | None = MAX_TEXT_CHARS) -> str:
    """Text SQLite can store: valid surrogate pairs joined, lone surrogates replaced by U+FFFD, cut to `limit`."""
    text = str(text)
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text if limit is None or len(text) <= limit else text[:limit - 1] + "\u2026"


def _check_id(kind: str, value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{kind} must be a non-empty string, not {value!r}")
    value = clean_text(value, MAX_ID_CHARS + 1)  # the same id always maps to the same key, so no stripping
    if len(value) > MAX_ID_CHARS:
        raise ValueError(f"{kind} is longer than {MAX_ID_CHARS} characters")
    return value


def _check_session_values(status: str | None, state) -> None:
    """What every write of a session's state checks, on either backend: a known status, a dict of state."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"session status must be one of {STATUSES}, not {status!r}")
    if not isinstance(state, dict):
        raise TypeError(f"session state must be a dict, not {type(state).__name__}")


def _number(value, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _dumps(value) -> str:
    return clean_text(json.dumps(value, ensure_ascii=False), limit=None)  # cutting JSON would break it


class ConversationStore:
    """One shop's conversation memory. Safe to share between threads (one connection behind a lock)."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time,
                 identity_ttl_s: float | None = IDENTITY_TTL_S):
        self.path = Path(path)
        self.identity_ttl_s = identity_ttl_s  # None: identification lasts as long as the session
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
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

    def __enter__(self) -> "ConversationStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _transaction(self):
        return _Transaction(self._conn, self._lock)

    def _rows(self, sql: str, args=()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    # ---------------------------------------------------------------- sessions
    def session(self, session_id: str) -> SessionState:
        """The session's saved state; a new id gets an empty open session (saved at once)."""
        session_id = _check_id("session id", session_id)
        with self._transaction() as conn:
            row = self._lapse_identity(conn, self._ensure_session(conn, session_id))
        return _session(row)

    def find_session(self, session_id: str) -> SessionState | None:
        """The session's saved state, or None if there is no such session (nothing is created)."""
        rows = self._rows("SELECT * FROM sessions WHERE session_id = ?", (_check_id("session id", session_id),))
        return _session(rows[0]) if rows else None

    def _ensure_session(self, conn, session_id: str) -> sqlite3.Row:
        row = conn.execute("SELECT * FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
        if row is None:
            now = self._clock()
            conn.execute("INSERT INTO sessions (session_id, created, updated) VALUES (?, ?, ?)",
                         (session_id, now, now))
            row = conn.execute("SELECT * FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
        return row

    def _lapse_identity(self, conn, row: sqlite3.Row) -> sqlite3.Row:
        """The session, without its customer and task if it has been idle longer than identity_ttl_s."""
        if self.identity_ttl_s is None or self._clock() - row["updated"] <= self.identity_ttl_s:
            return row
        state = json.loads(row["state"])
        if row["user_id"] is None and not state.get("user_id") and not state.get("task"):
            return row
        kept = {k: state[k] for k in KEPT_AFTER_IDENTITY_LAPSES if k in state}
        conn.execute("UPDATE sessions SET user_id = NULL, state = ?, updated = ? WHERE session_id = ?",
                     (_dumps(kept), self._clock(), row["session_id"]))
        return conn.execute("SELECT * FROM sessions WHERE session_id = ?", (row["session_id"],)).fetchone()

    def save_session(self, session_id: str, *, user_id: str | None, state: dict, personalise: bool,
                     status: str | None = None) -> None:
        """Save who the customer is and the dialogue's state (must be JSON); `status` None keeps the current one."""
        session_id = _check_id("session id", session_id)
        user_id = None if user_id is None else _check_id("user id", user_id)
        _check_session_values(status, state)
        state_json = _dumps(state)  # a TypeError here is the caller's bug: state must be plain JSON
        with self._transaction() as conn:
            self._update_session(conn, self._ensure_session(conn, session_id), user_id, state_json, personalise,
                                 status)

    def _update_session(self, conn, row: sqlite3.Row, user_id: str | None, state_json: str, personalise: bool,
                        status: str | None) -> None:
        session_id = row["session_id"]
        conn.execute("UPDATE sessions SET user_id = ?, state = ?, personalise = ?, status = ?, updated = ? "
                     "WHERE session_id = ?", (user_id, state_json, int(bool(personalise)),
                                              status or row["status"], self._clock(), session_id))
        if user_id is not None:  # tickets opened before the customer identified themselves are theirs too
            conn.execute("UPDATE tickets SET user_id = ? WHERE session_id = ? AND user_id IS NULL",
                         (user_id, session_id))

    def sessions_of(self, user_id: str) -> list[str]:
        """The customer's sessions, newest first."""
        user_id = _check_id("user id", user_id)
        return [r[0] for r in self._rows("SELECT session_id FROM sessions WHERE user_id = ? "
                                         "ORDER BY updated DESC, rowid DESC", (user_id,))]

    # ---------------------------------------------------------------- turns
    def add_turn(self, session_id: str, role: str, text: str, reply: dict | None = None) -> int:
        """Append a turn (creating the session if new); returns its turn id."""
        session_id = _check_id("session id", session_id)
        if role not in ROLES:
            raise ValueError(f"turn role must be one of {ROLES}, not {role!r}")
        reply_json = None if reply is None else _dumps(reply)
        with self._transaction() as conn:
            self._ensure_session(conn, session_id)
            return self._insert_turn(conn, session_id, role, text, reply_json)

    def _insert_turn(self, conn, session_id: str, role: str, text, reply_json: str | None) -> int:
        now = self._clock()
        cur = conn.execute("INSERT INTO turns (session_id, role, text, reply, created) VALUES (?, ?, ?, ?, ?)",
                           (session_id, role, clean_text("" if text is None else text), reply_json, now))
        conn.execute("UPDATE sessions SET updated = ? WHERE session_id = ?", (now, session_id))
        return cur.lastrowid

    def record_exchange(self, session_id: str, message: str, reply_text: str, reply: dict, *,
                        user_id: str | None, state: dict, personalise: bool, status: str | None = None,
                        ticket: tuple[str, str] | None = None) -> int:
        """One exchange in ONE transaction: the customer's turn, a hand-over ticket (`(reason, summary)`, which
        puts the session in 'handover'), the session's state and the assistant's turn; returns the assistant
        turn's id. If any part cannot be written, none is."""
        session_id = _check_id("session id", session_id)
        user_id = None if user_id is None else _check_id("user id", user_id)
        _check_session_values(status, state)
        state_json, reply_json = _dumps(state), _dumps(reply)
        with self._transaction() as conn:
            row = self._ensure_session(conn, session_id)
            self._insert_turn(conn, session_id, "user", message, None)
            if ticket is not None:
                self._insert_ticket(conn, row, *ticket)
                status = "handover"
            self._update_session(conn, row, user_id, state_json, personalise, status)
            return self._insert_turn(conn, session_id, "assistant", reply_text, reply_json)

    def check_writable(self, session_id: str) -> None:
        """Raise what a write would raise if an exchange of this session could not be recorded now (disk full,
        the file at its size limit, read-only); nothing is kept. A probe in a rolled-back transaction writes a
        turn of EXCHANGE_RESERVE_BYTES (the pages must be allocatable: SQLite's max_page_count, query_only, a
        read-only file); the disk must hold as much again, as pages are only written to it at commit."""
        session_id = _check_id("session id", session_id)
        if not os.access(self.path, os.W_OK):
            raise PermissionError(errno.EACCES, "the conversation store cannot be written", str(self.path))
        if shutil.disk_usage(self.path.parent).free < EXCHANGE_RESERVE_BYTES:
            raise OSError(errno.ENOSPC, "no room on the disk for the conversation store", str(self.path.parent))
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._ensure_session(self._conn, session_id)
                self._conn.execute("INSERT INTO turns (session_id, role, text, created) VALUES (?, 'system', "
                                   "zeroblob(?), 0)", (session_id, EXCHANGE_RESERVE_BYTES))
            finally:
                if self._conn.in_transaction:  # SQLite may have rolled back already (SQLITE_FULL does)
                    self._conn.execute("ROLLBACK")

    def history(self, session_id: str, limit: int | None = None) -> list[Turn]:
        """The session's turns, oldest first; `limit` keeps the most recent ones."""
        session_id = _check_id("session id", session_id)
        if limit is not None and limit <= 0:
            return []
        rows = self._rows("SELECT * FROM turns WHERE session_id = ? ORDER BY turn_id DESC LIMIT ?",
                          (session_id, -1 if limit is None else int(limit)))
        return [_turn(r) for r in reversed(rows)]

    def set_feedback(self, session_id: str, turn_id: int, helpful: bool) -> None:
        """Thumbs up (True) or down (False) on an assistant or staff turn of that session."""
        session_id = _check_id("session id", session_id)
        with self._transaction() as conn:
            cur = conn.execute("UPDATE turns SET helpful = ? WHERE session_id = ? AND turn_id = ? "
                               "AND role IN ('assistant', 'staff')", (int(bool(helpful)), session_id, turn_id))
            if cur.rowcount != 1:
                raise TurnNotFound(session_id, turn_id)

    # ---------------------------------------------------------------- tickets
    def open_ticket(self, session_id: str, reason: str, summary: str) -> Ticket:
        """A hand-over ticket for a person; the session waits in status 'handover'."""
        session_id = _check_id("session id", session_id)
        with self._transaction() as conn:
            ticket = self._insert_ticket(conn, self._ensure_session(conn, session_id), reason, summary)
        return _ticket(ticket)

    def _insert_ticket(self, conn, row: sqlite3.Row, reason: str, summary: str) -> sqlite3.Row:
        now = self._clock()
        cur = conn.execute("INSERT INTO tickets (session_id, user_id, reason, summary, created) "
                           "VALUES (?, ?, ?, ?, ?)", (row["session_id"], row["user_id"], clean_text(reason),
                                                      clean_text(summary), now))
        conn.execute("UPDATE sessions SET status = 'handover', updated = ? WHERE session_id = ?",
                     (now, row["session_id"]))
        return conn.execute("SELECT * FROM tickets WHERE ticket_id = ?", (cur.lastrowid,)).fetchone()

    def tickets(self, status: str | None = "open") -> list[Ticket]:
        """Tickets with that status (None: all), oldest first, the order a queue is worked in."""
        if status is not None and status not in TICKET_STATUSES:
            raise ValueError(f"ticket status must be one of {TICKET_STATUSES} or None, not {status!r}")
        if status is None:
            rows = self._rows("SELECT * FROM tickets ORDER BY ticket_id")
        else:
            rows = self._rows("SELECT * FROM tickets WHERE status = ? ORDER BY ticket_id", (status,))
        return [_ticket(r) for r in rows]

    def close_ticket(self, ticket_id: int) -> None:
        """Close a ticket; once a session has no open ticket left, the assistant answers it again."""
        with self._transaction() as conn:
            row = conn.execute("SELECT session_id FROM tickets WHERE ticket_id = ?", (ticket_id,)).fetchone()
            if row is None:
                raise TicketNotFound(ticket_id)
            conn.execute("UPDATE tickets SET status = 'closed' WHERE ticket_id = ?", (ticket_id,))
            conn.execute("UPDATE sessions SET status = 'open', updated = ? WHERE session_id = ? "
                         "AND status = 'handover' AND NOT EXISTS (SELECT 1 FROM tickets "
                         "WHERE session_id = sessions.session_id AND status = 'open')",
                         (self._clock(), row["session_id"]))

    def mark_handled(self, session_id: str, staff: str) -> None:
        """Record that a staff member answered in this conversation (the status is left as it is)."""
        session_id = _check_id("session id", session_id)
        with self._transaction() as conn:
            self._ensure_session(conn, session_id)
            conn.execute("UPDATE sessions SET handled_by = ?, updated = ? WHERE session_id = ?",
                         (clean_text(staff, MAX_ID_CHARS), self._clock(), session_id))

    # ---------------------------------------------------------------- overviews
    def conversations(self, status: str | None = None) -> list[ConversationSummary]:
        """Sessions with at least one turn, most recently active first."""
        where, args = ("WHERE s.status = ?", (status,)) if status else ("", ())
        with self._lock:  # one consistent view: an erasure in another thread cannot fall between the reads
            return self._summaries(where, args)

    def _summaries(self, where: str, args: tuple) -> list[ConversationSummary]:
        rows = self._rows(
            "SELECT s.session_id, s.user_id, s.status, s.updated, COUNT(t.turn_id) AS n, MAX(t.turn_id) AS last "
            f"FROM sessions s JOIN turns t USING (session_id) {where} "
            "GROUP BY s.session_id ORDER BY s.updated DESC, last DESC", args)
        out = []
        for r in rows:
            last = self._rows("SELECT text FROM turns WHERE turn_id = ?", (r["last"],))[0][0]
            intents = [i for i in dict.fromkeys(self._intents(r["session_id"])) if i]
            out.append(ConversationSummary(r["session_id"], r["user_id"], r["status"], r["n"], last,
                                           r["updated"], intents))
        return out

    def _intents(self, session_id: str | None = None) -> list[str]:
        sql = "SELECT json_extract(reply, '$.intent') FROM turns WHERE role = 'assistant' AND reply IS NOT NULL"
        if session_id is None:
            return [r[0] for r in self._rows(sql + " ORDER BY turn_id")]
        return [r[0] for r in self._rows(sql + " AND session_id = ? ORDER BY turn_id", (session_id,))]

    def insights(self) -> dict:
        """What the staff desk's insights page shows, computed from the saved turns, tickets and feedback."""
        with self._lock:
            conversations = self._rows("SELECT COUNT(DISTINCT session_id) FROM turns")[0][0]
            handed_over = self._rows("SELECT COUNT(DISTINCT t.session_id) FROM tickets t "
                                     "JOIN turns USING (session_id)")[0][0]
            up, down = self._rows("SELECT COALESCE(SUM(helpful = 1), 0), COALESCE(SUM(helpful = 0), 0) "
                                  "FROM turns")[0]
            checked, repaired = self._rows(
                "SELECT COALESCE(SUM(json_extract(reply, '$.claims_checked')), 0), "
                "COALESCE(SUM(json_extract(reply, '$.claims_repaired')), 0) "
                "FROM turns WHERE role = 'assistant' AND reply IS NOT NULL")[0]
            intents = Counter(i for i in self._intents() if i)
            return {"conversations": conversations, "resolved_by_bot": conversations - handed_over,
                    "handed_over": handed_over, "top_intents": intents.most_common(TOP_INTENTS),
                    "unanswered": self._unanswered(), "thumbs_up": up, "thumbs_down": down,
                    "claims_checked": int(checked), "claims_repaired": int(repaired),
                    "open_tickets": self._rows("SELECT COUNT(*) FROM tickets WHERE status = 'open'")[0][0]}

    def _unanswered(self) -> list[str]:
        """Customer messages whose reply missed (low confidence, unknown, out of scope), newest first."""
        rows = self._rows(
            "SELECT a.reply, (SELECT u.text FROM turns u WHERE u.session_id = a.session_id AND u.role = 'user' "
            "AND u.turn_id < a.turn_id ORDER BY u.turn_id DESC LIMIT 1) AS question "
            "FROM turns a WHERE a.role = 'assistant' AND a.reply IS NOT NULL ORDER BY a.turn_id DESC")
        out: list[str] = []
        for r in rows:
            reply = json.loads(r["reply"])
            intent = str(reply.get("intent") or "")
            missed = (_number(reply.get("confidence"), 1.0) < LOW_CONFIDENCE or intent in UNANSWERED_INTENTS
                      or (bool(reply.get("handover")) and intent not in PERSON_INTENTS))
            if missed and r["question"] and r["question"] not in out:
                out.append(r["question"])
                if len(out) == MAX_UNANSWERED:
                    break
        return out

    # ---------------------------------------------------------------- erasure
    def erase_user(self, user_id: str) -> dict[str, int]:
        """Delete every session, turn, ticket and piece of feedback of that customer, from the files too."""
        user_id = _check_id("user id", user_id)
        with self._lock:
            ids = [r[0] for r in self._conn.execute("SELECT session_id FROM sessions WHERE user_id = ?",
                                                    (user_id,))]
            counts = self._erase(ids, user_id)
        return counts

    def erase_session(self, session_id: str) -> dict[str, int]:
        """Delete one conversation (its turns, tickets and feedback), from the files too."""
        return self._erase([_check_id("session id", session_id)], None)

    def _erase(self, session_ids: list[str], user_id: str | None) -> dict[str, int]:
        with self._lock:
            with self._transaction() as conn:
                marks = ",".join("?" * len(session_ids))
                counts = {"sessions": 0, "turns": 0, "tickets": 0, "feedback": 0}
                if session_ids:
                    counts["turns"], counts["feedback"] = conn.execute(
                        f"SELECT COUNT(*), COUNT(helpful) FROM turns WHERE session_id IN ({marks})",
                        session_ids).fetchone()
                    conn.execute(f"DELETE FROM turns WHERE session_id IN ({marks})", session_ids)
                    counts["tickets"] += conn.execute(f"DELETE FROM tickets WHERE session_id IN ({marks})",
                                                      session_ids).rowcount
                    counts["sessions"] = conn.execute(f"DELETE FROM sessions WHERE session_id IN ({marks})",
                                                      session_ids).rowcount
                if user_id is not None:  # tickets of theirs filed in a session saved without their id
                    counts["tickets"] += conn.execute("DELETE FROM tickets WHERE user_id = ?", (user_id,)).rowcount
            self._scrub()
        return counts

    def _scrub(self, tries: int = 20) -> None:
        """Rewrite the file without free pages (VACUUM), then copy the WAL in and cut it to zero bytes."""
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


def _session(row) -> SessionState:
    return SessionState(row["session_id"], row["user_id"], json.loads(row["state"]), bool(row["personalise"]),
                        row["status"], row["created"], row["updated"], row["handled_by"])


def _turn(row) -> Turn:
    return Turn(row["turn_id"], row["session_id"], row["role"], row["text"],
                None if row["reply"] is None else json.loads(row["reply"]), row["created"],
                None if row["helpful"] is None else bool(row["helpful"]))


def _ticket(row) -> Ticket:
    return Ticket(row["ticket_id"], row["session_id"], row["user_id"], row["reason"], row["summary"],
                  row["status"], row["created"])

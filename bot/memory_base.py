"""The conversation memory's logic, written once for both backends: sessions, turns, feedback, tickets, overviews.

`BaseConversationStore` holds every query (SQL with `?` placeholders) and every rule; a backend supplies the
connection, its transactions and the few dialect differences as small hooks: bot/memory.py (one SQLite file) and
bot/memory_pg.py (PostgreSQL). Also here: the records the stores return, their limits and errors. It does not
connect to anything itself. Tests: tests/test_pg_memory.py (both backends), tests/bot/test_memory_*.
"""
from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections import Counter
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Callable, Self, Sequence

from .errors import BotError

ROLES = ("user", "assistant", "staff", "system")
STATUSES = ("open", "handover", "closed")
TICKET_STATUSES = ("open", "closed")
MAX_TEXT_CHARS = 100_000  # a turn longer than this is cut; the bot already cuts messages to 4,000 characters
MAX_ID_CHARS = 200  # session and user ids come from front ends and HTTP headers
MAX_ROW_ID = 2 ** 63  # turn and ticket ids are 64-bit integers on both backends
LOW_CONFIDENCE = 0.5  # an assistant reply below this counts as a question the bot could not answer
UNANSWERED_INTENTS = frozenset({"unknown", "unclear", "out_of_scope"})
# The customer asked for a person: a hand-over for these is not a question the assistant missed.
PERSON_INTENTS = frozenset({"contact_human_agent", "contact_customer_service", "talk_to_person", "handover"})
TOP_INTENTS = 10
MAX_UNANSWERED = 50
# What a session keeps when its identification lapses: what the conversation is about, never who or what task.
KEPT_AFTER_IDENTITY_LAPSES = ("focus", "unclear")


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


def _is_row_id(value) -> bool:
    """A turn or ticket id either backend could hold: a positive 64-bit int (a bool, str or float never is)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < MAX_ROW_ID


def _number(value, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


class _ProbeDone(Exception):
    """Ends check_writable's probe transaction with a rollback."""


class BaseConversationStore(ABC):
    """One shop's conversation memory: every query and rule; the subclass is the backend (see the hooks below)."""

    path = None  # the backend's file, or None where the conversations live on a database server
    _for_update = ""  # appended to a SELECT in a transaction to lock its rows ("" where writes serialise anyway)
    _creation_order = "rowid"  # the sessions column that orders sessions saved in the same instant
    _probe_text = ("''", ())  # check_writable's probe turn: the SQL of its text, and that SQL's arguments

    def __init__(self, *, clock: Callable[[], float], identity_ttl_s: float | None):
        self.identity_ttl_s = identity_ttl_s  # None: identification lasts as long as the session
        self._clock = clock

    # ---------------------------------------------------------------- the backend's hooks
    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def _transaction(self) -> AbstractContextManager:
        """A connection inside one all-or-nothing write transaction: committed on success, else rolled back."""

    @abstractmethod
    def _snapshot(self) -> AbstractContextManager:
        """A connection for several reads that must agree with each other (the overviews)."""

    @abstractmethod
    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list:
        """One read outside any transaction."""

    @abstractmethod
    def _insert_id(self, conn, sql: str, args: Sequence[Any], key: str) -> int:
        """Run an INSERT of one row and return the new row's `key` column (its generated id)."""

    @abstractmethod
    def _in(self, column: str, values: list) -> tuple[str, Sequence[Any]]:
        """SQL saying `column` is one of `values`, and its arguments."""

    @abstractmethod
    def _json_text(self, column: str, key: str) -> str:
        """SQL for a JSON text column's top-level `key`, as the backend reads it."""

    @abstractmethod
    def _json_number(self, column: str, key: str) -> str:
        """SQL for a JSON text column's top-level `key` as a number to sum."""

    @abstractmethod
    def _scrub(self) -> None:
        """After an erasure's rows are deleted: remove the old copies the backend still keeps (outside the
        transaction)."""

    def _check_room(self) -> None:
        """check_writable's checks before its probe (none here)."""

    def _text(self, value: str) -> str:
        """Text as the backend stores it (already cleaned with clean_text)."""
        return value

    def _dumps(self, value) -> str:
        return clean_text(json.dumps(value, ensure_ascii=False), limit=None)  # cutting JSON would break it

    def _id(self, kind: str, value) -> str:
        return self._text(_check_id(kind, value))

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---------------------------------------------------------------- sessions
    def session(self, session_id: str) -> SessionState:
        """The session's saved state; a new id gets an empty open session (saved at once)."""
        session_id = self._id("session id", session_id)
        with self._transaction() as conn:
            row = self._lapse_identity(conn, self._ensure_session(conn, session_id))
        return _session(row)

    def find_session(self, session_id: str) -> SessionState | None:
        """The session's saved state, or None if there is no such session (nothing is created)."""
        rows = self._rows("SELECT * FROM sessions WHERE session_id = ?", (self._id("session id", session_id),))
        return _session(rows[0]) if rows else None

    def _ensure_session(self, conn, session_id: str):
        """The session's row, created if new, locked until the transaction ends. Two workers creating it at once
        both get the one row: the second INSERT waits for the first and then does nothing."""
        select = f"SELECT * FROM sessions WHERE session_id = ?{self._for_update}"
        row = conn.execute(select, (session_id,)).fetchone()
        if row is None:
            now = self._clock()
            conn.execute("INSERT INTO sessions (session_id, created, updated) VALUES (?, ?, ?) "
                         "ON CONFLICT (session_id) DO NOTHING", (session_id, now, now))
            row = conn.execute(select, (session_id,)).fetchone()
        return row

    def _lapse_identity(self, conn, row):
        """The session, without its customer and task if it has been idle longer than identity_ttl_s."""
        if self.identity_ttl_s is None or self._clock() - row["updated"] <= self.identity_ttl_s:
            return row
        state = json.loads(row["state"])
        if row["user_id"] is None and not state.get("user_id") and not state.get("task"):
            return row
        kept = {k: state[k] for k in KEPT_AFTER_IDENTITY_LAPSES if k in state}
        conn.execute("UPDATE sessions SET user_id = NULL, state = ?, updated = ? WHERE session_id = ?",
                     (self._dumps(kept), self._clock(), row["session_id"]))
        return conn.execute("SELECT * FROM sessions WHERE session_id = ?", (row["session_id"],)).fetchone()

    def save_session(self, session_id: str, *, user_id: str | None, state: dict, personalise: bool,
                     status: str | None = None) -> None:
        """Save who the customer is and the dialogue's state (must be JSON); `status` None keeps the current one."""
        session_id = self._id("session id", session_id)
        user_id = None if user_id is None else self._id("user id", user_id)
        _check_session_values(status, state)
        state_json = self._dumps(state)  # a TypeError here is the caller's bug: state must be plain JSON
        with self._transaction() as conn:
            self._update_session(conn, self._ensure_session(conn, session_id), user_id, state_json, personalise,
                                 status)

    def _update_session(self, conn, row, user_id: str | None, state_json: str, personalise: bool,
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
        user_id = self._id("user id", user_id)
        return [r[0] for r in self._rows("SELECT session_id FROM sessions WHERE user_id = ? "
                                         f"ORDER BY updated DESC, {self._creation_order} DESC", (user_id,))]

    # ---------------------------------------------------------------- turns
    def add_turn(self, session_id: str, role: str, text: str, reply: dict | None = None) -> int:
        """Append a turn (creating the session if new); returns its turn id."""
        session_id = self._id("session id", session_id)
        if role not in ROLES:
            raise ValueError(f"turn role must be one of {ROLES}, not {role!r}")
        reply_json = None if reply is None else self._dumps(reply)
        with self._transaction() as conn:
            self._ensure_session(conn, session_id)
            return self._insert_turn(conn, session_id, role, text, reply_json)

    def _insert_turn(self, conn, session_id: str, role: str, text, reply_json: str | None) -> int:
        now, text = self._clock(), self._text(clean_text("" if text is None else text))
        turn_id = self._insert_id(conn, "INSERT INTO turns (session_id, role, text, reply, created) "
                                  "VALUES (?, ?, ?, ?, ?)", (session_id, role, text, reply_json, now), "turn_id")
        conn.execute("UPDATE sessions SET updated = ? WHERE session_id = ?", (now, session_id))
        return turn_id

    def record_exchange(self, session_id: str, message: str, reply_text: str, reply: dict, *,
                        user_id: str | None, state: dict, personalise: bool, status: str | None = None,
                        ticket: tuple[str, str] | None = None) -> int:
        """One exchange in ONE transaction: the customer's turn, a hand-over ticket (`(reason, summary)`, which
        puts the session in 'handover'), the session's state and the assistant's turn; returns the assistant
        turn's id. If any part cannot be written, none is."""
        session_id = self._id("session id", session_id)
        user_id = None if user_id is None else self._id("user id", user_id)
        _check_session_values(status, state)
        state_json, reply_json = self._dumps(state), self._dumps(reply)
        with self._transaction() as conn:
            row = self._ensure_session(conn, session_id)
            self._insert_turn(conn, session_id, "user", message, None)
            if ticket is not None:
                self._insert_ticket(conn, row, *ticket)
                status = "handover"
            self._update_session(conn, row, user_id, state_json, personalise, status)
            return self._insert_turn(conn, session_id, "assistant", reply_text, reply_json)

    def check_writable(self, session_id: str) -> None:
        """Raise what a write would raise if an exchange of this session could not be recorded now; nothing is
        kept. After the backend's own checks (`_check_room`), a probe in a rolled-back transaction locks the
        session's row and writes a turn (`_probe_text`): it fails where the exchange's write would."""
        session_id = self._id("session id", session_id)
        self._check_room()
        text_sql, text_args = self._probe_text
        try:
            with self._transaction() as conn:
                self._ensure_session(conn, session_id)
                conn.execute(f"INSERT INTO turns (session_id, role, text, created) VALUES (?, 'system', "
                             f"{text_sql}, 0)", (session_id, *text_args))
                raise _ProbeDone
        except _ProbeDone:
            pass

    def history(self, session_id: str, limit: int | None = None) -> list[Turn]:
        """The session's turns, oldest first; `limit` keeps the most recent ones."""
        session_id = self._id("session id", session_id)
        if limit is not None and limit <= 0:
            return []
        sql, args = "SELECT * FROM turns WHERE session_id = ? ORDER BY turn_id DESC", (session_id,)
        if limit is not None:
            sql, args = sql + " LIMIT ?", (session_id, int(limit))
        return [_turn(r) for r in reversed(self._rows(sql, args))]

    def set_feedback(self, session_id: str, turn_id: int, helpful: bool) -> None:
        """Thumbs up (True) or down (False) on an assistant or staff turn of that session."""
        session_id = self._id("session id", session_id)
        if not _is_row_id(turn_id):
            raise TurnNotFound(session_id, turn_id)
        with self._transaction() as conn:
            cur = conn.execute("UPDATE turns SET helpful = ? WHERE session_id = ? AND turn_id = ? "
                               "AND role IN ('assistant', 'staff')", (int(bool(helpful)), session_id, turn_id))
            if cur.rowcount != 1:
                raise TurnNotFound(session_id, turn_id)

    # ---------------------------------------------------------------- tickets
    def open_ticket(self, session_id: str, reason: str, summary: str) -> Ticket:
        """A hand-over ticket for a person; the session waits in status 'handover'."""
        session_id = self._id("session id", session_id)
        with self._transaction() as conn:
            ticket = self._insert_ticket(conn, self._ensure_session(conn, session_id), reason, summary)
        return _ticket(ticket)

    def _insert_ticket(self, conn, row, reason: str, summary: str):
        now = self._clock()
        reason, summary = self._text(clean_text(reason)), self._text(clean_text(summary))
        ticket_id = self._insert_id(conn, "INSERT INTO tickets (session_id, user_id, reason, summary, created) "
                                    "VALUES (?, ?, ?, ?, ?)", (row["session_id"], row["user_id"], reason, summary,
                                                               now), "ticket_id")
        conn.execute("UPDATE sessions SET status = 'handover', updated = ? WHERE session_id = ?",
                     (now, row["session_id"]))
        return conn.execute("SELECT * FROM tickets WHERE ticket_id = ?", (ticket_id,)).fetchone()

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
        if not _is_row_id(ticket_id):
            raise TicketNotFound(ticket_id)
        with self._transaction() as conn:
            row = conn.execute("SELECT session_id FROM tickets WHERE ticket_id = ?", (ticket_id,)).fetchone()
            if row is None:
                raise TicketNotFound(ticket_id)
            if self._for_update:  # the session's row, so no ticket is opened in it while this one closes
                conn.execute(f"SELECT 1 FROM sessions WHERE session_id = ?{self._for_update}", (row["session_id"],))
            conn.execute("UPDATE tickets SET status = 'closed' WHERE ticket_id = ?", (ticket_id,))
            conn.execute("UPDATE sessions SET status = 'open', updated = ? WHERE session_id = ? "
                         "AND status = 'handover' AND NOT EXISTS (SELECT 1 FROM tickets "
                         "WHERE session_id = sessions.session_id AND status = 'open')",
                         (self._clock(), row["session_id"]))

    def mark_handled(self, session_id: str, staff: str) -> None:
        """Record that a staff member answered in this conversation (the status is left as it is)."""
        session_id = self._id("session id", session_id)
        with self._transaction() as conn:
            self._ensure_session(conn, session_id)
            conn.execute("UPDATE sessions SET handled_by = ?, updated = ? WHERE session_id = ?",
                         (self._text(clean_text(staff, MAX_ID_CHARS)), self._clock(), session_id))

    # ---------------------------------------------------------------- overviews
    def conversations(self, status: str | None = None) -> list[ConversationSummary]:
        """Sessions with at least one turn, most recently active first (read in one consistent view)."""
        where, args = ("WHERE s.status = ?", (status,)) if status else ("", ())
        with self._snapshot() as conn:
            rows = conn.execute(
                "SELECT g.*, (SELECT text FROM turns WHERE turn_id = g.last_turn) AS last_text FROM ("
                "SELECT s.session_id, s.user_id, s.status, s.updated, COUNT(t.turn_id) AS n, "
                f"MAX(t.turn_id) AS last_turn FROM sessions s JOIN turns t USING (session_id) {where} "
                "GROUP BY s.session_id) g ORDER BY g.updated DESC, g.last_turn DESC", args).fetchall()
            intents: dict[str, list] = {}  # each session's reply intents, in turn order
            for r in conn.execute(f"SELECT t.session_id, {self._json_text('t.reply', 'intent')} "
                                  "FROM turns t JOIN sessions s USING (session_id) WHERE t.role = 'assistant' "
                                  f"AND t.reply IS NOT NULL{' AND s.status = ?' if status else ''} "
                                  "ORDER BY t.turn_id", args).fetchall():
                intents.setdefault(r[0], []).append(r[1])
        return [ConversationSummary(r["session_id"], r["user_id"], r["status"], r["n"], r["last_text"],
                                    r["updated"], [i for i in dict.fromkeys(intents.get(r["session_id"], [])) if i])
                for r in rows]

    def insights(self) -> dict:
        """What the staff desk's insights page shows, computed from the saved turns, tickets and feedback."""
        replies = "FROM turns WHERE role = 'assistant' AND reply IS NOT NULL"
        with self._snapshot() as conn:  # one view for every figure
            one = lambda sql: conn.execute(sql).fetchone()  # noqa: E731
            conversations = one("SELECT COUNT(DISTINCT session_id) FROM turns")[0]
            handed_over = one("SELECT COUNT(DISTINCT t.session_id) FROM tickets t JOIN turns USING (session_id)")[0]
            up, down = one("SELECT COUNT(CASE WHEN helpful = 1 THEN 1 END), "
                           "COUNT(CASE WHEN helpful = 0 THEN 1 END) FROM turns")
            checked, repaired = one(f"SELECT COALESCE(SUM({self._json_number('reply', 'claims_checked')}), 0), "
                                    f"COALESCE(SUM({self._json_number('reply', 'claims_repaired')}), 0) {replies}")
            intents = Counter(r[0] for r in conn.execute(
                f"SELECT {self._json_text('reply', 'intent')} {replies} ORDER BY turn_id").fetchall() if r[0])
            open_tickets = one("SELECT COUNT(*) FROM tickets WHERE status = 'open'")[0]
            unanswered = _unanswered(conn)
        return {"conversations": conversations, "resolved_by_bot": conversations - handed_over,
                "handed_over": handed_over, "top_intents": intents.most_common(TOP_INTENTS),
                "unanswered": unanswered, "thumbs_up": up, "thumbs_down": down,
                "claims_checked": int(checked), "claims_repaired": int(repaired), "open_tickets": open_tickets}

    # ---------------------------------------------------------------- erasure
    def erase_user(self, user_id: str) -> dict[str, int]:
        """Delete every session, turn, ticket and piece of feedback of that customer, then scrub the old copies."""
        return self._erase(None, self._id("user id", user_id))

    def erase_session(self, session_id: str) -> dict[str, int]:
        """Delete one conversation (its turns, tickets and feedback), then scrub the old copies."""
        return self._erase([self._id("session id", session_id)], None)

    def _erase(self, session_ids: list[str] | None, user_id: str | None) -> dict[str, int]:
        counts = {"sessions": 0, "turns": 0, "tickets": 0, "feedback": 0}
        with self._transaction() as conn:
            if session_ids is None:  # the customer's sessions, locked so none gains a turn while this runs
                session_ids = [r[0] for r in conn.execute("SELECT session_id FROM sessions WHERE user_id = ?"
                                                          f"{self._for_update}", (user_id,)).fetchall()]
            if session_ids:
                among, args = self._in("session_id", session_ids)
                counts["turns"], counts["feedback"] = conn.execute(
                    f"SELECT COUNT(*), COUNT(helpful) FROM turns WHERE {among}", args).fetchone()
                conn.execute(f"DELETE FROM turns WHERE {among}", args)
                counts["tickets"] += conn.execute(f"DELETE FROM tickets WHERE {among}", args).rowcount
                counts["sessions"] = conn.execute(f"DELETE FROM sessions WHERE {among}", args).rowcount
            if user_id is not None:  # tickets of theirs filed in a session saved without their id
                counts["tickets"] += conn.execute("DELETE FROM tickets WHERE user_id = ?", (user_id,)).rowcount
        self._scrub()
        return counts


def _unanswered(conn) -> list[str]:
    """Customer messages whose reply missed (low confidence, unknown, out of scope), newest first."""
    rows = conn.execute(
        "SELECT a.reply, (SELECT u.text FROM turns u WHERE u.session_id = a.session_id AND u.role = 'user' "
        "AND u.turn_id < a.turn_id ORDER BY u.turn_id DESC LIMIT 1) AS question "
        "FROM turns a WHERE a.role = 'assistant' AND a.reply IS NOT NULL ORDER BY a.turn_id DESC").fetchall()
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

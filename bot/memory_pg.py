"""The assistant's memory on PostgreSQL: the same public interface as bot.memory.ConversationStore.

Chosen by $SHOPBOT_DATABASE_URL (`open_conversations`), so every worker on every host sees every conversation and
any worker can take any message. Each write is one transaction; the session's row is locked (SELECT ... FOR
UPDATE) while a turn, ticket or state is written, so two workers never interleave changes to one session. Reads
take any pooled connection and run concurrently. Erasure deletes the rows, then VACUUMs the tables so the dead
row versions are removed from the table files; what PostgreSQL still holds afterwards (WAL, backups) is in
docs/deploy.md. It stores what it is given, as bot/memory.py does; an exchange is recorded in one transaction
(`record_exchange`) after a rolled-back probe write (`check_writable`). Tests: tests/test_pg_memory.py,
tests/security/test_security_degraded.py.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Callable

from knowledge.storage import database_url, migrate, open_database

from .memory import (KEPT_AFTER_IDENTITY_LAPSES, LOW_CONFIDENCE, MAX_ID_CHARS, MAX_UNANSWERED, PERSON_INTENTS,
                     ROLES, STATUSES, TICKET_STATUSES, TOP_INTENTS, UNANSWERED_INTENTS, ConversationStore,
                     ConversationSummary, SessionState, Ticket, TicketNotFound, Turn, TurnNotFound, _check_id,
                     _check_session_values, _number, clean_text)

COMPONENT = "conversations"  # its migrations: bot/migrations/postgres/
TABLES = ("turns", "tickets", "sessions")


def _pg(text: str) -> str:
    """PostgreSQL text holds no NUL character: it becomes U+FFFD (SQLite keeps it; nothing else differs)."""
    return text.replace("\x00", "\ufffd")


def _dumps(value) -> str:
    # json escapes NUL as \u0000, which PostgreSQL's json operators refuse: store U+FFFD instead.
    return clean_text(json.dumps(value, ensure_ascii=False), limit=None).replace("\\u0000", "\\ufffd")


def _id(kind: str, value) -> str:
    return _pg(_check_id(kind, value))


class _ProbeDone(Exception):
    """Ends check_writable's probe transaction with a rollback."""


class PgConversationStore:
    """One shop's conversation memory in a PostgreSQL database (or schema) shared by all workers."""

    def __init__(self, url: str, *, clock: Callable[[], float] = time.time, identity_ttl_s: float | None = None,
                 full_vacuum: bool = False):
        self.db = open_database(url)
        self.full_vacuum = full_vacuum  # after an erasure: VACUUM FULL (exclusive lock, every worker waits)
        self.path = None  # no file: the conversations live on the database server (self.db.where)
        self.identity_ttl_s = identity_ttl_s  # None: identification lasts as long as the session
        self._clock = clock
        try:
            migrate(self.db, COMPONENT, "bot")
        except BaseException:
            self.db.close()
            raise

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "PgConversationStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _rows(self, sql: str, args=()) -> list:
        return self.db.rows(sql, args)

    # ---------------------------------------------------------------- sessions
    def session(self, session_id: str) -> SessionState:
        """The session's saved state; a new id gets an empty open session (saved at once)."""
        session_id = _id("session id", session_id)
        with self.db.transaction() as conn:
            row = self._lapse_identity(conn, self._ensure_session(conn, session_id))
        return _session(row)

    def find_session(self, session_id: str) -> SessionState | None:
        """The session's saved state, or None if there is no such session (nothing is created)."""
        rows = self._rows("SELECT * FROM sessions WHERE session_id = ?", (_id("session id", session_id),))
        return _session(rows[0]) if rows else None

    def _ensure_session(self, conn, session_id: str):
        """The session's row, created if new, locked until the transaction ends."""
        now = self._clock()
        conn.execute("INSERT INTO sessions (session_id, created, updated) VALUES (?, ?, ?) "
                     "ON CONFLICT (session_id) DO NOTHING", (session_id, now, now))
        return conn.execute("SELECT * FROM sessions WHERE session_id = ? FOR UPDATE", (session_id,)).fetchone()

    def _lapse_identity(self, conn, row):
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
        session_id = _id("session id", session_id)
        user_id = None if user_id is None else _id("user id", user_id)
        _check_session_values(status, state)
        state_json = _dumps(state)
        with self.db.transaction() as conn:
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
        user_id = _id("user id", user_id)
        return [r[0] for r in self._rows("SELECT session_id FROM sessions WHERE user_id = ? "
                                         "ORDER BY updated DESC, seq DESC", (user_id,))]

    # ---------------------------------------------------------------- turns
    def add_turn(self, session_id: str, role: str, text: str, reply: dict | None = None) -> int:
        """Append a turn (creating the session if new); returns its turn id."""
        session_id = _id("session id", session_id)
        if role not in ROLES:
            raise ValueError(f"turn role must be one of {ROLES}, not {role!r}")
        reply_json = None if reply is None else _dumps(reply)
        with self.db.transaction() as conn:
            self._ensure_session(conn, session_id)
            return self._insert_turn(conn, session_id, role, text, reply_json)

    def _insert_turn(self, conn, session_id: str, role: str, text, reply_json: str | None) -> int:
        now = self._clock()
        row = conn.execute("INSERT INTO turns (session_id, role, text, reply, created) VALUES (?, ?, ?, ?, ?) "
                           "RETURNING turn_id", (session_id, role, _pg(clean_text("" if text is None else text)),
                                                 reply_json, now)).fetchone()
        conn.execute("UPDATE sessions SET updated = ? WHERE session_id = ?", (now, session_id))
        return row[0]

    def record_exchange(self, session_id: str, message: str, reply_text: str, reply: dict, *,
                        user_id: str | None, state: dict, personalise: bool, status: str | None = None,
                        ticket: tuple[str, str] | None = None) -> int:
        """One exchange in ONE transaction: the customer's turn, a hand-over ticket (`(reason, summary)`, which
        puts the session in 'handover'), the session's state and the assistant's turn; returns the assistant
        turn's id. If any part cannot be written, none is."""
        session_id = _id("session id", session_id)
        user_id = None if user_id is None else _id("user id", user_id)
        _check_session_values(status, state)
        state_json, reply_json = _dumps(state), _dumps(reply)
        with self.db.transaction() as conn:
            row = self._ensure_session(conn, session_id)
            self._insert_turn(conn, session_id, "user", message, None)
            if ticket is not None:
                self._insert_ticket(conn, row, *ticket)
                status = "handover"
            self._update_session(conn, row, user_id, state_json, personalise, status)
            return self._insert_turn(conn, session_id, "assistant", reply_text, reply_json)

    def check_writable(self, session_id: str) -> None:
        """Raise what a write would raise if an exchange of this session could not be recorded now; nothing is
        kept. A probe in a rolled-back transaction locks the session's row and writes a turn: it fails on a
        read-only server or transaction (a standby, default_transaction_read_only), a missing privilege, and a
        disk too full to extend the table. The server buffers writes, so a disk that fills up is not always
        seen before the commit: a turn as large as an exchange (EXCHANGE_RESERVE_BYTES) would not change that,
        and cost far more time every turn, so the probe row is small; record_exchange's one transaction covers
        the rest."""
        session_id = _id("session id", session_id)
        try:
            with self.db.transaction() as conn:
                self._ensure_session(conn, session_id)
                conn.execute("INSERT INTO turns (session_id, role, text, created) VALUES (?, 'system', '', 0)",
                             (session_id,))
                raise _ProbeDone
        except _ProbeDone:
            pass

    def history(self, session_id: str, limit: int | None = None) -> list[Turn]:
        """The session's turns, oldest first; `limit` keeps the most recent ones."""
        session_id = _id("session id", session_id)
        if limit is not None and limit <= 0:
            return []
        rows = self._rows("SELECT * FROM turns WHERE session_id = ? ORDER BY turn_id DESC LIMIT ?",
                          (session_id, None if limit is None else int(limit)))
        return [_turn(r) for r in reversed(rows)]

    def set_feedback(self, session_id: str, turn_id: int, helpful: bool) -> None:
        """Thumbs up (True) or down (False) on an assistant or staff turn of that session."""
        session_id = _id("session id", session_id)
        if not isinstance(turn_id, int) or isinstance(turn_id, bool) or not 0 < turn_id < 2 ** 63:
            raise TurnNotFound(session_id, turn_id)
        with self.db.transaction() as conn:
            cur = conn.execute("UPDATE turns SET helpful = ? WHERE session_id = ? AND turn_id = ? "
                               "AND role IN ('assistant', 'staff')", (int(bool(helpful)), session_id, turn_id))
            if cur.rowcount != 1:
                raise TurnNotFound(session_id, turn_id)

    # ---------------------------------------------------------------- tickets
    def open_ticket(self, session_id: str, reason: str, summary: str) -> Ticket:
        """A hand-over ticket for a person; the session waits in status 'handover'."""
        session_id = _id("session id", session_id)
        with self.db.transaction() as conn:
            ticket = self._insert_ticket(conn, self._ensure_session(conn, session_id), reason, summary)
        return _ticket(ticket)

    def _insert_ticket(self, conn, row, reason: str, summary: str):
        now = self._clock()
        ticket = conn.execute("INSERT INTO tickets (session_id, user_id, reason, summary, created) "
                              "VALUES (?, ?, ?, ?, ?) RETURNING *",
                              (row["session_id"], row["user_id"], _pg(clean_text(reason)), _pg(clean_text(summary)),
                               now)).fetchone()
        conn.execute("UPDATE sessions SET status = 'handover', updated = ? WHERE session_id = ?",
                     (now, row["session_id"]))
        return ticket

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
        if not isinstance(ticket_id, int) or isinstance(ticket_id, bool) or not 0 < ticket_id < 2 ** 63:
            raise TicketNotFound(ticket_id)
        with self.db.transaction() as conn:
            row = conn.execute("SELECT session_id FROM tickets WHERE ticket_id = ?", (ticket_id,)).fetchone()
            if row is None:
                raise TicketNotFound(ticket_id)
            conn.execute("SELECT 1 FROM sessions WHERE session_id = ? FOR UPDATE", (row["session_id"],))
            conn.execute("UPDATE tickets SET status = 'closed' WHERE ticket_id = ?", (ticket_id,))
            conn.execute("UPDATE sessions SET status = 'open', updated = ? WHERE session_id = ? "
                         "AND status = 'handover' AND NOT EXISTS (SELECT 1 FROM tickets "
                         "WHERE session_id = sessions.session_id AND status = 'open')",
                         (self._clock(), row["session_id"]))

    def mark_handled(self, session_id: str, staff: str) -> None:
        """Record that a staff member answered in this conversation (the status is left as it is)."""
        session_id = _id("session id", session_id)
        with self.db.transaction() as conn:
            self._ensure_session(conn, session_id)
            conn.execute("UPDATE sessions SET handled_by = ?, updated = ? WHERE session_id = ?",
                         (_pg(clean_text(staff, MAX_ID_CHARS)), self._clock(), session_id))

    # ---------------------------------------------------------------- overviews
    def conversations(self, status: str | None = None) -> list[ConversationSummary]:
        """Sessions with at least one turn, most recently active first (one consistent snapshot)."""
        where, args = ("WHERE s.status = ?", (status,)) if status else ("", ())
        rows = self._rows(
            "SELECT s.session_id, s.user_id, s.status, s.updated, COUNT(t.turn_id) AS n, "
            "(ARRAY_AGG(t.text ORDER BY t.turn_id DESC))[1] AS last_text, "
            "ARRAY_AGG(t.reply::json ->> 'intent' ORDER BY t.turn_id) "
            "FILTER (WHERE t.role = 'assistant' AND t.reply IS NOT NULL) AS intents "
            f"FROM sessions s JOIN turns t USING (session_id) {where} "
            "GROUP BY s.session_id ORDER BY s.updated DESC, MAX(t.turn_id) DESC", args)
        return [ConversationSummary(r["session_id"], r["user_id"], r["status"], r["n"], r["last_text"],
                                    r["updated"], [i for i in dict.fromkeys(r["intents"] or []) if i])
                for r in rows]

    def insights(self) -> dict:
        """What the staff desk's insights page shows, computed from the saved turns, tickets and feedback."""
        number = ("CASE WHEN json_typeof(reply::json -> '{0}') = 'number' "
                  "THEN (reply::json ->> '{0}')::double precision ELSE 0 END")
        with self.db.transaction() as conn:  # one snapshot for every figure
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            one = lambda sql: conn.execute(sql).fetchone()  # noqa: E731
            conversations = one("SELECT COUNT(DISTINCT session_id) FROM turns")[0]
            handed_over = one("SELECT COUNT(DISTINCT t.session_id) FROM tickets t JOIN turns USING (session_id)")[0]
            up, down = one("SELECT COUNT(*) FILTER (WHERE helpful = 1), COUNT(*) FILTER (WHERE helpful = 0) "
                           "FROM turns")
            checked, repaired = one(f"SELECT COALESCE(SUM({number.format('claims_checked')}), 0), "
                                    f"COALESCE(SUM({number.format('claims_repaired')}), 0) "
                                    "FROM turns WHERE role = 'assistant' AND reply IS NOT NULL")
            intents = Counter(r[0] for r in conn.execute(
                "SELECT reply::json ->> 'intent' FROM turns WHERE role = 'assistant' AND reply IS NOT NULL "
                "ORDER BY turn_id").fetchall() if r[0])
            open_tickets = one("SELECT COUNT(*) FROM tickets WHERE status = 'open'")[0]
            unanswered = _unanswered(conn)
        return {"conversations": conversations, "resolved_by_bot": conversations - handed_over,
                "handed_over": handed_over, "top_intents": intents.most_common(TOP_INTENTS),
                "unanswered": unanswered, "thumbs_up": up, "thumbs_down": down,
                "claims_checked": int(checked), "claims_repaired": int(repaired), "open_tickets": open_tickets}

    # ---------------------------------------------------------------- erasure
    def erase_user(self, user_id: str) -> dict[str, int]:
        """Delete every session, turn, ticket and piece of feedback of that customer, then VACUUM the tables."""
        user_id = _id("user id", user_id)
        return self._erase(None, user_id)

    def erase_session(self, session_id: str) -> dict[str, int]:
        """Delete one conversation (its turns, tickets and feedback), then VACUUM the tables."""
        return self._erase([_id("session id", session_id)], None)

    def _erase(self, session_ids: list[str] | None, user_id: str | None) -> dict[str, int]:
        counts = {"sessions": 0, "turns": 0, "tickets": 0, "feedback": 0}
        with self.db.transaction() as conn:
            if session_ids is None:  # the customer's sessions, locked so none gains a turn while this runs
                session_ids = [r[0] for r in conn.execute("SELECT session_id FROM sessions WHERE user_id = ? "
                                                          "FOR UPDATE", (user_id,)).fetchall()]
            if session_ids:
                counts["turns"], counts["feedback"] = conn.execute(
                    "SELECT COUNT(*), COUNT(helpful) FROM turns WHERE session_id = ANY(?)", (session_ids,)).fetchone()
                conn.execute("DELETE FROM turns WHERE session_id = ANY(?)", (session_ids,))
                counts["tickets"] += conn.execute("DELETE FROM tickets WHERE session_id = ANY(?)",
                                                  (session_ids,)).rowcount
                counts["sessions"] = conn.execute("DELETE FROM sessions WHERE session_id = ANY(?)",
                                                  (session_ids,)).rowcount
            if user_id is not None:  # tickets of theirs filed in a session saved without their id
                counts["tickets"] += conn.execute("DELETE FROM tickets WHERE user_id = ?", (user_id,)).rowcount
        self.db.vacuum(*TABLES, full=self.full_vacuum)
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


def open_conversations(data_dir: str | Path, **kwargs):
    """The conversations where the settings put them: $SHOPBOT_DATABASE_URL, else `data_dir/conversations.db`."""
    url = database_url()
    if url:
        return PgConversationStore(url, **kwargs)
    return ConversationStore(Path(data_dir) / "conversations.db", **kwargs)


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

"""The assistant's memory on PostgreSQL: the same public interface as bot.memory.ConversationStore.

Chosen by $SHOPBOT_DATABASE_URL (`open_conversations`), so every worker on every host sees every conversation and
any worker can take any message. Each write is one transaction; the session's row is locked (SELECT ... FOR
UPDATE) while a turn, ticket or state is written, so two workers never interleave changes to one session. Reads
take any pooled connection and run concurrently. Erasure deletes the rows, then VACUUMs the tables so the dead
row versions are removed from the table files; what PostgreSQL still holds afterwards (WAL, backups) is in
docs/deploy.md. The queries and rules are bot/memory_base.py's, shared with SQLite: an exchange is recorded in one
transaction (`record_exchange`) after a rolled-back probe write (`check_writable`); this module is the
connection pool, its transactions and the dialect. Tests: tests/test_pg_memory.py,
tests/security/test_security_degraded.py.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Sequence

from knowledge.storage import database_url, migrate, open_database

from .memory import ConversationStore
from .memory_base import BaseConversationStore

COMPONENT = "conversations"  # its migrations: bot/migrations/postgres/
TABLES = ("turns", "tickets", "sessions")


def _pg(text: str) -> str:
    """PostgreSQL text holds no NUL character: it becomes U+FFFD (SQLite keeps it; nothing else differs)."""
    return text.replace("\x00", "\ufffd")


class PgConversationStore(BaseConversationStore):
    """One shop's conversation memory in a PostgreSQL database (or schema) shared by all workers."""

    _for_update = " FOR UPDATE"
    _creation_order = "seq"  # an identity column: SQLite's rowid has no PostgreSQL counterpart
    # A small probe: the server buffers writes, so a disk that fills up is not always seen before the commit, and a
    # turn as large as an exchange (bot.memory.EXCHANGE_RESERVE_BYTES) would not change that but cost far more
    # time every turn. It still fails on a read-only server or transaction (a standby,
    # default_transaction_read_only), a missing privilege and a disk too full to extend the table;
    # record_exchange's one transaction covers the rest.
    _probe_text = ("''", ())

    def __init__(self, url: str, *, clock: Callable[[], float] = time.time, identity_ttl_s: float | None = None,
                 full_vacuum: bool = False):
        super().__init__(clock=clock, identity_ttl_s=identity_ttl_s)
        self.db = open_database(url)
        self.full_vacuum = full_vacuum  # after an erasure: VACUUM FULL (exclusive lock, every worker waits)
        self.path = None  # no file: the conversations live on the database server (self.db.where)
        try:
            migrate(self.db, COMPONENT, "bot")
        except BaseException:
            self.db.close()
            raise

    def close(self) -> None:
        self.db.close()

    # ---------------------------------------------------------------- the hooks of bot.memory_base
    def _transaction(self):
        return self.db.transaction()

    @contextmanager
    def _snapshot(self):
        with self.db.transaction() as conn:  # every read sees the database as it was at the first one
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield conn

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list:
        return self.db.rows(sql, args)

    def _insert_id(self, conn, sql: str, args: Sequence[Any], key: str) -> int:
        return conn.execute(f"{sql} RETURNING {key}", args).fetchone()[0]

    def _in(self, column: str, values: list) -> tuple[str, Sequence[Any]]:
        return f"{column} = ANY(?)", (list(values),)

    def _json_text(self, column: str, key: str) -> str:
        return f"{column}::json ->> '{key}'"

    def _json_number(self, column: str, key: str) -> str:
        """The key's value where it is a JSON number, else 0 (a cast of any other text would fail the query)."""
        return (f"CASE WHEN json_typeof({column}::json -> '{key}') = 'number' "
                f"THEN ({column}::json ->> '{key}')::double precision ELSE 0 END")

    def _text(self, value: str) -> str:
        return _pg(value)

    def _dumps(self, value) -> str:
        # json escapes NUL as \u0000, which PostgreSQL's json operators refuse: store U+FFFD instead.
        return super()._dumps(value).replace("\\u0000", "\\ufffd")

    def _scrub(self) -> None:
        """VACUUM the tables, so the deleted rows' dead versions leave the table files."""
        self.db.vacuum(*TABLES, full=self.full_vacuum)


def open_conversations(data_dir: str | Path, **kwargs):
    """The conversations where the settings put them: $SHOPBOT_DATABASE_URL, else `data_dir/conversations.db`."""
    url = database_url()
    if url:
        return PgConversationStore(url, **kwargs)
    return ConversationStore(Path(data_dir) / "conversations.db", **kwargs)

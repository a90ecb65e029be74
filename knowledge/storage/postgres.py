"""The server backend: PostgreSQL through psycopg 3 and a connection pool, shared by workers on many machines.

`PostgresDatabase(url)` opens a small pool (connections made on demand, up to `PostgresConfig.pool_max`);
reads take any free connection and run concurrently; a transaction holds one connection from BEGIN to COMMIT.
Rows a transaction will change are locked with SELECT ... FOR UPDATE, so two workers confirming the same action
take turns and the second sees the first one's result. A schema other than `public` is chosen with libpq's
standard `options=-csearch_path=NAME` in the URL and is created on first use.
"""
from __future__ import annotations

import re
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Sequence

from .base import Row
from .errors import BadDatabaseUrl, DatabaseUnavailable

_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_OPEN: "weakref.WeakSet[PostgresDatabase]" = weakref.WeakSet()


def open_databases() -> list["PostgresDatabase"]:
    """The databases this process has opened and not closed (a test run closes what a test left open)."""
    return list(_OPEN)


@dataclass(frozen=True)
class PostgresConfig:
    pool_min: int = 1  # connections kept open while idle
    pool_max: int = 8  # per process; a worker rarely needs more than its threads doing I/O at once
    connect_timeout_s: float = 10.0  # how long opening waits for the server before saying it is unavailable


def _row_factory(cursor):
    names = {d.name: i for i, d in enumerate(cursor.description or ())}
    return lambda values: Row(values, names)


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def _translate(sql: str) -> str:
    """`?` placeholders to psycopg's `%s` (literal `%` doubled). Our SQL has no `?` inside string literals."""
    return sql.replace("%", "%%").replace("?", "%s")


def search_path_schema(url: str) -> str | None:
    """The schema named by `options=-csearch_path=NAME` in the URL, if any."""
    import psycopg

    try:
        options = psycopg.conninfo.conninfo_to_dict(url).get("options") or ""
    except psycopg.ProgrammingError as exc:
        raise BadDatabaseUrl(redact(url), str(exc)) from None
    match = re.search(r"search_path\s*=\s*([^\s,]+)", str(options))
    if not match:
        return None
    name = match.group(1).strip('"')
    if not _SCHEMA_NAME.match(name):
        raise BadDatabaseUrl(redact(url), f"schema name {name!r} must be letters, digits and _")
    return name


class _Tx:
    def __init__(self, conn):
        self._conn = conn

    def execute(self, sql: str, args: Sequence[Any] = ()):
        return self._conn.execute(_translate(sql), tuple(args))

    def executemany(self, sql: str, rows) -> None:
        with self._conn.cursor() as cur:
            cur.executemany(_translate(sql), rows)  # pipelined: one round trip for the whole batch

    def insert_rows(self, table: str, rows) -> None:
        """Many rows into `table` (all its columns, in order) with COPY: one stream, no statement per row."""
        with self._conn.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def script(self, sql: str) -> None:
        self._conn.execute(sql)  # no parameters: the simple protocol runs every statement in it


class PostgresDatabase:
    dialect = "postgres"
    for_update = " FOR UPDATE"

    def __init__(self, url: str, config: PostgresConfig | None = None):
        from psycopg_pool import ConnectionPool

        if not url.startswith(("postgresql://", "postgres://")):
            raise BadDatabaseUrl(redact(url), "must start with postgresql://")
        self.url, self.config = url, config or PostgresConfig()
        self.where = redact(url)
        self.schema = search_path_schema(url)
        self._pool = ConnectionPool(url, min_size=self.config.pool_min, max_size=self.config.pool_max,
                                    kwargs={"autocommit": True, "row_factory": _row_factory},
                                    open=False, name="shopbot")
        try:
            self._pool.open(wait=True, timeout=self.config.connect_timeout_s)
        except Exception as exc:  # PoolTimeout carries no reason; try once directly to say why
            self._pool.close()
            raise DatabaseUnavailable(self.where, _why(url, exc)) from None
        if self.schema:  # under a lock: two workers' CREATE SCHEMA IF NOT EXISTS at once can still collide
            with self.transaction() as conn:
                self.lock(conn, "create schema")
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
        _OPEN.add(self)

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        with self._pool.connection() as conn:
            return conn.execute(_translate(sql), tuple(args)).fetchall()

    @contextmanager
    def transaction(self):
        """BEGIN ... COMMIT on one pooled connection, or ROLLBACK on any exception."""
        with self._pool.connection() as conn:
            with conn.transaction():
                yield _Tx(conn)

    def lock(self, conn, name: str) -> None:
        """Serialise transactions of the same name across every worker until this one ends."""
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (f"shopbot:{self.schema or ''}:{name}",))

    def run_script(self, sql: str) -> None:
        with self.transaction() as conn:
            conn.script(sql)

    def json_text(self, column: str, key: str) -> str:
        return f"({column}::jsonb ->> '{key}')"

    def vacuum(self, *tables: str, full: bool = False) -> None:
        """VACUUM the tables (and their TOAST tables), outside a transaction as PostgreSQL requires.

        Plain VACUUM prunes dead row versions from the pages without blocking other workers; FULL rewrites each
        table into new files under an exclusive lock (every worker waits), leaving no dead version behind.
        """
        with self._pool.connection() as conn:
            for table in tables:
                conn.execute(f"VACUUM {'(FULL) ' if full else ''}{table}")

    def close(self) -> None:
        _OPEN.discard(self)
        self._pool.close()


def _why(url: str, exc: Exception) -> str:
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error as direct:
        return str(direct).strip().splitlines()[0]
    return f"{type(exc).__name__}: {exc}"

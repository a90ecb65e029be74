"""The storage seam: what the shop store and the conversation store need from a database, and nothing more.

A `Database` runs SQL written once with `?` placeholders and returns `Row`s that read by name or position.
`rows()` reads outside any transaction (concurrently, where the backend allows); `transaction()` yields a
connection whose `execute` runs inside one all-or-nothing transaction. Dialect differences that SQL text cannot
hide (row locks, JSON fields, identity columns) are small attributes here, not branches in the callers.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol, Sequence


class Row(tuple):
    """One result row: `row[0]` or `row["name"]`, like sqlite3.Row, for both backends."""

    def __new__(cls, values: Sequence[Any], names: dict[str, int]):
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key):
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Row | None: ...

    def fetchall(self) -> list[Row]: ...


class Connection(Protocol):
    def execute(self, sql: str, args: Sequence[Any] = ()) -> Cursor: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def insert_rows(self, table: str, rows: Sequence[Sequence[Any]]) -> None: ...  # bulk load, all columns

    def script(self, sql: str) -> None: ...  # several statements without parameters


class Database(Protocol):
    dialect: str  # "sqlite" | "postgres"
    for_update: str  # appended to a SELECT inside a transaction to lock its rows ("" where writes serialise anyway)
    where: str  # where the data lives, for messages (a file path, or the URL without its password)

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[Row]: ...

    def lock(self, conn: Connection, name: str) -> None: ...  # serialise transactions of this name

    def transaction(self) -> AbstractContextManager[Connection]: ...

    def run_script(self, sql: str) -> None: ...  # several statements, in one transaction

    def json_text(self, column: str, key: str) -> str: ...  # SQL for the text of a JSON column's top-level key

    def close(self) -> None: ...

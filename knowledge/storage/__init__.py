"""Where the shop's data and conversations live: an SQLite file (default) or PostgreSQL (SHOPBOT_DATABASE_URL).

`database_url()` reads the setting; `open_database(url_or_path)` opens the backend it names. The stores above
(knowledge.store.Store, bot.memory / bot.memory_pg) write SQL once with `?` placeholders against the
`Database` protocol in base.py; `migrate()` keeps each component's schema at the version the code expects.
"""
from __future__ import annotations

import os
from pathlib import Path

from .base import Database, Row
from .errors import BadDatabaseUrl, DatabaseUnavailable, SchemaMismatch, StorageError
from .migrate import migrate

ENV = "SHOPBOT_DATABASE_URL"

__all__ = ["Database", "Row", "ENV", "database_url", "open_database", "migrate", "StorageError",
           "DatabaseUnavailable", "SchemaMismatch", "BadDatabaseUrl"]


def database_url(env: dict | None = None) -> str | None:
    """$SHOPBOT_DATABASE_URL (a postgresql:// URL), or None for the embedded SQLite files in the data directory."""
    value = ((os.environ if env is None else env).get(ENV) or "").strip()
    if not value:
        return None
    if not value.startswith(("postgresql://", "postgres://")):
        raise BadDatabaseUrl(value, "only postgresql:// URLs are supported (unset it for the SQLite default)")
    return value


def open_database(target: str | Path) -> Database:
    """A postgresql:// URL opens PostgreSQL; anything else is an SQLite file path (created if absent)."""
    if isinstance(target, str) and target.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresDatabase
        return PostgresDatabase(target)
    from .sqlite import SqliteDatabase
    return SqliteDatabase(Path(target))

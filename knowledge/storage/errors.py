"""Errors of the storage layer: the database cannot be reached, or its schema is not one this code knows."""
from __future__ import annotations

from ..errors import KnowledgeError


class StorageError(KnowledgeError):
    """The shop's database could not be used."""

    public_message = "Sorry, the shop's records cannot be reached right now; please try again in a moment."


class DatabaseUnavailable(StorageError):
    """No database server answered at `where` (the URL is shown without its password)."""

    def __init__(self, where: str, reason: str):
        super().__init__(f"cannot connect to {where}: {reason}")
        self.where, self.reason = where, reason


class SchemaMismatch(StorageError):
    """The database was migrated by a newer version of this code (or by something else)."""

    def __init__(self, component: str, found: int, known: int):
        super().__init__(f"the {component} schema is at version {found}, newer than this code's {known}: "
                         "upgrade ShopBot before opening this database")
        self.component, self.found, self.known = component, found, known


class BadDatabaseUrl(StorageError):
    def __init__(self, url: str, reason: str):
        super().__init__(f"SHOPBOT_DATABASE_URL {url!r}: {reason}")
        self.url, self.reason = url, reason

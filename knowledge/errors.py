"""Errors of the knowledge layer. The base message is safe to show a customer; subclasses carry the detail."""
from __future__ import annotations


class KnowledgeError(Exception):
    """Something went wrong looking up the shop's data."""

    public_message = "Sorry, I could not look that up in the shop's records."


class DataFileError(KnowledgeError):
    """A shop data file (catalog, customers, orders, FAQ) could not be read at all."""

    def __init__(self, path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = str(path), reason


class NotFound(KnowledgeError):
    """An id that the shop does not know."""

    def __init__(self, kind: str, key: str):
        super().__init__(f"no {kind} with id {key!r}")
        self.kind, self.key = kind, key


class ActionError(KnowledgeError):
    """An action on the store that the shop's policy or data does not allow; nothing was changed."""

    def __init__(self, action: str, reason: str):
        super().__init__(f"{action}: {reason}")
        self.action, self.reason = action, reason


class SearchIndexError(KnowledgeError):
    """A search index on disk that cannot be used as it is; `reason` says why."""

    def __init__(self, path, reason: str):
        super().__init__(f"search index {path}: {reason}")
        self.path, self.reason = str(path), reason


class IndexCorrupt(SearchIndexError):
    """Files missing, unreadable or not matching the manifest's checksums and counts."""


class IndexMismatch(SearchIndexError):
    """Built with another embedding model or dimension: its vectors mean nothing to this model."""

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

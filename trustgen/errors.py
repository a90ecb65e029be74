"""Errors of the language layer. The base message is safe to show a customer; subclasses carry the detail."""
from __future__ import annotations


class TrustgenError(Exception):
    """Something went wrong writing a reply."""

    public_message = "Sorry, I could not write a reply just now."


class ModelFilesError(TrustgenError):
    """A model folder, packaged weights file or adapter is missing or unreadable."""

    def __init__(self, path, reason: str, fix: str = "run `shopbot setup` to rebuild it"):
        super().__init__(f"{path}: {reason}; {fix}")
        self.path, self.reason, self.fix = str(path), reason, fix

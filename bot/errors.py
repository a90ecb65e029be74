"""Errors of the dialogue agent. The base message is safe to show a customer; subclasses carry the detail.

A customer's mistakes (unknown order, ambiguous answer) are not errors: the flows answer them. These are for
our own faults and misuse of the Python API (an unknown turn, a missing classifier artefact).
"""
from __future__ import annotations


class BotError(Exception):
    """Something went wrong in the assistant."""

    public_message = "Sorry, something went wrong on our side. Please try again, or ask for a person."


class ClassifierMissing(BotError):
    """The intent classifier artefact is missing or was trained with another embedder."""

    def __init__(self, reason: str):
        super().__init__(f"intent classifier unavailable: {reason}")
        self.reason = reason

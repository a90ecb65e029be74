"""The dialogue agent: `from bot import Bot`. Importing the package stays light (no models, no torch)."""
from __future__ import annotations


def __getattr__(name: str):
    if name == "Bot":
        from .agent import Bot
        return Bot
    raise AttributeError(f"module 'bot' has no attribute {name!r}")


__all__ = ["Bot"]

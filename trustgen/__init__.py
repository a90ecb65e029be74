"""The language side of ShopBot: grounded replies from the shop's facts, claim checking, honest marketing copy.

Names are exported lazily so that `import trustgen` stays light: torch and transformers load only when a model
is first used.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "Fact": "types", "ReplyRequest": "types", "Claim": "types", "CheckedReply": "types", "ReplyWriter": "types",
    "check": "claims", "check_and_repair": "claims", "extract_claims": "claims",
    "GroundedWriter": "writer", "TemplateWriter": "writer", "ScriptedWriter": "writer", "WriterConfig": "writer",
    "load_default_writer": "writer", "build_messages": "prompting", "lint": "compliance",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'trustgen' has no attribute {name!r}")

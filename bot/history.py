"""A conversation sent in full by a client (the OpenAI convention), turned into a fresh session's focus.

`focus_from_history(reader, texts)` reads the customer's own earlier messages, oldest first, with the bot's
Reader (bot/understand.py) and keeps only what they referred to: products, option values, the last catalog
question, order ids (state["focus"], see bot.reading.FOCUS_KEYS). `start_from_history(memory, reader,
session_id, texts)` saves that focus, and nothing else, as a new session's state, so "and in green?" can be
understood. It deliberately reads no assistant or system turn and keeps no identity, task or confirmation: a
history the client wrote is no evidence of who the customer is or of what was agreed.
Tests: tests/ui/test_ui_sessions.py, tests/ui/test_openai_client.py (through the API).
"""
from __future__ import annotations

from .reading import empty_focus

MAX_HISTORY_MESSAGES = 20  # the most recent user messages read; older ones rarely decide what "it" is


class HistoryError(ValueError):
    """A session that already has turns cannot be started again from a client's history."""


def focus_from_history(reader, texts: list[str]) -> dict:
    """The focus of the customer's earlier messages (oldest first), as the Reader records it turn by turn."""
    state: dict = {"focus": empty_focus()}
    for text in [t for t in texts if isinstance(t, str) and t.strip()][-MAX_HISTORY_MESSAGES:]:
        scratch = {"focus": state["focus"]}  # each message is read with the focus alone, never a task or a who
        reader.remember(scratch, reader.read(text, scratch))
        state["focus"] = scratch["focus"]
    return state["focus"]


def start_from_history(memory, reader, session_id: str, texts: list[str]) -> dict:
    """Save the focus of `texts` as the state of a session that has no turn yet; returns that focus."""
    if memory.history(session_id, limit=1):
        raise HistoryError(f"session {session_id!r} already has turns; its own history is the one that counts")
    focus = focus_from_history(reader, texts)
    if any(focus.values()):
        memory.save_session(session_id, user_id=None, state={"focus": focus}, personalise=True)
    return focus

"""The assistant as a langchain-core Runnable: `as_runnable(bot).invoke({"message": ..., "session_id": ...})`.

Input is a dict with "message" (and optional "session_id", default "default") or a plain string; output is the
bot's `Reply`. Streaming yields the reply's text pieces and then the `Reply`. It adds nothing to the dialogue.
"""
from __future__ import annotations

from typing import Any, Iterator

from langchain_core.runnables import RunnableConfig, RunnableSerializable

from .reply import Reply


def _parse(value: Any) -> tuple[str, str]:
    if isinstance(value, str):
        return value, "default"
    if isinstance(value, dict):
        message = value.get("message", value.get("input", ""))
        return ("" if message is None else str(message)), str(value.get("session_id") or "default")
    raise TypeError(f"expected a message string or a dict with 'message', not {type(value).__name__}")


class BotRunnable(RunnableSerializable[Any, Reply]):
    bot: Any

    model_config = {"arbitrary_types_allowed": True}

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs) -> Reply:
        message, session_id = _parse(input)
        return self.bot.respond(message, session_id=session_id)

    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs) -> Iterator[str | Reply]:
        message, session_id = _parse(input)
        yield from self.bot.stream(message, session_id=session_id)


def as_runnable(bot) -> BotRunnable:
    return BotRunnable(bot=bot)

"""Bad input never crashes the assistant: empty, whitespace, huge, control characters, lone surrogates."""
from __future__ import annotations

import pytest
from dialogue_helpers import make_bot

from bot.text import MAX_MESSAGE_CHARS, clean_message


def test_clean_message_cases():
    assert clean_message("") == ("", "")
    assert clean_message("   \n\t ") == ("", "")
    assert clean_message(None) == ("", "")
    text, notice = clean_message("hi\x00 there\x1b[31m")
    assert "\x00" not in text and "\x1b" not in text and text.startswith("hi")
    text, notice = clean_message("price?\ud800")
    assert text == "price?" and "could not be read" in notice
    text, notice = clean_message("a" * (MAX_MESSAGE_CHARS + 500))
    assert len(text) == MAX_MESSAGE_CHARS and str(MAX_MESSAGE_CHARS) in notice


@pytest.mark.parametrize("message", ["", "   ", "\x00\x01", "\ud83d", "x" * 10_000, "💥" * 50, "<script>alert(1)</script>",
                                     "'; DROP TABLE orders; --"])
def test_bot_answers_bad_input(demo_db, tmp_path, message):
    bot = make_bot(demo_db, tmp_path)
    before = bot.store.export()
    reply = bot.respond(message, session_id="bad")
    assert reply.text.strip()
    if len(message) > MAX_MESSAGE_CHARS:
        assert "longer than" in reply.notice
    if not message.strip() or message == "\x00\x01":
        assert "didn't get a message" in reply.text
    assert bot.store.export() == before

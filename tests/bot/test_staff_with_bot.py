"""The staff desk and privacy controls through the real dialogue agent on the demo shop (no language model:
replies are the agent's checked templates): a drafted reply whose sentences carry their evidence, a person's
reply that reaches the customer's chat, and 'forget me' that leaves no trace in the conversation file."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

EMAIL = "anya.garcia2061@example.com"
ORDER = "#W6310710"  # Anya's processed Tea Kettle order in the demo shop


@pytest.fixture
def bot(demo_db, tmp_path):
    from bot import Bot
    from bot.config import BotConfig
    (tmp_path / "shop").mkdir()
    shutil.copy(demo_db, tmp_path / "shop" / "shop.db")  # the pristine demo shop, without importing it again
    b = Bot.load(tmp_path / "shop", config=BotConfig(use_model=False))
    yield b
    b.close()


def _raw(path: Path) -> bytes:
    wal = Path(str(path) + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_draft_staff_reply_and_forget_with_the_real_agent(bot):
    bot.respond(f"Hi, my email is {EMAIL}", "s1")
    answer = bot.respond(f"What is the status of order {ORDER}?", "s1")
    assert ORDER in answer.text

    draft = bot.draft("s1")
    assert draft.question == f"What is the status of order {ORDER}?"
    assert draft.sentences and not any(s.flagged for s in draft.sentences), draft
    cited = {c.id for s in draft.sentences for c in s.evidence}
    assert f"order:{ORDER}" in cited
    assert len(bot.transcript("s1")) == 4  # drafting saved nothing

    bot.request_handover("s1", "customer asked for a person")
    assert [t.session_id for t in bot.handover_queue()] == ["s1"]
    turn_id = bot.staff_reply("s1", "Hello Anya, Sam here. Your kettle is on its way.", staff="sam")
    last = bot.transcript("s1")[-1]
    assert (last.turn_id, last.role, last.reply) == (turn_id, "staff", {"staff": "sam"})
    assert bot.memory.session("s1").handled_by == "sam"

    known = bot.customer_data("s1")
    assert known["profile"]["email"] == EMAIL and known["tickets"][0]["reason"] == "customer asked for a person"
    on_file = bot.memory.path is not None  # SQLite; on PostgreSQL the table files: tests/test_pg_memory.py
    assert not on_file or EMAIL.encode() in _raw(bot.memory.path)

    order_before = bot.store.get_order(ORDER)
    reply = bot.forget("s1")
    assert "erased" in reply.text and "stay with the shop" in reply.text
    assert bot.memory.sessions_of("anya_garcia_3271") == [] and bot.handover_queue() == []
    raw = _raw(bot.memory.path) if on_file else b""
    assert EMAIL.encode() not in raw and b"Sam here" not in raw
    assert bot.store.get_order(ORDER) == order_before  # the shop's records of the sale stay

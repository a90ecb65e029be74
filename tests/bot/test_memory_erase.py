"""Erasing a customer or a conversation removes the words from the database file and its write-ahead log,
and leaves every other customer's conversations as they were."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.memory import ConversationStore

SECRET = "violet-harbour-ninety-three"  # a phrase that appears nowhere else
EMAIL = "anya.garcia2061@example.com"
OTHER_SECRET = "copper-lantern-seventeen"


def _raw_bytes(path: Path) -> bytes:
    """The bytes on disk: the database file and, if present, its write-ahead log."""
    wal = Path(str(path) + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def _found(path: Path, text: str) -> bool:
    raw = _raw_bytes(path)
    return text.encode("utf-8") in raw or text.encode("utf-16-le") in raw


@pytest.fixture
def memory(tmp_path):
    m = ConversationStore(tmp_path / "conversations.db")
    yield m
    m.close()


def _customer_talks(memory: ConversationStore, session_id: str, user_id: str, email: str, secret: str) -> None:
    memory.add_turn(session_id, "user", f"hi, my email is {email}")
    memory.save_session(session_id, user_id=user_id, state={"email": email, "likes": secret}, personalise=True)
    memory.add_turn(session_id, "user", f"my secret phrase is {secret}")
    turn = memory.add_turn(session_id, "assistant", f"Noted: {secret}",
                           {"text": f"Noted: {secret}", "intent": "chitchat", "confidence": 0.9})
    memory.set_feedback(session_id, turn, True)
    memory.open_ticket(session_id, "customer asked for a person", f"Customer {email} said {secret}")


def test_erase_user_removes_the_bytes_and_keeps_others(memory):
    _customer_talks(memory, "anya-1", "anya_garcia_3271", EMAIL, SECRET)
    _customer_talks(memory, "anya-2", "anya_garcia_3271", EMAIL, SECRET + "-again")
    _customer_talks(memory, "noah-1", "noah_brown_6181", "noah.brown7922@example.com", OTHER_SECRET)
    noah_before = (memory.session("noah-1"), memory.history("noah-1"), memory.tickets())
    noah_tickets = [t for t in noah_before[2] if t.user_id == "noah_brown_6181"]
    assert _found(memory.path, SECRET) and _found(memory.path, EMAIL)  # the search can see them before

    counts = memory.erase_user("anya_garcia_3271")

    assert counts == {"sessions": 2, "turns": 6, "tickets": 2, "feedback": 2}
    assert not _found(memory.path, SECRET)
    assert not _found(memory.path, EMAIL)
    wal = Path(str(memory.path) + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    assert memory.sessions_of("anya_garcia_3271") == [] and memory.history("anya-1") == []
    # the other customer is untouched, in the file too
    assert (memory.session("noah-1"), memory.history("noah-1")) == noah_before[:2]
    assert memory.tickets() == noah_tickets
    assert _found(memory.path, OTHER_SECRET)


def test_erase_survives_restart_and_old_bytes_do_not_come_back(tmp_path):
    path = tmp_path / "conversations.db"
    m = ConversationStore(path)
    _customer_talks(m, "anya-1", "anya_garcia_3271", EMAIL, SECRET)
    for i in range(200):  # enough pages that the data lives in the main file, not only in the log
        m.add_turn("anya-1", "user", f"{SECRET} filler {i} " + "z" * 400)
    m._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert SECRET.encode() in path.read_bytes()
    m.erase_user("anya_garcia_3271")
    m.close()
    assert not _found(path, SECRET)
    reopened = ConversationStore(path)
    assert reopened.conversations() == [] and not _found(path, SECRET)
    reopened.close()


def test_erase_session_removes_one_conversation(memory):
    _customer_talks(memory, "guest-1", "anya_garcia_3271", EMAIL, SECRET)
    _customer_talks(memory, "guest-2", "anya_garcia_3271", EMAIL, OTHER_SECRET)
    counts = memory.erase_session("guest-1")
    assert counts == {"sessions": 1, "turns": 3, "tickets": 1, "feedback": 1}
    assert not _found(memory.path, SECRET)
    assert _found(memory.path, OTHER_SECRET) and len(memory.history("guest-2")) == 3
    assert memory.erase_session("no-such-session") == {"sessions": 0, "turns": 0, "tickets": 0, "feedback": 0}


def test_erase_of_an_unknown_customer_changes_nothing(memory):
    _customer_talks(memory, "noah-1", "noah_brown_6181", "noah.brown7922@example.com", OTHER_SECRET)
    before = memory.history("noah-1")
    assert memory.erase_user("nobody_0000") == {"sessions": 0, "turns": 0, "tickets": 0, "feedback": 0}
    assert memory.history("noah-1") == before

"""The conversation memory: survives restarts, stays consistent under threads, takes hostile text, and counts
what the insights page shows."""
from __future__ import annotations

import itertools
import json
import sqlite3
import threading

import pytest

from bot.memory import (MAX_TEXT_CHARS, ConversationStore, ConversationSummary, Ticket, TicketNotFound,
                        TurnNotFound)


class Clock:
    """A clock that moves one second per reading, so 'newest first' does not depend on timing."""

    def __init__(self):
        self._ticks = itertools.count(1_800_000_000)

    def __call__(self) -> float:
        return float(next(self._ticks))


@pytest.fixture
def memory(tmp_path):
    m = ConversationStore(tmp_path / "conversations.db", clock=Clock())
    yield m
    m.close()


def _reply(intent: str, confidence: float = 0.9, checked: int = 0, repaired: int = 0, handover: bool = False):
    return {"text": "...", "intent": intent, "confidence": confidence, "claims_checked": checked,
            "claims_repaired": repaired, "handover": handover, "citations": []}


def test_file_settings_are_the_durable_ones(memory):
    conn = memory._conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_everything_survives_a_restart(tmp_path):
    path = tmp_path / "conversations.db"
    m = ConversationStore(path, clock=Clock())
    m.save_session("s1", user_id="noah_brown_6181", state={"pending": {"order_id": "#W7678072"}},
                   personalise=False)
    user_turn = m.add_turn("s1", "user", "Where is my order #W7678072?")
    bot_turn = m.add_turn("s1", "assistant", "It was delivered.", _reply("order_status", checked=1))
    m.set_feedback("s1", bot_turn, False)
    ticket = m.open_ticket("s1", "customer asked for a person", "Asked about #W7678072.")
    before = (m.session("s1"), m.history("s1"), m.tickets(), m.insights())
    m.close()

    reopened = ConversationStore(path)
    after = (reopened.session("s1"), reopened.history("s1"), reopened.tickets(), reopened.insights())
    assert after == before
    session, turns, tickets, _ = after
    assert session.user_id == "noah_brown_6181" and session.personalise is False
    assert session.state == {"pending": {"order_id": "#W7678072"}} and session.status == "handover"
    assert [t.turn_id for t in turns] == [user_turn, bot_turn] and turns[1].helpful is False
    assert tickets == [ticket] and ticket.user_id == "noah_brown_6181"
    # ids keep growing after a restart: feedback for an old turn can never land on a new one
    assert reopened.add_turn("s1", "user", "thanks") > bot_turn
    reopened.close()


def test_new_session_is_empty_and_open(memory):
    s = memory.session("fresh")
    assert (s.user_id, s.state, s.personalise, s.status, s.handled_by) == (None, {}, True, "open", None)
    assert memory.history("fresh") == [] and memory.conversations() == []  # no turns: not a conversation yet


def test_history_is_oldest_first_and_limit_keeps_the_latest(memory):
    ids = [memory.add_turn("s", "user" if i % 2 == 0 else "assistant", f"turn {i}") for i in range(6)]
    assert [t.text for t in memory.history("s")] == [f"turn {i}" for i in range(6)]
    assert [t.turn_id for t in memory.history("s", limit=2)] == ids[-2:]
    assert memory.history("s", limit=0) == [] and memory.history("unknown") == []


def test_save_session_keeps_status_unless_given(memory):
    memory.open_ticket("s", "out of scope", "Asked about the weather.")
    memory.save_session("s", user_id=None, state={"step": 2}, personalise=True)
    assert memory.session("s").status == "handover"
    memory.save_session("s", user_id=None, state={}, personalise=True, status="closed")
    assert memory.session("s").status == "closed"


def test_bad_arguments_are_refused_with_the_reason(memory):
    with pytest.raises(ValueError, match="session id"):
        memory.add_turn("  ", "user", "hi")
    with pytest.raises(ValueError, match="longer than"):
        memory.session("x" * 5000)
    with pytest.raises(ValueError, match="role"):
        memory.add_turn("s", "robot", "hi")
    with pytest.raises(ValueError, match="status"):
        memory.save_session("s", user_id=None, state={}, personalise=True, status="lost")
    with pytest.raises(TypeError):
        memory.save_session("s", user_id=None, state={"when": object()}, personalise=True)
    assert memory.session("s").state == {}  # the failed save changed nothing


def test_hostile_text_is_stored_without_crashing(memory):
    lone = "price?\ud800 and \udfff"
    pair = "smile \ud83d\ude00"  # a surrogate pair as two code points: joined into one character
    control = "a\x00b\x07c\x1b[31m"
    huge = "x" * 1_000_000
    ids = [memory.add_turn("s", "user", t) for t in (lone, pair, control, huge)]
    memory.add_turn("s", "assistant", "ok", {"text": "bad \udc80 reply", "intent": "unknown"})
    texts = [t.text for t in memory.history("s")]
    assert texts[0] == "price?\ufffd and \ufffd"
    assert texts[1] == "smile \U0001F600"
    assert texts[2] == control
    assert len(texts[3]) == MAX_TEXT_CHARS and texts[3].endswith("\u2026")
    assert memory.history("s")[-1].reply["text"] == "bad \ufffd reply"
    assert len(set(ids)) == 4
    for t in texts:
        t.encode("utf-8")  # everything read back can be sent to a browser


def test_feedback_only_on_replies_of_that_session(memory):
    question = memory.add_turn("a", "user", "hi")
    answer = memory.add_turn("a", "assistant", "hello", _reply("greeting"))
    other = memory.add_turn("b", "assistant", "hello", _reply("greeting"))
    memory.set_feedback("a", answer, True)
    memory.set_feedback("a", answer, False)  # a customer may change their mind
    assert memory.history("a")[-1].helpful is False
    with pytest.raises(TurnNotFound):
        memory.set_feedback("a", other, True)  # another customer's turn
    with pytest.raises(TurnNotFound):
        memory.set_feedback("a", question, True)  # the customer's own message
    with pytest.raises(TurnNotFound):
        memory.set_feedback("a", 10_000, True)
    assert memory.history("b")[0].helpful is None


def test_tickets_queue_and_closing_hands_back_to_the_assistant(memory):
    t1 = memory.open_ticket("a", "customer asked for a person", "Wants to talk about a refund.")
    t2 = memory.open_ticket("b", "low confidence", "Question about a warranty.")
    t3 = memory.open_ticket("a", "out of scope", "Second request.")
    assert isinstance(t1, Ticket) and [t.ticket_id for t in memory.tickets()] == [t1.ticket_id, t2.ticket_id,
                                                                                   t3.ticket_id]
    memory.close_ticket(t1.ticket_id)
    assert memory.session("a").status == "handover"  # t3 is still open
    memory.close_ticket(t3.ticket_id)
    assert memory.session("a").status == "open"
    assert [t.ticket_id for t in memory.tickets()] == [t2.ticket_id]
    assert len(memory.tickets(status=None)) == 3 and len(memory.tickets("closed")) == 2
    with pytest.raises(TicketNotFound):
        memory.close_ticket(999)


def test_ticket_opened_before_identification_belongs_to_the_customer(memory):
    ticket = memory.open_ticket("s", "customer asked for a person", "...")
    assert ticket.user_id is None
    memory.save_session("s", user_id="anya_garcia_3271", state={}, personalise=True)
    assert memory.tickets()[0].user_id == "anya_garcia_3271"


def test_conversations_newest_first_with_last_message_and_intents(memory):
    memory.add_turn("old", "user", "hello")
    memory.add_turn("old", "assistant", "Hi! How can I help?", _reply("greeting"))
    memory.save_session("new", user_id="noah_brown_6181", state={}, personalise=True)
    memory.add_turn("new", "user", "cancel my order")
    memory.add_turn("new", "assistant", "Which order?", _reply("cancel_order"))
    memory.add_turn("new", "user", "#W7678072")
    memory.add_turn("new", "assistant", "Cancel it?", _reply("cancel_order"))
    memory.add_turn("new", "user", "what about returns")
    memory.add_turn("new", "assistant", "Returns are ...", _reply("policy_question"))
    memory.open_ticket("old", "low confidence", "...")
    convs = memory.conversations()
    assert [c.session_id for c in convs] == ["old", "new"]  # the ticket made 'old' the most recent
    assert convs[1] == ConversationSummary("new", "noah_brown_6181", "open", 6, "Returns are ...",
                                           convs[1].updated, ["cancel_order", "policy_question"])
    assert [c.session_id for c in memory.conversations(status="handover")] == ["old"]
    assert memory.sessions_of("noah_brown_6181") == ["new"]


def test_insights_count_what_happened(memory):
    # conversation 1: answered and rated up; claims checked and one repaired
    memory.add_turn("c1", "user", "How much is the blue T-Shirt?")
    up = memory.add_turn("c1", "assistant", "It costs $50.88.", _reply("product_question", 0.9, 2, 1))
    memory.set_feedback("c1", up, True)
    # conversation 2: the bot did not understand, then the customer asked for a person
    memory.add_turn("c2", "user", "Can you fix my bicycle?")
    down = memory.add_turn("c2", "assistant", "I can't help with that.", _reply("unknown", 0.2))
    memory.set_feedback("c2", down, False)
    memory.add_turn("c2", "user", "I want a person")
    memory.add_turn("c2", "assistant", "A person will answer.", _reply("talk_to_person", 0.95, handover=True))
    memory.open_ticket("c2", "customer asked for a person", "Bicycle repair.")
    # conversation 3: handed over because out of scope, with no other marker
    memory.add_turn("c3", "user", "Do you sell cars?")
    memory.add_turn("c3", "assistant", "Let me pass you on.", _reply("product_question", 0.8, 0, 0, handover=True))
    memory.open_ticket("c3", "out of scope", "Cars.")
    # conversation 4: answered with moderate confidence
    memory.add_turn("c4", "user", "How much is the blue T-Shirt?")
    memory.add_turn("c4", "assistant", "It costs $50.88.", _reply("product_question", 0.7, 1, 0))
    memory.session("empty")  # opened but never spoke: not counted

    got = memory.insights()
    assert got["conversations"] == 4
    assert got["handed_over"] == 2 and got["resolved_by_bot"] == 2
    assert got["top_intents"] == [("product_question", 3), ("unknown", 1), ("talk_to_person", 1)]
    assert got["unanswered"] == ["Do you sell cars?", "Can you fix my bicycle?"]  # newest first
    assert (got["thumbs_up"], got["thumbs_down"]) == (1, 1)
    assert (got["claims_checked"], got["claims_repaired"]) == (3, 1)
    assert got["open_tickets"] == 2
    json.dumps(got)  # the UI and the HTTP API can send it as it is


def test_insights_of_an_empty_store(memory):
    assert memory.insights() == {"conversations": 0, "resolved_by_bot": 0, "handed_over": 0, "top_intents": [],
                                 "unanswered": [], "thumbs_up": 0, "thumbs_down": 0, "claims_checked": 0,
                                 "claims_repaired": 0, "open_tickets": 0}


def test_threads_share_one_store(memory):
    errors = []

    def chat(n: int):
        try:
            for i in range(40):
                sid = f"t{n}"
                memory.add_turn(sid, "user", f"message {i}")
                turn = memory.add_turn(sid, "assistant", f"reply {i}", _reply("greeting"))
                memory.set_feedback(sid, turn, i % 2 == 0)
                memory.save_session(sid, user_id=None, state={"i": i}, personalise=True)
                memory.insights()
        except Exception as exc:  # collected: an exception in a thread would otherwise be lost
            errors.append(exc)

    threads = [threading.Thread(target=chat, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    all_ids = [t.turn_id for n in range(6) for t in memory.history(f"t{n}")]
    assert len(all_ids) == len(set(all_ids)) == 6 * 80
    assert all(memory.session(f"t{n}").state == {"i": 39} for n in range(6))
    assert memory.insights()["thumbs_up"] == 6 * 20


def test_a_second_process_sees_the_saved_turns(memory):
    memory.add_turn("s", "user", "still there after a crash?")
    other = sqlite3.connect(memory.path)  # as another process would open the file
    assert other.execute("SELECT text FROM turns").fetchall() == [("still there after a crash?",)]
    other.close()


def test_find_session_creates_nothing(memory):
    assert memory.find_session("nobody") is None
    assert memory.conversations() == [] and memory.find_session("nobody") is None
    memory.add_turn("s", "user", "hi")
    assert memory.find_session("s").status == "open"


def test_a_huge_reply_round_trips_as_valid_json(memory):
    reply = {"text": "y" * 2_000_000, "intent": "product_question", "citations": [{"id": "item:1", "text": "z"}]}
    memory.add_turn("s", "assistant", "short", reply)
    assert memory.history("s")[0].reply == reply
    assert memory.insights()["top_intents"] == [("product_question", 1)]


def test_reads_while_another_thread_erases(memory):
    errors, stop = [], threading.Event()

    def read():
        try:
            while not stop.is_set():
                memory.conversations()
                memory.insights()
        except Exception as exc:
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(15):
            memory.save_session(f"s{i}", user_id=f"user_{i}", state={}, personalise=True)
            for j in range(3):
                memory.add_turn(f"s{i}", "user", f"message {j}")
            memory.erase_user(f"user_{i}")
    finally:
        stop.set()
        reader.join()
    assert errors == [] and memory.conversations() == []


def test_a_new_file_is_readable_only_by_its_owner(memory):
    memory.add_turn("s", "user", "private")
    for path in (memory.path, memory.path.with_name(memory.path.name + "-wal")):
        assert path.stat().st_mode & 0o077 == 0, path  # SQLite gives the log the database file's mode

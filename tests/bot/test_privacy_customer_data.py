"""What the shop knows about a customer (real demo shop data) and 'forget me': the assistant's records go, the
shop's account and orders stay."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.memory import ConversationStore
from bot.privacy import KEPT_RECORDS_NOTE, customer_data, forget_customer, forget_message, render_customer_data

ANYA = "anya_garcia_3271"  # demo shop customer with a Visa card, a gift card and three orders
SECRET = "marigold-sextant-forty-one"


@pytest.fixture
def memory(tmp_path):
    m = ConversationStore(tmp_path / "conversations.db")
    yield m
    m.close()


def _talk(memory: ConversationStore, session_id: str, user_id: str, text: str) -> None:
    memory.add_turn(session_id, "user", text)
    memory.save_session(session_id, user_id=user_id, state={"budget": 200, "note": text}, personalise=False)
    turn = memory.add_turn(session_id, "assistant", "Thanks.", {"text": "Thanks.", "intent": "chitchat"})
    memory.set_feedback(session_id, turn, True)


def test_customer_data_is_complete_and_matches_the_shop(store, memory):
    _talk(memory, "a1", ANYA, f"I like {SECRET}")
    memory.open_ticket("a1", "customer asked for a person", "Wants a person.")
    _talk(memory, "n1", "noah_brown_6181", "someone else's words")

    data = customer_data(store, memory, ANYA)
    user = store.get_user(ANYA)
    assert data["profile"]["name"] == f"{user['name']['first_name']} {user['name']['last_name']}"
    assert data["profile"]["email"] == user["email"] and data["profile"]["address"] == user["address"]
    shown = {m["id"]: m["shown"] for m in data["profile"]["payment_methods"]}
    assert shown == {"gift_card_4374071": "Gift card, balance $51.00", "credit_card_8955149": "Visa ending in 8674"}
    orders = store.orders_of(ANYA)
    assert [o["order_id"] for o in data["orders"]] == [o["order_id"] for o in orders]
    for summary, order in zip(data["orders"], orders):
        assert summary["status"] == order["status"]
        assert summary["items"] == [i["name"] for i in order["items"]]
        assert summary["total"] == pytest.approx(sum(i["price"] for i in order["items"]))
    assert [c["session_id"] for c in data["conversations"]] == ["a1"]
    conv = data["conversations"][0]
    assert [t["text"] for t in conv["turns"]] == [f"I like {SECRET}", "Thanks."]
    assert conv["remembered"] == {"budget": 200, "note": f"I like {SECRET}"} and conv["personalise"] is False
    assert [t["reason"] for t in data["tickets"]] == ["customer asked for a person"]
    assert data["feedback"] == 1
    assert "someone else's words" not in json.dumps(data)
    json.dumps(data)  # plain values the HTTP API can send


def test_rendered_text_says_only_what_the_data_holds(store, memory):
    _talk(memory, "a1", ANYA, f"I like {SECRET}")
    data = customer_data(store, memory, ANYA)
    text = render_customer_data(data)
    assert data["profile"]["name"] in text and data["profile"]["email"] in text
    assert "Visa ending in 8674" in text and "$51.00" in text
    for order in data["orders"]:
        assert order["order_id"] in text and f"${order['total']:.2f}" in text
    # every amount in the text is an order total or the gift card balance: nothing invented
    amounts = {f"{o['total']:.2f}" for o in data["orders"]} | {"51.00"}
    assert set(re.findall(r"\$(\d+\.\d\d)", text)) <= amounts
    assert "2 messages (1 from you)" in text
    assert "Ratings you gave my replies: 1." in text
    assert KEPT_RECORDS_NOTE in text
    assert "8955149" not in text  # internal payment ids are not shown; card numbers are never stored


def test_customer_the_shop_does_not_know(store, memory):
    data = customer_data(store, memory, "nobody_0000")
    assert data["profile"] is None and data["orders"] == [] and data["conversations"] == []
    text = render_customer_data(data)
    assert "no account" in text and "not stored any conversation" in text
    memory.add_turn("g", "user", "hello")
    memory.save_session("g", user_id="nobody_0000", state={}, personalise=True)
    assert "1 message (1 from you)" in render_customer_data(customer_data(store, memory, "nobody_0000"))


def test_forget_erases_the_assistants_records_but_not_the_shops(store, memory):
    _talk(memory, "a1", ANYA, f"my email is anya.garcia2061@example.com and I like {SECRET}")
    _talk(memory, "a2", ANYA, "second chat")
    memory.open_ticket("a2", "low confidence", f"Customer mentioned {SECRET}")
    _talk(memory, "n1", "noah_brown_6181", "keep me")
    shop_before = store.export()

    counts = forget_customer(memory, ANYA)

    assert counts == {"sessions": 2, "turns": 4, "tickets": 1, "feedback": 2}
    after = customer_data(store, memory, ANYA)
    assert after["conversations"] == [] and after["tickets"] == [] and after["feedback"] == 0
    assert after["profile"] is not None and len(after["orders"]) == 3  # the shop's records stay
    assert store.export() == shop_before
    raw = memory.path.read_bytes()
    wal = Path(str(memory.path) + "-wal")
    raw += wal.read_bytes() if wal.exists() else b""
    assert SECRET.encode() not in raw and b"anya.garcia2061" not in raw
    assert [t.text for t in memory.history("n1")][0] == "keep me"
    message = forget_message(counts)
    assert "2 conversations, 4 messages, 1 hand-over ticket and 2 ratings" in message
    assert KEPT_RECORDS_NOTE in message

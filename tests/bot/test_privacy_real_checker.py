"""The 'what do you know about me' text states nothing beyond the data: the real claim checker finds every
price, count, id and option in it supported by `customer_facts`, for real demo-shop customers."""
from __future__ import annotations

import pytest

from bot.memory import ConversationStore
from bot.privacy import customer_data, customer_facts, render_customer_data
from trustgen.claims import check


@pytest.fixture
def memory(tmp_path):
    m = ConversationStore(tmp_path / "conversations.db")
    yield m
    m.close()


def _unsupported(store, memory, user_id: str, edit=lambda text: text):
    data = customer_data(store, memory, user_id)
    text = edit(render_customer_data(data))
    checked = check(text, customer_facts(store, data))
    return checked, [c for c in checked.claims if not c.supported]


def _check_customers(store, memory, users):
    checked_claims = 0
    for user_id in users:
        checked, bad = _unsupported(store, memory, user_id)
        assert bad == [], user_id
        checked_claims += len(checked.claims)
    return checked_claims


def test_rendered_account_is_fully_supported(store, memory):
    user = "anya_garcia_3271"
    memory.add_turn("s", "user", "I need a kettle under $100")
    memory.save_session("s", user_id=user, state={"budget": 100, "likes": ["glass"]}, personalise=True)
    memory.add_turn("s", "assistant", "Here are 3 kettles.", {"intent": "recommend_product"})
    memory.open_ticket("s", "customer asked for a person", "Kettles.")
    checked, bad = _unsupported(store, memory, user)
    assert bad == [] and len(checked.claims) >= 10  # prices, order ids, counts, card digits were all checked


def test_a_changed_total_is_caught(store, memory):
    order = store.orders_of("anya_garcia_3271")[0]
    total = f"${sum(i['price'] for i in order['items']):.2f}"
    _, bad = _unsupported(store, memory, "anya_garcia_3271", lambda text: text.replace(total, "$1.23"))
    assert [c.text for c in bad] == ["$1.23"]


def test_a_sample_of_customers_is_fully_supported(store, memory):
    users = sorted(store.export()["users"])[::10]
    assert _check_customers(store, memory, users) > 400


@pytest.mark.slow
def test_every_customer_is_fully_supported(store, memory):
    assert _check_customers(store, memory, sorted(store.export()["users"])) > 4000

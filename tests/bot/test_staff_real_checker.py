"""The staff draft with the real claim checker and facts from the real demo shop: a variant's true price is
shown with its evidence, a wrong one is flagged."""
from __future__ import annotations

import pytest

from bot.memory import ConversationStore
from bot.reply import Citation, Reply
from bot.staff import make_draft
from trustgen.types import Fact


class PreviewBot:
    def __init__(self, memory, reply, facts):
        self.memory, self._answer = memory, (reply, facts)

    def preview(self, message, session_id):
        return self._answer


def _fact(v: dict) -> Fact:
    """A variant as the dialogue gathers it: readable text plus the structured fields the checker reads."""
    options = ", ".join(v["options"].values())
    stock = "in stock" if v["available"] else "out of stock"
    return Fact(f"item:{v['item_id']}", "product", f"{v['name']} ({options}): ${v['price']:.2f}, {stock}",
                {key: v[key] for key in ("item_id", "product_id", "name", "price", "options", "available")})


@pytest.fixture
def memory(tmp_path):
    m = ConversationStore(tmp_path / "conversations.db")
    yield m
    m.close()


def test_real_checker_on_a_real_variant(store, memory):
    variant = next(v for v in store.variants() if v["name"] == "T-Shirt" and v["available"])
    fact = _fact(variant)
    color, price = variant["options"]["color"], variant["price"]
    text = (f"The {color} T-Shirt costs ${price:.2f}. "
            f"I can also tell you that shipping it costs ${price + 7:.2f}. Anything else?")
    memory.add_turn("s", "user", f"How much is the {color} T-Shirt?")
    bot = PreviewBot(memory, Reply(text, citations=[Citation(fact.id, fact.kind, fact.text)]), [fact])

    draft = make_draft(bot, "s")  # the default checker: trustgen.claims.check

    true_price, wrong_price, closing = draft.sentences
    assert not true_price.flagged and true_price.evidence == [Citation(fact.id, "product", fact.text)]
    assert wrong_price.flagged and f"${price + 7:.2f}" in wrong_price.note
    assert not closing.flagged and closing.evidence == []

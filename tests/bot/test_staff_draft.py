"""The staff desk's drafted reply: each sentence with the facts behind it, unsupported claims flagged; and a
person's reply saved in the customer's chat. Facts come from the real demo shop; the bot and the claim
checker are scripted fakes so these tests are about the drafting, not the model."""
from __future__ import annotations

import re

import pytest

from bot.memory import ConversationStore
from bot.reply import Citation, Reply
from bot.staff import Draft, make_draft, split_sentences, staff_send
from trustgen.types import CheckedReply, Claim, Fact

PRICE = re.compile(r"\$(\d+(?:\.\d\d)?)")


def price_checker(text: str, facts) -> CheckedReply:
    """A scripted claim checker that knows one kind of claim: a price must equal a fact's `price` field."""
    claims = []
    for match in PRICE.finditer(text):
        value = float(match.group(1))
        sources = tuple(f.id for f in facts if f.fields.get("price") == value)
        claims.append(Claim("price", match.group(0), f"{value:.2f}", bool(sources), sources))
    return CheckedReply(text, tuple(claims))


class ScriptedBot:
    """Stands in for bot.agent.Bot: its memory, and a `preview` that returns a queued answer without saving."""

    def __init__(self, memory: ConversationStore):
        self.memory = memory
        self.previews: list[tuple[Reply, list[Fact]]] = []
        self.asked: list[tuple[str, str]] = []

    def enqueue(self, reply: Reply, facts: list[Fact]) -> None:
        self.previews.append((reply, facts))

    def preview(self, message: str, session_id: str):
        self.asked.append((message, session_id))
        return self.previews.pop(0)


def variant_fact(store, item_id: str) -> Fact:
    v = store.get_variant(item_id)
    options = ", ".join(v["options"].values())
    stock = "in stock" if v["available"] else "out of stock"
    return Fact(f"item:{item_id}", "product", f"{v['name']} ({options}): ${v['price']:.2f}, {stock}",
                {"price": v["price"], "available": v["available"], "options": v["options"]})


@pytest.fixture
def memory(tmp_path):
    m = ConversationStore(tmp_path / "conversations.db")
    yield m
    m.close()


@pytest.fixture
def shirt(store):
    """A real T-Shirt variant of the demo shop, as the bot would gather it."""
    item_id = next(v["item_id"] for v in store.variants() if v["name"] == "T-Shirt" and v["available"])
    return variant_fact(store, item_id)


def test_each_sentence_shows_its_evidence_and_wrong_prices_are_flagged(store, memory, shirt):
    bot = ScriptedBot(memory)
    memory.add_turn("s", "user", "hello")
    memory.add_turn("s", "assistant", "Hi!", {"text": "Hi!", "intent": "greeting"})
    memory.add_turn("s", "user", "How much is that T-Shirt?")
    price = shirt.fields["price"]
    wrong = round(price + 10, 2)
    text = (f"The T-Shirt you asked about costs ${price:.2f}. It is in stock in that option. "
            f"With shipping it comes to ${wrong:.2f}.")
    bot.enqueue(Reply(text, citations=[Citation(shirt.id, shirt.kind, shirt.text)], intent="product_question",
                      confidence=0.9), [shirt])
    turns_before = memory.history("s")

    draft = make_draft(bot, "s", checker=price_checker)

    assert isinstance(draft, Draft) and bot.asked == [("How much is that T-Shirt?", "s")]
    assert draft.question == "How much is that T-Shirt?"
    assert [s.text for s in draft.sentences] == split_sentences(text) and len(draft.sentences) == 3
    first, second, third = draft.sentences
    assert first.evidence == [Citation(shirt.id, "product", shirt.text)] and not first.flagged
    assert second.evidence == [] and not second.flagged  # no claim the checker knows: nothing to show or flag
    assert third.flagged and f"${wrong:.2f}" in third.note and third.evidence == []
    assert draft.text == text
    assert "1 sentence flagged" in draft.note
    assert draft.facts == [Citation(shirt.id, "product", shirt.text)]
    assert memory.history("s") == turns_before  # drafting saves nothing


def test_citations_count_as_facts_when_the_preview_hands_over_none(memory, shirt):
    bot = ScriptedBot(memory)
    memory.add_turn("s", "user", "price?")
    price = shirt.fields["price"]
    bot.enqueue(Reply(f"It costs ${price:.2f}.", citations=[Citation(shirt.id, shirt.kind, shirt.text)]), [])

    def text_checker(text, facts):
        claims = [Claim("price", m.group(0), m.group(1), any(m.group(0) in f.text for f in facts),
                        tuple(f.id for f in facts if m.group(0) in f.text)) for m in PRICE.finditer(text)]
        return CheckedReply(text, tuple(claims))

    draft = make_draft(bot, "s", checker=text_checker)
    assert [(s.flagged, [c.id for c in s.evidence]) for s in draft.sentences] == [(False, [shirt.id])]


def test_evidence_prefers_the_facts_the_reply_cites(store, memory, shirt):
    same_price = Fact("item:other", "product", "Another variant at the same price", {"price": shirt.fields["price"]})
    bot = ScriptedBot(memory)
    memory.add_turn("s", "user", "price?")
    cites = [Citation(shirt.id, shirt.kind, shirt.text)]
    bot.enqueue(Reply(f"It costs ${shirt.fields['price']:.2f}.", citations=cites), [same_price, shirt])
    draft = make_draft(bot, "s", checker=price_checker)
    assert [c.id for c in draft.sentences[0].evidence] == [shirt.id]
    uncited = ScriptedBot(memory)
    uncited.enqueue(Reply(f"It costs ${shirt.fields['price']:.2f}."), [same_price, shirt])
    assert [c.id for c in make_draft(uncited, "s", checker=price_checker).sentences[0].evidence] == [
        "item:other", shirt.id]


def test_draft_notes_a_hand_over_and_low_confidence(memory):
    bot = ScriptedBot(memory)
    memory.add_turn("s", "user", "my parcel arrived wet and I am upset")
    bot.enqueue(Reply("I am passing you to a person.", intent="complaint", confidence=0.3, handover=True), [])
    draft = make_draft(bot, "s", checker=price_checker)
    assert "hand this conversation over" in draft.note and "confidence 0.30" in draft.note
    assert [s.flagged for s in draft.sentences] == [False]


def test_no_question_yet_gives_an_empty_draft(memory):
    bot = ScriptedBot(memory)
    memory.session("s")
    draft = make_draft(bot, "s", checker=price_checker)
    assert draft.sentences == [] and draft.text == "" and "not asked" in draft.note
    assert bot.asked == []


def test_without_preview_the_sent_reply_is_checked_against_its_citations(store, memory, shirt):
    """A bot without `preview`: the draft starts from the reply already sent, evidence from its citations."""

    class MemoryOnly:
        def __init__(self, memory):
            self.memory = memory

    price = shirt.fields["price"]
    sent = Reply(f"It costs ${price:.2f}. Another one costs $1.00.",
                 citations=[Citation(shirt.id, shirt.kind, shirt.text)], intent="product_question")
    memory.add_turn("s", "user", "price?")
    memory.add_turn("s", "assistant", sent.text, sent.to_dict())

    def text_checker(text, facts):  # the rebuilt facts carry only their text, so check against that
        claims = [Claim("price", m.group(0), m.group(1), any(m.group(0) in f.text for f in facts),
                        tuple(f.id for f in facts if m.group(0) in f.text)) for m in PRICE.finditer(text)]
        return CheckedReply(text, tuple(claims))

    draft = make_draft(MemoryOnly(memory), "s", checker=text_checker)
    assert [s.flagged for s in draft.sentences] == [False, True]
    assert draft.text == sent.text
    assert draft.sentences[0].evidence == [Citation(shirt.id, "product", shirt.text)]

    memory.add_turn("s", "user", "and now?")  # not answered yet
    assert "No reply" in make_draft(MemoryOnly(memory), "s", checker=text_checker).note


def test_draft_keeps_the_line_breaks_of_a_list(memory):
    bot = ScriptedBot(memory)
    memory.add_turn("s", "user", "what do you have?")
    text = "We have:\n- Water Bottle\n- Office Chair"
    bot.enqueue(Reply(text), [])
    draft = make_draft(bot, "s", checker=price_checker)
    assert draft.text == text and [s.text for s in draft.sentences] == ["We have:", "- Water Bottle", "- Office Chair"]


def test_sentence_split_keeps_prices_ids_and_lists_whole():
    text = ("Order #W2611340 costs $536.65. It was paid with a gift card!\n- Water Bottle\n- Office Chair\n"
            "Anything else?")
    assert split_sentences(text) == ["Order #W2611340 costs $536.65.", "It was paid with a gift card!",
                                     "- Water Bottle", "- Office Chair", "Anything else?"]
    assert split_sentences("") == [] and split_sentences("   \n ") == []


def test_staff_reply_reaches_the_chat_and_keeps_the_hand_over(memory):
    memory.add_turn("s", "user", "I want a person")
    memory.open_ticket("s", "customer asked for a person", "Wants a person.")
    turn_id = staff_send(memory, "s", "  Hello, this is Sam from the shop. \ud800 ", staff="sam")
    last = memory.history("s")[-1]
    assert (last.turn_id, last.role, last.reply) == (turn_id, "staff", {"staff": "sam"})
    assert last.text == "Hello, this is Sam from the shop. \ufffd"
    session = memory.session("s")
    assert session.status == "handover" and session.handled_by == "sam"
    assert len(memory.tickets()) == 1  # the ticket stays in the queue until staff close it
    memory.set_feedback("s", turn_id, True)  # the customer can rate a person's reply too
    with pytest.raises(ValueError, match="needs some text"):
        staff_send(memory, "s", "   ")


class QueuedChecker:
    """A claim checker that returns the claims queued for it, whatever the text (it records what it saw)."""

    def __init__(self, *claims: Claim):
        self.claims, self.seen = claims, []

    def __call__(self, text, facts) -> CheckedReply:
        self.seen.append(text)
        return CheckedReply(text, self.claims)


def test_repeated_words_go_to_the_sentence_where_each_claim_stands(memory, shirt):
    bot = ScriptedBot(memory)
    memory.add_turn("s", "user", "and the other colour?")
    text = "The blue one costs $50.88. The purple one costs $50.88 too."
    bot.enqueue(Reply(text), [shirt])
    checker = QueuedChecker(Claim("price", "$50.88", "50.88", True, (shirt.id,)),
                            Claim("price", "$50.88", "50.88", False))
    draft = make_draft(bot, "s", checker=checker)
    assert checker.seen == [text]  # checked once, as a whole, so a pronoun keeps its product
    assert [(s.flagged, len(s.evidence)) for s in draft.sentences] == [(False, 1), (True, 0)]


def test_a_claim_outside_every_sentence_is_not_lost(memory, shirt):
    bot = ScriptedBot(memory)
    memory.add_turn("s", "user", "price?")
    bot.enqueue(Reply("It costs fifty dollars."), [shirt])
    draft = make_draft(bot, "s", checker=QueuedChecker(Claim("price", "$50.00", "50.00", False)))
    assert "price '$50.00'" in draft.note

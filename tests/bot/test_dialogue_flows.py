"""The policy flows on the real demo shop: identification first, one customer per conversation, explicit yes,
and every refusal (unknown order, another customer's order, item not in the order, unavailable variant, gift card
short, ambiguous yes) changes nothing in the store."""
from __future__ import annotations

from dialogue_helpers import make_bot, talk

OLIVIA = "I'm Olivia Ito, zip code 80218."  # pending #W5442520, delivered #W5866402
OMAR = "My email is omar.lopez1868@example.com."  # delivered #W7273336 (gaming mouse, bookshelf, ...)


def test_identification_comes_before_account_details(demo_db, tmp_path):
    bot = make_bot(demo_db, tmp_path)
    reply = bot.respond("What's the status of order #W5442520?", session_id="s")
    assert reply.awaiting == "identify" and "pending" not in reply.text
    reply = bot.respond(OLIVIA, session_id="s")
    assert "#W5442520" in reply.text and "pending" in reply.text
    assert bot.customer_data("s")["user_id"] == "olivia_ito_3591"


def test_refusals_change_nothing(demo_db, tmp_path):
    bot = make_bot(demo_db, tmp_path)
    before = bot.store.export()
    talk(bot, "s", OLIVIA)
    unknown = bot.respond("Please cancel order #W0000000", session_id="s")
    assert "couldn't find an order #W0000000" in unknown.text
    other = bot.respond("Actually, cancel order #W7273336 instead", session_id="s")
    assert "isn't on your account" in other.text
    second = bot.respond(OMAR, session_id="s")
    assert "one customer per conversation" in second.text
    peek = bot.respond("What's in order #W7273336?", session_id="s")
    assert "isn't on your account" in peek.text and "Gaming Mouse" not in peek.text
    assert bot.store.export() == before


def test_item_not_in_order_and_unavailable_variant(demo_db, tmp_path):
    bot = make_bot(demo_db, tmp_path)
    before = bot.store.export()
    r = talk(bot, "s", "I want to exchange items from order #W7273336", OMAR)[-1]
    assert r.awaiting == "items" and "only once per order" in r.text
    r = bot.respond("The purple T-Shirt", session_id="s")
    assert r.awaiting == "items" and "couldn't find that item" in r.text
    r = bot.respond("The gaming mouse", session_id="s")
    assert r.awaiting == "new_item"
    mouse = next(i for i in bot.store.get_order("#W7273336")["items"] if i["name"] == "Gaming Mouse")
    variants = bot.store.get_product(mouse["product_id"])["variants"].values()
    gone = next(v for v in variants if not v["available"])
    wanted = ", ".join(f"{k}: {v}" for k, v in gone["options"].items())
    r = bot.respond(f"I'd like the one with {wanted}", session_id="s")
    assert "not available" in r.text and r.awaiting == "new_item"
    assert bot.store.export() == before


def test_gift_card_without_enough_balance(demo_db, tmp_path):
    bot = make_bot(demo_db, tmp_path)
    before = bot.store.export()
    talk(bot, "s", "I'd like to exchange an item I received in order #W1539823", "I'm Emma Santos, zip code 78228.",
         "The smart watch", "I'd like the one with color: gold, display: AMOLED")
    r = bot.respond("Please use my gift card", session_id="s")
    assert "can't be used" in r.text and "doesn't cover" in r.text and r.awaiting == "payment"
    assert r.claims_unsupported == 0  # the amount it must cover is a computed fact, checked like the rest
    assert bot.store.export() == before


def test_ambiguous_yes_is_asked_again_and_only_yes_acts(demo_db, tmp_path):
    bot = make_bot(demo_db, tmp_path)
    before = bot.store.export()
    r = talk(bot, "s", "I want to cancel order #W5442520", OLIVIA, "I ordered it by mistake")[-1]
    assert r.awaiting == "confirm" and "ordered by mistake" in r.text
    for hedge in ("maybe", "ok I guess?", "yes but..."):
        r = bot.respond(hedge, session_id="s")
        assert r.awaiting == "confirm" and "clear yes or no" in r.text and r.action is None
        assert bot.store.export() == before
    r = bot.respond("yes", session_id="s")
    assert r.action == "cancel_pending_order"
    order = bot.store.get_order("#W5442520")
    assert order["status"] == "cancelled" and order["cancel_reason"] == "ordered by mistake"


def test_no_declines_and_bad_reason_is_refused(demo_db, tmp_path):
    bot = make_bot(demo_db, tmp_path)
    before = bot.store.export()
    r = talk(bot, "s", "Cancel my order #W5442520 please", OLIVIA, "I found it cheaper somewhere else")[-1]
    assert r.awaiting == "reason" and "'no longer needed' or 'ordered by mistake'" in r.text
    r = talk(bot, "s", "I no longer need it", "no")[-1]
    assert "haven't changed anything" in r.text
    assert bot.store.export() == before


def test_handover_opens_a_ticket(demo_db, tmp_path):
    bot = make_bot(demo_db, tmp_path)
    r = bot.respond("I want to talk to a real person", session_id="h")
    assert r.handover and r.action == "handover"
    tickets = bot.handover_queue()
    assert [t.session_id for t in tickets] == ["h"] and "talk to a real person" in tickets[0].summary


def test_session_survives_restart(demo_db, tmp_path):
    bot = make_bot(demo_db, tmp_path)
    talk(bot, "s", "I want to cancel order #W5442520", OLIVIA)
    bot.close()
    from bot import Bot
    again = Bot.load(tmp_path / "shop", writer=bot.writer, classifier=bot.classifier, index=bot.index)
    r = again.respond("I ordered it by mistake", session_id="s")
    assert r.awaiting == "confirm" and "#W5442520" in r.text
    assert r.claims_checked > 0 and r.claims_unsupported == 0


def test_what_do_you_know_and_forget_me(demo_db, tmp_path):
    bot = make_bot(demo_db, tmp_path)
    r = bot.respond("What do you know about me?", session_id="p")
    assert r.awaiting == "identify"
    r = bot.respond(OLIVIA, session_id="p")
    assert "olivia" in r.text.lower() and "#W5442520" in r.text
    before = bot.store.export()
    r = bot.respond("Please forget me", session_id="p")
    assert r.action == "forget" and "erased" in r.text
    assert bot.memory.sessions_of("olivia_ito_3591") == [] and bot.memory.history("p") == []
    assert bot.store.export() == before  # the shop's records of accounts and orders stay

"""What a new customer tried on the demo shop, end to end through the reader, the flows and the claim check:
each case failed before messages were read once into a Reading and catalog answers computed from the database."""
from __future__ import annotations

import functools

import pytest
from dialogue_helpers import make_bot, talk


@functools.lru_cache(maxsize=1)
def embedder():
    from knowledge.embeddings import default_embedder
    return default_embedder()


@functools.lru_cache(maxsize=1)
def clauses():
    from bot.nlu.classify import MiniLMClauses
    clf = MiniLMClauses.load()  # on the reader's own encoder
    clf.predict(["warm up"], [""])
    return clf


@functools.lru_cache(maxsize=1)
def real_index(demo_db):
    """The shop's FAQ and policy, and one variant of each product, indexed with the real MiniLM (about 100
    documents, so it builds in seconds): policy questions and "the nearest we sell" need real retrieval."""
    from knowledge.documents import shop_documents
    from knowledge.index import SearchIndex
    from knowledge.store import Store
    store = Store(demo_db)
    try:
        docs, seen = [], set()
        for doc in shop_documents(store):
            product = doc.metadata.get("product_id")
            if product in seen:
                continue
            seen.add(product) if product else None
            docs.append(doc)
        return SearchIndex.build(docs, embedder=embedder())
    finally:
        store.close()


def reading_bot(demo_db, tmp_path):
    from bot.understand import Reader
    bot = make_bot(demo_db, tmp_path, index=real_index(str(demo_db)))
    bot._reader = Reader.load(bot.store, index=bot.index, classifier=clauses())
    return bot


@pytest.fixture(scope="module")
def shop(demo_db, tmp_path_factory):
    """One bot for the questions that change nothing (each test in its own session)."""
    bot = reading_bot(demo_db, tmp_path_factory.mktemp("questions"))
    yield bot
    bot.close()


def product(bot, name):
    pid = next(p for p in bot.store.product_ids() if bot.store.get_product(p)["name"] == name)
    return list(bot.store.get_product(pid)["variants"].values())


def first_line(text):
    return text.split("\n")[0]


def test_we_dont_sell_washing_machines(shop):
    r = shop.respond("do you sell washing machines?", session_id="wash")
    assert first_line(r.text).startswith("No, we don't sell washing machines"), r.text
    assert not r.products and "- Vacuum Cleaner" not in r.text


def test_cheapest_mechanical_keyboard_in_stock(shop):
    r = shop.respond("which is the cheapest mechanical keyboard in stock?", session_id="kb")
    best = min((v for v in product(shop, "Mechanical Keyboard") if v["available"]), key=lambda v: v["price"])
    assert "cheapest" in first_line(r.text) and f"${best['price']:,.2f}" in first_line(r.text), r.text
    assert r.claims_unsupported == 0


def test_how_many_laptops_are_in_stock_gives_a_number(shop):
    n = sum(v["available"] for v in product(shop, "Laptop"))
    r = shop.respond("how many laptops are in stock?", session_id="laptops")
    assert f"{n} Laptops" in first_line(r.text), r.text
    assert r.claims_unsupported == 0


def test_a_grill_under_300_is_a_no(shop):
    r = shop.respond("do you have a grill under $300?", session_id="grill")
    assert first_line(r.text).startswith("No"), r.text
    assert r.text.count("- Grill") <= 1 and r.claims_unsupported == 0


def test_colours_of_the_water_bottle_are_named(shop):
    r = shop.respond("what colors does the water bottle come in?", session_id="colours")
    colours = {v["options"]["color"] for v in product(shop, "Water Bottle")}
    assert all(c in first_line(r.text) for c in colours), r.text


def test_a_gift_within_budget_never_suggests_more_expensive_items(shop):
    r = shop.respond("recommend me a gift for my dad, he likes hiking, budget 100 dollars", session_id="gift")
    assert all(p.price <= 100 for p in r.products), r.text
    assert r.products or r.text.startswith("I couldn't find")
    for p in r.products:  # one clause tied to the request; the line's own price is not repeated in it
        assert f"${p.price:,.2f}" not in p.reason and "as you asked" not in p.reason and "$100.00" in p.reason
    assert "$236" not in r.text and r.claims_unsupported == 0


def test_a_suggestion_for_a_hobby_comes_from_what_the_hobby_needs(shop):
    r = shop.respond("what would you get a photography fan? at least $400", session_id="photo")
    assert r.products, r.text
    for p in r.products:
        assert "Camera" in p.name and p.price >= 400 and "photography" in p.reason, (p.name, p.reason)
    # the closest product first, before a cheaper one that is further from the hobby
    r = shop.respond("got a present idea for my dad? he is into coffee, under 300", session_id="coffee")
    assert r.products and r.products[0].name == "Coffee Maker", [p.name for p in r.products]
    # nothing for the hobby within the budget: said so, with the hobby and the budget, never a dearer suggestion
    r = shop.respond("recommend me a gift for my dad, he likes hiking, budget 100 dollars", session_id="hike")
    assert not r.products and r.text.startswith("I couldn't find anything for hiking under $100.00"), r.text


def test_is_it_waterproof_stays_on_the_speaker(shop):
    r = shop.respond("what's the price of the Bluetooth speaker in blue?", session_id="speaker")
    assert "Bluetooth Speaker" in r.text
    r = shop.respond("is it waterproof?", session_id="speaker")
    assert "Bluetooth Speaker" in r.text and "Hiking Boots" not in r.text, r.text


def test_and_in_green_stays_on_the_yoga_mat(shop):
    shop.respond("how much is the yoga mat in blue?", session_id="mat")
    r = shop.respond("and in green?", session_id="mat")
    assert "Yoga Mat" in r.text and "green" in r.text and "Bluetooth Speaker" not in r.text, r.text


@pytest.mark.parametrize("question", ["can I exchange a tablet for a laptop?",
                                      "if I return something, how long until the refund reaches my card?",
                                      "how long do refunds take to the credit card?"])
def test_policy_questions_are_answered_without_an_identity_check(shop, question):
    before = shop.store.export()
    r = shop.respond(question, session_id="policy:" + question)
    assert r.awaiting != "identify" and "confirm who you are" not in r.text, r.text
    assert r.citations and {c.kind for c in r.citations} <= {"faq", "policy"}
    if "refund" in question:
        assert "5 to 7 business days" in r.text, r.text
    assert shop.store.export() == before


def test_thanks_and_a_question_are_both_answered(shop):
    n = sum(v["available"] for v in product(shop, "T-Shirt"))
    r = shop.respond("Thank you. Also, how many T-Shirt options are available right now?", session_id="thanks")
    assert r.text.startswith("You're welcome") and str(n) in r.text, r.text


def test_four_items_named_the_short_way_none_dropped_without_a_word(demo_db, tmp_path):
    """#W4817420 (delivered) holds a water bottle, bookshelf, action camera, electric kettle and hiking boots."""
    bot = reading_bot(demo_db, tmp_path)
    before = bot.store.export()
    r = talk(bot, "s", "my email is ava.moore6020@example.com",
             "i want to return the bottle, the kettle, the camera and the backpack from order W4817420")[-1]
    assert "backpack" in r.text.lower() and r.awaiting == "items", r.text
    assert bot.store.export() == before


def test_a_casual_cancellation_goes_through(demo_db, tmp_path):
    bot = reading_bot(demo_db, tmp_path)
    r = talk(bot, "s", "cancel order w5442520", "name's olivia ito, zip 80218", "don't need it anymore")[-1]
    assert r.awaiting == "confirm" and "no longer needed" in r.text, r.text
    r = bot.respond("yep", session_id="s")
    assert r.action == "cancel_pending_order"
    assert bot.store.get_order("#W5442520")["cancel_reason"] == "no longer needed"


def test_exchange_for_a_new_identical_one_is_understood(demo_db, tmp_path):
    bot = reading_bot(demo_db, tmp_path)
    before = bot.store.export()
    r = talk(bot, "s", "my email is emma.santos7683@example.com",
             "i want to exchange the cycling helmet from order #W3113816 for a new identical one")[-1]
    assert "couldn't match" not in r.text and "identical" in r.text, r.text
    assert bot.store.export() == before


def test_a_casual_return_by_short_name_to_paypal(demo_db, tmp_path):
    """#W4794911 (delivered, paid with PayPal) holds an Electric Kettle; the customer also has a gift card."""
    bot = reading_bot(demo_db, tmp_path)
    r = talk(bot, "s", "hey i want to return the kettle from order w4794911", "name's yusuf garcia, zip 20080")[-1]
    assert r.awaiting == "payment", r.text
    r = bot.respond("paypal", session_id="s")
    assert r.awaiting == "confirm" and "PayPal" in r.text, r.text
    r = bot.respond("yep", session_id="s")
    assert r.action == "return_delivered_order_items"
    order = bot.store.get_order("#W4794911")
    kettle = next(i["item_id"] for i in order["items"] if i["name"] == "Electric Kettle")
    assert order["return_items"] == [kettle] and order["return_payment_method_id"] == "paypal_7503218"


def test_a_four_item_exchange_in_one_message_is_taken_whole(demo_db, tmp_path):
    """#W3113816 (delivered): each item to the one other variant that differs in the option named."""
    bot = reading_bot(demo_db, tmp_path)
    ask = ("i want to exchange 4 things from order w3113816: the helmet for a black one, the dumbbell set for the "
           "iron one, the thermostat for a black one and the keyboard for the tactile one. pay the difference with "
           "my credit card")
    r = talk(bot, "s", "my email is emma.santos7683@example.com", ask)[-1]
    assert r.awaiting == "confirm" and r.text.count("- exchange ") == 4, r.text
    r = bot.respond(ask, session_id="s")  # the same full message again is still taken in whole
    assert r.awaiting == "confirm" and r.text.count("- exchange ") == 4, r.text
    assert bot.respond("yes", session_id="s").action == "exchange_delivered_order_items"
    assert sorted(bot.store.get_order("#W3113816")["exchange_new_items"]) == sorted(
        ["1665571435", "6245231688", "4953074738", "9991484137"])

"""The policy flows on the real demo shop: identification first, one customer per conversation, explicit yes,
and every refusal (unknown order, another customer's order, item not in the order, unavailable variant, gift card
short, ambiguous yes) changes nothing in the store."""
from __future__ import annotations

from dialogue_helpers import make_bot, talk

OLIVIA = "I'm Olivia Ito, zip code 80218."  # pending #W5442520, delivered #W5866402
OMAR = "My email is omar.lopez1868@example.com."  # delivered #W7273336 (gaming mouse, bookshelf, ...)
AVA = "ava.moore6020@example.com"  # delivered #W4817420 (bottle, bookshelf, action camera, kettle, boots), #W8951014


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


def test_a_yes_repeated_after_the_cancel_went_through_says_so(demo_db, tmp_path):
    """The server applied a cancel and stopped before its reply was saved or sent; the customer says yes again.
    They are told it is done, not "I couldn't do that"; nothing is applied twice."""
    bot = make_bot(demo_db, tmp_path)
    r = talk(bot, "s", "I want to cancel order #W5442520", OLIVIA, "I ordered it by mistake")[-1]
    assert r.awaiting == "confirm"
    bot.store.cancel_pending_order("#W5442520", "ordered by mistake")  # what the stopped server had done
    after = bot.store.export()
    r = bot.respond("yes", session_id="s")
    assert "already cancelled" in r.text and "couldn't" not in r.text and r.action is None
    assert r.claims_unsupported == 0 and bot.store.export() == after
    r = talk(bot, "t", "I want to cancel order #W7941031", OLIVIA, "I ordered it by mistake")[-1]
    assert r.awaiting == "confirm"
    bot.store.cancel_pending_order("#W7941031", "no longer needed")  # cancelled, but not as planned
    assert "couldn't do that" in bot.respond("yes", session_id="t").text


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


# ---------------------------------------------------------------- the flows decide from Readings made by hand
from bot.reading import CatalogQuery, ItemChange, ItemRef, Payment, Reading, Request  # noqa: E402

AVA = Request("identify", email="ava.moore6020@example.com")  # delivered #W4817420: bottle, bookshelf, camera, ...
EMMA = Request("identify", email="emma.santos7683@example.com")  # delivered #W3113816: helmet, dumbbells, ...


class ScriptedReader:
    """The reader's seam with the Readings scripted: each message maps to the Reading given for it."""

    def __init__(self, readings: dict[str, Reading]):
        self.readings = readings

    def read(self, text, state):
        return self.readings[text]

    def remember(self, state, reading):
        pass


def scripted_bot(demo_db, tmp_path, readings: dict):
    return make_bot(demo_db, tmp_path, reader=ScriptedReader(
        {k: v if isinstance(v, Reading) else Reading(requests=tuple(v)) for k, v in readings.items()}))


def ref(bot, name, **options):
    pid = next(p for p in bot.store.product_ids() if bot.store.get_product(p)["name"] == name)
    return ItemRef(product_id=pid, options=tuple(sorted(options.items())), mention=f"the {name.lower()}")


def test_an_item_that_cannot_be_matched_is_named_and_asked_about(demo_db, tmp_path):
    bot = scripted_bot(demo_db, tmp_path, {})
    blender = ItemRef(mention="the blender")
    wanted = [ref(bot, "Water Bottle"), ref(bot, "Electric Kettle"), ref(bot, "Action Camera"), blender]
    bot.reader.readings.update({
        "return four": Reading((Request("order_task", task="return", order_ids=("#W4817420",),
                                        items=tuple(ItemChange(r) for r in wanted)), AVA)),
        "just those": Reading((Request("confirm"),)),
        "gift card": Reading((Request("detail", payment=Payment(source="gift_card")),)),
    })
    before = bot.store.export()
    r = bot.respond("return four", session_id="s")
    assert r.awaiting == "items" and "'the blender'" in r.text
    assert all(n in r.text for n in ("Water Bottle", "Electric Kettle", "Action Camera"))
    assert bot.store.export() == before
    r = bot.respond("just those", session_id="s")  # go on with the three found
    assert r.awaiting == "confirm" and r.text.count("\n- ") >= 1
    lines = r.text.split("\n")[1]
    assert all(n in lines for n in ("Water Bottle", "Electric Kettle", "Action Camera")) and "Bookshelf" not in lines
    r = bot.respond("just those", session_id="s")
    assert r.action == "return_delivered_order_items"
    returned = {i for i in bot.store.get_order("#W4817420")["return_items"]}
    assert len(returned) == 3


def test_a_four_item_exchange_in_one_message_is_taken_whole(demo_db, tmp_path):
    bot = scripted_bot(demo_db, tmp_path, {})
    order = bot.store.get_order("#W3113816")
    changes, expected = [], {}
    for item in order["items"][:4]:
        variants = bot.store.get_product(item["product_id"])["variants"].values()
        new = next(v for v in variants if v["available"] and v["item_id"] != item["item_id"])
        differ = {k: v for k, v in new["options"].items() if item["options"].get(k) != v}
        fits = [v for v in variants if v["available"] and all(v["options"][k] == x for k, x in differ.items())
                and v["item_id"] != item["item_id"]]
        if len(fits) > 1:
            differ = dict(new["options"])  # say it in full when the changed options alone leave a choice
        changes.append(ItemChange(ref(bot, item["name"], **item["options"]), new_options=tuple(sorted(differ.items()))))
        expected[item["item_id"]] = new["item_id"]
    bot.reader.readings.update({
        "exchange four": Reading((EMMA, Request("order_task", task="exchange", order_ids=("#W3113816",),
                                                items=tuple(changes), payment=Payment(source="credit_card")))),
        "exchange four again": Reading((Request("order_task", task="exchange", order_ids=("#W3113816",),
                                                items=tuple(changes), payment=Payment(source="credit_card")),)),
        "yes": Reading((Request("confirm"),)),
    })
    r = bot.respond("exchange four", session_id="s")
    assert r.awaiting == "confirm", r.text
    assert r.text.count("- exchange ") == 4
    r = bot.respond("exchange four again", session_id="s")  # the same message again is still the same request
    assert r.awaiting == "confirm" and r.text.count("- exchange ") == 4
    r = bot.respond("yes", session_id="s")
    assert r.action == "exchange_delivered_order_items"
    done = bot.store.get_order("#W3113816")
    assert sorted(done["exchange_new_items"]) == sorted(expected.values())


def test_exchange_for_an_identical_one_is_explained_not_misread(demo_db, tmp_path):
    bot = scripted_bot(demo_db, tmp_path, {})
    item = bot.store.get_order("#W3113816")["items"][0]
    same = ItemChange(ref(bot, item["name"]), same=True)
    bot.reader.readings["same"] = Reading((EMMA, Request("order_task", task="exchange", order_ids=("#W3113816",),
                                                         items=(same,))))
    before = bot.store.export()
    r = bot.respond("same", session_id="s")
    assert r.awaiting == "new_item" and "not for an identical one" in r.text and "couldn't match" not in r.text
    assert bot.store.export() == before


def test_account_look_up_needs_identification_but_policy_questions_do_not(demo_db, tmp_path):
    bot = scripted_bot(demo_db, tmp_path, {
        "status": [Request("account_info", task="order_status", order_ids=("#W4817420",))],
        "policy": [Request("policy", faq_ids=("faq:exchange-who",))],
        "me": [AVA],
    })
    r = bot.respond("status", session_id="s")
    assert r.awaiting == "identify" and "delivered" not in r.text
    r = bot.respond("policy", session_id="s")  # asked while the identity question is open
    assert r.awaiting == "" and r.citations[0].id == "faq:exchange-who"
    r = bot.respond("me", session_id="s")
    assert "#W4817420" in r.text and "delivered" in r.text
    assert bot.memory.session("s").state["focus"]["order_ids"][0] == "#W4817420"  # "that order" next


def test_the_focus_is_what_the_answer_showed(demo_db, tmp_path):
    bot = scripted_bot(demo_db, tmp_path, {})
    speaker = next(p for p in bot.store.product_ids() if bot.store.get_product(p)["name"] == "Bluetooth Speaker")
    query = CatalogQuery(want="price", product_ids=(speaker,), options=(("color", "blue"),))
    bot.reader.readings["blue speaker"] = Reading((Request("catalog", catalog=query),))
    r = bot.respond("blue speaker", session_id="f")
    focus = bot.memory.session("f").state["focus"]
    assert focus["product_ids"][0] == speaker and focus["options"] == {"color": "blue"}
    shown = [c.id.split(":", 1)[1] for c in r.citations if c.id.startswith("item:")]
    assert focus["item_ids"] and set(focus["item_ids"]) <= set(shown)
    assert all(bot.store.get_variant(i)["options"]["color"] == "blue" for i in focus["item_ids"])
    assert focus["catalog"]["want"] == "price"


def test_several_requests_in_one_message_are_answered_in_order(demo_db, tmp_path):
    bot = scripted_bot(demo_db, tmp_path, {})
    shirt = next(p for p in bot.store.product_ids() if bot.store.get_product(p)["name"] == "T-Shirt")
    bot.reader.readings["thanks and count"] = Reading((
        Request("thanks"), Request("catalog", catalog=CatalogQuery(want="count", product_ids=(shirt,), in_stock=True))))
    n = sum(v["available"] for v in bot.store.get_product(shirt)["variants"].values())
    r = bot.respond("thanks and count", session_id="s")
    first, second = r.text.split("\n\n", 1)
    assert first == "You're welcome." and second.startswith(f"We have {n} T-Shirts in stock.")
    assert r.claims_unsupported == 0


def test_step_by_step_exchange_with_choices_payment_and_hedged_yes(demo_db, tmp_path):
    """The questions one at a time, as a customer answers them: items, the new option, a choice, payment, yes."""
    bot = scripted_bot(demo_db, tmp_path, {})
    watch = ref(bot, "Smart Watch")
    card = Payment(source="credit_card", last_four="6380")
    bot.reader.readings.update({
        "exchange": Reading((Request("order_task", task="change", order_ids=("#W1539823",)),)),
        "emma": Reading((EMMA,)),
        "a blender": Reading((Request("detail", items=(ItemChange(ItemRef(mention="the blender")),)),)),
        "the watch": Reading((Request("detail", items=(ItemChange(watch),)),)),
        "gold": Reading((Request("detail", items=(ItemChange(ItemRef(), new_options=(("color", "gold"),)),)),)),
        "gold amoled": Reading((Request("detail", items=(ItemChange(ItemRef(), new_options=(
            ("color", "gold"), ("display", "AMOLED"))),)),)),
        "gift card": Reading((Request("detail", payment=Payment(source="gift_card")),)),
        "card": Reading((Request("detail", payment=card),)),
        "maybe": Reading((Request("hedge"),)),
        "how much is it": Reading((Request("catalog", catalog=CatalogQuery(want="price", product_ids=(
            watch.product_id,), options=(("color", "gold"),))),)),
        "yes": Reading((Request("confirm"),)),
    })
    before = bot.store.export()
    r = talk(bot, "s", "exchange", "emma")[-1]
    assert r.awaiting == "items" and "Smart Watch" in r.text
    r = bot.respond("a blender", session_id="s")
    assert r.awaiting == "items" and "'the blender'" in r.text and "couldn't find that item" in r.text
    r = bot.respond("the watch", session_id="s")
    assert r.awaiting == "new_item" and "instead of the Smart Watch" in r.text
    r = bot.respond("gold", session_id="s")
    assert r.awaiting in ("choice", "new_item"), r.text
    r = bot.respond("gold amoled", session_id="s")
    assert r.awaiting == "payment", r.text
    r = bot.respond("gift card", session_id="s")  # a $36.00 balance does not cover the difference
    assert "doesn't cover" in r.text and r.awaiting == "payment" and r.claims_unsupported == 0
    r = bot.respond("card", session_id="s")
    assert r.awaiting == "confirm" and "Mastercard credit card ending in 6380" in r.text
    r = bot.respond("how much is it", session_id="s")  # a question while confirming: answered, then asked again
    assert "Smart Watch" in r.text.split("\n\n")[0] and r.awaiting == "confirm" and "clear yes or no" in r.text
    r = bot.respond("maybe", session_id="s")
    assert r.awaiting == "confirm" and bot.store.export() == before
    r = bot.respond("yes", session_id="s")
    assert r.action == "exchange_delivered_order_items"
    assert bot.store.get_order("#W1539823")["status"] == "exchange requested"


def test_an_unsure_yes_is_asked_again(demo_db, tmp_path):
    bot = scripted_bot(demo_db, tmp_path, {
        "cancel": [Request("order_task", task="cancel", order_ids=("#W5442520",), reason="ordered by mistake",
                           name=("Olivia", "Ito"), zip="80218")],
        "yes but": [Request("confirm", confidence=0.47)],
        "yes": [Request("confirm", confidence=0.99)],
    })
    before = bot.store.export()
    assert bot.respond("cancel", session_id="s").awaiting == "confirm"
    r = bot.respond("yes but", session_id="s")
    assert r.awaiting == "confirm" and "clear yes or no" in r.text and bot.store.export() == before
    assert bot.respond("yes", session_id="s").action == "cancel_pending_order"


def test_never_mind_and_another_request_drops_the_first_and_takes_up_the_second(demo_db, tmp_path):
    # asked which items of one order, the customer drops it and asks about another order in the same message
    bot = scripted_bot(demo_db, tmp_path, {
        "return from the first": [AVA, Request("order_task", task="return", order_ids=("#W4817420",))],
        "never mind, return from the second": [Request("deny"),
                                               Request("order_task", task="return", order_ids=("#W8951014",))],
    })
    assert bot.respond("return from the first", session_id="s").awaiting == "items"
    r = bot.respond("never mind, return from the second", session_id="s")
    assert r.awaiting == "items" and "#W8951014" in r.text and "#W4817420" not in r.text
    assert bot.memory.session("s").state["task"]["order_id"] == "#W8951014"


def test_no_with_the_request_stated_again_replaces_the_one_listed(demo_db, tmp_path):
    bot = scripted_bot(demo_db, tmp_path, {})
    bottle, camera = ref(bot, "Water Bottle"), ref(bot, "Action Camera")
    bot.reader.readings.update({
        "return the bottle": Reading((AVA, Request("order_task", task="return", order_ids=("#W4817420",),
                                                   items=(ItemChange(bottle),), payment=Payment(source="gift_card")))),
        "no, the camera": Reading((Request("deny"), Request("order_task", task="return", order_ids=("#W4817420",),
                                                            items=(ItemChange(camera),),
                                                            payment=Payment(source="gift_card")))),
    })
    before = bot.store.export()
    r = bot.respond("return the bottle", session_id="s")
    assert r.awaiting == "confirm" and "Water Bottle" in r.text
    r = bot.respond("no, the camera", session_id="s")
    assert r.awaiting == "confirm" and "Action Camera" in r.text and "Water Bottle" not in r.text
    assert bot.store.export() == before


def test_an_item_named_again_when_asked_about_another_is_not_missing(demo_db, tmp_path):
    # "I found the water bottle but not 'the blender': which did you mean?" - "just the bottle"
    bot = scripted_bot(demo_db, tmp_path, {})
    bottle = ref(bot, "Water Bottle")
    bot.reader.readings.update({
        "return two": Reading((AVA, Request("order_task", task="return", order_ids=("#W4817420",),
                                            items=(ItemChange(bottle), ItemChange(ItemRef(mention="the blender"))),
                                            payment=Payment(source="gift_card")))),
        "just the bottle": Reading((Request("detail", items=(ItemChange(ItemRef(product_id=bottle.product_id,
                                                                                mention="bottle")),)),)),
    })
    r = bot.respond("return two", session_id="s")
    assert r.awaiting == "items" and "'the blender'" in r.text
    r = bot.respond("just the bottle", session_id="s")
    assert r.awaiting == "confirm" and "couldn't find" not in r.text and "Water Bottle" in r.text


def test_the_open_question_comes_last_and_is_what_the_reply_awaits(demo_db, tmp_path):
    # a task and a catalog question in one message: the answer first, then the task's question, still awaited
    bot = scripted_bot(demo_db, tmp_path, {})
    shirt = next(p for p in bot.store.product_ids() if bot.store.get_product(p)["name"] == "T-Shirt")
    bot.reader.readings["change and count"] = Reading((
        Request("order_task", task="modify_items", order_ids=("#W5442520",), name=("Olivia", "Ito"), zip="80218"),
        Request("catalog", catalog=CatalogQuery(want="count", product_ids=(shirt,)))))
    r = bot.respond("change and count", session_id="s")
    assert r.awaiting == "items"
    assert r.text.index("T-Shirt") < r.text.index("Which items of order #W5442520")
    assert bot.memory.session("s").state["awaiting"] == "items"


def test_never_mind_with_nothing_in_progress_is_no_misunderstanding(demo_db, tmp_path):
    bot = scripted_bot(demo_db, tmp_path, {"never mind": [Request("deny")]})
    for _ in range(3):  # said again and again, it never counts towards a hand-over
        r = bot.respond("never mind", session_id="s")
        assert not r.handover and "haven't changed anything" in r.text


def test_items_named_when_asked_which_order_are_the_items_meant(demo_db, tmp_path):
    bot = make_bot(demo_db, tmp_path)
    r = talk(bot, "s", "hi, I want to return something", AVA)[-1]
    assert r.awaiting == "order"
    r = bot.respond("just the action camera", session_id="s")
    assert r.awaiting == "confirm" and "#W4817420" in r.text
    assert "Action Camera" in r.text and "Hiking Boots" not in r.text and "Water Bottle" not in r.text


def test_that_one_when_one_order_was_listed_is_that_order(demo_db, tmp_path):
    bot = make_bot(demo_db, tmp_path)
    r = talk(bot, "s", "cancel order pls", "aarav.anderson9752@example.com")[-1]
    assert r.awaiting == "order" and r.text.count("#W") == 1
    r = bot.respond("yeah that one, i ordered it by mistake", session_id="s")
    assert r.awaiting == "confirm" and "#W9300146" in r.text and "ordered by mistake" in r.text
    r = talk(bot, "t", "i need to change the shipping address on my order", "Isabella Sanchez 85093")[-1]
    assert r.awaiting == "order" and r.text.count("#W") == 1
    r = bot.respond("that one. new address is 42 maple ave apt 3, tucson az 85701", session_id="t")
    assert r.awaiting == "confirm" and "42 Maple Ave, Apt 3, Tucson, AZ 85701" in r.text


def test_items_added_when_asked_to_confirm_join_the_others(demo_db, tmp_path):
    bot = make_bot(demo_db, tmp_path)
    r = talk(bot, "s", "hi i want to return the gaming mouse i got", "noah.brown7922@example.com")[-1]
    assert r.awaiting == "confirm" and "Gaming Mouse" in r.text and "Backpack" not in r.text
    r = bot.respond("actually add the backpack from that order too", session_id="s")
    assert r.awaiting == "confirm" and "Gaming Mouse" in r.text and "Backpack" in r.text
    r = bot.respond("no i mean just the backpack", session_id="s")
    assert r.awaiting == "confirm" and "Gaming Mouse" not in r.text and "Backpack" in r.text
    r = bot.respond("no, both: the mouse and the backpack", session_id="s")
    assert r.awaiting == "confirm" and "Gaming Mouse" in r.text and "Backpack" in r.text


def test_a_correction_when_asked_to_confirm_changes_the_task_and_asks_again(demo_db, tmp_path):
    bot = make_bot(demo_db, tmp_path)
    r = talk(bot, "s", "i need to send back an item", AVA, "the one with the hiking boots and the kettle")[-1]
    assert r.awaiting == "confirm" and "Hiking Boots" in r.text and "Electric Kettle" in r.text
    r = bot.respond("no wait, only the kettle", session_id="s")
    assert r.awaiting == "confirm" and "Electric Kettle" in r.text and "Hiking Boots" not in r.text
    r = bot.respond("yes", session_id="s")
    assert "Done" in r.text and "Electric Kettle" in r.text and "Hiking Boots" not in r.text
    returned = bot.store.get_order("#W4817420")
    assert returned["status"] == "return requested"


def test_another_order_id_when_asked_to_confirm_is_taken_up(demo_db, tmp_path):
    bot = make_bot(demo_db, tmp_path)
    before = bot.store.export()
    r = talk(bot, "s", "i want to return the water bottle", AVA, "#W8951014")[-1]
    assert r.awaiting == "confirm" and "#W8951014" in r.text
    r = bot.respond("no sorry, it's order W4817420", session_id="s")
    assert r.awaiting == "confirm" and "#W4817420" in r.text and "#W8951014" not in r.text
    r = bot.respond("no", session_id="s")
    assert r.awaiting == "" and bot.store.export() == before

"""The reader on the real demo shop: each wording from the issue about reading customers, read into a Reading.

One reader per test session: the packaged MiniLM clause classifier, and a search index of the FAQ and policy
passages only (real MiniLM embeddings, a few seconds) so policy questions get their FAQ ids.
"""
from __future__ import annotations

import pytest

from bot.reading import Reading, empty_focus

KEYBOARD, LAPTOP, GRILL, BOTTLE = "1656367028", "4760268021", "6819683148", "8310926033"
SPEAKER, YOGA_MAT, TSHIRT, KETTLE = "4768869376", "4635925001", "9523456873", "1075968781"
BACKPACK, ACTION_CAMERA, BOOTS = "2524789262", "3377618313", "7363354090"


@pytest.fixture(scope="session")
def reader(demo_db):
    import torch
    torch.set_num_threads(1)
    from bot.understand import Reader
    from knowledge.documents import faq_documents, policy_documents
    from knowledge.embeddings import default_embedder
    from knowledge.faq import load_faq, load_policy
    from knowledge.index import SearchIndex
    from knowledge.store import Store
    faq = load_faq()
    index = SearchIndex.build(faq_documents(faq) + policy_documents(load_policy(), faq=faq), embedder=default_embedder())
    r = Reader.load(Store(demo_db), index=index, embedder=default_embedder())
    r.warm_up()
    return r


def read(reader, text, **state):
    state.setdefault("focus", empty_focus())
    return reader.read(text, state)


def only(reading: Reading, kind: str):
    assert reading.kinds == (kind,), reading
    return reading.requests[0]


def test_a_product_the_shop_does_not_sell(reader):
    q = only(read(reader, "do you sell washing machines?"), "catalog").catalog
    assert (q.want, q.product_ids, q.unknown_product) == ("sell", (), "washing machines")


def test_cheapest_in_stock(reader):
    q = only(read(reader, "which is the cheapest mechanical keyboard in stock?"), "catalog").catalog
    assert (q.want, q.product_ids, q.in_stock) == ("cheapest", (KEYBOARD,), True)


def test_count_in_stock(reader):
    q = only(read(reader, "how many laptops are in stock?"), "catalog").catalog
    assert (q.want, q.product_ids, q.in_stock) == ("count", (LAPTOP,), True)


def test_price_bound_in_a_yes_no_question(reader):
    q = only(read(reader, "do you have a grill under $300?"), "catalog").catalog
    assert (q.product_ids, q.price_max, q.price_min) == ((GRILL,), 300.0, None)
    assert q.want in ("list", "sell")


def test_the_values_an_option_takes(reader):
    q = only(read(reader, "what colors does the water bottle come in?"), "catalog").catalog
    assert (q.want, q.product_ids, q.option) == ("option_values", (BOTTLE,), "color")


def test_a_gift_with_a_budget(reader):
    q = only(read(reader, "recommend me a gift for my dad, he likes hiking, budget 100 dollars"), "recommend").catalog
    assert q.price_max == 100.0


@pytest.mark.parametrize("text,bound", [("any backpacks around 190$ max", 190.0),
                                        ("show me headphones below 519 usd", 519.0),
                                        ("a yoga mat for less than 50 bucks", 50.0)])
def test_everyday_price_bounds(reader, text, bound):
    request = read(reader, text).requests[0]
    assert request.catalog.price_max == bound and request.catalog.price_min is None


def test_a_follow_up_question_is_about_the_product_before(reader):
    state = {"focus": empty_focus()}
    first = reader.read("what's the price of the Bluetooth speaker in blue?", state)
    q = only(first, "catalog").catalog
    assert (q.want, q.product_ids, q.options) == ("price", (SPEAKER,), (("color", "blue"),))
    reader.remember(state, first)
    q = only(reader.read("is it waterproof?", state), "catalog").catalog
    assert (q.product_ids, q.option) == ((SPEAKER,), "water resistance")


def test_and_in_green_refines_the_last_question(reader):
    state = {"focus": empty_focus()}
    first = reader.read("how much is the yoga mat in blue?", state)
    reader.remember(state, first)
    q = only(reader.read("and in green?", state), "catalog").catalog
    assert (q.want, q.product_ids, q.options) == ("price", (YOGA_MAT,), (("color", "green"),))


@pytest.mark.parametrize("first,then,options", [
    ("do you have the yoga mat in green?", "which one is the cheapest?", (("color", "green"),)),
    ("what colours does the yoga mat come in?", "ok and which one is cheapest", ()),
])
def test_which_one_is_cheapest_is_about_the_product_before(reader, first, then, options):
    state = {"focus": empty_focus()}
    reader.remember(state, reader.read(first, state))
    q = only(reader.read(then, state), "catalog").catalog
    assert (q.want, q.product_ids, q.options) == ("cheapest", (YOGA_MAT,), options)


def test_can_i_with_a_product_of_any_kind_asks_what_is_possible(reader):
    assert read(reader, "can i swap a shirt i got for a different size?").kinds == ("policy",)
    assert only(read(reader, "could i return the kettle please"), "order_task").task == "return"


def test_a_value_before_its_option_name_is_no_product(reader):
    q = only(read(reader, "i need a backpack with a laptop compartment"), "catalog").catalog
    assert q.product_ids == (BACKPACK,) and dict(q.options) == {"compartment": "laptop"}


def test_words_about_the_service_are_no_product_we_do_not_sell(reader):
    q = only(read(reader, "how many different products do u have"), "catalog").catalog
    assert (q.want, q.product_ids, q.unknown_product) == ("count", (), "")
    assert read(reader, "what payment do u take? apple pay?").kinds == ("policy",)


def test_an_option_value_alone_narrows_the_products_just_listed(reader):
    state = {"focus": empty_focus()}
    reader.remember(state, reader.read("how much is the bamboo skateboard", state))
    q = only(reader.read("the 34 inch one", state), "catalog").catalog
    assert dict(q.options) == {"deck material": "bamboo", "length": "34 inch"} and len(q.product_ids) == 1


@pytest.mark.parametrize("text", ["did my espresso machine get delivered?", "wheres my tea kettle",
                                  "the espresso machine i ordered, was it delivered"])
def test_where_is_my_product_asks_about_the_customers_order(reader, text):
    assert only(read(reader, text), "account_info").task == "order_status"


def test_code_pasted_into_the_chat_opens_no_order_task(reader):
    for text in ("SELECT * FROM orders WHERE 1=1", "<script>fetch(document.cookie)</script>", "'; DROP TABLE users; --"):
        assert "order_task" not in read(reader, text).kinds, text


def test_a_no_with_what_to_do_instead_when_asked_to_confirm(reader):
    focus = {**empty_focus(), "order_ids": ["#W4817420"]}
    state = {"awaiting": "confirm", "task": {"kind": "return", "order_id": "#W4817420"}, "focus": focus}
    reading = reader.read("no wait, only the kettle", state)
    assert reading.kinds == ("deny", "detail"), reading
    assert [c.item.product_id for c in reading.requests[1].items] == [KETTLE]
    reading = reader.read("no, refund it to the original payment method instead", state)
    assert reading.kinds == ("deny", "detail") and reading.requests[1].payment.original, reading


@pytest.mark.parametrize("text,answers", [
    ("can I exchange a tablet for a laptop?", {"faq:exchange-who", "faq:modify-items", "faq:exchange-once"}),
    ("if I return something, how long until the refund reaches my card?", {"faq:return-refund", "faq:cancel-refund"}),
    ("how long do refunds take to the credit card?", {"faq:return-refund", "faq:cancel-refund"}),
])
def test_policy_questions_are_never_order_tasks(reader, text, answers):
    request = only(read(reader, text), "policy")
    assert request.faq_ids and set(request.faq_ids) & answers


def test_policy_question_while_identifying(reader):
    request = read(reader, "can I exchange a tablet for a laptop?", awaiting="identify", task="exchange").requests[0]
    assert request.kind == "policy"


def test_two_requests_in_one_message_in_order(reader):
    reading = read(reader, "Thank you. Also, how many T-Shirt options are available right now?")
    assert reading.kinds == ("thanks", "catalog")
    q = reading.requests[1].catalog
    assert (q.want, q.product_ids, q.in_stock) == ("count", (TSHIRT,), True)


def test_four_items_named_the_short_way(reader):
    text = "i want to return the bottle, the keyboard, the camera and the backpack from my order w5490111"
    request = only(read(reader, text), "order_task")
    assert (request.task, request.order_ids) == ("return", ("#W5490111",))
    assert [c.item.item_id for c in request.items] == ["4579334072", "1421289881", "6117189161", "4947717507"]
    assert [c.item.product_id for c in request.items] == [BOTTLE, KEYBOARD, ACTION_CAMERA, BACKPACK]


def test_an_item_that_matches_nothing_is_kept_with_its_words(reader):
    request = only(read(reader, "return the bottle and the blender from #W5490111"), "order_task")
    assert [c.item.item_id for c in request.items] == ["4579334072", ""]
    assert request.items[1].item.mention == "the blender"


def test_a_new_identical_one(reader):
    request = only(read(reader, "exchange the hiking boots in order #W4817420 for a new identical one"), "order_task")
    assert request.task == "exchange"
    assert [(c.item.item_id, c.same, c.new_options) for c in request.items] == [("3812493782", True, ())]


def test_several_changes_in_one_message(reader):
    text = ("for #W4817420 i want to exchange the water bottle for a blue one, the bookshelf for a white one, "
            "the electric kettle for a black one and the hiking boots for size 8")
    request = only(read(reader, text), "order_task")
    assert request.task == "exchange"
    got = [(c.item.product_id, dict(c.new_options)) for c in request.items]
    assert got == [(BOTTLE, {"color": "blue"}), ("8600330539", {"color": "white"}), (KETTLE, {"color": "black"}),
                   (BOOTS, {"size": "8"})]


@pytest.mark.parametrize("text", ["cancel order w6779827", "cancel order W6779827", "cancel #w6779827 please"])
def test_order_ids_without_hash_any_case(reader, text):
    assert read(reader, text).requests[0].order_ids == ("#W6779827",)


def test_short_answers_to_the_assistants_question(reader):
    assert only(read(reader, "yep", awaiting="confirm", task="cancel"), "confirm")
    pay = only(read(reader, "paypal", awaiting="payment", task="return"), "detail").payment
    assert pay.source == "paypal"
    pay = only(read(reader, "the visa ending 1234", awaiting="payment", task="return"), "detail").payment
    assert (pay.source, pay.brand, pay.last_four) == ("credit_card", "visa", "1234")
    reason = only(read(reader, "don't need it anymore", awaiting="reason", task="cancel"), "detail").reason
    assert reason == "no longer needed"
    who = only(read(reader, "name's Mei Davis, zip 80217", awaiting="identify", task="cancel"), "identify")
    assert (who.name, who.zip) == (("Mei", "Davis"), "80217")


def test_the_kettle_is_the_electric_kettle_of_the_order_in_focus(reader):
    focus = {**empty_focus(), "order_ids": ["#W4817420"]}
    request = only(reader.read("the kettle", {"awaiting": "items", "task": "return", "focus": focus}), "detail")
    assert [(c.item.product_id, c.item.item_id) for c in request.items] == [(KETTLE, "9624127908")]


def test_empty_and_hostile_input(reader):
    assert read(reader, "").kinds == ("unclear",)
    assert read(reader, "   ").kinds == ("unclear",)
    long = read(reader, "a" * 4000)
    assert long.requests
    reading = read(reader, "<script>alert(1)</script> DROP TABLE orders; --")
    assert "order_task" not in reading.kinds


def test_a_reading_round_trips_through_json(reader):
    reading = read(reader, "i want to return the bottle, the keyboard, the camera and the backpack from #W5490111")
    assert Reading.from_dict(reading.to_dict()) == reading


# ---------------------------------------------------------------- failure kinds found by the end-to-end evaluation
WRISTWATCH, GRILL_ORDER, KETTLE_ORDER = "6066914160", "#W2809253", "#W9154975"


def test_an_email_volunteered_before_the_task_leaves_the_task_whole(reader):
    reading = read(reader, "this is kim.o@example.net exchange on order w7553778: the wristwatch for a leather strap one")
    assert reading.kinds == ("identify", "order_task")
    who, task = reading.requests
    assert who.email == "kim.o@example.net"
    assert (task.task, task.order_ids) == ("exchange", ("#W7553778",))
    assert [dict(c.new_options) for c in task.items] == [{"strap material": "leather"}]
    # said after the task, in the same sentence: still read, and put first (the account is needed before acting)
    reading = read(reader, "i'd like to send back the kettle from w4817420, my email is Kim.O@example.net")
    assert reading.kinds == ("identify", "order_task")
    assert (reading.requests[0].email, reading.requests[1].task) == ("kim.o@example.net", "return")


def test_a_reason_said_as_its_own_clause_belongs_to_the_cancel(reader):
    request = only(read(reader, "can u cancel w6779827? dont need that stuff anymore"), "order_task")
    assert (request.task, request.order_ids, request.reason) == ("cancel", ("#W6779827",), "no longer needed")
    request = only(read(reader, "Cancel order W6779827. it got bought by accident"), "order_task")
    assert (request.task, request.reason) == ("cancel", "ordered by mistake")
    # while the assistant asks why, a reason is the answer whatever else it resembles
    assert only(read(reader, "dont need it now", awaiting="reason", task="cancel"), "detail").reason == \
        "no longer needed"


def test_a_change_of_items_that_says_how_to_pay_is_not_a_return(reader):
    request = only(read(reader, f"switch the kettle to the glass one in my order {KETTLE_ORDER[1:].lower()}, "
                                "charge or refund my visa"), "order_task")
    assert request.task in ("change", "modify_items", "exchange")
    assert [(c.item.product_id, dict(c.new_options)) for c in request.items] == [(KETTLE, {"material": "glass"})]
    assert (request.payment.source, request.payment.brand) == ("credit_card", "visa")


def test_an_item_listed_with_its_options_in_brackets_is_described_not_changed(reader):
    focus = {**empty_focus(), "order_ids": ["#W4817420"]}
    request = only(reader.read("The action camera (resolution: 4K, waterproof: yes, color: black).",
                               {"awaiting": "items", "task": "exchange", "focus": focus}), "detail")
    [change] = request.items
    assert (change.item.product_id, change.new_options) == (ACTION_CAMERA, ())
    assert dict(change.item.options) == {"resolution": "4K", "waterproof": "yes", "color": "black"}
    assert change.item.item_id
    # the same description without brackets, option by option
    request = only(reader.read("the action camera, resolution 4K, waterproof yes, color black",
                               {"awaiting": "items", "task": "exchange", "focus": focus}), "detail")
    [plain] = request.items
    assert (plain.item, plain.new_options) == (change.item, ())


def test_casual_new_options_are_read_against_the_product_in_question(reader, demo_db):
    from knowledge.store import Store
    store = Store(demo_db)
    watch = next(i for i in store.get_order("#W5065081")["items"] if i["product_id"] == WRISTWATCH)
    grill = next(i for i in store.get_order(GRILL_ORDER)["items"] if i["product_id"] == GRILL)
    store.close()
    for text, order_id, item, wanted in [
            ("silicone with the black dial pls", "#W5065081", watch,
             {"strap material": "silicone", "dial color": "black"}),
            ("charcoal, large please", GRILL_ORDER, grill, {"type": "charcoal", "size": "large"})]:
        state = {"awaiting": "new_item", "task": {"kind": "change", "items": [item["item_id"]], "asking": 0},
                 "focus": {**empty_focus(), "order_ids": [order_id]}}
        [change] = only(reader.read(text, state), "detail").items
        assert dict(change.new_options) == wanted, text


def test_a_payment_phrase_after_the_items_is_not_an_item(reader):
    request = only(read(reader, "exchange the speaker for the black one from w6564160, my paypal for the price difference"),
                   "order_task")
    assert [(c.item.product_id, dict(c.new_options)) for c in request.items] == [(SPEAKER, {"color": "black"})]
    assert request.payment.source == "paypal"


def test_the_task_restated_while_asked_for_items_is_an_answer_with_the_flows_task_record(reader):
    # the flows keep the task in progress as a record whose "kind" is "change" until the order's status decides
    state = {"awaiting": "items", "task": {"kind": "change", "order_id": "#W4817420", "items": [], "new_items": []},
             "focus": {**empty_focus(), "order_ids": ["#W4817420"]}}
    request = only(reader.read("the kettle, i want to exchange it for the glass one", state), "detail")
    assert [(c.item.product_id, dict(c.new_options)) for c in request.items] == [(KETTLE, {"material": "glass"})]


@pytest.mark.parametrize("text, kind, task", [
    ("could i send back a product after it has arrived?", "policy", ""),
    ("how can i swap an order item for a different colour?", "policy", ""),
    ("i'd like to send back a couple of things from one of my orders", "order_task", "return"),
    ("please exchange something from my order, it's the wrong size", "order_task", "exchange"),
])
def test_policy_or_task_is_decided_by_whose_order_it_is(reader, text, kind, task):
    request = reader.read(text, {}).requests[0]
    assert (request.kind, request.task) == (kind, task)


@pytest.mark.parametrize("text, order_id, products", [
    ("The backpack (color: black, size: small, material: nylon, compartment: laptop) and the bookshelf "
     "(material: wood, color: brown, height: 5 ft).", "#W8951014", [BACKPACK, "8600330539"]),
    ("The headphones (type: in-ear, connectivity: wireless, color: black).", "#W7190291", ["6992792935"]),
])
def test_items_named_as_the_assistant_listed_them_answer_which_items(reader, text, order_id, products):
    # the way the assistant lists an order's items, options named: the answer, not a catalog question
    state = {"awaiting": "items", "task": {"kind": "return", "order_id": order_id, "items": []},
             "focus": {**empty_focus(), "order_ids": [order_id]}}
    request = only(reader.read(text, state), "detail")
    assert [c.item.product_id for c in request.items] == products
    assert all(c.item.item_id for c in request.items)


def test_a_question_about_an_items_options_while_asked_for_items_stays_a_question(reader):
    state = {"awaiting": "items", "task": {"kind": "return", "order_id": "#W7190291", "items": []},
             "focus": {**empty_focus(), "order_ids": ["#W7190291"]}}
    assert only(reader.read("what colors do the headphones come in?", state), "catalog").catalog.want == "option_values"


def test_a_refined_question_keeps_only_options_the_products_have(reader):
    # the question before was about several products (a kettle's capacity among them); "and in black?" about the
    # chair in focus must not carry the kettle's capacity into the chair's question
    chair = "4794339885"
    focus = {**empty_focus(), "product_ids": [chair, KETTLE], "options": {"capacity": "1L"},
             "catalog": {"want": "list", "product_ids": [chair, KETTLE], "options": [["capacity", "1L"]]}}
    q = only(reader.read("and in black?", {"focus": focus}), "catalog").catalog
    assert q.product_ids == (chair,)
    assert dict(q.options) == {"color": "black"}


@pytest.mark.parametrize("awaiting", ["items", "new_item", "payment"])
def test_never_mind_then_another_request_while_asked_for_a_detail(reader, awaiting):
    # the assistant asked for a detail of one task; the customer drops it and asks for something else
    state = {"awaiting": awaiting, "task": {"kind": "exchange", "order_id": "#W4817420", "items": [], "asking": 0},
             "focus": {**empty_focus(), "order_ids": ["#W4817420"]}}
    reading = reader.read("Never mind that one. I have another question. I want to return some items from order "
                          "#W8951014.", state)
    assert reading.kinds == ("deny", "order_task"), reading
    assert (reading.requests[1].task, reading.requests[1].order_ids) == ("return", ("#W8951014",))


def test_a_preamble_alone_asks_nothing_and_before_a_request_adds_nothing(reader):
    assert read(reader, "i have another question").kinds == ("greeting",)
    reading = read(reader, "I have another question. how much is the yoga mat in blue?")
    assert reading.kinds == ("catalog",)


@pytest.mark.parametrize("text", [
    "which is cheaper, the bluetooth speaker (color: green, battery life: 10 hours) or the bluetooth speaker "
    "(color: black, battery life: 20 hours)?",
    "compare the green bluetooth speaker and the black one",
])
def test_two_variants_compared_each_with_its_own_options(reader, text):
    q = only(read(reader, text), "catalog").catalog
    assert q.want == "compare"
    assert [(r.product_id, dict(r.options).get("color")) for r in q.compare] == [(SPEAKER, "green"), (SPEAKER, "black")]


def test_two_items_of_one_product_listed_as_the_assistant_did_answer_which_items(reader):
    state = {"awaiting": "items", "task": {"kind": "exchange", "order_id": "#W3002300", "items": []},
             "focus": {**empty_focus(), "order_ids": ["#W3002300"]}}
    request = only(reader.read("The bluetooth speaker (color: green, battery life: 10 hours, water resistance: no) and "
                               "the bluetooth speaker (color: black, battery life: 10 hours, water resistance: no).",
                               state), "detail")
    assert [dict(c.item.options)["color"] for c in request.items] == ["green", "black"]
    assert len({c.item.item_id for c in request.items}) == 2


@pytest.mark.parametrize("text", [
    "can you swap the kettle in w4817420 for the glass one? paypal for the difference",
    "i want to exchange the kettle from w4817420 for the glass one. use my paypal to pay or refund",
])
def test_how_to_pay_said_on_its_own_after_the_task_belongs_to_it(reader, text):
    request = only(read(reader, text), "order_task")
    assert request.payment is not None and request.payment.source == "paypal"
    assert [c.item.product_id for c in request.items] == [KETTLE]


@pytest.mark.parametrize("text, wanted", [
    ("red 20 hours water resistance pls", {"color": "red", "battery life": "20 hours", "water resistance": "yes"}),
    ("the blue one with no water resistance", {"color": "blue", "water resistance": "no"}),
])
def test_a_yes_no_option_named_alone_is_wished_for(reader, text, wanted):
    state = {"awaiting": "new_item", "task": {"kind": "exchange", "order_id": "#W3002300", "items": ["9179378709"],
                                              "asking": 0}, "focus": {**empty_focus(), "order_ids": ["#W3002300"]}}
    [change] = only(reader.read(text, state), "detail").items
    assert dict(change.new_options) == wanted


def test_a_kind_of_product_asked_about_with_typos_in_the_filler_words(reader):
    q = only(read(reader, "do yuo carry sofas for sale?"), "catalog").catalog
    assert (q.want, q.unknown_product) == ("sell", "sofas")


def test_a_number_that_is_an_option_value_is_not_a_card(reader):
    state = {"awaiting": "new_item", "task": {"kind": "exchange", "order_id": "#W7623533", "items": ["4772738468"],
                                              "asking": 0}, "focus": {**empty_focus(), "order_ids": ["#W7623533"]}}
    request = only(reader.read("change it to the 2000 animals version", state), "detail")
    assert request.payment is None
    assert dict(request.items[0].new_options) == {"pieces": "2000", "theme": "animals"}


def test_values_after_the_first_product_of_a_comparison_describe_it(reader):
    q = only(read(reader, "how does the wristwatch in black silicone compare to the dumbbell set in 30-50 lbs?"),
             "catalog").catalog
    assert [dict(r.options) for r in q.compare] == [{"dial color": "black", "strap material": "silicone"},
                                                    {"weight range": "30-50 lbs"}]


def test_a_question_while_asked_for_the_new_variant_stays_a_question(reader):
    state = {"awaiting": "new_item", "task": {"kind": "exchange", "order_id": "#W3002300", "items": ["9179378709"],
                                              "asking": 0}, "focus": {**empty_focus(), "order_ids": ["#W3002300"]}}
    assert read(reader, "what colours does the speaker come in?", **state).kinds == ("catalog",)


@pytest.mark.parametrize("task", ["return", "payment"])
def test_a_task_that_names_new_variants_changes_items_whatever_it_was_labelled(reader, task):
    # "... the laptop for the i5 one in w7007896, charge or refund card ending 4015" was labelled a payment change
    request = reader._order("order_task", task, "switch the kettle in w4817420 to the glass one, card ending 4015",
                            {"focus": empty_focus()})
    assert request.task == "change" and dict(request.items[0].new_options) == {"material": "glass"}


def test_never_mind_typed_with_a_slip_still_drops_the_task(reader):
    state = {"awaiting": "new_item", "task": {"kind": "modify_items", "order_id": "#W7109609",
                                              "items": ["9805150490", "4806644905"], "asking": 1},
             "focus": {**empty_focus(), "order_ids": ["#W7109609"]}}
    assert reader.read("nvm taht one. oh and need to change something in order w6554908", state).kinds == \
        ("deny", "order_task")


def test_a_task_stated_with_an_order_id_is_no_catalog_question(reader):
    request = only(read(reader, "exchange for order w4556683: the earbuds for a 6 hours one and the speaker to red "
                                "20 hours"), "order_task")
    assert request.order_ids == ("#W4556683",) and len(request.items) == 2


def test_values_between_the_item_and_instead_are_what_it_becomes(reader):
    request = only(read(reader, "please make the USB lamp silver low AC adapter instead, visa ending 4012"),
                   "order_task")
    [change] = request.items
    assert dict(change.item.options) == {"power source": "USB"}
    assert dict(change.new_options) == {"color": "silver", "brightness": "low", "power source": "AC adapter"}


def test_the_options_an_option_of_the_product_takes_even_if_another_product_has_that_word_as_a_value(reader):
    q = only(read(reader, "what are the battery options of the earbuds?"), "catalog").catalog
    assert (q.want, q.option) == ("option_values", "battery life")


def test_an_option_value_that_looks_like_an_amount_is_no_price_bound(reader):
    q = only(read(reader, "what's the price of the 5k action camera?"), "catalog").catalog
    assert (q.price_min, q.price_max, dict(q.options)) == (None, None, {"resolution": "5K"})


def test_an_answer_to_why_cancel_is_read_even_when_the_reason_head_is_unsure(reader):
    # asked why, "clicked the wrong button" is the likeliest reason; said unasked, an unsure guess is not taken
    state = {"awaiting": "reason", "task": {"kind": "cancel", "order_id": "#W5442520"},
             "focus": {**empty_focus(), "order_ids": ["#W5442520"]}}
    assert only(reader.read("clicked the wrong button", state), "detail").reason == "ordered by mistake"
    assert only(read(reader, "i need to cancel w5442520 please"), "order_task").reason == ""


def test_what_a_gift_is_for_is_kept_as_the_topic(reader):
    hiking = only(read(reader, "recommend me a gift for my dad, he likes hiking, budget 100 dollars"), "recommend")
    assert hiking.topic == "hiking" and hiking.catalog.price_max == 100
    assert only(read(reader, "any suggestions for a photography fan?"), "recommend").topic == "photography"
    # a product named is what the suggestion is about: no topic beside it; a gift for nobody's hobby has none
    assert only(read(reader, "can you recommend a backpack for hiking"), "recommend").topic == ""
    assert only(read(reader, "suggest a gift for my mom"), "recommend").topic == ""


def test_a_short_no_before_a_new_request_is_a_request_of_its_own(reader):
    reading = read(reader, "no leave it, charge PayPal for #W7941031 rather than the original",
                   awaiting="confirm", task="cancel")
    assert reading.kinds == ("deny", "order_task"), reading
    assert reading.requests[1].task == "payment" and reading.requests[1].payment.source == "paypal"
    assert not reading.requests[1].payment.original  # "rather than the original" is not the original card
    # a "no" before a detail answering the question stays one answer
    assert read(reader, "no, the blue one", awaiting="new_item", task="exchange").kinds == ("detail",)


def test_two_letters_swapped_in_a_product_name_still_name_it(reader):
    lamp = only(read(reader, "how much is the Desk Lmap?"), "catalog").catalog
    assert lamp.want == "price" and lamp.product_ids == ("6817146515",)
    maker = only(read(reader, "in what features do you make the coffee amker"), "catalog").catalog
    assert maker.product_ids == ("7996920482",) and maker.option == "features"


def test_swapping_an_item_is_an_exchange_or_a_modification_by_the_orders_status(reader):
    delivered = only(read(reader, "replace the white electric kettle with one in 1.5l glass, order #w1630030"),
                     "order_task")
    pending = only(read(reader, "order w9673784: make the espresso machine a 9 bar capsule one instead"),
                   "order_task")
    assert (delivered.task, pending.task) == ("exchange", "modify_items")


def test_nothing_to_refine_at_the_start_asks_whether_we_sell_it(reader):
    q = only(read(reader, "quick question, you guys got tv? thanks"), "catalog").catalog
    assert (q.want, q.unknown_product) == ("sell", "tv")


def test_a_range_in_an_option_value_is_no_price_range(reader):
    q = only(read(reader, "got any weights in 30-50 lbs around 1000$ max thanks"), "catalog").catalog
    assert (q.price_min, q.price_max, dict(q.options)) == (None, 1000.0, {"weight range": "30-50 lbs"})


def test_asked_why_a_reason_is_always_one_of_the_reasons(reader):
    state = {"awaiting": "reason", "task": {"kind": "cancel", "order_id": "#W5442520"},
             "focus": {**empty_focus(), "order_ids": ["#W5442520"]}}
    assert only(reader.read("won't be using it after all", state), "detail").reason == "no longer needed"


def test_who_a_gift_is_for_said_after_the_question_belongs_to_it(reader):
    reading = read(reader, "any ideas for a present under 150? my boyfriend is really into cycling")
    q = only(reading, "recommend")
    assert (q.topic, q.catalog.price_max) == ("cycling", 150.0)


def test_an_order_number_said_on_its_own_belongs_to_the_task(reader):
    q = only(read(reader, "i want to return the kettle. order no. w4817420"), "order_task")
    assert (q.task, q.order_ids) == ("return", ("#W4817420",))


def test_a_bound_negated_another_way_keeps_its_direction(reader):
    assert only(read(reader, "a gift for my brother, no less than $75"), "recommend").catalog.price_min == 75
    assert only(read(reader, "show me keyboards, can't pay more than 300"), "catalog").catalog.price_max == 300


def test_a_short_question_after_a_product_asks_about_that_product(reader):
    q = only(read(reader, "I'm after a bamboo skateboard with a graphic deck. cost?"), "catalog").catalog
    assert (q.want, q.product_ids) == ("price", ("1968349452",)) and dict(q.options)["deck material"] == "bamboo"
    reading = read(reader, "how much is the yoga mat? and is the kettle in stock?")
    assert [(r.catalog.want, r.catalog.product_ids) for r in reading.requests] == \
        [("price", (YOGA_MAT,)), ("stock", (KETTLE,))]


def test_a_size_in_litres_is_no_price(reader):
    q = only(read(reader, "what's the price of the white glass kettle, the 2 litre electric one"), "catalog").catalog
    assert (q.want, q.product_ids, q.price_max, q.price_min) == ("price", (KETTLE,), None, None)

"""The scripted customer of the scenario evaluation: what it hears in a reply's words, and how it speaks.

Hearing is tested on the assistant's replies as worded today AND on the same questions worded differently, since
the wording will change; speaking is tested for both styles on the real demo shop's customers and orders.
"""
from __future__ import annotations

import re

import pytest

from bot import evaluate
from bot.simulator import STYLES, Customer, Voice, cues, hear

# The assistant's replies as its templates word them today (bot/templates/replies.yaml, filled in).
TODAY = [
    ("Before I can look at your account, I need to confirm who you are: please give me the email address on your "
     "account, or your first and last name and zip code.", "identify"),
    ("I couldn't find a customer account with those details. Please check the email address, or give your first "
     "and last name and zip code.", "identify"),
    ("To show what we store about you, I first need to confirm who you are: please give me your email, or your "
     "name and zip code.", "identify"),
    ("Thank you, Mei, I found your account. Which order is it about? Your orders: #W2611340 (pending: Water "
     "Bottle, Electric Kettle); #W4817420 (delivered: Gaming Mouse)", "order"),
    ("I couldn't find an order #W1234567. Please check the order number (it looks like #W1234567).", "order"),
    ("Order #W7273336 isn't on your account, so I can't share or change anything about it. I can only help with "
     "your own orders.", "order"),
    ("Which items of order #W2611340 would you like to return? It contains: Water Bottle (capacity: 1000ml, "
     "material: glass, color: red); Electric Kettle (capacity: 1.5L, material: glass, color: white).", "items"),
    ("Which items of order #W2611340 would you like to exchange? It contains: Water Bottle (capacity: 1000ml, "
     "material: glass, color: red). Please list all of them now: items can be exchanged only once per order.",
     "items"),
    ("I couldn't find that item in order #W2611340. It contains: Water Bottle (capacity: 1000ml, material: glass, "
     "color: red).", "items"),
    ("What would you like instead of the Gaming Mouse (color: RGB, sensor type: laser, connectivity: wired)? "
     "Gaming Mouse comes in: color: RGB, black, white; sensor type: laser, optical; connectivity: wired, "
     "wireless.", "new_item"),
    ("Sorry, the Gaming Mouse with color: green is not available. Available options: color: RGB, black, white.",
     "new_item"),
    ("That is the same as the item you have (Gaming Mouse (color: white)). Which option would you like instead? "
     "Available: color: RGB, black.", "new_item"),
    ("I couldn't match that to an option of the Bookshelf. Available options: material: glass, metal, wood.",
     "new_item"),
    ("Several options of the Bookshelf fit: material: glass, color: brown, height: 5 ft; material: glass, color: "
     "white, height: 5 ft. Which one would you like?", "choice"),
    ("Why would you like to cancel order #W5442520? I can cancel it for one of two reasons: 'no longer needed' "
     "or 'ordered by mistake'.", "reason"),
    ("I can cancel an order only for one of two reasons: 'no longer needed' or 'ordered by mistake'. Does one of "
     "these apply to order #W5442520?", "reason"),
    ("Which payment method should pay or receive the price difference? Your methods: gift card gift_card_7794233 "
     "(balance $56.00); PayPal (paypal_8049766); Visa credit card ending in 9182.", "payment"),
    ("Where should the refund go? It can go to the original payment method (PayPal (paypal_1530316)) or a gift "
     "card: gift card gift_card_1234567 (balance $10.00).", "payment"),
    ("Gift card gift_card_7794233 (balance $56.00) can't be used for this: its balance of $56.00 doesn't cover "
     "$120.00. Your methods: PayPal (paypal_8049766).", "payment"),
    ("What is the new address? Please write it like: 12 Elm Street, Apt 3, Springfield, IL 62704, USA.",
     "address"),
    ("Here is what I'll do:\n- cancel order #W5442520 for the reason 'no longer needed'; items: Gaming Mouse "
     "(color: black); total $663.85\nShall I go ahead? Please answer yes or no.", "confirm"),
    ("I need a clear yes or no before I change anything. Here is what I'll do:\n- ship order #W5442520 to 1 Main "
     "Street, Denver, CO 80218, USA\nShall I go ahead? Please answer yes or no.", "confirm"),
    ("Done: order #W5442520 is cancelled. The refund goes back to the original payment method within 5 to 7 "
     "business days. Is there anything else I can help with?", "done"),
    ("Done: the return of Water Bottle (capacity: 1000ml) from order #W2611340 is requested. The refund of $52.01 "
     "goes to PayPal (paypal_2143483); you'll receive an email explaining how to send the items back.", "done"),
    ("Done: order #W3657213 now has Digital Camera (resolution: 30MP). The price difference of $34.07 is charged. "
     "Items of an order can be modified only once, so its items can't be changed again.", "done"),
    ("Done: your default address is now 1 Main Street, Denver, CO 80218, USA.", "done"),
    ("All right, I haven't changed anything. Is there anything else I can help with?", "declined"),
    ("Order #W5442520 is delivered, so it can't be cancelled: only pending orders can be cancelled.", "refused"),
    ("Order #W5442520 has already been changed once (pending (items modified)), and items can be changed only "
     "once per order.", "refused"),
    ("I couldn't do that: the gift card's balance is too low. Nothing was changed.", "refused"),
    ("I've passed this conversation to a member of our team, who will reply here as soon as possible. YOU ARE "
     "BEING TRANSFERRED TO A HUMAN AGENT. PLEASE HOLD ON.", "handover"),
    ("Sorry, I'm not sure what you'd like. I can answer questions about our products and policies, and help with "
     "your orders: look-up, cancel, change address or payment, modify, return or exchange items.", "unclear"),
    ("Thank you, Mei, I found your account. How can I help you today?", "other"),
    ("You're welcome. Is there anything else I can help with?", "other"),
    ("The Water Bottle (capacity: 1000ml, material: glass, color: red) costs $52.01 and is in stock.", "other"),
]

# The same questions as another assistant (or a later version of this one) might word them.
REWORDED = [
    ("Sure! First, could you tell me your email, or your full name plus your zip code?", "identify"),
    ("To look into that I'll need to verify your identity. What's the email address linked to your account?",
     "identify"),
    ("Got it, Mei. Which of your orders do you mean? You have #W2611340 and #W4817420.", "order"),
    ("What's the order number?", "order"),
    ("Which of these items should I return: the Water Bottle or the Electric Kettle?", "items"),
    ("Which products would you like to exchange from #W2611340?", "items"),
    ("What should I replace the Gaming Mouse (color: RGB) with? It comes in white and black.", "new_item"),
    ("Which option would you like for the Bookshelf: glass, metal or wood?", "new_item"),
    ("There are two bookshelves that fit, in brown and in white. Which one do you want?", "choice"),
    ("Could you tell me the reason for the cancellation: no longer needed, or ordered by mistake?", "reason"),
    ("How would you like to be refunded: back to your Visa, or to a gift card?", "payment"),
    ("Which card should I charge the $41.28 difference to?", "payment"),
    ("Where should the order be shipped instead?", "address"),
    ("Please tell me the new shipping address.", "address"),
    ("To sum up: I'll cancel #W5442520 (no longer needed), refunding $663.85. Should I proceed?", "confirm"),
    ("I'm about to exchange the Gaming Mouse for the white optical one. Is that correct?", "confirm"),
    ("OK to go ahead with these changes (yes/no)?", "confirm"),
    ("All set: your order #W5442520 has been cancelled and $663.85 will be refunded.", "done"),
    ("I've submitted the return; you'll get an email with a shipping label. Anything else?", "done"),
    ("Okay, I've left everything as it is. Anything else?", "declined"),
    ("Sorry, I didn't understand that. Could you rephrase?", "unclear"),
]


@pytest.mark.parametrize("text,kind", TODAY, ids=[f"today-{n}" for n in range(len(TODAY))])
def test_hears_todays_replies(text, kind):
    assert hear(text).kind == kind


@pytest.mark.parametrize("text,kind", REWORDED, ids=[f"reworded-{n}" for n in range(len(REWORDED))])
def test_hears_reworded_replies(text, kind):
    assert hear(text).kind == kind


def test_cues_are_versioned():
    assert isinstance(cues()["version"], int)


# ------------------------------------------------------------------ speaking, on the real demo shop
@pytest.fixture(scope="module")
def shop(demo_db):
    from knowledge.store import Store
    s = Store(demo_db)
    yield s
    s.close()


def dev(n: int) -> dict:
    task = evaluate.load_tasks("tasks_dev.json")[n]
    task["id"] = f"dev-{n}"
    return task


def test_plain_customer_speaks_as_before(shop):
    c = Customer(dev(0), shop, "plain")  # the instruction gives a name and zip code, no email
    assert c.first_message() == "Hi! I'd like to cancel order #W5442520."
    assert c.answer(TODAY[0][0]) == "I'm Olivia Ito, zip code 80218."
    assert c.answer(TODAY[14][0]) == "I no longer need it."
    assert c.answer(TODAY[20][0]) == "yes"


def test_plain_customer_is_the_same_every_repeat(shop):
    a, b = Customer(dev(1), shop, "plain", repeat=0), Customer(dev(1), shop, "plain", repeat=3)
    assert a.first_message() == b.first_message()


def test_casual_customer_rewords_each_repeat_and_repeats_itself_exactly(shop):
    firsts = {Customer(dev(n), shop, "casual", repeat=r).first_message() for n in (0, 1) for r in range(4)}
    assert len(firsts) == 8
    assert (Customer(dev(1), shop, "casual", repeat=2).first_message()
            == Customer(dev(1), shop, "casual", repeat=2).first_message())


def test_casual_customer_writes_lower_case_without_hash(shop):
    for r in range(8):
        c = Customer(dev(0), shop, "casual", repeat=r)
        msg = c.first_message()
        assert msg == msg.lower() and "#" not in msg and "w5442520" in msg, msg


def test_casual_names_items_the_short_way(shop):
    c = Customer(dev(1), shop, "casual")
    action = c.actions[0]
    phrase = c.items_phrase(action)
    assert phrase in ("the mouse and the bookshelf", "the gaming mouse and the bookshelf"), phrase
    assert "(" not in phrase and ":" not in phrase


def test_casual_tells_twins_apart_by_their_options(shop):
    order = {"items": [{"item_id": "1", "name": "T-Shirt", "options": {"color": "red", "size": "M"}},
                       {"item_id": "2", "name": "T-Shirt", "options": {"color": "blue", "size": "M"}},
                       {"item_id": "3", "name": "Electric Kettle", "options": {"capacity": "1L"}},
                       {"item_id": "4", "name": "Tea Kettle", "options": {"capacity": "1 liter"}}]}
    c = Customer(dev(0), shop, "casual")
    names = [c.item_name(i, order) for i in order["items"]]
    assert names[0] == "the red t-shirt" and names[1] == "the blue t-shirt"
    assert names[2] != names[3] and "kettle" in names[2] and "kettle" in names[3]
    cams = {"items": [{"item_id": "5", "name": "Action Camera", "options": {}},
                      {"item_id": "6", "name": "Digital Camera", "options": {}}]}
    assert [c.item_name(i, cams) for i in cams["items"]] == ["the action cam", "the digital camera"]


def test_casual_says_values_as_people_do():
    v = Voice("casual", __import__("random").Random(0))
    assert v.value("color", "white") == "white"
    assert v.value("waterproof", "yes") == "waterproof"
    assert v.value("backlight", "none") == "no backlight"
    assert v.value("size", "10") == "size 10"
    assert v.value("pieces", "1000") == "1000 pieces"


def test_casual_short_answers(shop):
    seen = {"payment": set(), "identify": set(), "confirm": set(), "reason": set()}
    for r in range(12):
        c = Customer(dev(1), shop, "casual", repeat=r)
        c.first_message()
        seen["identify"].add(c.answer(TODAY[0][0]))
        seen["payment"].add(c.answer(TODAY[16][0]))
        c2 = Customer(dev(0), shop, "casual", repeat=r)
        c2.first_message()
        seen["reason"].add(c2.answer(TODAY[14][0]))
    assert all("paypal" in m and len(m) < 40 for m in seen["payment"]), seen
    assert any(len(m) <= 12 for m in seen["payment"]), seen
    assert len(seen["payment"]) >= 3 and len(seen["reason"]) >= 3 and len(seen["identify"]) >= 3
    assert all(m == m.lower() for m in seen["reason"])


def test_typos_touch_only_filler_words(shop):
    import random
    v = Voice("casual", random.Random(1))
    v.d = dict(v.d, typo_rate=1.0)
    out = v.typo("i want to return {items} from {order}, please")
    assert "{items}" in out and "{order}" in out and "want" not in out and "please" not in out


def test_confirmation_is_checked_against_what_was_asked(shop):
    c = Customer(dev(1), shop, "casual")
    right = ("Here is what I'll do:\n- exchange Gaming Mouse (color: black, sensor type: laser, connectivity: "
             "wired) $1.00 for Gaming Mouse (color: white, sensor type: optical, connectivity: wired) $2.00\n"
             "- exchange Bookshelf (material: metal, color: brown, height: 4 ft) $1.00 for Bookshelf (material: "
             "glass, color: brown, height: 5 ft) $2.00\n- price difference $2.00, paid with PayPal "
             "(paypal_1530316)\nShall I go ahead? Please answer yes or no.")
    dropped = "\n".join(line for line in right.split("\n") if "Mouse" not in line)
    assert c.listing_matches(c.actions[0], right)
    assert not c.listing_matches(c.actions[0], dropped)
    assert c.answer(dropped) in Voice("casual", __import__("random").Random(0)).d["say_no"]


def test_order_is_described_then_given_by_number(shop):
    task = dev(2)  # the instruction names no order id
    assert not re.search(r"W\d{7}", task["instruction"])
    c = Customer(task, shop, "plain")
    c.first_message()
    first = c.answer(TODAY[3][0])
    assert "#W" not in first and first.startswith("It's my order with the")
    assert c.answer(TODAY[3][0]).startswith("It's order #W")


@pytest.mark.parametrize("style", STYLES)
def test_every_message_is_text_and_the_customer_stops(shop, style):
    c = Customer(dev(12), shop, style, repeat=1)
    said = [c.first_message()]
    for _ in range(40):
        nxt = c.answer("You're welcome. Is there anything else I can help with?")
        if nxt is None:
            break
        said.append(nxt)
    assert all(isinstance(m, str) and m.strip() for m in said)
    assert nxt is None


def test_unknown_style_is_refused(shop):
    with pytest.raises(ValueError, match="unknown customer style"):
        Customer(dev(0), shop, "shouting")


def test_volunteered_identity_is_said_again_when_asked(shop):
    for r in range(40):  # find a run whose first message already says who the customer is
        c = Customer(dev(2), shop, "casual", repeat=r)
        first = c.first_message()
        if "harper.moore2816@example.com" in first:
            break
    else:
        pytest.fail("no casual opener volunteered the email in 40 repeats")
    assert "harper.moore2816@example.com" in c.answer(TODAY[0][0])

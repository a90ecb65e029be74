"""The claim checker against seeded wrong replies and correct replies built from the real demo shop.

Cases are generated from the shop's catalog, orders, FAQ and policy with a fixed seed, plus hand-written ones.
Every wrong reply must be caught (some claim unsupported, and the repaired or fallback text no longer says the
wrong thing); every correct reply must pass unchanged with at least one claim checked.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from knowledge.faq import load_faq, load_policy
from knowledge.store import Store
from trustgen.claims import check, check_and_repair, extract_claims
from trustgen.types import Fact, fact_from_faq, fact_from_order, fact_from_product, fact_from_variant, policy_facts

SEED = 20261129
TEMPLATE = "Here is what our records say."


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    facts: tuple
    wrong: str = ""  # the wrong value planted in `text` (empty for correct replies)


def opts(variant: dict) -> str:
    return ", ".join(str(v) for v in variant["options"].values())


@pytest.fixture(scope="module")
def shop(demo_db):
    store = Store(demo_db)
    products = [store.get_product(pid) for pid in store.product_ids()]
    orders = [o for u in sorted({o["user_id"] for o in _some_orders(store)}) for o in store.orders_of(u)]
    faq = {e.id: fact_from_faq(e) for e in load_faq()}
    policy = {f.id: f for f in policy_facts(load_policy())}
    yield {"store": store, "products": products, "orders": orders, "faq": faq, "policy": policy}
    store.close()


def _some_orders(store):
    users = store.export()["users"]
    return [o for uid in sorted(users)[:60] for o in store.orders_of(uid)]


def _variants(product):
    v = product["variants"]
    return list(v.values() if isinstance(v, dict) else v)


def _variant_fact(product, variant):
    return fact_from_variant({**variant, "product_id": product["product_id"], "name": product["name"]})


# ------------------------------------------------------------------------------------------------ wrong replies

def wrong_cases(shop) -> list[Case]:
    rng = random.Random(SEED)
    products, orders, faq = shop["products"], shop["orders"], shop["faq"]
    cases = []
    all_colors = sorted({v["options"]["color"] for p in products for v in _variants(p) if "color" in v["options"]})
    for n, product in enumerate(rng.sample(products, 20)):
        variants = _variants(product)
        v = rng.choice(variants)
        fact = _variant_fact(product, v)
        wrong = f"{v['price'] + rng.choice([-1, 1]) * rng.choice([1.0, 5.5, 10.01, 0.5]):.2f}"
        cases.append(Case(f"price-{n}", f"The {product['name']} ({opts(v)}) costs ${wrong}.", (fact,), wrong))
        # another variant's price, stated next to this variant's options
        others = [o for o in variants if o["price"] != v["price"]]
        if others:
            o = rng.choice(others)
            phrasing = rng.choice(["The {name} in {opts} is ${price}.", "You can get the {opts} {name} for ${price}.",
                                   "Price of the {name} ({opts}): ${price}."])
            cases.append(Case(f"variant-price-{n}", phrasing.format(name=product["name"], opts=opts(v),
                                                                     price=f"{o['price']:.2f}"),
                              (fact_from_product(product),), f"{o['price']:.2f}"))
        # stock the data does not state
        if not v["available"]:
            cases.append(Case(f"stock-{n}", f"Good news: the {product['name']} ({opts(v)}) is in stock.",
                              (fact,), "in stock"))
        else:
            k = rng.randint(2, 5)
            cases.append(Case(f"stock-{n}", f"The {product['name']} ({opts(v)}) is popular, only {k} left!",
                              (fact,), f"only {k} left"))
        # an option value of another product
        mine = {str(x).lower() for x in v["options"].values()}
        foreign = [c for c in all_colors if not any(c.lower() in m or m in c.lower() for m in mine)]
        color = rng.choice(foreign)
        cases.append(Case(f"option-{n}", f"This {product['name']} (item {v['item_id']}) comes in {color}.",
                          (fact,), color))
    statuses = ["pending", "processed", "delivered", "cancelled"]
    for n, order in enumerate(rng.sample(orders, 15)):
        fact = fact_from_order(order)
        other = rng.choice([s for s in statuses if s != order["status"]])
        cases.append(Case(f"status-{n}", f"Your order {order['order_id']} is {other}.", (fact,), other))
        digits = order["order_id"][2:]
        bad = "#W" + digits[:-1] + str((int(digits[-1]) + rng.randint(1, 8)) % 10)
        cases.append(Case(f"order-id-{n}", f"I found your order {bad}; its status is {order['status']}.",
                          (fact,), bad))
        item = rng.choice(order["items"])
        wrong = f"{item['price'] + 3:.2f}"
        cases.append(Case(f"order-item-price-{n}", f"In order {order['order_id']} you paid ${wrong} for the "
                          f"{item['name']}.", (fact,), wrong))
    refund = (faq["cancel-refund"], faq["modify-payment-refund"])
    for n, (text, wrong) in enumerate([
        ("Your refund to your credit card will arrive immediately.", "immediately"),
        ("Refunds to PayPal are made instantly.", "instantly"),
        ("A gift card is refunded in 5 to 7 business days.", "5 to 7 business days"),
        ("Your money goes back to the original payment method within 3 business days.", "3 business days"),
        ("If you paid by credit card, the refund takes 10 to 14 business days.", "10 to 14 business days"),
        ("Gift card refunds take 2 weeks.", "2 weeks"),
        ("Refunds to a credit card take 1 to 2 business days.", "1 to 2 business days"),
        ("The refund reaches your PayPal account in 24 hours.", "24 hours"),
        ("Your PayPal refund is processed right away.", "right away"),
        ("You will see the refund on your card within 30 days.", "30 days"),
    ]):
        cases.append(Case(f"refund-time-{n}", text, refund, wrong))
    reasons = (faq["cancel-reasons"], faq["cancel-who"])
    for n, (text, wrong) in enumerate([
        ("We can cancel it because 'found a better price' is an accepted reason.", "found a better price"),
        ("Accepted cancellation reasons are: changed my mind, no longer needed.", "changed my mind"),
        ("You can cancel with the reason 'shipping too slow'.", "shipping too slow"),
        ("For a cancellation we accept reasons like 'item arrived late' or 'ordered by mistake'.",
         "item arrived late"),
        ("The reason 'duplicate order' is fine for cancelling.", "duplicate order"),
    ]):
        cases.append(Case(f"cancel-reason-{n}", text, reasons, wrong))
    rules = (faq["cancel-who"], faq["return-who"], faq["exchange-who"], faq["which-orders-change"])
    for n, (text, wrong) in enumerate([
        ("Since your order is delivered, you can still cancel it.", "cancel"),
        ("Processed orders can be returned.", "returned"),
        ("A pending order can be exchanged right now.", "exchanged"),
        ("You cannot return a delivered order.", "return"),
        ("Cancelled orders can be modified.", "modified"),
    ]):
        cases.append(Case(f"rule-{n}", text, rules, wrong))
    dest = (faq["return-refund"], faq["cancel-refund"])
    for n, (text, wrong) in enumerate([
        ("The refund for your return will be paid as store credit.", "store credit"),
        ("We refund returns in cash at the door.", "cash"),
        ("Your refund can go to a new card of your choice.", "new card"),
    ]):
        cases.append(Case(f"destination-{n}", text, dest, wrong))
    return cases


# ------------------------------------------------------------------------------------------------ correct replies

def correct_cases(shop) -> list[Case]:
    rng = random.Random(SEED + 1)
    products, orders, faq = shop["products"], shop["orders"], shop["faq"]
    cases = []
    for n, product in enumerate(rng.sample(products, 20)):
        variants = _variants(product)
        v = rng.choice(variants)
        fact = _variant_fact(product, v)
        stock = "in stock" if v["available"] else "out of stock"
        phrasing = rng.choice([
            "The {name} ({opts}) costs ${price} and is {stock}.",
            "Yes, we have the {name} in {opts}. It is ${price} and currently {stock}.",
            "The {opts} {name} is priced at ${price}; it is {stock} right now.",
            "That {name} (item {item}) is ${price}.",
        ])
        cases.append(Case(f"item-{n}", phrasing.format(name=product["name"], opts=opts(v), price=f"{v['price']:.2f}",
                                                       stock=stock, item=v["item_id"]), (fact,)))
        others = [o for o in variants if o["item_id"] != v["item_id"]]
        if others:
            o = rng.choice(others)
            cases.append(Case(f"two-variants-{n}", f"The {product['name']} in {opts(v)} costs ${v['price']:.2f}, "
                              f"while the {opts(o)} one costs ${o['price']:.2f}.", (fact_from_product(product),)))
        prices = sorted(x["price"] for x in variants)
        cases.append(Case(f"range-{n}", f"Our {product['name']} variants range from ${prices[0]:.2f} to "
                          f"${prices[-1]:.2f}.", (fact_from_product(product),)))
    for n, order in enumerate(rng.sample(orders, 15)):
        fact = fact_from_order(order)
        item = rng.choice(order["items"])
        phrasing = rng.choice([
            "Your order {oid} is {status}.",
            "Order {oid} is currently {status}. It contains the {item} (item {iid}) at ${price}.",
            "I found order {oid}: its status is {status}, and you paid ${price} for the {item}.",
        ])
        cases.append(Case(f"order-{n}", phrasing.format(oid=order["order_id"], status=order["status"],
                                                        item=item["name"], iid=item["item_id"],
                                                        price=f"{item['price']:.2f}"), (fact,)))
        pay = order["payment_history"][0]
        cases.append(Case(f"order-pay-{n}", f"Order {order['order_id']} was paid with {pay['payment_method_id']}, "
                          f"${pay['amount']:.2f} in total.", (fact,)))
    refund = (faq["cancel-refund"], faq["modify-payment-refund"])
    for n, text in enumerate([
        "A gift card is refunded immediately; any other payment method is refunded in 5 to 7 business days.",
        "Refunds to your credit card take 5 to 7 business days.",
        "Since you paid with a gift card, the refund is immediate: it reaches the gift card immediately.",
        "For PayPal, expect the refund within 5 to 7 business days.",
        "The whole order total goes back to the original payment method.",
    ]):
        cases.append(Case(f"refund-{n}", text, refund))
    for n, text in enumerate([
        "To cancel, we accept only these reasons: 'no longer needed' or 'ordered by mistake'.",
        "The cancellation reason must be 'no longer needed' or 'ordered by mistake'.",
        "Accepted cancellation reasons are: no longer needed, ordered by mistake.",
    ]):
        cases.append(Case(f"reason-{n}", text, (faq["cancel-reasons"],)))
    delivered = fact_from_order(next(o for o in orders if o["status"] == "delivered"))
    rules = (faq["cancel-who"], faq["return-who"], faq["exchange-who"], faq["which-orders-change"], delivered)
    for n, text in enumerate([
        "You can cancel an order while its status is pending.",
        "Your order is delivered, so it can no longer be cancelled, but it can be returned.",
        "Orders that are processed or cancelled cannot be changed.",
        "A delivered order can be exchanged for an available item of the same product.",
    ]):
        cases.append(Case(f"rule-{n}", text, rules))
    cases.append(Case("destination", "The refund for a return goes to the original payment method or to an "
                      "existing gift card.", (faq["return-refund"],)))
    return cases


def test_seeded_wrong_replies_are_all_caught(shop):
    cases = wrong_cases(shop)
    assert len(cases) == 148  # the set docs/trust.md describes; a change to it changes the documented figure
    missed = []
    for case in cases:
        checked = check(case.text, case.facts)
        fixed = check_and_repair(case.text, case.facts, TEMPLATE)
        if checked.unsupported == 0 or case.wrong in fixed.text or check(fixed.text, case.facts).unsupported:
            missed.append((case.name, case.text, fixed.text))
    assert missed == []


def test_correct_replies_pass_unchanged(shop):
    cases = correct_cases(shop)
    assert len(cases) >= 90
    failed = []
    for case in cases:
        fixed = check_and_repair(case.text, case.facts, TEMPLATE)
        bad = [c for c in fixed.claims if not c.supported]
        if fixed.text != case.text or fixed.fell_back or bad or not fixed.claims:
            failed.append((case.name, case.text, [(c.kind, c.text) for c in bad] or fixed.text))
    assert failed == []


# ------------------------------------------------------------------------------------------------ hand-written

@pytest.fixture(scope="module")
def tshirt(shop):
    return next(p for p in shop["products"] if p["name"] == "T-Shirt")


def test_extract_finds_each_kind_of_claim():
    text = ("Order #W2611340 (item 6469567736, paid with gift_card_1725971) is delivered: the blue 1000ml bottle "
            "cost $47.84, it is in stock, 2 items shipped, and a gift card is refunded immediately.")
    kinds = {(s.kind, s.text) for s in extract_claims(text)}
    assert {("id", "#W2611340"), ("id", "6469567736"), ("id", "gift_card_1725971"), ("status", "delivered"),
            ("option", "blue"), ("option", "1000ml"), ("price", "$47.84"), ("availability", "in stock"),
            ("count", "2"), ("duration", "immediately")} <= kinds


def test_another_variants_price_is_repaired_to_the_right_one(tshirt):
    blue_m = next(v for v in _variants(tshirt) if v["options"]["color"] == "blue" and v["options"]["size"] == "M")
    other = next(v for v in _variants(tshirt) if v["price"] != blue_m["price"])
    fact = fact_from_product(tshirt)
    text = f"The blue T-Shirt in size M costs ${other['price']:.2f}."
    fixed = check_and_repair(text, [fact], TEMPLATE)
    assert fixed.text == f"The blue T-Shirt in size M costs ${blue_m['price']:.2f}."
    assert [c.repaired_to for c in fixed.repaired] == [f"${blue_m['price']:.2f}"]
    assert not fixed.fell_back and fixed.unsupported == 0


def test_supported_claims_cite_their_facts(shop, tshirt):
    v = _variants(tshirt)[0]
    fact, faq = _variant_fact(tshirt, v), shop["faq"]["cancel-refund"]
    text = f"It costs ${v['price']:.2f}. A gift card is refunded immediately."
    checked = check(text, [fact, faq])
    assert {c.text: c.sources for c in checked.claims}[f"${v['price']:.2f}"] == (fact.id,)
    assert {c.text: c.sources for c in checked.claims}["immediately"] == (faq.id,)
    assert set(checked.sources) == {fact.id, faq.id}


def test_invented_stock_level_is_replaced_by_what_the_data_says(shop, tshirt):
    v = next(v for v in _variants(tshirt) if v["available"])
    fixed = check_and_repair("This T-Shirt: only 2 left.", [_variant_fact(tshirt, v)], TEMPLATE)
    assert fixed.text == "This T-Shirt: in stock." and not fixed.fell_back


def test_unrepairable_reply_falls_back_to_the_checked_template(shop):
    order = next(o for o in shop["orders"] if o["status"] == "pending")
    fact = fact_from_order(order)
    template = f"Order {order['order_id']} is pending."
    fixed = check_and_repair("We accept 'changed my mind' as a reason to cancel it.", [fact], template)
    assert fixed.fell_back and fixed.text == template
    assert fixed.unsupported == 0 and fixed.claims  # the template's own claims were checked


def test_a_name_no_fact_or_customer_used_is_not_sent(shop, tshirt):
    """Seen from the running app: asked "what time zone are the order times in?" with only catalog counts as
    facts, the model answered "The order times are in the Eastern Time Zone." No claim kind covered it."""
    overview = [Fact("catalog:count:kinds", "product", "kinds of products: 50")]
    said = ["what time zone are the order times in?"]
    invented = check_and_repair("The order times are in the Eastern Time Zone.", overview, TEMPLATE, said=said)
    assert invented.fell_back and invented.text == TEMPLATE
    assert check_and_repair("Yes, our Premium members get it free via FedEx.", overview, TEMPLATE).fell_back
    v = next(v for v in _variants(tshirt) if v["available"])
    fact = _variant_fact(tshirt, v)
    named = f"The T-Shirt in {v['options']['color']} is in stock, and I can check another size. OK?"
    assert not check_and_repair(named, [fact], TEMPLATE).fell_back  # the product's name; "I", "OK"
    said_it = check_and_repair("Refunds to the card take 5 to 7 business days, as the Returns Desk said.",
                               [shop["faq"]["cancel-refund"]], TEMPLATE, said=["the returns desk told me so"])
    assert not said_it.fell_back  # the customer's own words


def test_options_of_two_variants_in_one_description_are_unsupported(shop):
    """Seen from the model: "The Smartphone (color: gold, storage: 128GB, RAM: 4GB, screen size: 6.1-inch) is out
    of stock." Each value is some gold 128GB phone's, but no phone has 4GB with 6.1 inches."""
    product = next(p for p in shop["products"] if p["name"] == "Smartphone")
    variants = _variants(product)
    a, b = next((a, b) for a in variants for b in variants
                if a["options"].get("RAM") != b["options"].get("RAM")
                and a["options"].get("screen size") != b["options"].get("screen size"))
    facts = [_variant_fact(product, a), _variant_fact(product, b)]
    mixed = f"The Smartphone (RAM: {a['options']['RAM']}, screen size: {b['options']['screen size']}) is here."
    assert check(mixed, facts).unsupported == 2 and check_and_repair(mixed, facts, TEMPLATE).fell_back
    one = f"The Smartphone (RAM: {a['options']['RAM']}, screen size: {a['options']['screen size']}) is here."
    assert check(one, facts).unsupported == 0
    both = f"The Smartphone comes with {a['options']['RAM']} or {b['options']['RAM']} (RAM: {a['options']['RAM']}" \
           f" or {b['options']['RAM']})."
    assert check(both, facts).unsupported == 0  # alternatives in brackets are not one variant's description


def test_empty_reply_falls_back():
    assert check_and_repair("   ", [], "Sorry, I do not know.").fell_back


def test_status_with_no_order_in_the_facts_is_unsupported(shop):
    assert check("Your order is delivered.", [shop["faq"]["return-who"]]).unsupported == 1


def test_faq_answer_supports_the_rule_its_question_asks_about(shop):
    fact = shop["faq"]["modify-address"]  # "Can I change the shipping address...? Yes, while the order is pending."
    ok = check("Yes, while the order is pending, you can change the shipping address.", [fact])
    assert [c.value for c in ok.claims if c.kind == "policy"] == ["modify:pending:yes"] and ok.unsupported == 0
    assert check("You can change the shipping address of a delivered order.", [fact]).unsupported == 1


def test_measures_with_units_must_be_in_the_facts(shop):
    bulb = next(p for p in shop["products"] if p["name"] == "LED Light Bulb")
    v = next(v for v in _variants(bulb) if v["options"]["brightness"] == "75W equivalent")
    fact = _variant_fact(bulb, v)
    assert check("It is as bright as a 75W bulb.", [fact]).unsupported == 0
    assert check("It is as bright as a 100W bulb.", [fact]).unsupported == 1


def test_availability_repair_keeps_the_verb(shop, tshirt):
    v = next((v for p in shop["products"] for v in _variants(p) if not v["available"]), None)
    product = next(p for p in shop["products"] if v in _variants(p))
    fixed = check_and_repair(f"The {product['name']} is available.", [_variant_fact(product, v)], TEMPLATE)
    assert fixed.text == f"The {product['name']} is out of stock." and not fixed.fell_back


def test_list_markers_are_not_counts_and_options_match_in_any_case(tshirt):
    v = next(v for v in _variants(tshirt) if v["options"]["color"] == "blue")
    text = f"Here it is:\n1. Blue T-Shirt, ${v['price']:.2f}\n2. Red one"
    claims = check(text, [_variant_fact(tshirt, v)]).claims
    assert [(c.kind, c.value, c.supported) for c in claims] == [
        ("option", "blue", True), ("price", f"{v['price']:.2f}", True), ("option", "red", False)]


def test_confirmation_wording_with_reason_and_refund_time_checks_clean(shop):
    policy = tuple(shop["policy"].values())
    shoe = Fact("order:#W0000001", "order", "Order #W0000001: status pending",
                {"order_id": "#W0000001", "status": "pending",
                 "items": [{"name": "Running Shoes", "item_id": "1234567890", "price": 90.0,
                            "options": {"size": "7", "color": "black"}}]})
    text = ("Here is what I'll do:\n- cancel order #W0000001 (reason: no longer needed); items: Running Shoes "
            "(size: 7, color: black); total $90.00\nThe refund goes back to the original payment method within "
            "5 to 7 business days.")
    checked = check(text, (shoe,) + policy)
    assert checked.unsupported == 0, [c for c in checked.claims if not c.supported]
    assert {"no longer needed", "5 to 7 business days", "7"} <= {c.value for c in checked.claims}


def test_an_address_the_customer_gave_is_supported_but_nothing_else_they_said(shop):
    order = next(o for o in shop["orders"] if o["status"] == "pending")
    fact = fact_from_order(order)
    text = f"I will ship order {order['order_id']} to 270 River Road, Suite 611, San Diego, CA 92194."
    assert check(text, [fact]).unsupported == 3  # street, suite, zip: not in the shop's records
    said = ["Please send it to 270 River Road, Suite 611, San Diego, CA 92194 instead."]
    assert check(text, [fact], said=said).unsupported == 0
    assert check("It costs $1.00.", [fact], said=["Can I have it for $1.00?"]).unsupported == 1


def test_option_names_and_everyday_words_are_not_option_claims(shop):
    order = next(o for o in shop["orders"] if any("battery life" in i["options"] for i in o["items"]))
    text = "; ".join(f"{i['name']} ({', '.join(f'{k}: {v}' for k, v in i['options'].items())})"
                     for i in order["items"]) + ". There is no need to place a new order."
    checked = check(text, [fact_from_order(order)])
    stated_no = sum(v == "no" for i in order["items"] for v in i["options"].values())
    assert checked.unsupported == 0 and [c.value for c in checked.claims].count("no") == stated_no  # not "no need"


def test_another_shops_vocabulary_is_used(store):
    from trustgen.claims import Vocabulary, vocabulary_from_store
    scarf = {"item_id": "1111111111", "product_id": "2222222222", "name": "Scarf", "price": 20.0,
             "available": True, "options": {"color": "teal"}}
    other = {**scarf, "item_id": "3333333333", "options": {"color": "mauve"}}
    vocab = Vocabulary.from_variants([scarf, other])
    assert check("The Scarf comes in mauve.", [fact_from_variant(scarf)], vocab).unsupported == 1
    assert check("The Scarf comes in mauve.", [fact_from_variant(scarf)]).unsupported == 0  # demo shop: not a colour
    assert "blue" in vocabulary_from_store(store).values


def test_an_address_in_the_records_checks_out_even_when_its_street_is_an_option_word(shop):
    addr = {"address1": "931 Maple Drive", "address2": "Suite 985", "city": "Philadelphia", "state": "PA",
            "zip": "19031", "country": "USA"}
    fact = Fact("customer:x", "customer", "Default address: 931 Maple Drive, Suite 985, Philadelphia, PA, 19031",
                {"address": addr})
    checked = check("Your default address is 931 Maple Drive, Suite 985, Philadelphia, PA, 19031, USA.", [fact])
    assert checked.unsupported == 0 and {c.value for c in checked.claims} >= {"931 maple drive", "suite 985", "19031"}
    assert check("Your default address is 932 Maple Drive.", [fact]).unsupported == 1


def test_true_catalog_and_faq_templates_check_clean(shop):
    """Templates the assistant sends for fresh questions (bench/questions.json): none may count as unsupported."""
    by_name = {p["name"]: p for p in shop["products"]}
    bike = by_name["Bicycle"]
    facts = [_variant_fact(bike, v) for v in _variants(bike)]
    gone = [v for v in _variants(bike) if not v["available"]]
    here = [v for v in _variants(bike) if v["available"]]
    out_only = {v["options"]["frame size"] for v in gone} - {v["options"]["frame size"] for v in here}
    in_only = {v["options"]["frame size"] for v in here} - {v["options"]["frame size"] for v in gone}
    assert out_only and in_only  # the demo shop: only small frames are out of stock
    sizes = ", ".join(sorted({v["options"]["frame size"] for v in _variants(bike)}))
    text = f"The Bicycle comes in these frame size options: {sizes}. Right now {min(out_only)} is out of stock."
    assert check(text, facts).unsupported == 0, check(text, facts)
    wrong = f"Right now {min(in_only)} is out of stock."
    assert check(wrong, facts).unsupported == 1
    phone = [v for v in _variants(by_name["Smartphone"]) if not v["available"]][0]
    pf = [_variant_fact(by_name["Smartphone"], phone)]
    none = f"No, none of the Smartphones with color {phone['options']['color']} is in stock right now."
    assert check(none, pf).unsupported == 0 and check(none.replace("none of", "all of"), pf).unsupported == 1
    faq = [shop["faq"]["return-who"], shop["faq"]["cancel-who"], shop["faq"]["order-statuses"]]
    quoted = " ".join(f.text for f in faq)  # questions quoted with their answers: a question states no rule
    assert check(quoted, faq).unsupported == 0, check(quoted, faq)
    assert check("Your order is processed.", faq).unsupported == 1  # no order in the facts
    two = [shop["faq"]["modify-items-once"], shop["faq"]["exchange-once"], shop["faq"]["processed-order"]]
    quoted = f"{two[0].text.split('?', 1)[1].strip()}\n\nAlso: {two[1].text}\n\nAlso: {two[2].text}"
    assert check(quoted, two).unsupported == 0, check(quoted, two)  # no status carried into the next question


def test_the_prompt_hides_restated_requests_and_says_what_must_be_stated(shop, tshirt):
    from trustgen.prompting import build_messages
    from trustgen.types import ReplyRequest
    facts = (_variant_fact(tshirt, _variants(tshirt)[0]), Fact("request:options", "request", "The customer asked for blue"))
    system = build_messages(ReplyRequest("how much?", facts, "T", must_state=("price", "availability")))[0]["content"]
    assert facts[0].text in system and "asked for blue" not in system
    assert system.endswith("Your answer must state the price and whether it is in stock.")
    asked = build_messages(ReplyRequest("how much?", facts, "T", must_state=("price",)))[-1]["content"]
    assert asked.startswith("how much?") and asked.endswith("Your answer must state the price.")
    plain = build_messages(ReplyRequest("hi", facts[:1], "T"))[0]["content"]
    assert "must state" not in plain  # training prompts (no must_state) are unchanged


def test_the_prompt_leaves_out_counts_of_the_variants_it_lists(shop, tshirt):
    """The model copied "T-Shirt variants with color blue: 2" instead of answering about the variants; the counts
    stay in the facts the reply is checked against."""
    from trustgen.prompting import build_messages
    from trustgen.types import ReplyRequest
    two = [_variant_fact(tshirt, v) for v in _variants(tshirt)[:2]]
    count = Fact("catalog:count:T-Shirt variants", "product", "T-Shirt variants with color blue: 2")
    system = build_messages(ReplyRequest("price?", (*two, count), "T", must_state=("price",)))[0]["content"]
    assert two[0].text in system and two[1].text in system and count.text not in system
    alone = build_messages(ReplyRequest("how many?", (count,), "T"))[0]["content"]
    assert count.text in alone  # with no variant listed, the count is the answer
    checked = check_and_repair("There are 2 T-Shirt variants with color blue.", (*two, count), "T")
    assert not checked.fell_back and checked.unsupported == 0


def test_a_short_option_value_a_passage_states_beside_its_option_name_is_supported():
    # the FAQ's own example ("a blue t-shirt in size M") sent as the FAQ answer: the letter M is what it says
    from trustgen.claims import check as check_claims
    faq = Fact("faq:product-item-id", "faq", "What is the difference between a product id and an item id?\n"
               "A product id names a type of product, such as a t-shirt; an item id names one variant of it, such "
               "as a blue t-shirt in size M.")
    reply = "An item id names one variant, such as a blue t-shirt in size M."
    assert all(c.supported for c in check_claims(reply, (faq,)).claims)
    other = Fact("faq:other", "faq", "Items can be changed only once per order.")
    assert not all(c.supported for c in check_claims("The t-shirt comes in size M.", (other,)).claims)


def test_a_repaired_stock_state_turns_the_yes_or_no_that_opened_its_sentence():
    tablet = {"item_id": "3788616824", "product_id": "p1", "name": "Tablet", "price": 951.21,
              "options": {"storage": "128GB", "color": "black"}}
    gone = Fact("item:3788616824", "product", "Tablet (storage: 128GB, color: black): $951.21, out of stock",
                {**tablet, "available": False})
    fixed = check_and_repair("Yes, the 128GB Tablet is in stock; it costs $951.21.", (gone,), TEMPLATE)
    assert fixed.text == "No, the 128GB Tablet is out of stock; it costs $951.21."
    there = Fact(gone.id, "product", gone.text.replace("out of stock", "in stock"), {**tablet, "available": True})
    assert check_and_repair("No, the Tablet is out of stock.", (there,), TEMPLATE).text.startswith("Yes, ")
    # a Yes that answers something else, in an earlier sentence, stays
    fixed = check_and_repair("Yes, we sell it. The Tablet is in stock at $951.21.", (gone,), TEMPLATE)
    assert fixed.text.startswith("Yes, we sell it. ") and "out of stock" in fixed.text

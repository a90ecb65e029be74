"""The parsers: ids, emails, zips, yes/no, reasons, payment methods, addresses, budgets, items and options."""
from __future__ import annotations

from bot import slots


def test_ids_emails_zips():
    assert slots.order_ids("it's #W1234567 and W7654321") == ["#W1234567", "#W7654321"]
    assert slots.emails("mail me at a.b@example.com.") == ["a.b@example.com"]
    assert slots.zips("zip 80218, order #W1234567") == ["80218"]


def test_confirmation_needs_a_plain_yes():
    for yes in ("yes", "Yes please", "yep, go ahead", "sure"):
        assert slots.confirmation(yes) == "yes", yes
    for unclear in ("maybe", "ok I guess?", "yes but...", "yes, but change the colour", "hmm", "I think so", ""):
        assert slots.confirmation(unclear) == "unclear", unclear
    assert slots.confirmation("no") == "no"


def test_cancel_reasons():
    assert slots.cancel_reason("I ordered it by mistake") == "ordered by mistake"
    assert slots.cancel_reason("I don't need it anymore") == "no longer needed"
    assert slots.cancel_reason("I found it cheaper elsewhere") is None


def test_payment_method_matching():
    methods = {"paypal_1": {"source": "paypal", "id": "paypal_1"},
               "credit_card_2": {"source": "credit_card", "brand": "visa", "last_four": "1234", "id": "credit_card_2"},
               "gift_card_3": {"source": "gift_card", "balance": 10.0, "id": "gift_card_3"}}
    assert slots.payment_method("use my PayPal", methods) == ["paypal_1"]
    assert slots.payment_method("the card ending in 1234", methods) == ["credit_card_2"]
    assert slots.payment_method("put it on my gift card", methods) == ["gift_card_3"]
    assert slots.payment_method("back to the original one", methods, "paypal_1") == ["paypal_1"]
    assert slots.payment_method("storage: SD card", methods) == []  # an option value, not a payment method


def test_address_and_budget():
    a = slots.address("Please change it to 320 Cedar Avenue, Suite 116, San Antonio, TX 78219, USA")
    assert a == {"address1": "320 Cedar Avenue", "address2": "Suite 116", "city": "San Antonio", "country": "USA",
                 "state": "TX", "zip": "78219"}
    assert slots.budget("something under $150") == (None, 150.0)
    assert slots.budget("between 100 and 200 dollars") == (100.0, 200.0)


def test_item_and_option_matching():
    items = [{"name": "Gaming Mouse", "product_id": "p1", "item_id": "1", "options": {"color": "black", "sensor type": "laser"}},
             {"name": "Bookshelf", "product_id": "p2", "item_id": "2", "options": {"material": "metal", "height": "4 ft"}},
             {"name": "Digital Camera", "product_id": "p3", "item_id": "3", "options": {"zoom": "3x"}},
             {"name": "Action Camera", "product_id": "p4", "item_id": "4", "options": {"color": "black"}}]
    assert slots.match_order_items("the black laser gaming mouse and the 4-feet bookshelf", items) == [0, 1]
    assert slots.match_order_items("the digital camera", items) == [2]  # not the action camera too
    variants = [{"options": {"connectivity": "Wi-Fi"}}, {"options": {"connectivity": "Wi-Fi + Cellular"}},
                {"options": {"bagged/bagless": "bagged"}}, {"options": {"bagged/bagless": "bagless"}}]
    t = slots.normalise("connectivity: Wi-Fi + Cellular, bagged/bagless: bagless")
    assert slots.mentioned_values(t, variants) == {"connectivity": "Wi-Fi + Cellular", "bagged/bagless": "bagless"}
    assert slots.mentioned_values(slots.normalise("waterproof yes"), [{"options": {"waterproof": "yes"}}]) == \
        {"waterproof": "yes"}
    assert slots.mentioned_values(slots.normalise("yes please"), [{"options": {"waterproof": "yes"}}]) == {}


def test_option_name_inside_a_value_is_not_removed():
    variants = [{"options": {"brand": "Brand A"}}, {"options": {"brand": "Brand C"}}]
    assert slots.mentioned_values(slots.normalise("brand: Brand C"), variants) == {"brand": "Brand C"}

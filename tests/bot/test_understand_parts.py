"""The reader's parts without a model: identifiers, the catalog lexicon, clause splitting, the learned heads."""
from __future__ import annotations

import pytest

from bot.nlu import spans


@pytest.fixture(scope="module")
def lexicon(demo_db):
    from bot.nlu.lexicon import Lexicon
    from knowledge.store import Store
    return Lexicon.from_store(Store(demo_db))


@pytest.fixture(scope="module")
def heads():
    from bot.nlu.generate import phrasings
    from bot.nlu.heads import BoundHead, ReasonHead
    pieces = phrasings()["pieces"]
    return BoundHead(pieces), ReasonHead(pieces, ["i want to cancel my order", "cancel #W0000000 please"])


@pytest.mark.parametrize("text", ["#W1234567", "w1234567", "W1234567", "order # w1234567", "it's #w1234567."])
def test_order_ids_in_any_case_with_or_without_hash(text):
    assert spans.order_ids(text) == ["#W1234567"]


def test_identifiers_are_not_read_as_amounts_or_zips():
    text = "order #W1234567, email mei.davis@example.com, zip 80217, the 1000ml bottle under $50"
    assert spans.zips(text) == ["80217"]
    assert [a.value for a in spans.amounts(text)] == [50.0]


def test_last_four_and_method_ids():
    assert spans.last_four("the visa ending 1234") == "1234"
    assert spans.last_four("Please use my credit card ending in 4805.") == "4805"  # at the end of a sentence
    assert spans.last_four("the 1000.5 one") == ""
    assert spans.method_ids("use credit_card_4190576") == ["credit_card_4190576"]


def test_a_lower_case_address_is_read_in_the_stores_shape():
    got = spans.address("can it go to 320 cedar avenue, suite 116, san antonio, tx 78219?")
    assert got == {"address1": "320 Cedar Avenue", "address2": "Suite 116", "city": "San Antonio",
                   "country": "USA", "state": "TX", "zip": "78219"}


@pytest.mark.parametrize("text", ["ship it to 544 Sunset Drive, Suite 337, Jacksonville, FL 32205, USA instead",
                                  "544 sunset drive, suite 337, jacksonville, fl 32205, usa please"])
def test_words_after_the_country_are_not_part_of_the_address(text):
    assert spans.address(text) == {"address1": "544 Sunset Drive", "address2": "Suite 337", "city": "Jacksonville",
                                    "country": "USA", "state": "FL", "zip": "32205"}


def test_names_after_a_cue_or_known_to_the_store(demo_db):
    from knowledge.store import Store
    assert spans.names("name's Mei Davis, zip 80217") == ("Mei", "Davis")
    assert spans.names("mei davis 80217", "80217", Store(demo_db)) == ("Mei", "Davis")


@pytest.mark.parametrize("text,name", [("the kettle", "Electric Kettle"), ("mechanical keybaord", "Mechanical Keyboard"),
                                       ("tshirts", "T-Shirt"), ("a tee", "T-Shirt"), ("the bottles", "Water Bottle"),
                                       ("bluetooth speakers", "Bluetooth Speaker"), ("the hose", "Garden Hose")])
def test_products_by_short_names_plurals_and_typos(lexicon, text, name):
    assert [lexicon.names[p] for p in lexicon.products_in(text)] == [name]


def test_a_kind_of_product_not_sold_is_not_taken_for_a_near_name(lexicon):
    assert lexicon.products_in("do you sell washing machines?") == []
    assert lexicon.products_in("can you charge my card") == []


def test_an_ordinary_word_near_a_head_noun_is_not_a_product(lexicon):
    # "clear" is one letter pair from "cleaner" (the Vacuum Cleaner's head noun) but a word of its own
    assert lexicon.products_in("to be clear, can you return it") == []
    assert [lexicon.names[p] for p in lexicon.products_in("the vacum cleanr")] == ["Vacuum Cleaner"]


def test_filler_words_typed_with_a_slip_are_still_filler(lexicon):
    assert all(lexicon.is_filler(w) for w in ("you", "yuo", "teh", "wnat", "pleas", "sale"))
    assert not any(lexicon.is_filler(w) for w in ("hat", "desk", "wine", "sofa"))  # "hat" is not "what"


def test_slips_in_filler_words_are_put_right_for_the_classifier(lexicon):
    assert lexicon.normalise("nvm taht one, jsut teh kettel pleas") == "nvm that one, just the kettel please"
    assert lexicon.normalise("hte email is mei.davis@example.com") == "the email is mei.davis@example.com"
    assert lexicon.normalise("the form is wrong") == "the form is wrong"  # a word of its own stays


def test_a_product_after_a_filler_word_typed_with_a_slip_is_still_that_product(lexicon):
    assert [lexicon.names[p] for p in lexicon.products_in("how many teh mobile do you have")] == ["Smartphone"]
    assert [lexicon.names[p] for p in lexicon.products_in("what's the most affordable keyboard")] == \
        ["Mechanical Keyboard"]


def test_a_word_that_is_a_value_of_one_product_and_an_option_of_another_is_both(lexicon):
    kinds = {(m.kind, m.option) for m in lexicon.mentions("the battery options of the earbuds")}
    assert ("value", "power source") in kinds and ("option", "battery life") in kinds


def test_a_number_inside_a_word_is_no_amount():
    assert spans.amounts("the laptop in i7 now") == []


def test_a_resolution_is_not_a_card_number():
    assert spans.last_four("the 1080p action camera") == ""


def test_option_values_resolve_to_the_catalogs_spelling(lexicon):
    bottle = lexicon.products_in("water bottle")
    assert lexicon.values_for(lexicon.mentions("the 1000ML Glass one"), bottle) == {"capacity": "1000ml",
                                                                                   "material": "glass"}
    laptop = lexicon.products_in("laptop")
    assert lexicon.values_for(lexicon.mentions("13 inch, 16gb"), laptop) == {"screen size": "13-inch", "ram": "16GB"}


def test_a_value_after_its_option_name_is_that_value_not_a_product(lexicon):
    # "camera" names the Digital Camera, but after "compartment" it is the backpack's compartment
    backpack = lexicon.products_in("backpack")
    mentions = lexicon.mentions("color: green, size: small, material: polyester, compartment: camera")
    assert not [m for m in mentions if m.kind == "product"]
    assert lexicon.values_for(mentions, backpack) == {"color": "green", "size": "small", "material": "polyester",
                                                      "compartment": "camera"}
    assert lexicon.products_in("the camera and the backpack") == lexicon.products_in("camera") + backpack


def test_clauses_split_at_sentences_and_request_breaks():
    from bot.understand import split_clauses
    breaks = ["also", "btw", "one more thing"]
    assert split_clauses("Thank you. Also, how many T-Shirt options are available?", breaks) == \
        ["Thank you.", "Also, how many T-Shirt options are available?"]
    assert split_clauses("return the bottle, the keyboard and the camera", breaks) == \
        ["return the bottle, the keyboard and the camera"]
    assert split_clauses("order no. #W1234567", breaks) == ["order no. #W1234567"]


@pytest.mark.parametrize("text,bounds", [("budget is 100 dollars", (None, 100.0)), ("around 190$ max", (None, 190.0)),
                                         ("below 519 usd", (None, 519.0)), ("for less than 50 bucks", (None, 50.0)),
                                         ("over $200", (200.0, None)), ("between 50 and 100 dollars", (50.0, 100.0)),
                                         ("size 10 hiking boots", (None, None))])
def test_price_bounds(heads, text, bounds):
    assert heads[0].bounds(text) == bounds


@pytest.mark.parametrize("text,reason", [("don't need it anymore", "no longer needed"),
                                         ("i ordered it by mistake", "ordered by mistake"),
                                         ("i want to cancel my order", ""),
                                         ("i need to cancel w6272294 please", "")])  # "need" is no reason
def test_cancel_reasons(heads, text, reason):
    assert heads[1].reason(text) == reason


@pytest.mark.parametrize("text,expected", [
    ("that one. new address is 42 maple ave apt 3, tucson az 85701",
     {"address1": "42 Maple Ave", "address2": "Apt 3", "city": "Tucson", "country": "USA", "state": "AZ",
      "zip": "85701"}),
    ("555 oak street denver co 80203",
     {"address1": "555 Oak Street", "address2": "", "city": "Denver", "country": "USA", "state": "CO", "zip": "80203"}),
    ("1200 north lake shore dr new york ny 10001 usa please",
     {"address1": "1200 North Lake Shore Dr", "address2": "", "city": "New York", "country": "USA", "state": "NY",
      "zip": "10001"}),
])
def test_an_address_written_without_commas_is_read(text, expected):
    assert spans.address(text) == expected


@pytest.mark.parametrize("text", ["i have 2 kids in ca 90210", "it costs 30 dollars in ny 10001", "order 12 shirts"])
def test_numbers_near_a_state_and_zip_are_no_address_without_a_street(text):
    assert spans.address(text) is None

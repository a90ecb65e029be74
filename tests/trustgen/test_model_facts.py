"""The training set's catalog facts are the bot's fact lines, and its product replies name a variant briefly."""
from __future__ import annotations

from bot.catalog import variant_fact
from trustgen.dataset import distinguishing, item_fact, price_text


def test_training_item_facts_read_as_the_bots_catalog_facts(bottle):
    # the model is trained on the fact lines it reads at answer time: a change to either side must show here
    for available in (True, False):
        variant = {**bottle, "available": available}
        trained = item_fact(variant, bottle["name"], bottle["product_id"])
        served = variant_fact(variant)
        assert trained.text == served.text
        assert trained.id == served.id


def test_prices_keep_the_thousands_separator():
    assert price_text(1261.14) == "$1,261.14"
    assert price_text(9) == "$9.00"


def test_a_variant_is_told_apart_by_a_value_no_neighbour_has():
    blue = {"options": {"color": "blue", "size": "M"}}
    red = {"options": {"color": "red", "size": "M"}}
    red_large = {"options": {"color": "red", "size": "L"}}
    assert distinguishing(blue, []) == []
    assert distinguishing(blue, [red]) == ["blue"]
    assert distinguishing(red, [blue, red_large]) == ["red", "M"]  # no single value; both that differ

"""Catalog answers computed from the demo shop's database: each first sentence answers the question, the figures
are the database's, at most five variants are listed, and every claim passes the claim check on the answer's facts."""
from __future__ import annotations

import pytest

from bot import catalog
from bot.reading import CatalogQuery, ItemRef


@pytest.fixture(scope="module")
def shop(demo_db):
    from knowledge.store import Store
    s = Store(demo_db)
    yield s
    s.close()


@pytest.fixture(scope="module")
def pid(shop):
    names = {shop.get_product(p)["name"]: p for p in shop.product_ids()}
    return names.__getitem__


@pytest.fixture(scope="module")
def checked():
    from trustgen.types import ReplyRequest
    from trustgen.writer import TemplateWriter
    writer = TemplateWriter()

    def check(a: catalog.CatalogAnswer):
        out = writer.write(ReplyRequest(message="", facts=a.facts, template=a.text, use_model=False))
        assert out.unsupported == 0, [c for c in out.claims if not c.supported]
        return out
    return check


def variants_of(shop, product_id):
    return list(shop.get_product(product_id)["variants"].values())


def first_sentence(text):
    return text.split("\n")[0]


def test_cheapest_in_stock_is_the_cheapest_available(shop, pid, checked):
    q = CatalogQuery(want="cheapest", product_ids=(pid("Mechanical Keyboard"),), in_stock=True)
    a = catalog.answer(shop, q)
    best = min((v for v in variants_of(shop, pid("Mechanical Keyboard")) if v["available"]), key=lambda v: v["price"])
    assert first_sentence(a.text).startswith("The cheapest Mechanical Keyboard in stock")
    assert f"${best['price']:,.2f}" in first_sentence(a.text) and a.shown[0] == best["item_id"]
    prices = [shop.get_variant(i)["price"] for i in a.shown]
    assert prices == sorted(prices) and len(a.shown) <= 1 + catalog.MAX_LISTED
    assert "and 7 more" in a.text  # 13 in stock: 1 named, 5 listed, 7 left, with a way to narrow
    checked(a)


@pytest.mark.parametrize("want", ["cheapest", "dearest"])
def test_the_cheapest_thing_in_the_shop_is_named(shop, checked, want):
    a = catalog.answer(shop, CatalogQuery(want=want))  # "whats the cheapest thing u sell"
    every = shop.variants()
    best = (min if want == "cheapest" else max)(every, key=lambda v: v["price"])
    assert f"is the {best['name']} (" in first_sentence(a.text) and f"${best['price']:,.2f}" in first_sentence(a.text)
    assert "kinds of products" not in a.text
    checked(a)


def test_count_gives_a_number(shop, pid, checked):
    n = sum(v["available"] for v in variants_of(shop, pid("Laptop")))
    a = catalog.answer(shop, CatalogQuery(want="count", product_ids=(pid("Laptop"),), in_stock=True))
    assert first_sentence(a.text) == f"We have {n} Laptops in stock."
    assert len(a.shown) == catalog.MAX_LISTED and f"and {n - catalog.MAX_LISTED} more" in a.text
    checked(a)


def test_no_grill_under_300_says_no(shop, pid, checked):
    a = catalog.answer(shop, CatalogQuery(want="list", product_ids=(pid("Grill"),), price_max=300))
    assert first_sentence(a.text).startswith("No, we don't have any Grills under $300.00")
    assert not a.found and len(a.shown) == 1  # the cheapest grill as the nearest, not a list of $1,000 grills
    checked(a)


def test_option_values_name_the_colours(shop, pid, checked):
    a = catalog.answer(shop, CatalogQuery(want="option_values", product_ids=(pid("Water Bottle"),), option="color"))
    colours = {v["options"]["color"] for v in variants_of(shop, pid("Water Bottle"))}
    assert colours == {"black", "blue", "green", "red"}
    assert all(c in first_sentence(a.text) for c in colours) and "- " not in a.text
    checked(a)


def test_we_dont_sell_names_the_nearest_we_do(shop, pid, checked):
    near = [pid("Vacuum Cleaner"), "not-a-product", pid("Espresso Machine")]
    a = catalog.answer(shop, CatalogQuery(want="sell", unknown_product="washing machines"), nearest=lambda _: near)
    assert first_sentence(a.text).startswith("No, we don't sell washing machines.")
    assert "Vacuum Cleaner and Espresso Machine" in a.text and not a.found
    checked(a)


def test_price_of_an_option_lists_only_that_option(shop, pid, checked):
    q = CatalogQuery(want="price", product_ids=(pid("Bluetooth Speaker"),), options=(("color", "blue"),))
    a = catalog.answer(shop, q)
    assert a.shown and all(shop.get_variant(i)["options"]["color"] == "blue" for i in a.shown)
    assert a.product_ids == (pid("Bluetooth Speaker"),) and "price" in a.must_state
    checked(a)


def test_option_we_do_not_have_says_so(shop, pid, checked):
    a = catalog.answer(shop, CatalogQuery(product_ids=(pid("T-Shirt"),), options=(("color", "green"),)))
    assert first_sentence(a.text).startswith("No, we don't have any T-Shirts with color green.")
    assert "black, blue, purple or red" in a.text
    checked(a)


def test_two_variants_compared(shop, pid, checked):
    mat = pid("Yoga Mat")
    q = CatalogQuery(want="compare", compare=(ItemRef(product_id=mat, options=(("color", "green"),)),
                                              ItemRef(product_id=mat, options=(("color", "blue"),))))
    a = catalog.answer(shop, q)
    a_var, b_var = (shop.get_variant(i) for i in a.shown)
    diff = abs(a_var["price"] - b_var["price"])
    assert f"${diff:,.2f} cheaper" in first_sentence(a.text)
    checked(a)
    missing = catalog.answer(shop, CatalogQuery(want="compare", compare=(ItemRef(product_id=mat),
                                                                         ItemRef(mention="the blender"))))
    assert "'the blender'" in missing.text and not missing.found


def test_stock_question_with_mixed_variants(shop, pid, checked):
    q = CatalogQuery(want="stock", product_ids=(pid("Yoga Mat"),), options=(("color", "green"),))
    a = catalog.answer(shop, q)
    green = [v for v in variants_of(shop, pid("Yoga Mat")) if v["options"]["color"] == "green"]
    k = sum(v["available"] for v in green)
    assert first_sentence(a.text).startswith(f"Yes: {k} of the {len(green)}")
    checked(a)


def test_suggestions_stay_inside_the_budget_and_give_one_reason_without_repeating_facts(shop, pid):
    pool = [v for p in ("Hiking Boots", "Water Bottle", "Backpack") for v in variants_of(shop, pid(p))]
    for v in pool:
        v.setdefault("name", shop.get_variant(v["item_id"])["name"])
        v.setdefault("product_id", shop.get_variant(v["item_id"])["product_id"])
    out = catalog.suggest(shop, CatalogQuery(price_max=100), pool, because="hiking")
    assert out.chosen and all(s.variant["price"] <= 100 and s.variant["available"] for s in out.chosen)
    for s in out.chosen:
        assert f"${s.variant['price']:,.2f}" not in s.reason and "in stock" not in s.reason
        assert "hiking" in s.reason and "$100.00 budget" in s.reason and ";" not in s.reason
    none = catalog.suggest(shop, CatalogQuery(price_max=100), [v for v in pool if v["name"] == "Hiking Boots"])
    assert none.chosen == () and none.nearest["price"] > 100  # nothing fits: say so, never suggest it


def test_a_question_about_the_whole_shop_names_kinds_not_variants(shop, checked):
    a = catalog.answer(shop, CatalogQuery(want="list"))
    assert a.text.startswith(f"We sell {len(shop.product_ids())} kinds of products") and "- " not in a.text
    assert "and 45 more" in a.text
    checked(a)
    n = catalog.answer(shop, CatalogQuery(want="count", in_stock=True))
    assert f"{sum(v['available'] for v in shop.variants())} variants that can be ordered now" in n.text
    checked(n)


def test_option_values_of_several_products_where_only_some_have_the_option(shop, pid):
    """'what colours do they come in?' about a product with colours and one without: no crash, the colours named."""
    q = CatalogQuery(want="option_values", product_ids=(pid("Water Bottle"), pid("Notebook")), option="color")
    a = catalog.answer(shop, q)
    colours = {v["options"]["color"] for v in shop.get_product(pid("Water Bottle"))["variants"].values()}
    assert any(c in a.text for c in colours)

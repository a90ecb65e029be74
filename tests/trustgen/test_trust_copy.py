"""Advertising copy on the real demo catalog: seeded bad copy is linted and claim-checked; every copy published
passes the copy rules (length, product and options named, price only when asked, no echo or loop); variants are
not one template; out-of-stock variants are not advertised; the CLI writes a feed and explains bad input."""
from __future__ import annotations

import argparse
import json
import random
import re
import shutil

import pytest

from knowledge.store import Store
from trustgen import copy_data, copy_eval, copywriter
from trustgen.compliance import lint
from trustgen.copy_rules import advertisable, judge, template_like
from trustgen.copywriter import CopySettings, write_copy
from trustgen.errors import UnknownItemError, UnknownProductError
from trustgen.types import fact_from_variant
from trustgen.writer import ScriptedGenerator

BAD = {
    "superlative": ["the best {name} you can buy", "our #1 {name}", "an unbeatable {name}", "a top-rated {name}"],
    "urgency": ["Only 3 left, hurry!", "Selling fast.", "Limited time offer.", "Don't miss out, order today."],
    "promise": ["It comes with a lifetime warranty.", "Free returns forever.", "Money-back guarantee.",
                "Risk-free, no questions asked."],
    "health_environment": ["It is eco-friendly.", "Completely non-toxic.", "Carbon neutral shipping.",
                           "It cures back pain."],
}


@pytest.fixture(scope="module")
def catalog(demo_db):
    store = Store(demo_db)
    out = [store.get_variant(v["item_id"]) for v in store.variants()]
    store.close()
    return out


@pytest.fixture(scope="module")
def variants(catalog):
    return random.Random(7).sample([v for v in catalog if v["available"]], 12)


def siblings(catalog, v):
    return sorted((x for x in catalog if x["product_id"] == v["product_id"]), key=lambda x: x["item_id"])


def true_line(v) -> str:
    return f"The {v['name']} ({', '.join(map(str, v['options'].values()))}) is ${v['price']:.2f}."


def good_copy(v) -> str:
    """Copy a person might write: names the product and two option values, no price, 2 sentences."""
    (k1, a), (k2, b) = list(advertisable(v).items())[:2]
    return (f"The {v['name']} in {a} is a sensible pick for daily use, and its {k1} is easy to live with. "
            f"It also comes with {b} as its {k2}, so it suits the way most people will use it at home or away.")


# ------------------------------------------------------------------------------------------------ linter

def test_seeded_bad_copy_is_flagged_and_removed(variants):
    rng = random.Random(11)
    seen_rules = set()
    for v in variants:
        for rule, phrases in BAD.items():
            phrase = rng.choice(phrases).format(name=v["name"])
            text = f"{true_line(v)} {phrase[0].upper() + phrase[1:]}" + ("" if phrase.endswith(".") or
                                                                          phrase.endswith("!") else ".")
            linted = lint(text, [fact_from_variant(v)])
            assert rule in {f.rule for f in linted.findings}, text
            assert lint(linted.text, [fact_from_variant(v)]).clean, linted.text
            assert f"${v['price']:.2f}" in linted.text  # the true part survives
            seen_rules.add(rule)
    assert seen_rules == set(BAD)


def test_clean_copy_is_left_alone(variants):
    for v in variants:
        assert lint(true_line(v), [fact_from_variant(v)]).text == true_line(v)


def test_a_phrase_the_facts_state_is_allowed():
    green = {"item_id": "1", "name": "Yoga Mat", "options": {"color": "green"}, "price": 20.0, "available": True,
             "product_id": "2"}
    assert lint("A green Yoga Mat.", [fact_from_variant(green)]).clean
    assert not lint("A green Yoga Mat.", []).clean


def test_puffery_removal_keeps_the_sentence_readable():
    text = "This product is a must-buy for any hiker, offering a unique and stylish t-shirt."
    linted = lint(text)
    assert linted.text == "This product is for any hiker, offering a stylish t-shirt."
    assert {f.text for f in linted.findings} == {"must-buy", "unique"}


# ------------------------------------------------------------------------------------------------ the rules

def test_rules_name_each_failure(variants):
    v = variants[0]
    label = "Advertisement: "
    assert judge(label + good_copy(v), v).passed, judge(label + good_copy(v), v)
    assert "label" in judge(good_copy(v), v).failures
    assert "words" in judge(label + f"The {v['name']} is here. Buy it now.", v).failures
    assert "names_product" in judge(label + good_copy(v).replace(v["name"], "item"), v).failures
    priced = label + good_copy(v) + f" It costs ${v['price']:.2f}."
    assert "price_unasked" in judge(priced, v).failures
    assert judge(priced, v, with_price=True).passed
    assert "price_missing" in judge(label + good_copy(v), v, with_price=True).failures
    wrong = label + good_copy(v) + f" It costs ${v['price'] + 3:.2f}."
    assert {"price_wrong", "claims"} <= set(judge(wrong, v, with_price=True).failures)
    echo = label + "Write two or three sentences of shop copy for this item. " + good_copy(v)
    assert "echo" in judge(echo, v).failures
    first = good_copy(v).split(". ")[0] + "."
    assert "loop" in judge(label + " ".join([first] * 3), v).failures
    assert "compliance" in judge(label + good_copy(v) + " It is the best one.", v).failures
    assert "out_of_stock" in judge(label + good_copy(v), dict(v, available=False)).failures


def test_values_swapped_is_one_template(catalog):
    shirts = [v for v in catalog if v["name"] == "T-Shirt" and v["available"]][:2]
    a, b = (f"Advertisement: Our {v['name']} in {v['options']['color']} and size {v['options']['size']} is made of "
            f"{v['options']['material']}. The {v['options']['style']} cut works for every day." for v in shirts)
    assert template_like(a, shirts[0], b, shirts[1])
    c = "Advertisement: " + good_copy(shirts[1])
    assert not template_like(a, shirts[0], c, shirts[1])


# ------------------------------------------------------------------------------------------------ writing

def test_every_in_stock_variant_gets_copy_that_passes_every_rule(catalog):
    """The phrasebook, on the whole demo catalog in all three voices, with and without the price."""
    failures = []
    for i, pid in enumerate(sorted({v["product_id"] for v in catalog})):
        family = siblings(catalog, catalog[[v["product_id"] for v in catalog].index(pid)])
        for style in [("plain", "warm", "technical")[i % 3]]:  # each voice on a third of the products
            settings = CopySettings(style=style, with_price=i % 2 == 0)
            shapes = copywriter.distinct_shapes(family, settings)
            texts = [(v, write_copy(v, settings, None, shapes[v["item_id"]])) for v in family if v["available"]]
            for v, result in texts:
                if not result.verdict.passed:
                    failures.append((result.verdict.failures, result.text))
                assert not any(template_like(result.text, v, r.text, w) for w, r in texts if w is not v), result.text
    assert not failures, failures[:3]


def test_a_good_model_draft_is_published_as_written(variants):
    v = variants[2]
    result = write_copy(v, CopySettings(), ScriptedGenerator("Advertisement: " + good_copy(v)))
    assert result.used_model and result.verdict.passed
    assert result.text == "Advertisement: " + good_copy(v)


def test_bad_drafts_are_repaired_or_replaced_and_say_why(variants):
    v = variants[0]
    wrong = f"{v['price'] + 7:.2f}"
    bad = f"The best {v['name']}, only {wrong} dollars! Hurry, only 2 left. Lifetime warranty included."
    result = write_copy(v, CopySettings(), ScriptedGenerator(bad))
    assert result.text.startswith("Advertisement: ") and result.verdict.passed
    assert wrong not in result.text and "best" not in result.text.lower() and "warranty" not in result.text
    assert {f.rule for f in result.findings} == {"superlative", "urgency", "promise"}
    assert not result.used_model and result.draft_failures  # too short once cleaned: the phrasebook is sent
    echo = f"Write two sentences of shop copy for this {v['name']}. " + good_copy(v)
    result = write_copy(v, CopySettings(), ScriptedGenerator(echo))
    assert not result.used_model and "echo" in result.draft_failures and result.verdict.passed
    priced = good_copy(v) + f" Only ${v['price']:.2f}."
    assert "price_unasked" in write_copy(v, CopySettings(), ScriptedGenerator(priced)).draft_failures
    assert write_copy(v, CopySettings(with_price=True), ScriptedGenerator(priced)).used_model


def test_the_prompt_carries_the_voice_and_the_price_rule(variants):
    v = variants[3]
    plain = copywriter.copy_messages(v, CopySettings())[0]["content"]
    warm = copywriter.copy_messages(v, CopySettings(style="warm", with_price=True))[0]["content"]
    assert v["name"] in plain and "Do not mention the price" in plain and f"${v['price']:.2f}" not in plain
    assert "warm" in warm and f"${v['price']:.2f}" in warm and "exactly" in warm


def test_out_of_stock_is_never_advertised(catalog):
    gone = next(v for v in catalog if not v["available"])
    with pytest.raises(ValueError):
        write_copy(gone)
    near = copywriter.nearest_in_stock(gone, siblings(catalog, gone))
    assert near["available"] and near["product_id"] == gone["product_id"]


# ------------------------------------------------------------------------------------------------ CLI

@pytest.fixture
def data_dir(demo_db, tmp_path):
    """A data directory holding a copy of the pristine demo shop (importing it again takes seconds)."""
    shutil.copy(demo_db, tmp_path / "shop.db")
    return tmp_path


def _args(argv, data_dir):
    parser = argparse.ArgumentParser()
    copywriter.add_arguments(parser)
    args = parser.parse_args(argv)
    args.data_dir = data_dir
    return args


def test_cli_writes_labelled_copy_and_lists_ids(capsys, data_dir):
    assert copywriter.run(_args(["--list", "water bottle"], data_dir)) == 0
    listed = capsys.readouterr().out
    ids = re.findall(r"^(\d{10})\s+Water Bottle.*\$[\d.]+$", listed, re.M)
    assert ids
    assert copywriter.run(_args([ids[0], "--no-model", "--style", "warm"], data_dir)) == 0
    out = capsys.readouterr().out
    assert out.startswith("Advertisement: ") and "Water Bottle" in out and "rules passed" in out
    assert copywriter.run(_args(["--list", "spaceship"], data_dir)) == 1
    assert "Water Bottle" in capsys.readouterr().err  # the products that do exist


def test_cli_out_of_stock_offers_the_nearest_in_stock_variant(capsys, data_dir, catalog):
    gone = next(v for v in catalog if not v["available"])
    assert copywriter.run(_args([gone["item_id"], "--no-model"], data_dir)) == 0
    out = capsys.readouterr().out
    near = copywriter.nearest_in_stock(gone, siblings(catalog, gone))
    assert "out of stock, so it is not advertised" in out and near["item_id"] in out
    assert out.count("Advertisement: ") == 1


def test_cli_product_feed_in_json(capsys, data_dir, catalog):
    assert copywriter.run(_args(["--product", "hiking boots", "--no-model", "--format", "json", "--price"],
                                data_dir)) == 0
    feed = json.loads(capsys.readouterr().out)
    boots = [v for v in catalog if v["name"] == "Hiking Boots"]
    assert {c["item_id"] for c in feed["copies"]} == {v["item_id"] for v in boots if v["available"]}
    by_id = {v["item_id"]: v for v in boots}
    for c in feed["copies"]:
        assert c["rules_passed"] and f"${by_id[c['item_id']]['price']:.2f}" in c["text"], c
    assert len({c["text"] for c in feed["copies"]}) == len(feed["copies"])


def test_cli_bad_input_says_how_to_fix_it(data_dir):
    for bad in ["0000000000", "not-an-id", ""]:
        with pytest.raises(UnknownItemError) as err:
            copywriter.run(_args([bad, "--no-model"] if bad else ["--no-model"], data_dir))
        assert "shopbot copy --list" in str(err.value)
    with pytest.raises(UnknownProductError) as err:
        copywriter.run(_args(["--product", "spaceship" * 500, "--no-model"], data_dir))
    assert "Hiking Boots" in str(err.value)


# ------------------------------------------------------------------------------------------------ evaluation, data

def test_eval_copy_holds_out_whole_products(capsys, data_dir, tmp_path):
    out = tmp_path / "copy.json"
    args = argparse.Namespace(writers="phrasebook", limit=60, styles="plain,warm,technical", threads=1,
                              out=str(out), data_dir=data_dir)
    assert copy_eval.run(args) == 0
    result = json.loads(out.read_text())["results"][0]
    assert result["n"] == 60 and result["pass_rate"] >= 0.9
    assert len({r["product_id"] for r in result["rows"]}) >= 10
    assert all(copy_eval.held_out_product(r["product_id"]) for r in result["rows"])
    assert copy_eval.run(argparse.Namespace(writers="nobody", limit=1, styles="plain", threads=1, out=None,
                                            data_dir=data_dir)) == 2


def test_copy_training_set_never_shows_a_held_out_product():
    records = copy_data.build()
    train = [r for r in records if r["split"] == "train"]
    assert not any(copy_eval.held_out_product(p) for r in train for p in r["products"])
    kinds = {r["kind"] for r in train}
    assert kinds == {"copy", "attribute"}
    for r in train:
        assert r["messages"][-1]["role"] == "assistant" and r["messages"][-1]["content"].strip()

"""Advertising copy: seeded bad copy is linted and claim-checked against the real catalog; the CLI labels its
output and explains unknown item ids."""
from __future__ import annotations

import argparse
import random
import re
import shutil

import pytest

from knowledge.store import Store
from trustgen import copywriter
from trustgen.compliance import lint
from trustgen.errors import UnknownItemError
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
def variants(demo_db):
    store = Store(demo_db)
    out = random.Random(7).sample(store.variants(), 12)
    out = [store.get_variant(v["item_id"]) for v in out]
    store.close()
    return out


def true_line(v) -> str:
    return f"The {v['name']} ({', '.join(map(str, v['options'].values()))}) is ${v['price']:.2f}."


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


def test_a_phrase_the_facts_state_is_allowed(variants):
    green = {"item_id": "1", "name": "Yoga Mat", "options": {"color": "green"}, "price": 20.0, "available": True,
             "product_id": "2"}
    assert lint("A green Yoga Mat.", [fact_from_variant(green)]).clean
    assert not lint("A green Yoga Mat.", []).clean


def test_copy_repairs_attributes_and_labels_the_output(variants):
    v = variants[0]
    wrong = f"{v['price'] + 7:.2f}"
    bad = f"The best {v['name']}, only {wrong} dollars! Hurry, only 2 left. Lifetime warranty included."
    result = copywriter.write_copy(v, "students", ScriptedGenerator(bad))
    assert result.text.startswith("Advertisement: ")
    assert wrong not in result.text and "best" not in result.text.lower() and "warranty" not in result.text
    assert {f.rule for f in result.findings} == {"superlative", "urgency", "promise"}
    assert result.used_model and not result.fell_back and result.repaired


def test_copy_falls_back_to_the_template_when_nothing_true_is_left(variants):
    v = variants[1]
    result = copywriter.write_copy(v, "", ScriptedGenerator("Eco-friendly and non-toxic! Limited time only."))
    assert result.fell_back and not result.used_model
    assert result.text == "Advertisement: " + copywriter.template_copy(v, "everyone")
    assert all(c.supported for c in result.claims) and result.claims


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
    ids = re.findall(r"^(\d{10})\s+Water Bottle", listed, re.M)
    assert ids
    assert copywriter.run(_args([ids[0], "--no-model", "--audience", "runners"], data_dir)) == 0
    out = capsys.readouterr().out
    assert out.startswith("Advertisement: For runners: the Water Bottle")
    assert copywriter.run(_args(["--list", "spaceship"], data_dir)) == 1
    assert "Water Bottle" in capsys.readouterr().err  # the products that do exist


def test_cli_unknown_item_says_how_to_find_ids(data_dir):
    for bad in ["0000000000", "not-an-id", ""]:
        with pytest.raises(UnknownItemError) as err:
            copywriter.run(_args([bad, "--no-model"] if bad else ["--no-model"], data_dir))
        assert "shopbot copy --list" in str(err.value)


def test_puffery_removal_keeps_the_sentence_readable():
    text = "This product is a must-buy for any hiker, offering a unique and stylish t-shirt."
    linted = lint(text)
    assert linted.text == "This product is for any hiker, offering a stylish t-shirt."
    assert {f.text for f in linted.findings} == {"must-buy", "unique"}

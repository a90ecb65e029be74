"""The grounded training set on the real shop data: split by product and customer, replies supported by facts."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from trustgen.dataset import (DEFAULT_DATA_ROOT, DatasetError, Sources, build_examples, read_jsonl,
                              write_jsonl)

pytestmark = pytest.mark.skipif(not DEFAULT_DATA_ROOT.is_dir(), reason="shared data folder is not present")


@pytest.fixture(scope="module")
def examples():
    return build_examples()


def test_every_kind_of_example_is_built(examples):
    kinds = Counter(e.kind for e in examples)
    for kind in ("product", "cheapest", "options", "order_status", "policy", "confirm", "action_result",
                 "refusal", "handover", "unknown", "shopper_qa"):
        assert kinds[kind] > 0, kind
    assert len(examples) > 3000
    assert 0.1 < sum(e.held_out for e in examples) / len(examples) < 0.5


def test_no_validation_product_or_customer_appears_in_training(examples):
    from trustgen.dataset import _held
    train = [e for e in examples if not e.held_out]
    val = [e for e in examples if e.held_out]
    for e in train:
        key = "asin:" if e.source == "amazon-pqa" else "product:"
        assert not any(_held(key + p, 0) for p in e.products), (e.kind, e.products)
        assert not (e.customer and _held("customer:" + e.customer, 0)), (e.kind, e.customer)
    train_products = {p for e in train for p in e.products}
    train_customers = {e.customer for e in train if e.customer}
    assert {p for e in val for p in e.products} - train_products, "no product is held out"
    assert {e.customer for e in val if e.customer} - train_customers, "no customer is held out"


def test_validation_facts_are_unseen_in_training(examples):
    def record_facts(held):
        return {f.id for e in examples if e.held_out == held for f in e.request.facts
                if f.kind in ("product", "order", "customer", "action")}
    assert record_facts(True)
    assert not record_facts(True) & record_facts(False)


def test_every_reply_is_supported_by_its_facts(examples):
    from trustgen.claims import check
    checked = 0
    for e in examples[::8]:  # a fixed sample of 1 in 8 keeps the test fast; the build checked them all
        result = check(e.reply, e.request.facts)
        assert all(c.supported for c in result.claims), (e.reply, [c for c in result.claims if not c.supported])
        checked += bool(result.claims)
    assert checked > len(examples[::8]) // 2  # most replies state something checkable


def test_fact_ids_follow_the_contract(examples):
    prefixes = ("item:", "order:", "faq:", "policy:", "customer:", "action:")
    for e in examples[:500]:
        for f in e.request.facts:
            assert f.id.startswith(prefixes), f.id


def test_few_examples_are_dropped_by_the_check(examples):
    from trustgen.dataset import dropped_examples
    dropped = dropped_examples()
    assert dropped["shopper_qa"] > 0  # some real answers say more than their evidence
    shop_dropped = sum(n for k, n in dropped.items() if k != "shopper_qa")
    assert shop_dropped <= 0.01 * len(examples)  # a template the checker cannot read would show up here


def test_written_records_use_the_inference_prompt(examples, tmp_path):
    from trustgen.prompting import build_messages
    paths = write_jsonl(examples[:50], tmp_path)
    records = read_jsonl(paths["train"]) + read_jsonl(paths["val"])
    assert len(records) == 50
    # keyed by reply and message: several questions share one FAQ answer
    by_reply = {(e.reply, e.request.message): e for e in examples[:50]}
    for r in records:
        e = by_reply[(r["messages"][-1]["content"], r["messages"][-2]["content"].split("\n\n")[0])]
        assert r["messages"][:-1] == build_messages(e.request)
        assert r["split"] == ("val" if e.held_out else "train")


def test_build_is_deterministic():
    from trustgen.dataset import Builder
    def catalog(seed):  # the catalog part alone: the same code path for the choices, without the check
        return [(e.reply, e.held_out) for e in Builder(Sources.from_root(), seed).catalog()]
    assert catalog(0) == catalog(0)
    assert catalog(0) != catalog(1)


def test_missing_or_corrupt_files_name_the_file(tmp_path):
    with pytest.raises(DatasetError, match="nowhere"):
        Sources.from_root(tmp_path / "nowhere")
    (tmp_path / "tau-bench-retail").mkdir()
    with pytest.raises(DatasetError, match="products.json"):
        Sources.from_root(tmp_path)
    bad = tmp_path / "train.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\nnot json\n', encoding="utf-8")
    with pytest.raises(DatasetError, match=r"train.jsonl: line 1"):
        read_jsonl(bad)
    with pytest.raises(DatasetError, match="missing"):
        read_jsonl(tmp_path / "absent.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="empty"):
        read_jsonl(empty)


def test_product_replies_answer_price_and_stock_in_a_short_first_sentence(examples):
    # whichever of the two the bot asks for, the first sentence states both (answered first, checked first)
    import re
    import statistics

    from trustgen.claims import check
    products = [e for e in examples if e.kind == "product"]
    assert len(products) > 500
    words = []
    for e in products:
        first = re.split(r"(?<=[.!?])\s", e.reply)[0]
        kinds = {c.kind for c in check(first, e.request.facts).claims if c.supported}
        assert {"price", "availability"} <= kinds, e.reply
        assert e.request.must_state in (("price",), ("availability",))
        words.append(len(first.split()))
    assert statistics.median(words) <= 11 and max(words) <= 22, (statistics.median(words), max(words))

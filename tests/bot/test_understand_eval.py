"""`shopbot eval understanding`: how a Reading is compared with its label, and the dev split itself."""
from __future__ import annotations

import pytest

from bot.understand_eval import matches


def _catalog(**q):
    return {"requests": [{"kind": "catalog", "catalog": q, "confidence": 0.5}]}


def test_the_customers_quoted_words_and_confidence_are_not_compared():
    gold = {"requests": [{"kind": "detail", "items": [{"item": {"product_id": "1", "item_id": "2"}}]}]}
    read = {"requests": [{"kind": "detail", "confidence": 0.3,
                          "items": [{"item": {"product_id": "1", "item_id": "2", "mention": "the kettle"}}]}]}
    assert matches(read, gold)


def test_every_argument_is_compared():
    assert not matches(_catalog(want="list", product_ids=["1"], price_max=100.0), _catalog(want="list", product_ids=["1"]))
    assert not matches(_catalog(want="cheapest", product_ids=["1"]), _catalog(want="list", product_ids=["1"]))
    assert matches(_catalog(want="list", price_max=300.0), _catalog(want="list", price_max=300))


def test_requests_are_compared_in_order():
    a = {"requests": [{"kind": "thanks"}, {"kind": "policy"}]}
    b = {"requests": [{"kind": "policy"}, {"kind": "thanks"}]}
    assert not matches(a, b)


def test_a_policy_answer_must_lead_with_a_labelled_passage():
    gold = {"requests": [{"kind": "policy", "faq_ids": ["faq:cancel-refund", "faq:return-refund"]}]}
    assert matches({"requests": [{"kind": "policy", "faq_ids": ["faq:return-refund", "faq:x"]}]}, gold)
    assert not matches({"requests": [{"kind": "policy", "faq_ids": ["faq:x", "faq:return-refund"]}]}, gold)
    assert not matches({"requests": [{"kind": "policy"}]}, gold)


def test_unknown_products_compare_as_singular_words():
    assert matches(_catalog(want="sell", unknown_product="Washing Machines"),
                   _catalog(want="sell", unknown_product="washing machine"))


def test_the_dev_split_has_unseen_phrasings_and_dialogue_states(demo_db):
    from bot.understand_eval import dev_set
    from knowledge.store import Store
    dev = dev_set(Store(demo_db), generated=200)
    assert len(dev) >= 300
    assert sum(1 for e in dev if e["source"] == "conversation") >= 30
    with_state = [e for e in dev if e["state"].get("awaiting") or any(e["state"]["focus"].values())]
    assert len(with_state) >= 100


def test_dev_phrasings_are_never_trained_on(demo_db):
    from bot.nlu.generate import phrasings
    from bot.nlu.train import training_clauses
    from knowledge.store import Store
    texts = {c.lower().strip(" ?.!") for c, _, _ in training_clauses(Store(demo_db), n_messages=1500)}
    tables = list(phrasings()["requests"].values()) + list(phrasings()["details"].values()) + \
        [t for t in phrasings()["pieces"].values() if isinstance(t, dict)]
    train = {w.lower() for table in tables for name, family in table.items() if not name.startswith("dev")
             for w in family}
    for table in tables:
        for template in table.get("dev", []):
            assert template.lower() not in train, template  # no dev wording is also a train wording
            if "{" not in template:  # a fixed wording: it must not appear in any training source either
                assert template.lower().strip(" ?.!") not in texts, template


@pytest.mark.slow
def test_the_reader_on_the_hand_written_dev_messages(demo_db):
    from bot.understand_eval import evaluate
    from knowledge.documents import faq_documents, policy_documents
    from knowledge.embeddings import default_embedder
    from knowledge.faq import load_faq, load_policy
    from knowledge.index import SearchIndex
    from knowledge.store import Store
    faq = load_faq()  # policy questions are scored on their FAQ passage too: an index of FAQ and policy
    index = SearchIndex.build(faq_documents(faq) + policy_documents(load_policy(), faq=faq), embedder=default_embedder())
    report = evaluate(Store(demo_db), index, default_embedder(), candidates=("minilm",), generated=0)
    assert report["candidates"]["minilm"]["sources"]["hand"] >= 0.9

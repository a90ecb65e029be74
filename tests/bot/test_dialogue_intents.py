"""The intent classifier: a deterministic held-out split and real accuracy on a part of it (real MiniLM)."""
from __future__ import annotations

from dialogue_helpers import classifier

from bot.intents import load_examples, split


def test_split_is_deterministic_and_disjoint():
    train, test = split(load_examples())
    again_train, again_test = split(load_examples())
    assert [e.text for e in test] == [e.text for e in again_test]
    assert not {e.text.lower() for e in test} & {e.text.lower() for e in train if e.source == "shop"}
    assert 0.15 < len(test) / (len(train) + len(test)) < 0.25
    assert {e.source for e in test} == {"bitext", "shop"}


def test_held_out_accuracy():
    _, test = split(load_examples())
    sample = [e for e in test if e.source == "bitext"][::6] + [e for e in test if e.source == "shop"]
    predictions = classifier().predict_many([e.text for e in sample])
    accuracy = sum(p.intent == e.intent for e, p in zip(sample, predictions)) / len(sample)
    assert accuracy >= 0.85, accuracy

"""Golden values for the model metrics: uniform logits, ignored tokens, empty sets, factual accuracy."""
from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from trustgen.metrics import IGNORE, dataset_nll, factual_accuracy, nll_sum, perplexity  # noqa: E402
from trustgen.types import CheckedReply, Claim  # noqa: E402


class UniformModel(torch.nn.Module):
    """A language model whose logits are all zero: every next token has probability 1/vocab."""

    def __init__(self, vocab: int):
        super().__init__()
        self.vocab = vocab

    def forward(self, input_ids, attention_mask=None):
        class Out:
            logits = torch.zeros(*input_ids.shape, self.vocab)
        return Out()


def test_uniform_model_perplexity_equals_vocabulary_size():
    vocab = 97
    ids = torch.randint(0, vocab, (3, 11))
    labels = ids.clone()
    labels[:, :4] = IGNORE  # a prompt that is not scored
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}
    nats, tokens = dataset_nll(UniformModel(vocab), [batch, batch])
    assert tokens == 2 * 3 * 7  # positions 4..10 of each row are predicted from the one before
    assert perplexity(nats, tokens) == pytest.approx(vocab, rel=1e-5)


def test_nll_sum_scores_only_labelled_tokens():
    logits = torch.full((1, 4, 5), -20.0)
    logits[0, 0, 3] = 20.0  # position 0 predicts token 3 with near certainty
    logits[0, 1, 1] = 20.0
    labels = torch.tensor([[IGNORE, 3, 2, IGNORE]])  # token 2 at position 2 is predicted badly by position 1
    nats, count = nll_sum(logits, labels)
    assert count == 2
    assert nats == pytest.approx(40.0 + math.log(1 + 3 * math.exp(-40)), abs=1e-3)


def test_empty_set_has_no_perplexity():
    nats, count = nll_sum(torch.zeros(1, 3, 4), torch.full((1, 3), IGNORE))
    assert (nats, count) == (0.0, 0)
    with pytest.raises(ValueError, match="no tokens"):
        perplexity(nats, count)


def test_factual_accuracy_counts_unsupported_before_repair():
    ok = Claim("price", "$5.00", "5.00", True, ("item:1",))
    bad_repaired = Claim("price", "$6.00", "6.00", False, (), repaired_to="5.00")
    replies = [CheckedReply("a", (ok,)), CheckedReply("b", (ok, bad_repaired)), CheckedReply("I don't know")]
    figures = factual_accuracy(replies)
    assert figures["accuracy"] == pytest.approx(2 / 3)  # the repaired reply was wrong as written
    assert figures["replies_with_claims"] == 2
    assert figures["accuracy_with_claims"] == pytest.approx(0.5)
    assert figures["unsupported_claims"] == 1
    assert math.isnan(factual_accuracy([])["accuracy"])

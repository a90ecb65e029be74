"""Pure measurement functions for the language model: reply-token loss, perplexity, factual accuracy.

Losses are summed in nats with the token count kept apart, and divided only at the end, so batches of any
size and padding weigh each scored token once. Only tokens whose label is not -100 (the reply) are scored.
No model loading, no printing: `trustgen.evaluate` and `bench/lm_bench.py` call these.
"""
from __future__ import annotations

import math
from typing import Iterable

IGNORE = -100  # label of prompt and padding tokens: not scored


def nll_sum(logits, labels) -> tuple[float, int]:
    """Summed negative log-likelihood (nats) and count of scored tokens. logits (B, T, V), labels (B, T)."""
    import torch.nn.functional as F
    logits, labels = logits[:, :-1, :], labels[:, 1:]  # position t predicts token t+1
    count = int((labels != IGNORE).sum())
    if count == 0:
        return 0.0, 0
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), labels.reshape(-1),
                           ignore_index=IGNORE, reduction="sum")
    return float(loss), count


def dataset_nll(model, batches: Iterable[dict]) -> tuple[float, int]:
    """Total nats and scored tokens of `model` over batches of {input_ids, attention_mask, labels}."""
    import torch
    nats, tokens = 0.0, 0
    with torch.no_grad():
        for batch in batches:
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            n, c = nll_sum(logits, batch["labels"])
            nats, tokens = nats + n, tokens + c
    return nats, tokens


def perplexity(nats: float, tokens: int) -> float:
    """exp(mean nats per token); an empty set has no perplexity and says so."""
    if tokens <= 0:
        raise ValueError("no tokens were scored, so there is no perplexity")
    return math.exp(nats / tokens)


def claims_all_supported(checked) -> bool:
    """True when every claim the checker found was supported as written (repairs do not count)."""
    return all(c.supported for c in checked.claims)


def factual_accuracy(checked_replies) -> dict:
    """Share of replies whose every claim is supported by their facts, before any repair.

    A reply with no checkable claim counts as accurate (it states nothing that could be wrong); the share of
    replies that made at least one claim, and the accuracy among them, are reported beside it.
    """
    checked_replies = list(checked_replies)
    n = len(checked_replies)
    with_claims = [c for c in checked_replies if c.claims]
    ok = sum(claims_all_supported(c) for c in checked_replies)
    ok_claims = sum(claims_all_supported(c) for c in with_claims)
    return {
        "replies": n,
        "accuracy": ok / n if n else float("nan"),
        "replies_with_claims": len(with_claims),
        "accuracy_with_claims": ok_claims / len(with_claims) if with_claims else float("nan"),
        "claims": sum(len(c.claims) for c in checked_replies),
        "unsupported_claims": sum(1 for c in checked_replies for cl in c.claims if not cl.supported),
    }

"""Suggestions: up to three available variants that fit what the customer said, each with its reason.

Fit = the product named (or found by search), the option values mentioned, the budget, and, once the customer
is identified and personalisation is on, what they bought before (same product type or option values). Each
suggestion says why it was chosen in words tied to the message and carries the catalog's 'sponsored' mark.
"""
from __future__ import annotations

from trustgen.types import Fact

from . import slots
from .answers import mentioned_products, variant_fact, write
from .flows import Outcome, money
from .reply import ProductSuggestion


def candidates(bot, text: str) -> list[dict]:
    store = bot.store
    pids = mentioned_products(store, text)
    if pids:
        return [v for v in store.variants() if v["product_id"] in pids]
    found = []
    for hit in bot.index.search(text, top_k=bot.config.search_top_k * 3, filters=None):
        meta = hit.metadata or {}
        if meta.get("item_id"):
            found.append(store.get_variant(meta["item_id"]))
        elif meta.get("kind") == "product" and meta.get("product_id"):
            found += [store.get_variant(i) for i in store.get_product(meta["product_id"])["variants"]]
    seen, out = set(), []
    for v in found:
        if v["item_id"] not in seen:
            seen.add(v["item_id"])
            out.append(v)
    return out


def past_values(bot, user_id: str) -> tuple[set[str], set[tuple[str, str]]]:
    products, values = set(), set()
    for order in bot.store.orders_of(user_id):
        for item in order["items"]:
            products.add(item["product_id"])
            values.update(item["options"].items())
    return products, values


def recommend(bot, state: dict, text: str, intent: str, session_id: str, personalise: bool) -> Outcome:
    pool = [v for v in candidates(bot, text) if v["available"]]
    t = slots.normalise(text)
    low, high = slots.budget(text)
    wanted = slots.mentioned_values(t, pool)
    fits = [v for v in pool if all(v["options"].get(k) == val for k, val in wanted.items())
            and (high is None or v["price"] <= high) and (low is None or v["price"] >= low)]
    if not fits:
        msg = bot.flows.t["no_products"]
        if pool and high is not None:
            cheapest = min(pool, key=lambda v: v["price"])
            fact = variant_fact(cheapest)
            msg += f" The lowest price among matching items is {money(cheapest['price'])} ({fact.text})."
            out = write(bot, text, [fact], msg, intent, session_id, use_model=False)
            out.confidence = 0.6
            return out
        return Outcome(msg, intent, confidence=0.5)
    past_products, past = (set(), set())
    if personalise and state.get("user_id"):
        past_products, past = past_values(bot, state["user_id"])

    def score(v):
        liked = len(set(v["options"].items()) & past)
        return (-len([k for k in wanted if v["options"].get(k) == wanted[k]]), -liked, v["price"], v["item_id"])

    chosen = []
    for v in sorted(fits, key=score):  # at most one per option set already shown; distinct variants
        if len(chosen) >= bot.config.max_suggestions:
            break
        chosen.append(v)
    suggestions, facts = [], []
    for v in chosen:
        reasons = []
        if wanted:
            reasons.append("has the " + ", ".join(f"{k} {val}" for k, val in wanted.items()) + " you asked for")
        if high is not None:
            reasons.append(f"within your budget of {money(high)}")
        liked = sorted(set(v["options"].items()) & past)
        if liked:
            reasons.append("matches what you bought before (" + ", ".join(val for _, val in liked[:2]) + ")")
        if not reasons:
            reasons.append(f"a {v['name']} in stock, as you asked" + ("; the lowest price of those that fit"
                                                                      if v is chosen[0] else ""))
        reason = "; ".join(reasons)
        suggestions.append(ProductSuggestion(v["item_id"], v["product_id"], v["name"], v["options"], v["price"],
                                             v["available"], reason, bool(v.get("sponsored", False))))
        facts.append(variant_fact(v))
    if high is not None:  # the customer's own figure, so the checker can see where "$150.00" comes from
        facts.append(Fact("request:budget", "request", f"Budget the customer gave: {money(high)}", {"budget": high}))
    lines = [f"- {f.text} ({s.reason})" + (" [sponsored]" if s.sponsored else "")
             for f, s in zip(facts, suggestions)]
    template = "Here are some options that fit:\n" + "\n".join(lines)
    out = write(bot, text, facts, template, intent, session_id, use_model=False)
    out.products = suggestions
    return out


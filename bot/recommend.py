"""Suggestions: up to three available variants inside what the customer asked (products, option values, budget),
each with one reason clause tied to the request, and the catalog's 'sponsored' mark.

The candidates are the products the Reading names; else the products the search index finds for what the
suggestion is for (`Request.topic`, e.g. "hiking"); else the whole catalog. Once the customer is identified and
personalisation is on, what they bought before breaks ties. Nothing over the budget is ever suggested: when
nothing fits, the reply says so and names the closest price. Selection and reasons: bot/catalog.py.
"""
from __future__ import annotations

from . import catalog
from .answers import show_products, write
from .flows import Outcome
from .reading import CatalogQuery, Request
from .reply import ProductSuggestion

TOPIC_MIN_SIMILARITY = 0.45  # a product whose name is this close to the topic serves it: hiking -> Hiking Boots,
# Backpack; travel -> Backpack (not the Grill); fitness, knitting -> nothing, so the whole catalog and no reason


def topic_products(bot, topic: str, variants: list[dict]) -> list[str]:
    """Products whose names the embedder finds close to what the suggestion is for, closest first."""
    embedder = getattr(bot.index, "embedder", None)
    if embedder is None:
        return []
    names = sorted({(v["product_id"], v["name"]) for v in variants})
    vectors = _name_vectors(embedder, tuple(n for _, n in names))
    scores = vectors @ embedder.encode([topic])[0]
    ranked = sorted(range(len(names)), key=lambda i: -scores[i])
    return [names[i][0] for i in ranked if scores[i] >= TOPIC_MIN_SIMILARITY]


_VECTORS: dict = {}


def _name_vectors(embedder, names: tuple[str, ...]):
    key = (getattr(embedder, "name", type(embedder).__name__), names)
    if key not in _VECTORS:  # the catalog's names change rarely: embedded once per process
        _VECTORS.clear()
        _VECTORS[key] = embedder.encode(list(names))
    return _VECTORS[key]


def candidates(variants: list[dict], query: CatalogQuery, for_topic: list[str]) -> list[dict]:
    """The variants of the products named, else of those found for the topic, else the whole catalog (the order
    of the suggestions is catalog.suggest's)."""
    pids = set(query.product_ids) or set(for_topic)
    return [v for v in variants if v["product_id"] in pids] if pids else variants


def past_values(bot, user_id: str) -> set[tuple[str, str]]:
    values = set()
    for order in bot.store.orders_of(user_id):
        for item in order["items"]:
            values.update(item["options"].items())
    return values


def recommend(bot, state: dict, request: Request, text: str, session_id: str, personalise: bool) -> Outcome:
    query = request.catalog or CatalogQuery()
    liked = past_values(bot, state["user_id"]) if personalise and state.get("user_id") else set()
    variants = bot.store.variants()
    for_topic = topic_products(bot, request.topic, variants) if request.topic and not query.product_ids else []
    topic = request.topic if for_topic else ""  # a topic nothing in the catalog is close to gives no reason
    pool = candidates(variants, query, for_topic)
    picks = catalog.suggest(bot.store, query, pool, liked=liked, limit=bot.config.max_suggestions, because=topic,
                            closest=for_topic)
    intent = "recommend_product"
    if not picks.chosen:
        constraint = " ".join(filter(None, [f"for {topic}" if topic else "",
                                             catalog.constraints_text(query)]))
        msg = f"I couldn't find anything {constraint} that fits.".replace("  ", " ") if constraint else \
            bot.flows.t["no_products"]
        facts = list(catalog.bounds_facts(query))
        if picks.nearest is not None:
            fact = catalog.variant_fact(picks.nearest)
            facts.append(fact)
            msg += f" The closest is {fact.text}."
        out = write(bot, text, facts, msg, intent, session_id, use_model=False)
        out.confidence = 0.6
        return out
    suggestions = [ProductSuggestion(s.variant["item_id"], s.variant["product_id"], s.variant["name"],
                                     s.variant["options"], s.variant["price"], s.variant["available"], s.reason,
                                     bool(s.variant.get("sponsored", False))) for s in picks.chosen]
    lines = [f"- {catalog.variant_line(s.variant)}: {s.reason[0].lower() + s.reason[1:]}"
             .replace(" (sponsored):", ":") + (" [sponsored]" if s.variant.get("sponsored") else "")
             for s in picks.chosen]
    template = "Here are some options that fit:\n" + "\n".join(lines)
    out = write(bot, text, list(picks.facts), template, intent, session_id, use_model=False)
    out.products = suggestions
    out.confidence = request.confidence
    show_products(state, [s.product_id for s in suggestions], [s.item_id for s in suggestions], query.options, query)
    return out

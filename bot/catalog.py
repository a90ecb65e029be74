"""Catalog answers computed from the shop's database for a CatalogQuery: filter, sort, count, option values, compare.

`answer(store, query, nearest=None)` returns a `CatalogAnswer`: the reply's plain template (its first sentence
answers the question; at most MAX_LISTED variants listed, then "and N more" with a way to narrow), the facts it
rests on (for the claim check and the citations) and the variants it showed (the dialogue's new focus).
`suggest(...)` picks recommendations inside the customer's constraints, each with one reason clause.
Pure functions of the store and the query: no message text, no search (pass `nearest` for "we don't sell X").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from trustgen.types import Fact

from .reading import CatalogQuery, ItemRef

MAX_LISTED = 5


@dataclass(frozen=True)
class CatalogAnswer:
    text: str
    facts: tuple[Fact, ...] = ()
    shown: tuple[str, ...] = ()  # item ids listed, in the order shown
    product_ids: tuple[str, ...] = ()  # products the answer is about, most relevant first
    must_state: tuple[str, ...] = ()  # claim kinds a model-worded reply must keep ("price", "availability")
    found: bool = True  # False: nothing in the catalog fits


@dataclass(frozen=True)
class Suggestion:
    variant: dict
    reason: str


@dataclass(frozen=True)
class Suggestions:
    chosen: tuple[Suggestion, ...] = ()
    facts: tuple[Fact, ...] = ()
    nearest: dict | None = field(default=None)  # nothing fits: the closest variant (cheapest over budget)


# ---------------------------------------------------------------- rendering helpers
def money(x: float) -> str:
    return f"${x:,.2f}"


def describe(options: dict) -> str:
    return ", ".join(f"{k}: {v}" for k, v in options.items())


def variant_line(v: dict) -> str:
    stock = "in stock" if v["available"] else "out of stock"
    text = f"{v['name']} ({describe(v['options'])}): {money(v['price'])}, {stock}"
    return text + (" (sponsored)" if v.get("sponsored") else "")


def variant_fact(v: dict) -> Fact:
    return Fact(f"item:{v['item_id']}", "product", variant_line(v),
                {"price": v["price"], "available": v["available"], "options": v["options"], "name": v["name"],
                 "item_id": v["item_id"], "product_id": v["product_id"]})


def count_fact(label: str, n: int) -> Fact:
    """A number the answer computed (a count of variants), so the claim check can see where it comes from."""
    return Fact(f"catalog:count:{label}", "product", f"{label}: {n}", {"count": n})


def joined(words: list[str], last: str = "and") -> str:
    words = [w for w in words if w]
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + f" {last} " + words[-1]


def plural(name: str, n: int = 2) -> str:
    if n == 1:
        return name
    if name.endswith(("s", "sh", "ch", "x")):
        return name if name.endswith("s") else name + "es"
    return name + "s"


def _value_phrase(options: tuple) -> str:
    """('color', 'blue'), ('size', 'M') -> 'color blue, size M' (the catalog's own names and values)."""
    return ", ".join(f"{k} {v}" for k, v in options)


# ---------------------------------------------------------------- selection
def _fits(v: dict, query: CatalogQuery) -> bool:
    opts = {k.lower(): str(x).lower() for k, x in v["options"].items()}
    for k, want in query.options:
        if opts.get(k.lower()) != str(want).lower():
            return False
    if query.price_min is not None and v["price"] < query.price_min:
        return False
    if query.price_max is not None and v["price"] > query.price_max:
        return False
    if query.in_stock and not v["available"]:
        return False
    return True


def _pool(store, product_ids) -> list[dict]:
    variants = store.variants()
    if product_ids:
        order = {p: n for n, p in enumerate(product_ids)}
        return sorted((v for v in variants if v["product_id"] in order), key=lambda v: order[v["product_id"]])
    return variants


def _subject(store, query: CatalogQuery, pool: list[dict]) -> str:
    """What the answer is about, in the catalog's words: 'blue Bluetooth Speaker', 'products'."""
    names = list(dict.fromkeys(v["name"] for v in pool))
    if len(names) == 1:
        name = names[0]
    elif names and query.product_ids:
        name = joined(names, "or")
    else:
        name = "product"
    return name


def _narrow_hint(rest: list[dict], query: CatalogQuery) -> str:
    asked = {k for k, _ in query.options}
    varying = []
    for v in rest:
        for k in v["options"]:
            if k not in asked and k not in varying and len({x["options"].get(k) for x in rest}) > 1:
                varying.append(k)
    if len({v["name"] for v in rest}) > 1:
        varying.insert(0, "product")
    what = joined(varying[:3], "or") if varying else "price"
    return f"tell me the {what} you want and I'll narrow it down"


def _listing(variants: list[dict], query: CatalogQuery) -> tuple[str, list[dict], list[Fact]]:
    """The list lines (at most MAX_LISTED), the variants shown and the count of those left out as a fact."""
    shown = variants[:MAX_LISTED]
    lines = [f"- {variant_line(v)}" for v in shown]
    more = len(variants) - len(shown)
    if more:
        lines.append(f"...and {more} more: {_narrow_hint(variants[MAX_LISTED:], query)}.")
        return "\n".join(lines), shown, [count_fact("variants not listed", more)]
    return "\n".join(lines), shown, []


def bounds_facts(query: CatalogQuery, variants: list[dict] = ()) -> list[Fact]:
    """The customer's own price bounds, and the cheapest and dearest variants a price range quotes."""
    out = []
    if query.options:  # "we don't have it in green" quotes the customer's own wish
        out.append(Fact("request:options", "request", "The customer asked for " + _value_phrase(query.options)))
    for label, value in (("lowest", query.price_min), ("highest", query.price_max)):
        if value is not None:
            out.append(Fact(f"request:price_{label}", "request", f"The {label} price the customer gave: {money(value)}",
                            {"budget": value}))
    if variants:
        for v in {min(variants, key=lambda v: v["price"])["item_id"]: min(variants, key=lambda v: v["price"]),
                  max(variants, key=lambda v: v["price"])["item_id"]: max(variants, key=lambda v: v["price"])}.values():
            out.append(variant_fact(v))
    return out


def _range(variants: list[dict]) -> str:
    low, high = min(v["price"] for v in variants), max(v["price"] for v in variants)
    return money(low) if low == high else f"from {money(low)} to {money(high)}"


def constraints_text(query: CatalogQuery) -> str:
    parts = []
    if query.options:
        parts.append("with " + _value_phrase(query.options))
    if query.price_min is not None and query.price_max is not None:
        parts.append(f"between {money(query.price_min)} and {money(query.price_max)}")
    elif query.price_max is not None:
        parts.append(f"under {money(query.price_max)}")
    elif query.price_min is not None:
        parts.append(f"over {money(query.price_min)}")
    if query.in_stock:
        parts.append("in stock")
    return " ".join(parts)


# ---------------------------------------------------------------- the answer
def answer(store, query: CatalogQuery, nearest: Callable[[str], list[str]] | None = None) -> CatalogAnswer:
    """The catalog's answer to one query. `nearest(term)` gives product ids close to a product we don't sell."""
    if query.unknown_product and not query.product_ids:
        return _not_sold(store, query, nearest)
    if query.want == "compare" and query.compare:
        return _compare(store, query)
    if not (query.product_ids or query.options or query.price_min is not None or query.price_max is not None) and \
            query.want not in ("cheapest", "dearest"):  # "what's the cheapest thing you sell?" is answered
        return _whole_catalog(store, query)
    pool = _pool(store, query.product_ids)
    if not pool:
        return CatalogAnswer("I couldn't find that in our catalog.", found=False)
    fits = [v for v in pool if _fits(v, query)]
    subject = _subject(store, query, pool)
    if not fits:
        return _none_fit(store, query, pool, subject)
    want = query.want
    if want == "count":
        return _count(query, fits, pool, subject)
    if want == "option_values":
        return _option_values(query, fits, subject)
    if want in ("cheapest", "dearest"):
        return _extreme(query, fits, subject)
    return _list(query, fits, subject)


def _facts(shown: list[dict], extra: list[Fact] = ()) -> tuple[Fact, ...]:
    facts = {f.id: f for f in [variant_fact(v) for v in shown] + list(extra)}
    return tuple(facts.values())


def _answer(text: str, shown: list[dict], extra=(), must_state=(), found=True, query=None, quoted=()) -> CatalogAnswer:
    extra = list(extra) + (bounds_facts(query, quoted) if query is not None else [])
    pids = tuple(dict.fromkeys(v["product_id"] for v in shown))
    return CatalogAnswer(text, _facts(shown, list(extra)), tuple(v["item_id"] for v in shown), pids,
                         tuple(must_state), found)


def _whole_catalog(store, query: CatalogQuery) -> CatalogAnswer:
    """A question about the shop as a whole ("what do you sell?"): the kinds of products, not 591 variants."""
    variants = [v for v in store.variants() if v["available"] or not query.in_stock]
    names = list(dict.fromkeys(v["name"] for v in variants))
    counts = [count_fact("kinds of products", len(names)), count_fact("variants", len(variants))]
    if query.want == "count":
        text = f"We sell {len(names)} kinds of products in {len(variants)} variants" + \
            (" that can be ordered now." if query.in_stock else ".")
        return CatalogAnswer(text, tuple(counts))
    more = len(names) - MAX_LISTED
    text = f"We sell {len(names)} kinds of products, for example {joined(names[:MAX_LISTED])}" + \
        (f", and {more} more: tell me what you are looking for and I'll find it." if more > 0 else ".")
    extra = [count_fact("kinds of products not named", more)] if more > 0 else []
    return CatalogAnswer(text, tuple(counts + extra))


def _not_sold(store, query: CatalogQuery, nearest) -> CatalogAnswer:
    close = [p for p in (nearest(query.unknown_product) if nearest else []) if p in set(store.product_ids())][:3]
    names = [store.get_product(p)["name"] for p in close]
    text = f"No, we don't sell {query.unknown_product}."
    if names:
        text += f" The closest things we sell are: {joined(names)}. Would you like to see one of those?"
    else:
        text += " I can tell you what we do sell if you tell me what you need it for."
    return CatalogAnswer(text, (), (), tuple(close), (), found=False)


def _none_fit(store, query: CatalogQuery, pool: list[dict], subject: str) -> CatalogAnswer:
    """Nothing fits every constraint: say no first, then what the catalog has closest (never the misfit list)."""
    text = f"No, we don't have any {plural(subject)} {constraints_text(query)}.".replace(" .", ".")
    relaxed = CatalogQuery(options=query.options, in_stock=query.in_stock)
    near = [v for v in pool if _fits(v, relaxed)]
    if query.price_max is not None and near:
        cheapest = min(near, key=lambda v: (v["price"], v["item_id"]))
        text += f" The lowest price we have for the {subject} is {money(cheapest['price'])}:\n- {variant_line(cheapest)}"
        return _answer(text, [cheapest], must_state=("price",), found=False, query=query)
    if query.price_min is not None and near:
        dearest = max(near, key=lambda v: (v["price"], v["item_id"]))
        text += f" The highest price we have for the {subject} is {money(dearest['price'])}:\n- {variant_line(dearest)}"
        return _answer(text, [dearest], must_state=("price",), found=False, query=query)
    if query.options:
        shown, have = [], []
        for k, _ in query.options:
            values = {}
            for v in sorted(pool, key=lambda v: not v["available"]):
                if k in v["options"] and (v["available"] or not query.in_stock):
                    values.setdefault(v["options"][k], v)
            if values:
                have.append(f"{k} {joined(sorted(values), 'or')}")
                shown += [v for v in values.values() if v not in shown]
        if have:
            text += f" The {subject} comes in {'; '.join(have)}."
        return _answer(text, shown, found=False, query=query)
    if query.in_stock:
        text += f" All {len(pool)} of them are out of stock right now."
        return _answer(text, pool[:MAX_LISTED], [count_fact(f"{subject} variants", len(pool))], ("availability",),
                       found=False)
    return _answer(text, [], found=False, query=query)


def _count(query: CatalogQuery, fits: list[dict], pool: list[dict], subject: str) -> CatalogAnswer:
    n = len(fits)
    constraint = constraints_text(query)
    extra = [count_fact(f"{subject} variants {constraint}".strip(), n)]
    if query.in_stock is None:
        available = sum(1 for v in fits if v["available"])
        text = (f"We have {n} {plural(subject, n)} {constraint}".rstrip() +
                f" in our catalog, and {available} of them can be ordered now.")
        extra.append(count_fact(f"{subject} variants {constraint} that can be ordered now".replace("  ", " "),
                                available))
    else:
        text = f"We have {n} {plural(subject, n)} {constraint}.".replace(" .", ".")
    listing, shown, more = _listing(sorted(fits, key=lambda v: (not v["available"], v["price"])), query)
    return _answer(text + "\n" + listing, shown, extra + more, query=query)


def _option_values(query: CatalogQuery, fits: list[dict], subject: str) -> CatalogAnswer:
    option = query.option
    names = list(dict.fromkeys(k for v in fits for k in v["options"]))
    key = next((k for k in names if k.lower() == option.lower()), None)
    if key is None:
        text = f"The {subject} doesn't come in different {option or 'options'}; its options are {joined(names)}."
        return _answer(text, fits[:1], found=False)
    fits = [v for v in fits if key in v["options"]]  # several products asked about: those that have the option
    values = list(dict.fromkeys(v["options"][key] for v in fits))
    in_stock = [x for x in values if any(v["options"][key] == x and v["available"] for v in fits)]
    out = [x for x in values if x not in in_stock]
    where = f" {constraints_text(query)}" if query.options or query.price_max is not None else ""
    if query.in_stock:
        text = f"The {subject}{where} is in stock in these {key} options: {joined(in_stock)}."
        values = in_stock
    else:
        text = f"The {subject}{where} comes in these {key} options: {joined(values)}."
        if out:
            text += f" Right now {joined(out)} {'is' if len(out) == 1 else 'are'} out of stock."
    shown = [sorted((v for v in fits if v["options"][key] == x), key=lambda v: not v["available"])[0] for x in values]
    return _answer(text, shown, query=query)


def _extreme(query: CatalogQuery, fits: list[dict], subject: str) -> CatalogAnswer:
    dear = query.want == "dearest"
    ranked = sorted(fits, key=lambda v: (-v["price"] if dear else v["price"], not v["available"], v["item_id"]))
    best = ranked[0]
    word = "most expensive" if dear else "cheapest"
    stock = "in stock" if best["available"] else "out of stock"
    text = (f"The {word} {subject} {constraints_text(query)}".rstrip() + f" is the {best['name']} ({describe(best['options'])}) "
            f"at {money(best['price'])}, {stock}.")
    if len(ranked) == 1:
        return _answer(text, [best], must_state=("price",), query=query)
    listing, shown, more = _listing(ranked[1:], query)
    text += "\nNext " + word + ":\n" + listing
    return _answer(text, [best] + shown, more, must_state=("price",), query=query)


def _list(query: CatalogQuery, fits: list[dict], subject: str) -> CatalogAnswer:
    want = query.want
    ranked = sorted(fits, key=lambda v: (not v["available"], v["price"], v["item_id"]))
    available = [v for v in fits if v["available"]]
    constraint = constraints_text(query)
    n, k = len(fits), len(available)
    counts = [count_fact(f"{subject} variants {constraint}".strip(), n),
              count_fact(f"{subject} variants {constraint} that can be ordered now".replace("  ", " "), k)]
    quoted: list[dict] = []
    if n == 1 and want in ("stock", "price", "details"):
        v = fits[0]
        state = "is in stock" if v["available"] else "is out of stock"
        if want == "stock":
            text = f"{'Yes' if v['available'] else 'No'}, the {subject} ({describe(v['options'])}) {state}."
        else:
            text = f"The {subject} ({describe(v['options'])}) costs {money(v['price'])} and {state}."
        return _answer(text, fits, must_state=("price",) if want == "price" else ("availability",), query=query)
    must: tuple = ()
    if want == "stock":
        if k == n:
            first = f"Yes, all {n} {plural(subject, n)} {constraint}".rstrip() + " are in stock."
        elif k:
            first = f"Yes: {k} of the {n} {plural(subject, n)} {constraint}".rstrip() + " can be ordered now."
        else:
            first = f"No, none of the {n} {plural(subject, n)} {constraint}".rstrip() + " is in stock right now."
        must = ("availability",)
    elif want == "price":
        quoted = available or fits
        first = f"The {subject} {constraint}".rstrip() + f" costs {_range(quoted)}" + \
            ((" for the one you can order now." if k == 1 else " for the ones you can order now.")
             if available and k < n else ".")
        ranked = sorted(quoted, key=lambda v: (v["price"], v["item_id"])) + [v for v in ranked if v not in quoted]
        must = ("price",)
    elif want == "sell":
        quoted = available or fits
        first = f"Yes, we sell the {subject}" + (f" {constraint}" if constraint else "") + \
            f": {n} variants, {k} of them can be ordered now, {_range(quoted)}."
    elif n == 1:
        first = f"We have one {subject} {constraint}".rstrip() + ":"
    else:
        first = f"We have {n} {plural(subject, n)} {constraint}".rstrip() + f", and {k} of them can be ordered now:"
    listing, shown, more = _listing(ranked, query)
    return _answer(first + "\n" + listing, shown, counts + more, must, query=query, quoted=quoted)


# ---------------------------------------------------------------- compare
def resolve_ref(store, ref: ItemRef) -> list[dict]:
    """The variants an ItemRef may mean: its item, or its product's variants with those option values."""
    if ref.item_id:
        return [store.get_variant(ref.item_id)]
    if not ref.product_id:
        return []
    pool = _pool(store, (ref.product_id,))
    fit = [v for v in pool if _fits(v, CatalogQuery(options=ref.options))]
    return fit


def _compare(store, query: CatalogQuery) -> CatalogAnswer:
    picked, missing = [], []
    for ref in query.compare[:2]:
        options = resolve_ref(store, ref)
        if not options:
            missing.append(ref.mention or ref.product_id or "that item")
            continue
        ranked = sorted(options, key=lambda v: (not v["available"], v["price"], v["item_id"]))
        picked.append(ranked[0])
    if missing or len(picked) < 2:
        text = "I couldn't find " + joined([f"'{m}'" for m in missing] or ["a second item"]) + \
            " in our catalog to compare. Which product do you mean?"
        return _answer(text, picked, found=False)
    a, b = picked
    diff = round(abs(a["price"] - b["price"]), 2)
    la, lb = f"{a['name']} ({describe(a['options'])})", f"{b['name']} ({describe(b['options'])})"
    if diff == 0:
        first = f"The {la} and the {lb} cost the same, {money(a['price'])}."
    else:
        cheaper, dearer = (a, b) if a["price"] < b["price"] else (b, a)
        first = (f"The {cheaper['name']} ({describe(cheaper['options'])}) is {money(diff)} cheaper than the "
                 f"{dearer['name']} ({describe(dearer['options'])}).")
    lines = [f"- {variant_line(a)}", f"- {variant_line(b)}"]
    if a["product_id"] == b["product_id"]:
        differ = [k for k in a["options"] if a["options"].get(k) != b["options"].get(k)]
        if differ:
            lines.append("They differ in " + joined(differ) + ".")
    diff_fact = Fact("catalog:difference", "action", f"Price difference: {money(diff)}", {"price_difference": diff})
    return _answer(first + "\n" + "\n".join(lines), [a, b], [diff_fact], ("price",))


# ---------------------------------------------------------------- recommendations
def suggest(store, query: CatalogQuery, pool: list[dict], *, liked: set = frozenset(), limit: int = 3,
            because: str = "", closest: Sequence[str] = ()) -> Suggestions:
    """Up to `limit` available variants of `pool` inside the query's constraints, each with one reason clause.
    `closest`: product ids, closest to what the suggestion is for first; they come before price.

    `liked`: (option, value) pairs of the customer's past orders (personalisation on); `because`: what the
    customer said the suggestion is for, as the catalog's words or a short label ("hiking")."""
    ask = CatalogQuery(options=query.options, price_min=query.price_min, price_max=query.price_max, in_stock=True)
    fits = [v for v in pool if _fits(v, ask)]
    if not fits:
        over = [v for v in pool if v["available"] and _fits(v, CatalogQuery(options=query.options))]
        return Suggestions(nearest=min(over, key=lambda v: (v["price"], v["item_id"])) if over else None)

    order = {pid: n for n, pid in enumerate(closest)}

    def score(v):
        return (-len(set(v["options"].items()) & set(liked)), order.get(v["product_id"], 0), v["price"], v["item_id"])

    chosen, seen_products = [], set()
    ranked = sorted(fits, key=score)
    for v in ranked:  # one per product first, so three suggestions are three different things when possible
        if v["product_id"] not in seen_products and len(chosen) < limit:
            chosen.append(v)
            seen_products.add(v["product_id"])
    for v in ranked:
        if len(chosen) >= limit:
            break
        if v not in chosen:
            chosen.append(v)
    by_price = sorted(chosen, key=lambda v: (v["price"], v["item_id"]))
    out = tuple(Suggestion(v, reason_for(v, query, liked, because, rank=by_price.index(v))) for v in chosen)
    facts = [variant_fact(s.variant) for s in out]
    if query.price_max is not None:
        facts.append(Fact("request:budget", "request", f"Budget the customer gave: {money(query.price_max)}",
                          {"budget": query.price_max}))
    return Suggestions(out, tuple(facts))


def reason_for(v: dict, query: CatalogQuery, liked=frozenset(), because: str = "", rank: int = 0) -> str:
    """One clause tied to what the customer asked, never repeating the line's own price or stock."""
    parts = []
    asked = [val for k, val in query.options if v["options"].get(k) == val]
    if asked:
        parts.append(f"the {joined(asked)} one you asked for")
    if because:
        parts.append(f"good for {because}")
    if query.price_max is not None:
        parts.append(f"within your {money(query.price_max)} budget")
    elif query.price_min is not None:
        parts.append(f"above your {money(query.price_min)} minimum")
    past = sorted(val for k, val in set(v["options"].items()) & set(liked))
    if past:
        parts.append(f"{joined(past[:2])}, like what you bought before")
    if not parts:
        parts.append("the lowest-priced of these in stock" if rank == 0 else "the next lowest-priced in stock")
    text = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]
    return text[0].upper() + text[1:]

"""Reading the details out of a message: order ids, emails, zip codes, names, payment methods, reasons,
addresses, budgets, yes/no answers, and which items or options of the catalog the customer describes.

Pure functions over text and plain dicts (the store's shapes); nothing here looks anything up or decides
anything. Item matching scores product names and option values the customer mentions.
"""
from __future__ import annotations

import re

ORDER_ID = re.compile(r"#?\b[Ww](\d{7})\b")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
ZIP = re.compile(r"(?<![\d#])\d{5}(?!\d)")
METHOD_ID = re.compile(r"\b(gift_card|credit_card|paypal)_\d+\b")
LAST_FOUR = re.compile(r"(?:ending|ends|last four|last 4|number)\D{0,12}(\d{4})\b")
BUDGET_MAX = re.compile(r"(?:under|below|less than|at most|up to|max(?:imum)?|no more than|cheaper than|within)"
                        r"\s*\$?\s*(\d+(?:\.\d+)?)")
BUDGET_RANGE = re.compile(r"between\s*\$?\s*(\d+(?:\.\d+)?)\s*(?:and|-)\s*\$?\s*(\d+(?:\.\d+)?)")
STATE_ZIP = re.compile(r"\b([A-Z]{2})\s+(\d{5})\b")

# Option values too common as words to count without their option's name nearby ("waterproof: yes").
GENERIC_VALUES = {"yes", "no", "none", "full", "half", "high", "low", "medium", "large", "small", "fixed",
                  "custom", "plain", "standard", "portable", "basic", "electric", "gas", "art", "fresh", "men",
                  "women", "unisex", "dark", "light", "wood", "analog", "digital"}
_YES = re.compile(r"^(yes|yeah|yep|yup|sure|confirm(ed)?|correct|affirmative|go ahead|proceed|please do|do it|"
                  r"that's right|that is right|absolutely|definitely)\b")
_NO = re.compile(r"^(no|nope|nah|don't|do not|stop|cancel that|never ?mind|wait|hold on|not now)\b")
_HEDGE = re.compile(r"\b(maybe|perhaps|i guess|not sure|unsure|probably|i think|kind of|sort of|but|however|"
                    r"although|hmm+|dunno|don't know|if)\b|\?")


def order_ids(text: str) -> list[str]:
    return list(dict.fromkeys(f"#W{m}" for m in ORDER_ID.findall(text)))


def emails(text: str) -> list[str]:
    return list(dict.fromkeys(m.rstrip(".") for m in EMAIL.findall(text)))


def zips(text: str) -> list[str]:
    return ZIP.findall(EMAIL.sub(" ", ORDER_ID.sub(" ", text)))


def name_pairs(text: str) -> list[tuple[str, str]]:
    """Consecutive word pairs that could be a first and last name (the store decides which one is)."""
    words = re.findall(r"[A-Za-z][A-Za-z'\-]+", EMAIL.sub(" ", text))
    return list(dict.fromkeys((a, b) for a, b in zip(words, words[1:])))


def confirmation(text: str) -> str:
    """'yes', 'no' or 'unclear'. Only a plain yes counts; a hedged or conditional yes is 'unclear'."""
    t = text.strip().lower().replace("’", "'")
    t = re.sub(r"\s+", " ", t)
    if not t:
        return "unclear"
    if _NO.match(t) and not _HEDGE.search(t):
        return "no"
    if _YES.match(t) and not _HEDGE.search(t):
        return "yes"
    return "unclear"


def cancel_reason(text: str) -> str | None:
    t = text.lower()
    if re.search(r"\bmistake|\baccident|\bwrong(ly)? order|by error|didn't mean to|did not mean to", t):
        return "ordered by mistake"
    if re.search(r"no longer need|don't need|do not need|not need|no need|won't need|changed my mind|"
                 r"not needed|don't want|do not want|no longer want", t):
        return "no longer needed"
    return None


def wants_all_items(text: str) -> bool:
    return bool(re.search(r"\b(all|every|everything|whole|entire)\b.{0,20}\b(items?|order|things|of it|them)?",
                          text.lower())) and not re.search(r"\bnot all\b", text.lower())


def wants_cheapest(text: str) -> bool:
    return bool(re.search(r"cheap(er|est)|lowest price|least expensive|whichever costs less", text.lower()))


def budget(text: str) -> tuple[float | None, float | None]:
    t = text.lower().replace(",", "")
    m = BUDGET_RANGE.search(t)
    if m:
        return float(m.group(1)), float(m.group(2))
    m = BUDGET_MAX.search(t)
    return (None, float(m.group(1))) if m else (None, None)


def payment_method(text: str, methods: dict, original: str | None = None) -> list[str]:
    """Ids of the customer's payment methods the text points at (several when it is not specific)."""
    t = text.lower()
    explicit = [m.group(0) for m in METHOD_ID.finditer(t) if m.group(0) in methods]
    if explicit:
        return explicit
    if original and re.search(r"\b(original|same|initial|the one i (used|paid))\b", t):
        return [original]
    four = LAST_FOUR.search(t) or re.search(r"\b(\d{4})\b", t)
    found = []
    for mid, m in methods.items():
        if m["source"] == "credit_card":
            if four and m.get("last_four") == four.group(1):
                return [mid]
            if re.search(r"\b(credit|debit)\b|\b" + re.escape(str(m.get("brand", "~"))) + r"\b", t):
                found.append(mid)
        elif m["source"] == "paypal" and "paypal" in t.replace(" ", ""):
            found.append(mid)
        elif m["source"] == "gift_card" and re.search(r"gift ?card|store credit|website credit|\bgc\b", t):
            found.append(mid)
    return found


def address(text: str) -> dict | None:
    """'<street>, [<line 2>,] <city>, <ST> <zip>[, <country>]' as the store's address dict, or None."""
    parts = [p.strip() for p in re.split(r",|\n", text) if p.strip()]
    for i, part in enumerate(parts):
        m = STATE_ZIP.search(part)
        if not m or i < 2:
            continue
        city = parts[i - 1]
        lines = parts[:i - 1]
        lines[0] = re.sub(r"^.*?\b(to|is|at)\s+(?=\d)", "", lines[0], flags=re.I)  # "change it to 12 Elm St"
        if not re.match(r"\d", lines[0]):
            continue
        country = parts[i + 1].rstrip(". ") if i + 1 < len(parts) else "USA"
        return {"address1": lines[0], "address2": ", ".join(lines[1:]), "city": city, "country": country,
                "state": m.group(1), "zip": m.group(2)}
    return None


# ------------------------------------------------------------------ items and options
def normalise(text: str) -> str:
    t = text.lower().replace("’", "'")
    t = re.sub(r"(\d)\s*-\s*(feet|foot|ft|inch|inches)\b", r"\1 \2", t)
    t = re.sub(r"\b(\d+)\s*(feet|foot)\b", r"\1 ft", t)
    t = re.sub(r"[^\w%.+/' -]", " ", t)
    return re.sub(r"\s+", " ", t).strip()


def _mentions(text_norm: str, phrase: str) -> bool:
    p = re.escape(normalise(phrase))
    return re.search(rf"(?<![\w.]){p}s?(?!\w)(?!\.\d)", text_norm) is not None


def value_mentioned(text_norm: str, key: str, value: str) -> bool:
    v = normalise(value)
    if v in GENERIC_VALUES or len(v) <= 2:
        k = re.escape(normalise(key))
        pv = re.escape(v)
        return re.search(rf"{k}\W{{1,3}}(?:is\W+|of\W+)?{pv}(?!\w)|(?<!\w){pv}\W{{1,3}}{k}", text_norm) is not None
    return _mentions(text_norm, v)


def name_score(text_norm: str, name: str) -> float:
    """Share of the product name's words the text mentions (plural or singular)."""
    words = normalise(name).replace("-", " ").split()
    flat = text_norm.replace("-", " ")
    stems = [w[:-1] if w.endswith("s") and not w.endswith("ss") else w for w in words]
    hits = sum(1 for w in stems if re.search(rf"(?<!\w){re.escape(w)}(?:s|es)?(?!\w)", flat))
    return hits / len(words) if words else 0.0


def option_hits(text_norm: str, options: dict) -> int:
    return sum(1 for k, v in options.items() if value_mentioned(text_norm, k, v))


def mentioned_values(text_norm: str, variants: list[dict]) -> dict[str, str]:
    """Option values of these variants that the text mentions, as {option: value}."""
    values: dict[str, set] = {}
    for variant in variants:
        for k, v in variant["options"].items():
            values.setdefault(k, set()).add(normalise(v))
    bare = text_norm
    for k in sorted(values, key=len, reverse=True):  # "bagged/bagless: bagless" names the option, not a value
        if any(v in normalise(k) for v in values[k]):
            bare = re.sub(rf"(?<!\w){re.escape(normalise(k))}(?!\w)", " ", bare)
    out = {}
    for variant in variants:
        for k, v in variant["options"].items():
            generic = normalise(v) in GENERIC_VALUES or len(v) <= 2
            if len(v) > len(out.get(k, "")) and value_mentioned(text_norm if generic else bare, k, v):
                out[k] = v  # the longest value named: "Wi-Fi + Cellular" rather than "Wi-Fi"
    return out


def match_order_items(text: str, items: list[dict]) -> list[int]:
    """Indexes of the order's items the text describes: by product name, options breaking ties."""
    t = normalise(text)
    chosen = []
    by_product: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        by_product.setdefault(item["product_id"], []).append(i)
    full = {p for p, ix in by_product.items() if name_score(t, items[ix[0]]["name"]) == 1.0}
    partial = {p for p, ix in by_product.items()
               if name_score(t, items[ix[0]]["name"]) >= 0.5 and len(items[ix[0]]["name"].split()) > 1}
    named = full or partial  # "the camera" may mean the Digital Camera, unless another is named in full
    for product_id, indexes in by_product.items():
        if product_id not in named:
            continue
        if len(indexes) == 1:
            chosen += indexes
            continue
        scores = [option_hits(t, items[i]["options"]) for i in indexes]
        best = max(scores)
        chosen += [i for i, s in zip(indexes, scores) if s == best]
    return sorted(chosen)


def describe_options(options: dict) -> str:
    return ", ".join(f"{k}: {v}" for k, v in options.items())

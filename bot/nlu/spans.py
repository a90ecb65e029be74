"""Identifiers in a message: order ids, emails, zip codes, amounts, card digits, payment method ids, names.

Patterns only, because these have a fixed shape whatever the wording ("w1234567", "#W1234567"); what varies
with wording (whether an amount is an upper or a lower bound) is left to bot/nlu/bounds.py. Nothing here looks
anything up except `name`, which prefers the word pair that the store knows with the given zip.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

ORDER_ID = re.compile(r"(?<![\w])#?\s?[Ww]\s?(\d{7})(?!\d)")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
ZIP = re.compile(r"(?<![\d#\w.$])\d{5}(?!\d|\.\d|\s?(?:\$|usd|dollars?|bucks))", re.I)  # "zip 80218." ends a sentence
METHOD_ID = re.compile(r"\b(gift_card|credit_card|paypal)_\d+\b", re.I)
FOUR = re.compile(r"(?<![\d.$])\d{4}(?!\d|\.\d|[a-z]|\s?(?:\$|usd|dollars?|bucks|ml|mah|pieces?))", re.I)  # "ending in 4805."
AMOUNT = re.compile(r"(?:\$|usd\s?)?\s?(?<![A-Za-z\d])(\d+(?:,\d{3})*(?:\.\d{1,2})?)\s?(k\b)?\s?(\$|usd|dollars?|bucks?|quid|eur|euros?)?",
                    re.I)
NAME_CUE = re.compile(r"(?:name(?:'s| is)?|i am|i'm|im|this is|it's|its|call me)\s*[:,-]?\s+"
                      r"([A-Za-z][A-Za-z'\-]+)\s+([A-Za-z][A-Za-z'\-]+)", re.I)
UNIT_AFTER = re.compile(r"^\s?(gb|tb|ml|mah|mm|mp|ft|feet|inch|inches|in\b|l\b|liters?|litres?|cups?|hours?|x\b|k\b|%|"
                        r"lbs?|bar|w\b|pieces?|piece|degrees|-inch|-piece|p\b)", re.I)


@dataclass(frozen=True)
class Amount:
    value: float
    start: int  # character offsets in the text
    end: int
    money: bool  # a currency sign or word is attached


def order_ids(text: str) -> list[str]:
    return list(dict.fromkeys(f"#W{m}" for m in ORDER_ID.findall(text)))


def emails(text: str) -> list[str]:
    return list(dict.fromkeys(m.rstrip(".").lower() for m in EMAIL.findall(text)))


def _blank(text: str) -> str:
    """The text with ids and emails blanked out (same length), so their digits are not read as numbers."""
    for pattern in (EMAIL, ORDER_ID, METHOD_ID):
        text = pattern.sub(lambda m: " " * len(m.group(0)), text)
    return text


def zips(text: str) -> list[str]:
    return ZIP.findall(_blank(text))


def method_ids(text: str) -> list[str]:
    return [m.group(0).lower() for m in METHOD_ID.finditer(text)]


def last_four(text: str) -> str:
    found = FOUR.findall(_blank(text))
    return found[-1] if found else ""


def amounts(text: str) -> list[Amount]:
    """Numbers that could be prices: not ids, zips, or option values with a unit ("500ml", "16gb")."""
    blank = _blank(text)
    out = []
    for m in AMOUNT.finditer(blank):
        if not m.group(1):
            continue
        raw = m.group(1).replace(",", "")
        after = blank[m.end(1):]
        if UNIT_AFTER.match(after) and not m.group(3) and not m.group(2):
            continue
        if re.match(r"\d{5}$", raw) and not (m.group(3) or "$" in m.group(0)):
            continue  # a zip code
        if m.start(1) > 0 and blank[m.start(1) - 1] in "-#/":
            continue
        value = float(raw) * (1000 if m.group(2) else 1)
        money = bool(m.group(3)) or "$" in m.group(0) or bool(m.group(2))
        out.append(Amount(value, m.start(1), m.end(), money))
    return out


def names(text: str, zip_code: str = "", store=None) -> tuple[str, str]:
    """(first, last): the pair after a cue ("name's Mei Davis"), or one the store knows with this zip."""
    if store is not None and zip_code:
        words = re.findall(r"[A-Za-z][A-Za-z'\-]+", EMAIL.sub(" ", text))
        for a, b in zip(words, words[1:]):
            if store.find_user_by_name_zip(a, b, zip_code):
                return a.capitalize(), b.capitalize()
    m = NAME_CUE.search(text)
    if m and m.group(1).lower() not in {"a", "the", "looking", "trying", "not", "just"}:
        return m.group(1).capitalize(), m.group(2).capitalize()
    capitals = re.findall(r"\b([A-Z][a-z'\-]+)\s+([A-Z][a-z'\-]+)\b", text)
    skip = {"Hi", "Hello", "Hey", "My", "I", "The", "Thanks", "Yes", "Sure", "Ok", "Okay"}
    for a, b in capitals:
        if a not in skip and b not in skip:
            return a, b
    return "", ""


STATE_ZIP = re.compile(r"\b([A-Za-z]{2})\.?\s+(\d{5})\b")
STREET = re.compile(r"(\d+\s+[A-Za-z][\w .'\-]*)$")


def _cased(part: str) -> str:
    return part.title() if part == part.lower() else part


def _country(part: str) -> str:
    """The country after the zip code, without the words that follow it ("USA instead", "usa please")."""
    words = part.strip(" .?!").split()
    capital = [n for n, w in enumerate(words) if w[0].isupper()]
    return " ".join(words[:capital[-1] + 1] if capital else words[:1]) or "USA"


US_STATES = set("AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND "
                "OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY".split())
STREET_ENDS = {"st", "street", "ave", "av", "avenue", "rd", "road", "blvd", "boulevard", "dr", "drive", "ln", "lane",
               "way", "ct", "court", "pl", "place", "ter", "terrace", "pkwy", "parkway", "hwy", "highway", "cir",
               "circle", "trl", "trail", "sq", "square", "loop", "row", "walk"}
LINE2 = re.compile(r"^(?:apt|apartment|suite|ste|unit|#)\.?$", re.I)


def address(text: str) -> dict | None:
    """'<street>, [<line 2>,] <city>, <ST> <zip>[, <country>]' in any case, as the store's address dict; written
    without commas ("42 maple ave apt 3 tucson az 85701") when the street ends in a street word and the state is
    a US state."""
    return _address_with_commas(text) or _address_without_commas(text)


def _address_without_commas(text: str) -> dict | None:
    words = re.sub(r"[,\n]", " ", _blank(text)).split()
    for i in range(len(words) - 1):
        state, zip_code = words[i].rstrip(".").upper(), words[i + 1].rstrip(".,!?")
        if state not in US_STATES or not re.fullmatch(r"\d{5}", zip_code):
            continue
        ends = [j for j in range(i) if words[j].lower().rstrip(".") in STREET_ENDS]
        for end in reversed(ends):
            start = next((j for j in range(end - 1, -1, -1) if re.fullmatch(r"\d+[A-Za-z]?", words[j])), None)
            if start is None or end - start < 1:
                continue
            rest = words[end + 1:i]
            line2 = []
            if len(rest) >= 2 and LINE2.match(rest[0]):
                line2, rest = rest[:2], rest[2:]
            if not rest:
                continue
            tail = " ".join(words[i + 2:i + 5])
            country = _country(tail) if tail and tail.split()[0].lower().strip(".") in ("usa", "us", "united") else "USA"
            return _address_dict(" ".join(words[start:end + 1]), " ".join(line2), " ".join(rest), state, zip_code,
                                 country)
    return None


def _address_with_commas(text: str) -> dict | None:
    parts = [p.strip() for p in re.split(r",|\n", _blank(text)) if p.strip()]
    for i, part in enumerate(parts):
        m = STATE_ZIP.search(part)
        if not m or i < 2:
            continue
        lines = parts[:i - 1]
        first = next((j for j in range(len(lines) - 1, -1, -1) if STREET.search(lines[j])), None)
        if first is None:
            continue
        street = STREET.search(lines[first]).group(1).strip()
        line2 = ", ".join(lines[first + 1:])
        country = _country(parts[i + 1]) if i + 1 < len(parts) and len(parts[i + 1].split()) <= 3 else "USA"
        return _address_dict(street, line2, parts[i - 1], m.group(1).upper(), m.group(2), country)
    return None


def _address_dict(street: str, line2: str, city: str, state: str, zip_code: str, country: str) -> dict:
    return {"address1": _cased(street), "address2": _cased(line2), "city": _cased(city),
            "country": country.upper() if len(country) <= 3 else _cased(country), "state": state, "zip": zip_code}

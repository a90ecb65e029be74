"""Exact look-ups that bypass search: ids and product names a customer's message mentions.

`find_references(store, text)` returns the item ids, product ids and order ids (#W1234567, also written
without '#' or with spaces) the shop knows, and the products named in the text (plural or not, any case).
Numbers that are not ids in this shop are ignored; nothing here ranks or guesses.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_ORDER = re.compile(r"(?<![A-Za-z0-9])#?\s?W\s?(\d{7})(?!\d)", re.IGNORECASE)
_NUMBER = re.compile(r"(?<!\d)(\d{10})(?!\d)")


@dataclass(frozen=True)
class References:
    item_ids: tuple[str, ...] = ()
    product_ids: tuple[str, ...] = ()  # named by id, or owning a product name mentioned
    order_ids: tuple[str, ...] = ()
    product_names: tuple[str, ...] = ()  # as the catalog spells them

    def __bool__(self) -> bool:
        return bool(self.item_ids or self.product_ids or self.order_ids or self.product_names)


def _name_pattern(name: str) -> re.Pattern:
    """'Water Bottle' matches 'water bottle', 'water-bottles', 'WATER BOTTLE'."""
    words = [re.escape(w) for w in re.findall(r"[a-z0-9]+", name.lower())]
    return re.compile(r"(?<![a-z0-9])" + r"[\s\-]*".join(words) + r"(?:e?s)?(?![a-z0-9])", re.IGNORECASE)


def find_order_ids(store, text: str) -> list[str]:
    """Order ids in the text that exist in the store, normalised to '#W1234567', in order of mention."""
    found = []
    for digits in _ORDER.findall(text):
        order_id = f"#W{digits}"
        if order_id not in found and _exists(store.get_order, order_id):
            found.append(order_id)
    return found


def find_item_ids(store, text: str) -> list[str]:
    found = []
    for number in _NUMBER.findall(text):
        if number not in found and _exists(store.get_variant, number):
            found.append(number)
    return found


def find_product_ids(store, text: str) -> list[str]:
    known = set(store.product_ids())
    found = []
    for number in _NUMBER.findall(text):
        if number in known and number not in found:
            found.append(number)
    return found


def find_product_names(store, text: str) -> list[tuple[str, str]]:
    """(product_id, name) of each catalog product named in the text; longer names win ('Tea Kettle' over 'Kettle')."""
    products = {}
    for variant in store.variants():
        products.setdefault(variant["product_id"], variant["name"])
    found, taken = [], []
    for product_id, name in sorted(products.items(), key=lambda kv: -len(kv[1])):
        for match in _name_pattern(name).finditer(text):
            span = match.span()
            if any(s < span[1] and span[0] < e for s, e in taken):
                continue
            taken.append(span)
            found.append((span[0], product_id, name))
            break
    return [(pid, name) for _, pid, name in sorted(found)]


def find_references(store, text: str) -> References:
    """Everything in `text` that names a record of this shop exactly."""
    named = find_product_names(store, text)
    product_ids = find_product_ids(store, text)
    product_ids += [pid for pid, _ in named if pid not in product_ids]
    return References(tuple(find_item_ids(store, text)), tuple(product_ids), tuple(find_order_ids(store, text)),
                      tuple(name for _, name in named))


def _exists(getter, key: str) -> bool:
    from .errors import NotFound
    try:
        getter(key)
        return True
    except NotFound:
        return False

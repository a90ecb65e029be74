"""The Reading: what one customer message asks, as typed requests resolved to the shop's own names.

bot/understand.py makes one Reading per message from (message, dialogue state); the flows and answers decide
from it and never read the raw text. A Reading is language-neutral: catalog product ids, option names and values
as the catalog spells them, numbers, order ids, store field names; the only words of the customer it keeps are
`mention`s, quoted back when something cannot be matched ("I couldn't find 'the blender' in that order").
Readings are plain frozen dataclasses and round-trip through JSON (`to_dict` / `from_dict`), so a Reading can be
logged, stored in the session state and written as a dev-set label.

How the reader fills it (what the flows can rely on):
- catalog `want`: "sell" asks whether a kind of product is sold (`product_ids` when the catalog has it,
  `unknown_product` with the customer's words when it has not); "option_values" asks which values `option`
  takes, yes/no questions about an option included ("is it waterproof?" -> option "water resistance");
  "details" is an option question naming no option of the product. `in_stock` is True when the customer asked
  for what is available now. A "recommend" request carries a CatalogQuery with want "list" and the constraints.
- Follow-ups are resolved from state["focus"]: "and in green?" repeats focus["catalog"] with the new option
  values; "is it in stock?" / "how much is it?" name focus["product_ids"][0] with focus["options"].
- items: one ItemChange per item named, in the order said. `item.item_id` is set when an order is known (named
  in the request, or focus["order_ids"][0]) and the description fits exactly one of its items. An item that
  names nothing in the catalog is kept as ItemRef(mention=<the customer's words>) with no product_id. In a
  "detail" answering awaiting="new_item", ItemChange.item is empty and `new_options` / `same` say what it becomes.
- "detail" requests carry whatever the answer gave (order_ids, items, reason, payment, address); an identity
  given while awaiting "identify" is an "identify" request. A trailing "thanks" after a request is not a request.
- policy `faq_ids` are search-index document ids ("faq:return-refund", "policy:..."), best first; empty when the
  reader has no index. `confidence` is the clause classifier's probability of the request's label.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

# What a request is. One message may hold several requests, in the order said.
KINDS = (
    "catalog",       # a question about products: CatalogQuery says what is wanted
    "recommend",     # "suggest a gift for my dad, budget 100": CatalogQuery with the constraints
    "policy",        # how things work (refunds, exchanges, shipping): answered from the FAQ, never an action
    "order_task",    # act on an order or the account: `task` is one of TASKS
    "account_info",  # look at the account: `task` is one of INFO
    "identify",      # who the customer is: email, or name and zip
    "detail",        # a detail answering the assistant's question (order id, items, reason, payment, address)
    "confirm",       # a plain yes to the assistant's confirmation question
    "deny",          # no / never mind
    "hedge",         # neither a plain yes nor a no ("maybe", "yes but ..."): asked again
    "greeting",
    "thanks",        # thanks, that's all, bye
    "handover",      # a person, please; complaints
    "privacy",       # `task`: show | forget | personalise_on | personalise_off
    "offtopic",      # not about the shop (weather, jokes, homework): declined in one friendly sentence
    "unclear",       # nothing could be read
)
TASKS = ("cancel", "return", "exchange", "modify_items", "change", "order_address", "user_address", "payment")
# "change": exchange or modify_items, decided by the order's status (delivered or pending)
INFO = ("order_status", "orders_list", "gift_card", "payment_methods")
WANTS = ("list", "cheapest", "dearest", "count", "option_values", "compare", "stock", "price", "sell", "details")
REASONS = ("no longer needed", "ordered by mistake")  # the only cancel reasons the policy allows

Pairs = tuple[tuple[str, str], ...]  # option name -> value, as the catalog spells them, in a stable order


def pairs(mapping: dict[str, str] | None) -> Pairs:
    return tuple(sorted((mapping or {}).items()))


@dataclass(frozen=True)
class ItemRef:
    """An item as the customer names it: a catalog product and option values; any part may be missing."""

    product_id: str = ""
    options: Pairs = ()
    item_id: str = ""  # set when the name resolves to exactly one variant (or an item of an order in focus)
    mention: str = ""  # the customer's words for it, quoted back if it cannot be matched


@dataclass(frozen=True)
class ItemChange:
    """One item of an order and what the customer wants instead (exchange, modify) or nothing (return)."""

    item: ItemRef
    new_options: Pairs = ()  # option values wanted instead: the rest stays as it is
    same: bool = False  # "a new identical one", "the same one again"


@dataclass(frozen=True)
class CatalogQuery:
    want: str = "list"  # one of WANTS
    product_ids: tuple[str, ...] = ()  # the products named, or in focus when the message refers back
    unknown_product: str = ""  # a kind of product named that the shop doesn't sell ("washing machines")
    options: Pairs = ()  # option constraints ("color": "blue")
    option: str = ""  # option_values: the catalog option asked about ("color")
    price_min: float | None = None
    price_max: float | None = None
    in_stock: bool | None = None  # True: only available variants; None: not asked
    compare: tuple[ItemRef, ...] = ()  # compare: the variants (or products) to set side by side


@dataclass(frozen=True)
class Payment:
    method_id: str = ""  # an explicit id ("gift_card_1234567")
    source: str = ""  # credit_card | paypal | gift_card
    last_four: str = ""
    brand: str = ""  # visa, mastercard, ...
    original: bool = False  # "the original one", "same card I paid with"


@dataclass(frozen=True)
class Request:
    kind: str  # one of KINDS
    task: str = ""  # order_task: one of TASKS; account_info: one of INFO; privacy: show|forget|personalise_*
    order_ids: tuple[str, ...] = ()  # normalised '#W1234567'
    items: tuple[ItemChange, ...] = ()
    all_items: bool = False  # "everything in that order"
    adds: bool = False  # "add the backpack too": the items join those named before instead of replacing them
    reason: str = ""  # one of REASONS, or "other" when a reason outside the policy was given
    payment: Payment | None = None
    address: Pairs = ()  # the store's address fields: address1, address2, city, state, zip, country
    email: str = ""
    name: tuple[str, ...] = ()  # (first, last)
    zip: str = ""
    catalog: CatalogQuery | None = None
    faq_ids: tuple[str, ...] = ()  # policy: the FAQ or policy passages that answer it, best first
    topic: str = ""  # offtopic / handover: a short label ("weather", "complaint")
    confidence: float = 1.0


@dataclass(frozen=True)
class Reading:
    requests: tuple[Request, ...] = ()
    language: str = "en"

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(r.kind for r in self.requests)

    def first(self, *kinds: str) -> Request | None:
        return next((r for r in self.requests if r.kind in kinds), None)

    def of(self, *kinds: str) -> list[Request]:
        return [r for r in self.requests if r.kind in kinds]

    def to_dict(self) -> dict[str, Any]:
        return _prune(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Reading":
        return cls(requests=tuple(_request(r) for r in data.get("requests", ())), language=data.get("language", "en"))


# ---------------------------------------------------------------- JSON round trip
def _prune(value):
    """Drop empty fields, so a label in the dev set says only what the message says."""
    if isinstance(value, dict):
        out = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, "", (), [], {}, False) or k == "kind"}
    if isinstance(value, (list, tuple)):
        return [_prune(v) for v in value]
    return value


def _pairs(value) -> Pairs:
    if isinstance(value, dict):
        return pairs(value)
    return tuple(sorted(tuple(p) for p in value or ()))


def _item_ref(d: dict) -> ItemRef:
    return ItemRef(product_id=d.get("product_id", ""), options=_pairs(d.get("options")),
                   item_id=d.get("item_id", ""), mention=d.get("mention", ""))


def _catalog(d: dict | None) -> CatalogQuery | None:
    if d is None:
        return None
    return CatalogQuery(want=d.get("want", "list"), product_ids=tuple(d.get("product_ids", ())),
                        unknown_product=d.get("unknown_product", ""), options=_pairs(d.get("options")),
                        option=d.get("option", ""), price_min=d.get("price_min"), price_max=d.get("price_max"),
                        in_stock=d.get("in_stock"), compare=tuple(_item_ref(c) for c in d.get("compare", ())))


def _request(d: dict) -> Request:
    known = {f.name for f in fields(Request)}
    unknown = set(d) - known
    if unknown:
        raise ValueError(f"unknown Request fields: {sorted(unknown)}")
    items = tuple(ItemChange(item=_item_ref(c.get("item", {})), new_options=_pairs(c.get("new_options")),
                             same=bool(c.get("same", False))) for c in d.get("items", ()))
    payment = Payment(**d["payment"]) if d.get("payment") else None
    return Request(kind=d["kind"], task=d.get("task", ""), order_ids=tuple(d.get("order_ids", ())), items=items,
                   all_items=bool(d.get("all_items", False)), adds=bool(d.get("adds", False)), reason=d.get("reason", ""), payment=payment,
                   address=_pairs(d.get("address")), email=d.get("email", ""), name=tuple(d.get("name", ())),
                   zip=d.get("zip", ""), catalog=_catalog(d.get("catalog")), faq_ids=tuple(d.get("faq_ids", ())),
                   topic=d.get("topic", ""), confidence=d.get("confidence", 1.0))


# ---------------------------------------------------------------- the dialogue state the reader resolves against
FOCUS_KEYS = ("product_ids", "options", "order_ids", "item_ids", "catalog")
# state["focus"] (kept in the session state, JSON): what the conversation is about now, so "it", "that one",
# "and in green?", "that order" can be resolved. Written by the answers and flows after each turn:
#   product_ids: products last shown or asked about, most recent first
#   options:     {option: value} last asked about ("color": "blue")
#   order_ids:   orders last named or shown, most recent first
#   item_ids:    variants last shown (a list answer), in the order shown, so "the second one" resolves
#   catalog:     the last CatalogQuery as a dict, so "and the cheapest?" / "and in green?" refines it


def empty_focus() -> dict:
    return {"product_ids": [], "options": {}, "order_ids": [], "item_ids": [], "catalog": None}


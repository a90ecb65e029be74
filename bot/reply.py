"""What the assistant returns for one turn: the text and everything a customer may ask about it.

`Reply` is the contract between `bot` and every front end (chat page, staff desk, widget, HTTP API, CLI):
fields may be added, none removed or renamed.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Citation:
    """A fact or passage the reply rests on: `id` like 'item:9612497925', 'order:#W2611340', 'faq:cancel-reasons'."""

    id: str
    kind: str  # product | order | customer | faq | policy | action
    text: str  # the fact as shown to the customer ("T-Shirt (blue, M): $50.88, in stock")


@dataclass(frozen=True)
class ProductSuggestion:
    """A recommended variant, with the reason tied to what the customer said and any commercial interest."""

    item_id: str
    product_id: str
    name: str
    options: dict
    price: float
    available: bool
    reason: str
    sponsored: bool = False  # the shop is paid to show it; always labelled in every front end


@dataclass(frozen=True)
class Reply:
    text: str
    citations: list[Citation] = field(default_factory=list)
    action: str | None = None  # the store action taken this turn ('cancel_pending_order', 'handover', ...)
    products: list[ProductSuggestion] = field(default_factory=list)
    confidence: float = 1.0  # 0..1: how sure the assistant is that it understood and answered
    intent: str = ""
    session_id: str = ""
    claims_checked: int = 0
    claims_repaired: int = 0
    handover: bool = False  # the conversation now waits for a person
    notice: str = ""  # a note about the customer's input, e.g. that an over-long message was cut
    turn_id: int = 0  # the saved turn this reply is, for thumbs up/down
    claims_unsupported: int = 0  # claims the checker could not support (the target is zero)
    awaiting: str = ""  # what the assistant asked for: identify, order, items, new_item, choice, reason, payment,
    #                     address, confirm (front ends may offer yes/no buttons on 'confirm'); "" when nothing

    def to_dict(self) -> dict:
        return asdict(self)

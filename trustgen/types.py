"""The seam between the dialogue agent and the language side: facts in, a checked reply out.

`bot` gathers `Fact`s from the store and the search index, adds the plain template rendering it would send if
no model were available, and asks a `ReplyWriter` for the reply. The writer may word it with the model, but
what it returns has passed the claim check: `unsupported` is the count of claims still unsupported after
repair (0 unless the writer fell back), and `fell_back` says the template was sent instead.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Protocol


@dataclass(frozen=True)
class Fact:
    id: str  # citation id: 'item:<item_id>', 'product:<product_id>', 'order:<order_id>', 'faq:<id>', 'policy:<section>'
    kind: str  # product | order | customer | faq | policy | action
    text: str  # a plain rendering a customer can read
    fields: dict = field(default_factory=dict)  # structured values: price, available, options, status, ...


@dataclass(frozen=True)
class ReplyRequest:
    message: str  # the customer's latest message
    facts: tuple[Fact, ...]
    template: str  # the plain, true-by-construction reply built from the facts
    history: tuple[tuple[str, str], ...] = ()  # (role, text), oldest first; role is 'user' or 'assistant'
    intent: str = ""
    use_model: bool = True  # False: send the template (confirmations of actions are always exact)
    # Claim kinds the reply must state to answer the question ("price" for "how much is it?"): a model reply
    # that leaves one out is correct but unhelpful, so the template (which states them) is sent instead.
    must_state: tuple[str, ...] = ()


@dataclass(frozen=True)
class Claim:
    kind: str  # price | amount | count | id | date | duration | option | availability | policy
    text: str  # the span in the reply
    value: str  # the normalised value that was checked
    supported: bool
    sources: tuple[str, ...] = ()  # ids of the facts that support it
    repaired_to: str | None = None


@dataclass(frozen=True)
class CheckedReply:
    text: str
    claims: tuple[Claim, ...] = ()
    fell_back: bool = False  # the template was sent because the model's reply could not be repaired
    used_model: bool = False

    @property
    def repaired(self) -> tuple[Claim, ...]:
        return tuple(c for c in self.claims if c.repaired_to is not None)

    @property
    def unsupported(self) -> int:
        return sum(1 for c in self.claims if not c.supported and c.repaired_to is None)

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s for c in self.claims for s in c.sources))


class ReplyWriter(Protocol):
    def write(self, request: ReplyRequest) -> CheckedReply: ...

    def stream(self, request: ReplyRequest) -> Iterator[str]:
        """Text pieces as they are produced; the pieces joined equal `write(request).text`."""
        ...


# ------------------------------------------------------------------------------------------------ fact helpers
# Plain renderings of store records as `Fact`s, in the field shapes the claim checker reads (trustgen.claims):
# an item carries item_id, product_id, name, price, available, options; an order carries order_id, status,
# items (each an item), payment_history and fulfillments. Policy and FAQ facts carry their text.

def _options_text(options: dict) -> str:
    return ", ".join(f"{k}: {v}" for k, v in options.items())


def fact_from_variant(variant: dict) -> Fact:
    """A catalog variant (`Store.get_variant`: item_id, product_id, name, options, available, price)."""
    stock = "available" if variant.get("available") else "out of stock"
    text = (f"{variant.get('name', 'Item')} ({_options_text(variant.get('options', {}))}), item id "
            f"{variant['item_id']}: ${float(variant['price']):.2f}, {stock}")
    return Fact(f"item:{variant['item_id']}", "product", text, dict(variant))


def fact_from_product(product: dict) -> Fact:
    """A whole product (`Store.get_product`) with every variant, one per line."""
    variants = product.get("variants", {})
    rows = variants.values() if isinstance(variants, dict) else variants
    lines = [f"item {v['item_id']} ({_options_text(v.get('options', {}))}): ${float(v['price']):.2f}, "
             f"{'available' if v.get('available') else 'out of stock'}" for v in rows]
    text = f"{product['name']} (product id {product['product_id']}) variants: " + "; ".join(lines)
    return Fact(f"product:{product['product_id']}", "product", text, dict(product))


def fact_from_order(order: dict) -> Fact:
    """An order (`Store.get_order`): status, items with prices and options, payments, tracking."""
    items = "; ".join(f"{i['name']} ({_options_text(i.get('options', {}))}), item id {i['item_id']}, "
                      f"${float(i['price']):.2f}" for i in order.get("items", []))
    pays = "; ".join(f"{p.get('transaction_type', 'payment')} of ${float(p['amount']):.2f} with "
                     f"{p['payment_method_id']}" for p in order.get("payment_history", []))
    text = f"Order {order['order_id']}: status {order['status']}; items: {items}; payments: {pays}"
    return Fact(f"order:{order['order_id']}", "order", text, dict(order))


def fact_from_faq(entry) -> Fact:
    """A FAQ entry (`knowledge.faq.FaqEntry`): the question and the answer a customer may be told."""
    return Fact(f"faq:{entry.id}", "faq", f"{entry.question} {entry.answer}", {"question": entry.question})


def policy_facts(policy_text: str) -> tuple[Fact, ...]:
    """policy.md split at its `##` sections, one fact per section (id policy:<slug>)."""
    facts, title, lines = [], "general", []

    def flush():
        body = " ".join(" ".join(lines).split())
        if body:
            slug = "-".join(title.lower().split()) or "general"
            facts.append(Fact(f"policy:{slug}", "policy", body))

    for line in policy_text.splitlines():
        if line.startswith("## ") or line.startswith("### "):
            flush()
            title, lines = line.lstrip("#").strip(), []
        elif not line.startswith("# "):
            lines.append(line.replace("**", "").strip())
    flush()
    return tuple(facts)

"""A conversation sent in full by a client (the OpenAI convention), turned into a fresh session's focus.

`focus_from_history(texts, store)` reads the customer's own earlier messages, oldest first, for what they were
about: the catalog's products, the option values of those products, order ids. `start_from_history(memory,
store, session_id, texts)` puts that focus, and nothing else, into a new session's state, so "and in green?"
can be understood. It deliberately reads no assistant or system turn and keeps no identity, task or
confirmation: a history the client wrote is no evidence of who the customer is or of what was agreed.
Tests: tests/ui/test_openai_client.py (through the API), tests/ui/test_ui_sessions.py.
"""
from __future__ import annotations

from . import slots
from .reading import empty_focus

MAX_HISTORY_MESSAGES = 20  # the most recent user messages read; older ones rarely set what "it" is
MAX_IN_FOCUS = 5  # products and orders kept in focus, most recent first


class HistoryError(ValueError):
    """A session that already has turns cannot be started again from a client's history."""


def focus_from_history(texts: list[str], store) -> dict:
    """The focus (see bot.reading.FOCUS_KEYS) of the customer's earlier messages, oldest first."""
    focus = empty_focus()
    products = _catalog_names(store)
    for text in [t for t in texts if isinstance(t, str) and t.strip()][-MAX_HISTORY_MESSAGES:]:
        norm = slots.normalise(text)
        named = _named_products(norm, products)
        if named:
            focus["product_ids"] = _front(named, focus["product_ids"])
            focus["options"] = {}  # options were about the product before
        if focus["product_ids"]:
            variants = list(store.get_product(focus["product_ids"][0])["variants"].values())
            focus["options"].update(slots.mentioned_values(norm, variants))
            focus["item_ids"] = [v["item_id"] for v in variants
                                 if focus["options"] and all(v["options"].get(k) == val
                                                             for k, val in focus["options"].items())]
        orders = slots.order_ids(text)
        if orders:
            focus["order_ids"] = _front(orders, focus["order_ids"])
    return focus


def start_from_history(memory, store, session_id: str, texts: list[str]) -> dict:
    """Save the focus of `texts` as the state of a session that has no turn yet; returns that focus."""
    if memory.history(session_id, limit=1):
        raise HistoryError(f"session {session_id!r} already has turns; its own history is the one that counts")
    focus = focus_from_history(texts, store)
    if any(focus.values()):
        memory.save_session(session_id, user_id=None, state={"focus": focus}, personalise=True)
    return focus


def _catalog_names(store) -> list[tuple[str, str]]:
    return [(pid, store.get_product(pid)["name"]) for pid in store.product_ids()]


def _named_products(norm: str, products: list[tuple[str, str]]) -> list[str]:
    """Products named in full; failing that, by most of a name of several words ("the yoga one" is not)."""
    full = [pid for pid, name in products if slots.name_score(norm, name) == 1.0]
    if full:
        return full
    return [pid for pid, name in products if len(name.split()) > 1 and slots.name_score(norm, name) >= 0.5]


def _front(new: list[str], old: list[str]) -> list[str]:
    return list(dict.fromkeys([*new, *old]))[:MAX_IN_FOCUS]

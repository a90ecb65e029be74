"""A scripted customer that plays one tau-bench retail task against the assistant, in words.

What it knows is what the customer knows: who they are (from the task's instruction), what they want (the
task's gold actions: which order, which items, what instead, which payment method, the reason), what they
bought (their own orders' product names and options) and their own payment methods (kind, card's last four).
It never sends item ids; it answers only what the assistant asks (Reply.awaiting and the question's wording),
says an order id only if the instruction gives it or after being asked twice (looked up in their account),
and confirms with "yes". Not a language model: deterministic for a task.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import slots

OPENERS = {
    "cancel_pending_order": "I'd like to cancel {order}.",
    "return_delivered_order_items": "I want to return some items from {order}.",
    "exchange_delivered_order_items": "I'd like to exchange some items I received in {order}.",
    "modify_pending_order_items": "I'd like to change some items in {order}, which I placed recently.",
    "modify_pending_order_payment": "I want to change the payment method for {order}.",
    "modify_pending_order_address": "Please change the shipping address of {order} to {address}.",
    "modify_user_address": "I'd like to change my default address to {address}.",
}
REASONS = {"no longer needed": "I no longer need it.", "ordered by mistake": "I ordered it by mistake."}


@dataclass
class Customer:
    task: dict
    store: object  # a fresh copy of the shop: the customer's own account and orders, read-only
    turns: list = field(default_factory=list)

    def __post_init__(self):
        self.instruction = self.task["instruction"]
        self.user = self.store.get_user(self.task["user_id"])
        self.emails = slots.EMAIL.findall(self.instruction)
        m = re.search(r"name is ([A-Z][\w'-]+) ([A-Z][\w'-]+)", self.instruction)
        self.name = (m.group(1), m.group(2)) if m else None
        z = re.search(r"zip code is (\d{5})", self.instruction)
        self.zip = z.group(1) if z else None
        self.actions = list(self.task["actions"])
        self.step = 0
        self.tries_identify = 0
        self.asked: dict[str, int] = {}
        self.done = False

    # -------------------------------------------------------------- words for what the customer wants
    def order_phrase(self, order_id: str, describe: bool = False) -> str:
        if order_id.lstrip("#") in self.instruction:
            return f"order {order_id}"
        if not describe:
            return "one of my orders"
        names = " and the ".join(dict.fromkeys(i["name"] for i in self.store.get_order(order_id)["items"]))
        return f"my order with the {names}"

    def item_phrase(self, item: dict) -> str:
        return f"the {item['name']} ({slots.describe_options(item['options'])})"

    def payment_phrase(self, method_id: str) -> str:
        m = self.user["payment_methods"][method_id]
        if m["source"] == "credit_card":
            return f"my credit card ending in {m['last_four']}"
        if m["source"] == "gift_card":
            return "my gift card"
        return "my PayPal account"

    @staticmethod
    def address_phrase(a: dict) -> str:
        parts = [a["address1"], a.get("address2", ""), a["city"], f"{a['state']} {a['zip']}", a["country"]]
        return ", ".join(p for p in parts if p)

    def current(self) -> dict | None:
        return self.actions[self.step] if self.step < len(self.actions) else None

    def opener(self, action: dict) -> str:
        kw = action["kwargs"]
        order = self.order_phrase(kw["order_id"]) if "order_id" in kw else ""
        return OPENERS[action["name"]].format(order=order, address=self.address_phrase(kw) if "zip" in kw else "")

    def first_message(self) -> str:
        action = self.current()
        if action is None:  # nothing to change: the customer voices their wish and keeps everything
            return "Hi, I had a problem with one of my orders, but I've decided to keep everything as it is."
        return "Hi! " + self.opener(action)

    # -------------------------------------------------------------- answering
    def identify(self) -> str:
        self.tries_identify += 1
        if self.tries_identify <= len(self.emails):
            return f"My email is {self.emails[self.tries_identify - 1]}."
        if self.name and self.zip:
            return f"I'm {self.name[0]} {self.name[1]}, zip code {self.zip}."
        return "I'm not sure which email I used."

    def order_items(self, action) -> list[dict]:
        """The order's items the action names, in the action's order (new_item_ids run parallel to it)."""
        left = list(self.store.get_order(action["kwargs"]["order_id"])["items"])
        out = []
        for item_id in action["kwargs"].get("item_ids", []):
            item = next((i for i in left if i["item_id"] == item_id), None)
            if item is not None:
                left.remove(item)
                out.append(item)
        return out

    def new_for(self, action, reply_text: str) -> tuple[dict, dict] | None:
        """(old item, new variant) the assistant is asking about, read from its question."""
        pairs = list(zip(self.order_items(action), action["kwargs"].get("new_item_ids", [])))
        asked = reply_text.split("?")[0]
        for old, new_id in pairs:  # the item as the assistant described it: name and options
            if f"{old['name']} ({slots.describe_options(old['options'])})" in asked:
                return old, self.store.get_variant(new_id)
        for old, new_id in pairs:
            if old["name"] in asked:
                return old, self.store.get_variant(new_id)
        return (pairs[0][0], self.store.get_variant(pairs[0][1])) if pairs else None

    def answer(self, reply) -> str | None:
        """The customer's next message, or None when they are done."""
        action = self.current()
        awaiting = reply.awaiting
        key = f"{self.step}:{awaiting}"
        self.asked[key] = self.asked.get(key, 0) + 1
        if self.asked[key] > 3 and awaiting not in ("identify", ""):
            return self.move_on("Never mind that one.")
        if awaiting == "identify":
            return self.identify() if self.tries_identify < len(self.emails) + 2 else None
        if action is None:
            return None if self.done else self.finish()
        kw = action["kwargs"]
        if awaiting == "order":
            if self.asked[key] >= 2 or kw["order_id"].lstrip("#") in self.instruction:
                return f"It's order {kw['order_id']}."
            return "It's " + self.order_phrase(kw["order_id"], describe=True) + "."
        if awaiting == "items":
            return " and ".join(self.item_phrase(i) for i in self.order_items(action)).capitalize() + "."
        if awaiting in ("new_item", "choice"):
            found = self.new_for(action, reply.text)
            if found is None:
                return self.move_on("Never mind that one.")
            old, new = found
            changed = {k: v for k, v in new["options"].items() if old["options"].get(k) != v}
            if awaiting == "new_item" and self.asked[key] == 1 and changed:
                wanted = changed
            else:
                wanted = new["options"]
            return f"I'd like the one with {slots.describe_options(wanted)}."
        if awaiting == "reason":
            return REASONS.get(kw.get("reason", ""), "I just don't want it.")
        if awaiting == "payment":
            return f"Please use {self.payment_phrase(kw['payment_method_id'])}."
        if awaiting == "address":
            return self.address_phrase(kw)
        if awaiting == "confirm":
            return "yes"
        # nothing asked: the last request is finished (or refused); go on with the next one
        return self.move_on("")

    def move_on(self, prefix: str) -> str | None:
        self.step += 1
        action = self.current()
        if action is None:
            return self.finish(prefix)
        return (prefix + " " if prefix else "") + "I also have another request. " + self.opener(action)

    def finish(self, prefix: str = "") -> str | None:
        if self.done:
            return None
        self.done = True
        return (prefix + " " if prefix else "") + "That's all, thanks."

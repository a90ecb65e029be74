"""The shop's policy as deterministic flows: identify, find the order, collect details, confirm, act.

`Flows.turn(state, text, flow)` reads one customer message into the session `state` (a JSON-able dict saved
after every turn), moves the current task one step on, and returns an `Outcome` built from exact templates.
It calls the store's actions only after an explicit yes, and never for another customer. It does not classify
intents (bot/intents.py), answer product questions (bot/answers.py) or keep memory (bot/agent.py does).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources

import yaml

from knowledge.errors import ActionError, NotFound
from trustgen.types import Fact

from . import slots
from .reply import Citation

ANSWERED_ELSEWHERE = {"product", "recommend", "policy", "greeting", "thanks", "privacy_show", "privacy_forget",
                      "personalisation", "handover", "out_of_scope"}
ORDER_KINDS = {"cancel", "modify_items", "exchange", "return", "order_address", "payment", "change"}
NEEDS_STATUS = {"cancel": "pending", "modify_items": "pending", "order_address": "pending", "payment": "pending",
                "exchange": "delivered", "return": "delivered"}
VERBS = {"cancel": ("cancelled", "cancel"), "modify_items": ("modified", "modify"),
         "order_address": ("changed", "change"), "payment": ("changed", "change"),
         "exchange": ("exchanged", "exchange"), "return": ("returned", "return")}


def load_templates() -> dict[str, str]:
    text = (resources.files("bot") / "templates" / "replies.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


@dataclass
class Outcome:
    text: str
    intent: str
    action: str | None = None
    citations: list[Citation] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    confidence: float = 1.0
    handover: str = ""  # non-empty: open a ticket with this reason
    awaiting: str = ""  # what the assistant now asks for: identify, order, items, new_item, choice, reason, ...
    products: list = field(default_factory=list)
    claims_checked: int = 0
    claims_repaired: int = 0
    unsupported: int = 0


def money(x: float) -> str:
    return f"${x:,.2f}"


def item_label(item: dict) -> str:
    return f"{item['name']} ({slots.describe_options(item['options'])})"


def address_text(a: dict) -> str:
    parts = [a["address1"], a.get("address2", ""), a["city"], f"{a['state']} {a['zip']}", a["country"]]
    return ", ".join(p for p in parts if p)


class Flows:
    def __init__(self, store):
        self.store = store
        self.t = load_templates()

    # ------------------------------------------------------------ helpers
    def say(self, key: str, intent: str, awaiting: str = "", **kw) -> Outcome:
        return Outcome(self.t[key].format(**kw), intent, awaiting=awaiting)

    def method_label(self, m: dict, balance: bool = True) -> str:
        if m["source"] == "credit_card":
            return f"{m.get('brand', 'credit').title()} credit card ending in {m.get('last_four', '????')}"
        if m["source"] == "gift_card":
            return f"gift card {m['id']}" + (f" (balance {money(m.get('balance', 0.0))})" if balance else "")
        return f"PayPal ({m['id']})"

    def methods_text(self, methods: dict, ids=None) -> str:
        return "; ".join(self.method_label(methods[i]) for i in (ids or methods))

    def orders_text(self, user_id: str, statuses=None) -> str:
        out = []
        for o in self.store.orders_of(user_id):
            if statuses and o["status"] not in statuses:
                continue
            names = ", ".join(i["name"] for i in o["items"])
            out.append(f"{o['order_id']} ({o['status']}: {names})")
        return "; ".join(out) or "none"

    def user(self, state) -> dict:
        return self.store.get_user(state["user_id"])

    def context_facts(self, state: dict) -> list[Fact]:
        """What a flow reply may rest on: the customer's account and orders, those products, the policy."""
        facts = [self.policy_fact]
        if not state.get("user_id"):
            return facts
        user = self.user(state)
        methods = user["payment_methods"]
        facts.append(Fact(f"customer:{state['user_id']}", "customer", "Payment methods: " + self.methods_text(methods),
                          {"user_id": state["user_id"], "payment_methods": methods, "address": user["address"]}))
        products = set()
        for order in self.store.orders_of(state["user_id"]):
            total = round(sum(i["price"] for i in order["items"]), 2)
            facts.append(Fact(f"order:{order['order_id']}", "order", f"Order {order['order_id']}: {order['status']}",
                              {**order, "total": total}))
            products.update(i["product_id"] for i in order["items"])
        for pid in sorted(products):
            product = self.store.get_product(pid)
            for v in product["variants"].values():
                facts.append(Fact(f"item:{v['item_id']}", "product", f"{product['name']} "
                                  f"({slots.describe_options(v['options'])}): {money(v['price'])}",
                                  {**v, "name": product["name"], "product_id": pid}))
        return facts

    @property
    def policy_fact(self) -> Fact:
        if not hasattr(self, "_policy"):
            from knowledge.faq import load_policy
            self._policy = Fact("policy:retail-policy", "policy", load_policy())
        return self._policy

    def amounts_fact(self, order_id: str, status: str, **amounts) -> Fact:
        """Amounts this reply computes (a total, a price difference, a refund), as a fact the checker can see."""
        fields = {k: round(abs(v), 2) for k, v in amounts.items()}  # computed, not an order record
        text = f"Order {order_id}: " + ", ".join(f"{k.replace('_', ' ')} {money(abs(v))}" for k, v in amounts.items())
        return Fact(f"order:{order_id}", "action", text, fields)

    # ------------------------------------------------------------ identification
    def identify(self, state: dict, text: str) -> Outcome | None:
        """Handle identity details in the message; None when the message has none."""
        candidates = []
        for email in slots.emails(text):
            candidates.append(self.store.find_user_by_email(email))
        zips = slots.zips(text)
        if zips:
            for first, last in slots.name_pairs(text):
                for z in zips:
                    uid = self.store.find_user_by_name_zip(first, last, z)
                    if uid:
                        candidates.append(uid)
        if not candidates:
            return None
        found = next((c for c in candidates if c), None)
        if state.get("user_id"):
            me = self.user(state)["name"]
            if (found and found != state["user_id"]) or (not found and slots.emails(text) and not self._is_me(state, text)):
                return self.say("other_customer", "identify", **me)
            return None  # the same customer repeating themselves: carry on with the message
        if not found:
            return self.say("identify_failed", "identify", awaiting="identify")
        state["user_id"] = found
        return None

    def _is_me(self, state, text) -> bool:
        email = self.user(state)["email"].lower()
        return any(e.lower() == email for e in slots.emails(text))

    # ------------------------------------------------------------ the turn
    def turn(self, state: dict, text: str, flow: str, intent: str, act: bool = True) -> Outcome | None:
        """One step of the account flows. None: not an account matter (the agent answers it otherwise)."""
        was_identified = bool(state.get("user_id"))
        refused = self.identify(state, text)
        if refused:
            return refused
        just_identified = not was_identified and bool(state.get("user_id"))
        task = state.get("task")

        if state.get("awaiting") == "confirm" and task:
            return self.on_confirmation(state, task, text, act)
        if task and re.search(r"\b(never ?mind|forget (it|that)|skip (it|that)|drop (it|that))\b", text.lower()):
            state["task"] = None
            if not self.task_kind(flow, text):
                return self.say("declined", task["intent"])
            task = None  # dropped, and the same message asks for something else
            state["awaiting"] = ""

        new_kind = self.task_kind(flow, text)
        if new_kind and (not task or (new_kind != task["kind"] and self.switches(state, text))):
            task = state["task"] = {"kind": new_kind, "order_id": None, "items": [], "new_items": [],
                                    "notes": text, "intent": intent}
        elif task:
            task["notes"] = (task.get("notes", "") + "\n" + text)[-2000:]
        if not task:
            later = state.pop("after_identify", None) if just_identified else None
            if later and later["flow"] in ANSWERED_ELSEWHERE:  # e.g. "what do you know about me", now answerable
                state["redo_flow"] = later["flow"]
                return None
            if later and flow not in ("order_status", "gift_card", "payment_methods"):
                flow, intent, text = later["flow"], later["intent"], later["text"] + "\n" + text
            info = self.info(state, text, flow, intent, just_identified)
            if info is None and just_identified:
                first = self.user(state)["name"]["first_name"]
                return self.say("identified_how_help", "identify", first_name=first)
            return info
        if not state.get("user_id"):
            if not new_kind and flow in ANSWERED_ELSEWHERE:  # a product question while we wait: answer it
                return None
            return self.say("identify", task["intent"], awaiting="identify")
        out = self.advance(state, task, text)
        if just_identified:
            out.text = self.t["identified"].format(first_name=self.user(state)["name"]["first_name"]) + " " + out.text
        return out

    def switches(self, state, text) -> bool:
        """A new request mid-task replaces the task only when not answering a question, or when said plainly."""
        if state.get("awaiting") in ("", None, "identify", "order"):
            return True
        return bool(re.search(r"\b(also|instead|actually|another|as well)\b", text.lower()))

    def task_kind(self, flow: str, text: str) -> str | None:
        t = text.lower()
        asks_how = re.search(r"\b(how (do|does|can|long|much)|can i|is it possible|what happens|do you)\b", t)
        # "can I cancel an order that ...?" asks about orders in general, not about one of the customer's
        general = asks_how and re.search(r"\b(an?|any) (\w+ )?(order|item|product)\b|\borders\b", t) \
            and not re.search(r"\b(my|mine|this|these)\b", t)
        if not slots.order_ids(text) and (re.search(r"\bpolic(y|ies)\b", t) or general or
                                          (flow in ("policy", "product") and asks_how)):
            return None  # a question about how things work, not a request to act
        if flow == "address" or re.search(r"\baddress\b", t):
            if re.search(r"\b(default|my address|profile|account)\b", t) and not slots.order_ids(text):
                return "user_address"
            return "order_address"
        if flow == "cancel" or re.search(r"\bcancel(l?ing|l?ed)?\b(?! that)", t):
            return "cancel"
        if flow == "return" or re.search(r"\breturn(ing)?\b|\bsend (it|them|\w+ \w+)? ?back\b|\brefund\b", t):
            return "return"
        if flow == "exchange" or re.search(r"\b(exchange|swap|replace|trade)\b", t):
            return "change"
        if flow == "payment" or re.search(r"\bpayment method\b|\bpay (with|by|using)\b|\bchange (the )?payment", t):
            return "payment"
        if flow == "modify" or re.search(r"\b(modify|change|switch)\b", t) and (
                slots.order_ids(text) or re.search(r"\border\b", t)):
            return "change"
        return None

    # ------------------------------------------------------------ advancing a task
    def advance(self, state: dict, task: dict, text: str) -> Outcome:
        intent = task["intent"]
        user = self.user(state)
        if task["kind"] == "user_address":
            return self.need_address(state, task, text, intent) or self.ask_confirm(state, task, user)
        if not task["order_id"]:
            out = self.find_order(state, task, text, user)
            if out:
                return out
            # the order is known now: read earlier details against it (not the words that named the order)
            text = task.get("notes", text).replace(task.get("order_named_by") or "\0", " ")
        order = self.store.get_order(task["order_id"])
        if task["kind"] == "cancel":
            return self.need_reason(task, text, intent) or self.ask_confirm(state, task, user)
        if task["kind"] == "order_address":
            return self.need_address(state, task, text, intent) or self.ask_confirm(state, task, user)
        if task["kind"] == "payment":
            return self.need_payment(state, task, text, user, order) or self.ask_confirm(state, task, user)
        out = self.need_items(state, task, text, order)
        if out:
            return out
        if task["kind"] in ("exchange", "modify_items"):
            out = self.need_new_items(state, task, text, order)
            if out:
                return out
        return self.need_payment(state, task, text, user, order) or self.ask_confirm(state, task, user)

    def find_order(self, state, task, text, user) -> Outcome | None:
        intent, kind = task["intent"], task["kind"]
        ids = slots.order_ids(text) or slots.order_ids(task.get("notes", ""))[-1:]
        if ids:
            order_id = ids[0]
            try:
                order = self.store.get_order(order_id)
            except NotFound:
                return self.say("unknown_order", intent, awaiting="order", order_id=order_id)
            if order["user_id"] != state["user_id"]:
                return self.say("other_customer_order", intent, awaiting="order", order_id=order_id)
            return self.set_order(task, order)
        # no id: the order whose items the customer names, among those the request can apply to
        wanted = NEEDS_STATUS.get(kind)
        orders = [o for o in self.store.orders_of(state["user_id"])
                  if (o["status"] == wanted if wanted else o["status"] in ("pending", "delivered"))]
        notes = slots.normalise(task.get("notes", text))
        named = [o for o in orders if any(slots.name_score(notes, i["name"]) == 1.0 for i in o["items"])]
        if len(named) == 1:
            task["order_named_by"] = text  # names the order's items, not necessarily the ones to change
            return self.set_order(task, named[0])
        statuses = [wanted] if wanted else ["pending", "delivered"]
        listing = self.orders_text(state["user_id"], statuses if orders else None)
        return self.say("ask_order", intent, awaiting="order", orders=listing)

    def set_order(self, task, order) -> Outcome | None:
        kind, intent = task["kind"], task["intent"]
        if kind == "change":
            kind = task["kind"] = {"pending": "modify_items", "delivered": "exchange"}.get(order["status"], "exchange")
        need = NEEDS_STATUS[kind]
        if order["status"] != need:
            if order["status"].startswith(need) or order["status"] in ("exchange requested",):
                return self.say("once_only", intent, order_id=order["order_id"], status=order["status"])
            verbed, _ = VERBS[kind]
            return self.say("wrong_status", intent, awaiting="order", order_id=order["order_id"],
                            status=order["status"], verb=verbed, needed=need)
        task["order_id"] = order["order_id"]
        return None

    def need_reason(self, task, text, intent) -> Outcome | None:
        if task.get("reason"):
            return None
        reason = slots.cancel_reason(text)
        if reason:
            task["reason"] = reason
            return None
        asked_before = task.get("asked_reason")
        task["asked_reason"] = True
        key = "bad_reason" if asked_before else "ask_reason"
        return self.say(key, intent, awaiting="reason", order_id=task["order_id"])

    def need_address(self, state, task, text, intent) -> Outcome | None:
        if task.get("address"):
            return None
        addr = slots.address(text)
        if addr:
            task["address"] = addr
            return None
        return self.say("ask_address", intent, awaiting="address")

    def need_items(self, state, task, text, order) -> Outcome | None:
        if task["items"]:
            return None
        items = order["items"]
        if task["kind"] == "return" and slots.wants_all_items(text) and not slots.match_order_items(text, items):
            picked = list(range(len(items)))
        else:
            picked = slots.match_order_items(text, items)
        verb = VERBS[task["kind"]][1]
        listing = "; ".join(item_label(i) for i in items)
        if picked:
            task["items"] = [items[i]["item_id"] for i in picked]
            task["new_items"] = [None] * len(picked)
            return None
        key = "ask_items_reminder" if task["kind"] in ("exchange", "modify_items") else "ask_items"
        if task.get("asked_items") and state.get("awaiting") == "items":
            key = "item_not_in_order"
        task["asked_items"] = True
        return self.say(key, task["intent"], awaiting="items", order_id=order["order_id"], verb=verb,
                        verbed=VERBS[task["kind"]][0], items=listing)

    def need_new_items(self, state, task, text, order) -> Outcome | None:
        for n, (old_id, new_id) in enumerate(zip(task["items"], task["new_items"])):
            if new_id:
                continue
            old = next(i for i in order["items"] if i["item_id"] == old_id)
            product = self.store.get_product(old["product_id"])
            variants = list(product["variants"].values())
            answering = state.get("awaiting") in ("new_item", "choice") and task.get("asking") == n
            if answering:
                pool = [v for v in variants if v["item_id"] in task.get("choices", [])] if \
                    state.get("awaiting") == "choice" else variants
                result = self.pick_variant(old, pool, variants, text)
                if not isinstance(result, str) and pool is not variants and result[0] != "choose":
                    result = self.pick_variant(old, variants, variants, text)  # not one of those listed
                if isinstance(result, str):
                    task["new_items"][n] = result
                    task.pop("choices", None)
                    continue
                return self.variant_question(task, n, old, product, result)
            task["asking"] = n
            return self.say("ask_new_item", task["intent"], awaiting="new_item", item=item_label(old),
                            product=product["name"], choices=self.option_summary(variants))
        return None

    def option_summary(self, variants) -> str:
        values: dict[str, list[str]] = {}
        for v in variants:
            if v["available"]:
                for k, val in v["options"].items():
                    values.setdefault(k, [])
                    if val not in values[k]:
                        values[k].append(val)
        return "; ".join(f"{k}: {', '.join(vals)}" for k, vals in values.items())

    def pick_variant(self, old, pool, variants, text):
        """An item id, or (problem, variants) where problem is none|unavailable|same|choose."""
        t = slots.normalise(text)
        wanted = slots.mentioned_values(t, pool)
        if not wanted:
            return ("none", pool)
        fitting = [v for v in pool if all(v["options"].get(k) == val for k, val in wanted.items())]
        usable = [v for v in fitting if v["available"] and v["item_id"] != old["item_id"]]
        if not usable:
            if fitting and all(v["item_id"] == old["item_id"] for v in fitting if v["available"]) and \
                    any(v["available"] for v in fitting):
                return ("same", [v for v in variants if v["available"] and v["item_id"] != old["item_id"]])
            return ("unavailable", [v for v in variants if v["available"] and v["item_id"] != old["item_id"]],
                    wanted)
        if len(usable) > 1 and slots.wants_cheapest(text):
            return min(usable, key=lambda v: (v["price"], v["item_id"]))["item_id"]
        # keep what the customer did not ask to change
        def kept(v):
            return sum(1 for k, val in old["options"].items() if k not in wanted and v["options"].get(k) == val)
        best = max(kept(v) for v in usable)
        top = [v for v in usable if kept(v) == best]
        if len(top) == 1:
            return top[0]["item_id"]
        return ("choose", usable)

    def variant_question(self, task, n, old, product, result) -> Outcome:
        problem, options = result[0], result[1]
        intent = task["intent"]
        task["asking"] = n
        if problem == "choose":
            task["choices"] = [v["item_id"] for v in options]
            listing = "; ".join(f"{slots.describe_options(v['options'])} at {money(v['price'])}" for v in options)
            return self.say("ask_choice", intent, awaiting="choice", product=product["name"], choices=listing)
        task.pop("choices", None)
        summary = self.option_summary(options)
        if problem == "unavailable":
            wanted = ", ".join(f"{k} {v}" for k, v in result[2].items())
            return self.say("new_item_unavailable", intent, awaiting="new_item", product=product["name"],
                            wanted=wanted, choices=summary)
        if problem == "same":
            return self.say("new_item_same", intent, awaiting="new_item", item=item_label(old), choices=summary)
        return self.say("new_item_none", intent, awaiting="new_item", product=product["name"], choices=summary)

    def price_difference(self, task, order) -> float:
        diff = 0.0
        for old_id, new_id in zip(task["items"], task["new_items"]):
            old = next(i for i in order["items"] if i["item_id"] == old_id)
            diff += self.store.get_variant(new_id)["price"] - old["price"]
        return round(diff, 2)

    def need_payment(self, state, task, text, user, order) -> Outcome | None:
        if task.get("payment"):
            return None
        methods = user["payment_methods"]
        original = order["payment_history"][0]["payment_method_id"] if order["payment_history"] else None
        kind, intent = task["kind"], task["intent"]
        if kind == "return":
            eligible = [m for m in methods if m == original or methods[m]["source"] == "gift_card"]
        elif kind == "payment":
            eligible = [m for m in methods if m != original]
        else:
            eligible = list(methods)
        about_payment = state.get("awaiting") == "payment" or re.search(
            r"\b(pay|paid|paying|payment|refund\w*|paypal|credit|debit|gift ?card|card ending)\b", text.lower())
        named = slots.payment_method(text, methods, original) if about_payment else []
        if named:
            bad = [m for m in named if m not in eligible]
            named = [m for m in named if m in eligible]
            if not named:
                why = ("a refund goes to the original payment method or a gift card" if kind == "return"
                       else "it is the order's current payment method")
                return self.say("payment_not_allowed", intent, awaiting="payment", method=self.method_label(
                    methods[bad[0]]), why=why, methods=self.methods_text(methods, eligible))
        if len(named) == 1 or (not named and len(eligible) == 1 and kind != "payment"):
            chosen = (named or eligible)[0]
            problem = self.gift_card_short(methods[chosen], task, order)
            if problem:
                out = self.say("payment_not_allowed", intent, awaiting="payment",
                               method=self.method_label(methods[chosen]), why=problem[0],
                               methods=self.methods_text(methods, eligible))
                out.facts = [self.amounts_fact(order["order_id"], order["status"], amount_to_pay=problem[1])]
                return out
            task["payment"] = chosen
            return None
        if kind == "return":
            return self.say("ask_payment_return", intent, awaiting="payment",
                            original=self.method_label(methods[original]) if original in methods else "none",
                            methods=self.methods_text(methods, eligible))
        purpose = {"payment": "pay for the order", "exchange": "pay or receive the price difference",
                   "modify_items": "pay or receive the price difference"}[kind]
        return self.say("ask_payment", intent, awaiting="payment", purpose=purpose,
                        methods=self.methods_text(methods, eligible))

    def gift_card_short(self, method, task, order) -> tuple[str, float] | None:
        """(why, amount) when a gift card cannot pay what this change costs, else None."""
        if method["source"] != "gift_card":
            return None
        if task["kind"] == "payment":
            need = order["payment_history"][0]["amount"]
        elif task["kind"] in ("exchange", "modify_items"):
            need = self.price_difference(task, order)
        else:
            return None
        if method.get("balance", 0.0) < need:
            return f"its balance of {money(method.get('balance', 0.0))} doesn't cover {money(need)}", need
        return None

    # ------------------------------------------------------------ confirmation and action
    def details(self, task, user) -> str:
        kind = task["kind"]
        if kind == "user_address":
            return f"- change your default address to {address_text(task['address'])}"
        order = self.store.get_order(task["order_id"])
        oid = order["order_id"]
        lines = []
        if kind == "cancel":
            total = sum(i["price"] for i in order["items"])
            task["amounts"] = {"total": total}
            lines.append(f"- cancel order {oid} for the reason '{task['reason']}'; items: "
                         + "; ".join(item_label(i) for i in order["items"]) + f"; total {money(total)}")
        elif kind == "order_address":
            lines.append(f"- ship order {oid} to {address_text(task['address'])}")
        elif kind == "payment":
            lines.append(f"- pay order {oid} ({money(order['payment_history'][0]['amount'])}) with "
                         f"{self.method_label(user['payment_methods'][task['payment']])} instead of "
                         f"{order['payment_history'][0]['payment_method_id']}")
        elif kind == "return":
            items = [next(i for i in order["items"] if i["item_id"] == x) for x in task["items"]]
            lines.append(f"- return from order {oid}: " + "; ".join(
                f"{item_label(i)} {money(i['price'])}" for i in items))
            task["amounts"] = {"refund": sum(i["price"] for i in items)}
            lines.append(f"- refund {money(sum(i['price'] for i in items))} to "
                         f"{self.method_label(user['payment_methods'][task['payment']])}")
        else:
            verb = "exchange" if kind == "exchange" else "change"
            for old_id, new_id in zip(task["items"], task["new_items"]):
                old = next(i for i in order["items"] if i["item_id"] == old_id)
                new = self.store.get_variant(new_id)
                lines.append(f"- {verb} {item_label(old)} {money(old['price'])} for "
                             f"{new['name']} ({slots.describe_options(new['options'])}) {money(new['price'])}")
            diff = self.price_difference(task, order)
            task["amounts"] = {"price_difference": diff}
            method = self.method_label(user["payment_methods"][task["payment"]])
            lines.append(f"- price difference {money(abs(diff))}, " +
                         (f"paid with {method}" if diff > 0 else f"refunded to {method}"))
            lines.append("- items can be changed only once per order: please make sure these are all the items")
        return "\n".join(lines)

    def ask_confirm(self, state, task, user) -> Outcome:
        task["details"] = self.details(task, user)
        out = self.say("confirm", task["intent"], awaiting="confirm", details=task["details"])
        out.facts = self.task_facts(task)
        return out

    def task_facts(self, task) -> list[Fact]:
        if not task.get("amounts") or not task.get("order_id"):
            return []
        status = self.store.get_order(task["order_id"])["status"]
        return [self.amounts_fact(task["order_id"], status, **task["amounts"])]

    def on_confirmation(self, state, task, text, act: bool = True) -> Outcome:
        answer = slots.confirmation(text)
        if answer == "no":
            state["task"] = None
            return self.say("declined", task["intent"])
        if answer == "unclear":
            question = self.t["confirm"].format(details=task["details"])
            out = self.say("confirm_again", task["intent"], awaiting="confirm", question=question)
            out.facts = self.task_facts(task)
            return out
        state["task"] = None
        if not act:  # a preview (staff draft) never changes the store
            return Outcome("On a yes I would now:\n" + task["details"], task["intent"])
        return self.act(state, task)

    def act(self, state, task) -> Outcome:
        s, kind, intent = self.store, task["kind"], task["intent"]
        user = self.user(state)
        methods = user["payment_methods"]
        try:
            if kind == "cancel":
                order = s.cancel_pending_order(task["order_id"], task["reason"])
                text = self.t["done_cancel"].format(order_id=order["order_id"], refund=self.refund_note(
                    order["payment_history"][0]["payment_method_id"]))
                action = "cancel_pending_order"
            elif kind == "order_address":
                order = s.modify_pending_order_address(task["order_id"], task["address"])
                text = self.t["done_modify_address"].format(order_id=order["order_id"],
                                                            address=address_text(order["address"]))
                action = "modify_pending_order_address"
            elif kind == "payment":
                old = s.get_order(task["order_id"])["payment_history"][0]["payment_method_id"]
                order = s.modify_pending_order_payment(task["order_id"], task["payment"])
                text = self.t["done_modify_payment"].format(order_id=order["order_id"], method=self.method_label(
                    methods[task["payment"]], balance=False), refund=self.refund_note(old))
                action = "modify_pending_order_payment"
            elif kind == "return":
                before = s.get_order(task["order_id"])
                order = s.return_delivered_order_items(task["order_id"], task["items"], task["payment"])
                items = [next(i for i in before["items"] if i["item_id"] == x) for x in task["items"]]
                text = self.t["done_return"].format(order_id=order["order_id"], items="; ".join(
                    item_label(i) for i in items), amount=money(sum(i["price"] for i in items)),
                    method=self.method_label(methods[task["payment"]], balance=False))
                action = "return_delivered_order_items"
            elif kind == "user_address":
                s.modify_user_address(state["user_id"], task["address"])
                text = self.t["done_user_address"].format(address=address_text(task["address"]))
                action = "modify_user_address"
            else:
                before = s.get_order(task["order_id"])
                diff = self.price_difference(task, before)
                changes = "; ".join(
                    f"{self.store.get_variant(n)['name']} ({slots.describe_options(self.store.get_variant(n)['options'])})"
                    for n in task["new_items"])
                method = self.method_label(methods[task["payment"]], balance=False)  # balances change
                difference = (f"The price difference of {money(diff)} is paid with {method}." if diff > 0 else
                              f"The price difference of {money(-diff)} is refunded to {method}." if diff < 0 else
                              "There is no price difference.")
                if kind == "exchange":
                    order = s.exchange_delivered_order_items(task["order_id"], task["items"], task["new_items"],
                                                             task["payment"])
                    text = self.t["done_exchange"].format(order_id=order["order_id"], changes=changes,
                                                          difference=difference)
                    action = "exchange_delivered_order_items"
                else:
                    order = s.modify_pending_order_items(task["order_id"], task["items"], task["new_items"],
                                                         task["payment"])
                    text = self.t["done_modify_items"].format(order_id=order["order_id"], changes=changes,
                                                              difference=difference, status=order["status"])
                    action = "modify_pending_order_items"
        except ActionError as exc:
            return self.say("action_failed", intent, reason=exc.reason)
        cite = f"order:{task['order_id']}" if task.get("order_id") else f"customer:{state['user_id']}"
        out = Outcome(text + " " + self.t["anything_else"], intent, action=action,
                      citations=[Citation(cite, "action", text)])
        if task.get("amounts"):
            out.facts = [self.amounts_fact(task["order_id"], order["status"], **task["amounts"])]
        return out

    def refund_note(self, method_id: str) -> str:
        if "gift_card" in method_id:
            return "The refund goes back to your gift card immediately."
        return "The refund goes back to the original payment method within 5 to 7 business days."

    # ------------------------------------------------------------ account information
    def info(self, state, text, flow, intent, just_identified) -> Outcome | None:
        if flow not in ("order_status", "gift_card", "payment_methods"):
            return None
        if not state.get("user_id"):
            state["task"] = None
            state["after_identify"] = {"flow": flow, "intent": intent, "text": text}
            return self.say("identify", intent, awaiting="identify")
        user = self.user(state)
        methods = user["payment_methods"]
        if flow == "gift_card":
            cards = [m for m in methods.values() if m["source"] == "gift_card"]
            if not cards:
                return self.say("no_gift_card", intent, methods=self.methods_text(methods))
            out = self.say("gift_card", intent, cards="; ".join(
                f"Your gift card {c['id']} has a balance of {money(c.get('balance', 0.0))}." for c in cards))
            out.citations = [Citation(f"customer:{state['user_id']}", "customer", out.text)]
            return out
        if flow == "payment_methods":
            return self.say("payment_methods", intent, methods=self.methods_text(methods))
        ids = slots.order_ids(text)
        if not ids:
            out = self.say("orders_list", intent, orders=self.orders_text(state["user_id"]))
            out.citations = [Citation(f"customer:{state['user_id']}", "customer", out.text)]
            return out
        try:
            order = self.store.get_order(ids[0])
        except NotFound:
            return self.say("unknown_order", intent, order_id=ids[0])
        if order["user_id"] != state["user_id"]:
            return self.say("other_customer_order", intent, order_id=ids[0])
        tracking = [t for f in order.get("fulfillments", []) for t in f.get("tracking_id", [])]
        out = self.say("order_info", intent, order_id=order["order_id"], status=order["status"],
                       items="; ".join(f"{item_label(i)} {money(i['price'])}" for i in order["items"]),
                       total=money(sum(i["price"] for i in order["items"])), address=address_text(order["address"]),
                       tracking=f" Tracking: {', '.join(tracking)}." if tracking else "")
        out.citations = [Citation(f"order:{order['order_id']}", "order", out.text)]
        return out

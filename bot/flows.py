"""The shop's policy as deterministic flows: identify, find the order, collect details, confirm, act.

`Flows.turn(state, requests)` takes the account requests of one Reading (order tasks, account look-ups,
identification, details, yes/no) into the session `state` (a JSON-able dict saved after every turn), moves the
current task one step on, and returns an `Outcome` built from exact templates. It calls the store's actions only
after an explicit yes, and never for another customer. It reads no message text (bot/understand.py does), answers
no product or policy question (bot/answers.py) and keeps no memory (bot/agent.py does).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources

import yaml

from knowledge.errors import ActionError, NotFound
from trustgen.types import Fact

from .catalog import describe, joined
from .details import match_refs, merge_said, methods_named, pick_variant, said_in, wanted_now
from .reading import REASONS, Reading, Request, empty_focus
from .reply import Citation

ACCOUNT_KINDS = ("order_task", "account_info", "identify", "detail", "confirm", "deny", "hedge")
ORDER_KINDS = {"cancel", "modify_items", "exchange", "return", "order_address", "payment", "change"}
NEEDS_STATUS = {"cancel": "pending", "modify_items": "pending", "order_address": "pending", "payment": "pending",
                "exchange": "delivered", "return": "delivered"}
VERBS = {"cancel": ("cancelled", "cancel"), "modify_items": ("modified", "modify"),
         "order_address": ("changed", "change"), "payment": ("changed", "change"),
         "exchange": ("exchanged", "exchange"), "return": ("returned", "return")}
INTENTS = {"cancel": "cancel_order", "return": "return_item", "exchange": "exchange_item", "change": "change_order",
           "modify_items": "modify_items", "order_address": "change_shipping_address", "payment": "change_payment",
           "user_address": "change_default_address", "order_status": "track_order", "orders_list": "track_order",
           "gift_card": "gift_card_balance", "payment_methods": "payment_methods"}
ADDRESS_NEEDS = ("address1", "city", "state", "zip")
# A yes acts only when the reader is this sure it was a plain yes; below, the question is asked again
# ("yes but..." reads as confirm at 0.47, a bare "ok" at 0.75, "yes"/"yep" above 0.99).
CONFIRM_MIN = 0.65


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
    return f"{item['name']} ({describe(item['options'])})"


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
                                  f"({describe(v['options'])}): {money(v['price'])}",
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
    def identify(self, state: dict, requests: list[Request]) -> Outcome | None:
        """Handle identity details in the requests; None when they have none (or name the customer again)."""
        emails = [r.email for r in requests if r.email]
        candidates = [self.store.find_user_by_email(e) for e in emails]
        for r in requests:
            if len(r.name) == 2 and r.zip:
                candidates.append(self.store.find_user_by_name_zip(r.name[0], r.name[1], r.zip))
        if not candidates:
            if not state.get("user_id") and any(r.kind == "identify" for r in requests):
                # who they are, but not enough to find the account (a name without a zip code)
                return self.say("identify", "identify", awaiting="identify")
            return None
        found = next((c for c in candidates if c), None)
        if state.get("user_id"):
            me = self.user(state)
            mine = any(e.lower() == me["email"].lower() for e in emails)
            if (found and found != state["user_id"]) or (not found and emails and not mine):
                return self.say("other_customer", "identify", **me["name"])
            return None  # the same customer repeating themselves: carry on with the message
        if not found:
            return self.say("identify_failed", "identify", awaiting="identify")
        state["user_id"] = found
        return None

    # ------------------------------------------------------------ the turn
    def turn(self, state: dict, requests: list[Request], act: bool = True) -> Outcome | None:
        """One step of the account flows for the account requests of one Reading (see ACCOUNT_KINDS).
        None: nothing for the account flows (the agent answers the rest)."""
        was_identified = bool(state.get("user_id"))
        refused = self.identify(state, requests)
        if refused:
            return refused
        just_identified = not was_identified and bool(state.get("user_id"))
        task = state.get("task")
        kinds = [r.kind for r in requests]
        asked = next((r for r in requests if r.kind == "order_task" and r.task), None)

        if state.get("awaiting") == "confirm" and task and not asked and "confirm" not in kinds:
            changed = self.corrected(task, said_in(requests))
            if changed:  # "no, refund it to paypal" / "no wait, just the kettle": the task changed, asked again
                state["awaiting"] = ""
                return self.advance(state, task, requests)
        if state.get("awaiting") == "confirm" and task and not ("deny" in kinds and asked):
            # "no" with the request stated again in the same message: dropped below, and the new one taken up
            unsure = [r for r in requests if r.kind == "confirm" and r.confidence < CONFIRM_MIN]
            return self.on_confirmation(state, task, ["hedge"] if unsure else kinds, act)
        if task and "deny" in kinds:
            state["task"] = None
            if not asked:
                return self.say("declined", task["intent"])
            task = None  # dropped, and the same message asks for something else
            state["awaiting"] = ""
        if asked and (not task or not self.same_task(task, asked.task)):
            # swapping items is an exchange for a delivered order and a modification for a pending one: the
            # order's status decides, whichever word the customer used
            kind = "change" if asked.task in ("exchange", "modify_items") else asked.task
            task = state["task"] = {"kind": kind, "order_id": None, "items": [], "new_items": [],
                                    "intent": INTENTS.get(asked.task, asked.task), "said": {}}
            state["awaiting"] = "" if state.get("awaiting") != "identify" else "identify"
        if task:
            merge_said(task, said_in(requests, state.get("awaiting", "")))
        if not task:
            return self.without_task(state, requests, just_identified)
        if not state.get("user_id"):
            return self.say("identify", task["intent"], awaiting="identify")
        out = self.advance(state, task, requests)
        if just_identified:
            out.text = self.t["identified"].format(first_name=self.user(state)["name"]["first_name"]) + " " + out.text
        return out

    def corrected(self, task: dict, new: dict) -> bool:
        """Apply what the customer changed when asked to confirm: the details they gave again replace the ones
        the task had, and what was worked out from those is worked out again. False when nothing applies."""
        said = task.setdefault("said", {})
        items = [r for r in new.get("items", []) if r.get("product_id") or r.get("item_id")]
        changed = False
        if new.get("order_ids") and task.get("order_id") not in new["order_ids"] and task["kind"] != "user_address":
            said["order_ids"], task["order_id"] = new["order_ids"], None
            self.forget_items(task)
            task.pop("payment", None)
            changed = True
        if (items or new.get("all_items")) and task["kind"] in ("return", "exchange", "modify_items"):
            if new.get("adds"):  # "add the backpack too": with the items already named
                items = said.get("items", []) + [r for r in items if r not in said.get("items", [])]
            said["items"], said["all_items"] = items, bool(new.get("all_items")) and not items
            self.forget_items(task)
            changed = True
        for key in ("payment", "reason", "address"):
            if new.get(key):
                said[key] = new[key]
                task.pop(key, None)
                changed = True
        return changed

    @staticmethod
    def forget_items(task: dict) -> None:
        """The items chosen and what they become, to be worked out again from what was said."""
        task["items"], task["new_items"], task["changes"] = [], [], None

    @staticmethod
    def same_task(task: dict, asked: str) -> bool:
        if asked == task["kind"]:
            return True
        return asked == "change" and task["kind"] in ("exchange", "modify_items") or \
            task["kind"] == "change" and asked in ("exchange", "modify_items")

    def without_task(self, state, requests, just_identified) -> Outcome | None:
        info = next((r for r in requests if r.kind == "account_info"), None)
        if info is None and state.get("awaiting") in ("", None) and not just_identified:
            # an order id on its own, with nothing in progress: the customer wants to see that order
            info = next((Request("account_info", task="order_status", order_ids=r.order_ids) for r in requests
                         if r.kind == "detail" and r.order_ids), None)
        later = state.pop("after_identify", None) if just_identified else None
        if later and info is None:
            reading = Reading.from_dict(later)
            if reading.first("account_info"):
                info = reading.first("account_info")
            else:  # e.g. "what do you know about me", answerable now: the agent answers it
                state["redo"] = later
                return None
        if info is not None:
            return self.info(state, info)
        if just_identified:
            return self.say("identified_how_help", "identify", first_name=self.user(state)["name"]["first_name"])
        return None

    # ------------------------------------------------------------ advancing a task
    def advance(self, state: dict, task: dict, requests: list[Request]) -> Outcome:
        intent = task["intent"]
        user = self.user(state)
        if task["kind"] == "user_address":
            return self.need_address(task, intent) or self.ask_confirm(state, task, user)
        if not task["order_id"]:
            out = self.find_order(state, task, user)
            if out:
                return out
        order = self.store.get_order(task["order_id"])
        if task["kind"] == "cancel":
            return self.need_reason(task, intent) or self.ask_confirm(state, task, user)
        if task["kind"] == "order_address":
            return self.need_address(task, intent) or self.ask_confirm(state, task, user)
        if task["kind"] == "payment":
            return self.need_payment(state, task, user, order) or self.ask_confirm(state, task, user)
        out = self.need_items(state, task, order, requests)
        if out:
            return out
        if task["kind"] in ("exchange", "modify_items"):
            out = self.need_new_items(state, task, order, requests)
            if out:
                return out
        return self.need_payment(state, task, user, order) or self.ask_confirm(state, task, user)

    def find_order(self, state, task, user) -> Outcome | None:
        intent, kind = task["intent"], task["kind"]
        said = task.get("said", {})
        ids = said.get("order_ids", [])
        if ids:
            order_id = ids[0]
            try:
                order = self.store.get_order(order_id)
            except NotFound:
                said.pop("order_ids", None)
                return self.say("unknown_order", intent, awaiting="order", order_id=order_id)
            if order["user_id"] != state["user_id"]:
                said.pop("order_ids", None)
                return self.say("other_customer_order", intent, awaiting="order", order_id=order_id)
            return self.set_order(state, task, order)
        # no id: the order whose items the customer names, among those the request can apply to
        wanted = NEEDS_STATUS.get(kind)
        orders = [o for o in self.store.orders_of(state["user_id"])
                  if (o["status"] == wanted if wanted else o["status"] in ("pending", "delivered"))]
        named = said.get("order_items") or said.get("items") or []
        products = {r["product_id"] for r in named if r.get("product_id")}
        if products:
            scores = {o["order_id"]: len(products & {i["product_id"] for i in o["items"]}) for o in orders}
            best = max(scores.values(), default=0)
            top = [o for o in orders if best and scores[o["order_id"]] == best]
            if len(top) == 1:
                task["order_by_items"] = bool(said.get("order_items"))
                return self.set_order(state, task, top[0])
        statuses = [wanted] if wanted else ["pending", "delivered"]
        listing = self.orders_text(state["user_id"], statuses if orders else None)
        # the orders listed are what "that one" means next (alone in the list, it is the only one meant)
        state.setdefault("focus", empty_focus())["order_ids"] = [o["order_id"] for o in orders][:5]
        return self.say("ask_order", intent, awaiting="order", orders=listing)

    def set_order(self, state, task, order) -> Outcome | None:
        self.in_focus(state, order)
        kind, intent = task["kind"], task["intent"]
        if kind == "change":
            kind = task["kind"] = {"pending": "modify_items", "delivered": "exchange"}.get(order["status"], "exchange")
        need = NEEDS_STATUS[kind]
        if order["status"] != need:
            task.get("said", {}).pop("order_ids", None)
            if order["status"].startswith(need) or order["status"] in ("exchange requested",):
                return self.say("once_only", intent, order_id=order["order_id"], status=order["status"])
            verbed, _ = VERBS[kind]
            return self.say("wrong_status", intent, awaiting="order", order_id=order["order_id"],
                            status=order["status"], verb=verbed, needed=need)
        task["order_id"] = order["order_id"]
        return None

    @staticmethod
    def in_focus(state: dict, order: dict) -> None:
        """The order a reply is about becomes "that order" for the next message; its products "it"."""
        focus = state.setdefault("focus", empty_focus())
        focus["order_ids"] = list(dict.fromkeys([order["order_id"]] + focus.get("order_ids", [])))[:5]
        focus["item_ids"] = [i["item_id"] for i in order["items"]]

    def need_reason(self, task, intent) -> Outcome | None:
        if task.get("reason"):
            return None
        reason = task.get("said", {}).get("reason", "")
        if reason in REASONS:
            task["reason"] = reason
            return None
        asked_before = task.get("asked_reason") or reason == "other"
        task["asked_reason"] = True
        task.get("said", {}).pop("reason", None)
        key = "bad_reason" if asked_before else "ask_reason"
        return self.say(key, intent, awaiting="reason", order_id=task["order_id"])

    def need_address(self, task, intent) -> Outcome | None:
        if task.get("address"):
            return None
        given = task.get("said", {}).get("address") or {}
        if all(given.get(k) for k in ADDRESS_NEEDS):
            task["address"] = {"address1": given["address1"], "address2": given.get("address2", ""),
                               "city": given["city"], "country": given.get("country") or "USA",
                               "state": given["state"], "zip": given["zip"]}
            return None
        return self.say("ask_address", intent, awaiting="address")

    def need_items(self, state, task, order, requests) -> Outcome | None:
        if task["items"]:
            return None
        items, said = order["items"], task.setdefault("said", {})
        refs = said.get("items", [])
        if not refs and not said.get("all_items") and task.get("order_by_items"):
            # "just the bottle", said when asked which order: the items that picked the order are the ones meant
            refs = said["items"] = [r for r in said.get("order_items", []) if match_refs([r], items)[0]]
        if said.get("all_items") and not refs:
            picked, origin, missing = list(range(len(items))), [None] * len(items), []
        else:
            picked, origin, missing = match_refs(refs, items)
        verb, verbed = VERBS[task["kind"]][1], VERBS[task["kind"]][0]
        listing = "; ".join(item_label(i) for i in items)
        intent = task["intent"]
        if missing:  # never dropped without a word: say which, keep the ones found, and ask
            said["items"] = [refs[o] for o in dict.fromkeys(origin)]
            what = joined([f"'{self.ref_words(m)}'" for m in missing])
            task["asked_items"] = True
            if picked:
                return self.say("items_partly_found", intent, awaiting="items", order_id=order["order_id"],
                                found="; ".join(item_label(items[i]) for i in picked), missing=what, items=listing,
                                verb=verb)
            return self.say("item_not_in_order", intent, awaiting="items", order_id=order["order_id"],
                            missing=what, items=listing)
        if picked:
            task["items"] = [items[i]["item_id"] for i in picked]
            task["changes"] = [refs[o] if o is not None else {} for o in origin]
            task["new_items"] = [None] * len(picked)
            return None
        key = "ask_items_reminder" if task["kind"] in ("exchange", "modify_items") else "ask_items"
        task["asked_items"] = True
        return self.say(key, intent, awaiting="items", order_id=order["order_id"], verb=verb, verbed=verbed,
                        items=listing)

    def ref_words(self, ref: dict) -> str:
        """How to quote an item back: the customer's own words, else the catalog's name and values."""
        if ref.get("mention"):
            return ref["mention"]
        name = self.store.get_product(ref["product_id"])["name"] if ref.get("product_id") else "item"
        return f"{name} ({describe(ref['options'])})" if ref.get("options") else name

    def need_new_items(self, state, task, order, requests) -> Outcome | None:
        changes = task.get("changes") or [{}] * len(task["items"])
        for n, (old_id, new_id) in enumerate(zip(task["items"], task["new_items"])):
            if new_id:
                continue
            old = next(i for i in order["items"] if i["item_id"] == old_id)
            product = self.store.get_product(old["product_id"])
            variants = list(product["variants"].values())
            answering = state.get("awaiting") in ("new_item", "choice") and task.get("asking") == n
            if answering:
                wanted, same = wanted_now(requests, product)
            else:
                wanted, same = dict(changes[n].get("new_options") or {}), bool(changes[n].get("same"))
            if same:  # "a new identical one": the policy allows only another option of the same product
                task["asking"] = n
                changes[n] = {**changes[n], "same": False}
                task["changes"] = changes
                others = [v for v in variants if v["available"] and v["item_id"] != old_id]
                return self.say("new_item_identical", task["intent"], awaiting="new_item", item=item_label(old),
                                verb=VERBS[task["kind"]][1], product=product["name"],
                                choices=self.option_summary(others))
            if not wanted and not answering:
                task["asking"] = n
                return self.say("ask_new_item", task["intent"], awaiting="new_item", item=item_label(old),
                                product=product["name"], choices=self.option_summary(variants))
            choosing = answering and state.get("awaiting") == "choice"
            pool = [v for v in variants if v["item_id"] in task.get("choices", [])] if choosing else variants
            result = pick_variant(old, pool or variants, variants, wanted)
            if not isinstance(result, str) and choosing and result[0] != "choose":
                result = pick_variant(old, variants, variants, wanted)  # not one of those listed
            if isinstance(result, str):
                task["new_items"][n] = result
                task.pop("choices", None)
                continue
            return self.variant_question(task, n, old, product, result)
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

    def variant_question(self, task, n, old, product, result) -> Outcome:
        problem, options = result[0], result[1]
        intent = task["intent"]
        task["asking"] = n
        if problem == "choose":
            task["choices"] = [v["item_id"] for v in options]
            listing = "; ".join(f"{describe(v['options'])} at {money(v['price'])}" for v in options)
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

    def need_payment(self, state, task, user, order) -> Outcome | None:
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
        said = task.setdefault("said", {})
        named = methods_named(said["payment"], methods, original) if said.get("payment") else []
        if named:
            bad = [m for m in named if m not in eligible]
            named = [m for m in named if m in eligible]
            if not named:
                said.pop("payment", None)
                why = ("a refund goes to the original payment method or a gift card" if kind == "return"
                       else "it is the order's current payment method")
                return self.say("payment_not_allowed", intent, awaiting="payment", method=self.method_label(
                    methods[bad[0]]), why=why, methods=self.methods_text(methods, eligible))
        if len(named) == 1 or (not named and len(eligible) == 1 and kind != "payment"):
            chosen = (named or eligible)[0]
            problem = self.gift_card_short(methods[chosen], task, order)
            if problem:
                said.pop("payment", None)
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
                        methods=self.methods_text(methods, named or eligible))

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
                             f"{new['name']} ({describe(new['options'])}) {money(new['price'])}")
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

    def on_confirmation(self, state, task, kinds: list[str], act: bool = True) -> Outcome:
        """Only a plain yes acts: "no" drops the request; anything else (a hedge, a question) asks again."""
        if "deny" in kinds:
            state["task"] = None
            return self.say("declined", task["intent"])
        if "confirm" not in kinds or "hedge" in kinds:
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
                    f"{self.store.get_variant(n)['name']} ({describe(self.store.get_variant(n)['options'])})"
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
            done = self.already_done(task)
            if done is None:
                return self.say("action_failed", intent, reason=exc.reason)
            (text, order), action = done, None
        cite = f"order:{task['order_id']}" if task.get("order_id") else f"customer:{state['user_id']}"
        out = Outcome(text + " " + self.t["anything_else"], intent, action=action,
                      citations=[Citation(cite, "action", text)])
        if task.get("amounts"):
            out.facts = [self.amounts_fact(task["order_id"], order["status"], **task["amounts"])]
        return out

    def already_done(self, task) -> tuple[str, dict] | None:
        """(the reply, the order) when the confirmed change is already in the shop's records, exactly as planned:
        the same "yes" applied before the server stopped, whose reply never reached the customer. None otherwise."""
        if task["kind"] != "cancel":  # the other changes can be applied again to the same effect, or are refused
            return None
        try:
            order = self.store.get_order(task["order_id"])
        except NotFound:
            return None
        if order["status"] == "cancelled" and order.get("cancel_reason") == task["reason"]:
            return self.t["already_cancelled"].format(order_id=order["order_id"], refund=self.refund_note(
                order["payment_history"][0]["payment_method_id"])), order
        return None

    def refund_note(self, method_id: str) -> str:
        if "gift_card" in method_id:
            return "The refund goes back to your gift card immediately."
        return "The refund goes back to the original payment method within 5 to 7 business days."

    # ------------------------------------------------------------ account information
    def info(self, state, request: Request) -> Outcome:
        what = request.task or ("order_status" if request.order_ids else "orders_list")
        intent = INTENTS.get(what, what)
        if not state.get("user_id"):
            state["task"] = None
            state["after_identify"] = Reading(requests=(request,)).to_dict()
            return self.say("identify", intent, awaiting="identify")
        user = self.user(state)
        methods = user["payment_methods"]
        if what == "gift_card":
            cards = [m for m in methods.values() if m["source"] == "gift_card"]
            if not cards:
                return self.say("no_gift_card", intent, methods=self.methods_text(methods))
            out = self.say("gift_card", intent, cards="; ".join(
                f"Your gift card {c['id']} has a balance of {money(c.get('balance', 0.0))}." for c in cards))
            out.citations = [Citation(f"customer:{state['user_id']}", "customer", out.text)]
            return out
        if what == "payment_methods":
            return self.say("payment_methods", intent, methods=self.methods_text(methods))
        if not request.order_ids:
            out = self.say("orders_list", intent, orders=self.orders_text(state["user_id"]))
            out.citations = [Citation(f"customer:{state['user_id']}", "customer", out.text)]
            return out
        order_id = request.order_ids[0]
        try:
            order = self.store.get_order(order_id)
        except NotFound:
            return self.say("unknown_order", intent, order_id=order_id)
        if order["user_id"] != state["user_id"]:
            return self.say("other_customer_order", intent, order_id=order_id)
        self.in_focus(state, order)
        tracking = [t for f in order.get("fulfillments", []) for t in f.get("tracking_id", [])]
        out = self.say("order_info", intent, order_id=order["order_id"], status=order["status"],
                       items="; ".join(f"{item_label(i)} {money(i['price'])}" for i in order["items"]),
                       total=money(sum(i["price"] for i in order["items"])), address=address_text(order["address"]),
                       tracking=f" Tracking: {', '.join(tracking)}." if tracking else "")
        out.citations = [Citation(f"order:{order['order_id']}", "order", out.text)]
        return out

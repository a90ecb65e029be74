"""Build the grounded training set: the shop's facts, a customer's message, and the reply a careful agent gives.

Examples come from the catalog, orders and customers (tau-bench retail), the FAQ and policy, customer wording
from the bitext utterances, and real shopper questions with evidence and human answers (Amazon hetPQA). Each
prompt is made by `trustgen.prompting.build_messages`, so training sees exactly the prompt used at answer time.
The validation split holds out whole products, customers, FAQ entries and ASINs. Deterministic for a seed.

    python -m trustgen.dataset --out runs/data          # writes train.jsonl and val.jsonl
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from .errors import TrustgenError
from .types import Fact, ReplyRequest

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_ROOT = REPO_ROOT.parent / "shared" / "data"
HOLDOUT = 0.15  # share of products, customers, FAQ entries and ASINs kept for validation
PQA_MAX = 1200  # real shopper questions kept; enough to teach the wording without drowning the shop's own
CANCEL_REASONS = ("no longer needed", "ordered by mistake")
# Customer wording from the bitext utterances: intent -> what the example becomes (a FAQ id or an action).
BITEXT_MAP = {
    "cancel_order": "faq:cancel-who", "check_refund_policy": "faq:return-refund", "get_refund": "faq:return-who",
    "track_refund": "faq:cancel-refund", "change_shipping_address": "faq:modify-address",
    "set_up_shipping_address": "faq:default-address", "check_payment_methods": "faq:payment-methods",
    "change_order": "faq:modify-what", "contact_human_agent": "handover", "contact_customer_service": "handover",
    "delete_account": "out_of_scope", "recover_password": "out_of_scope", "newsletter_subscription":
    "out_of_scope", "create_account": "out_of_scope", "get_invoice": "out_of_scope", "complaint": "handover",
    "delivery_period": "unknown", "delivery_options": "unknown",
}
PER_INTENT = 25  # bitext utterances used per intent


class DatasetError(TrustgenError):
    """A data file for the training set is missing or malformed."""

    def __init__(self, path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = str(path), reason


@dataclass
class Example:
    kind: str
    request: ReplyRequest
    reply: str
    products: tuple[str, ...] = ()
    customer: str = ""
    source: str = "shop"
    held_out: bool = False

    def record(self, build_messages) -> dict:
        messages = build_messages(self.request) + [{"role": "assistant", "content": self.reply}]
        return {"kind": self.kind, "source": self.source, "split": "val" if self.held_out else "train",
                "products": list(self.products), "customer": self.customer, "messages": messages,
                "facts": [asdict(f) for f in self.request.facts]}


@dataclass(frozen=True)
class Sources:
    """Where the raw data lives; `from_root` checks each file and names the missing one."""

    products: Path
    users: Path
    orders: Path
    bitext: Path
    pqa: Path
    faq: Path | None = None  # None: the packaged FAQ and policy
    policy: Path | None = None

    @classmethod
    def from_root(cls, root: str | Path | None = None) -> "Sources":
        root = Path(root) if root else DEFAULT_DATA_ROOT
        if not root.is_dir():
            raise DatasetError(root, "the shared data folder is missing; pass --data-root")
        tau = root / "tau-bench-retail"
        found = cls(tau / "products.json", tau / "users.json", tau / "orders.json",
                    root / "bitext-intents" / "bitext_8k_utterances.csv", root / "amazon-pqa" / "hetPQA" / "train.csv")
        for path in (found.products, found.users, found.orders, found.bitext, found.pqa):
            if not path.is_file():
                raise DatasetError(path, "file is missing")
        return found


@lru_cache(maxsize=None)
def phrasings() -> dict:
    text = resources.files("trustgen").joinpath("presets", "dataset.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(path, f"cannot read JSON: {exc}") from None
    if not isinstance(data, dict) or not data:
        raise DatasetError(path, "expected a non-empty JSON object keyed by id")
    return data


def _read_csv(path: Path, delimiter: str, encoding: str, need: tuple[str, ...]) -> list[dict]:
    try:
        with open(path, encoding=encoding, newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter=delimiter))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(path, f"cannot read: {exc}") from None
    if not rows or any(k not in rows[0] for k in need):
        raise DatasetError(path, f"expected columns {', '.join(need)}")
    return rows


def _held(key: str, seed: int, share: float = HOLDOUT) -> bool:
    """A stable, seeded coin for one key: the same product or customer lands in the same split every time."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def money(value: float) -> str:
    return f"{float(value):.2f}"


def opts_text(options: dict) -> str:
    # "bagged/bagless bagless" reads as two claims; a key naming its own choices is left out.
    return ", ".join(str(v) if "/" in k else f"{k} {v}" for k, v in options.items())


# Fact renderings: what a fact looks like in a prompt. The bot should render its facts the same way.

def price_text(value: float) -> str:
    """A catalog price as the bot's catalog facts write it ("$1,261.14")."""
    return f"${float(value):,.2f}"


def item_line(variant: dict, name: str) -> str:
    """A variant as the bot's catalog facts render it (bot.catalog.variant_line): the model is trained on the
    fact lines it reads at answer time ("Yoga Mat (thickness: 4mm, color: blue): $92.53, in stock")."""
    options = ", ".join(f"{k}: {v}" for k, v in variant["options"].items())
    stock = "in stock" if variant["available"] else "out of stock"
    return f"{name} ({options}): {price_text(variant['price'])}, {stock}"


def item_fact(variant: dict, name: str, product_id: str) -> Fact:
    fields = {"item_id": variant["item_id"], "product_id": product_id, "name": name, "options": variant["options"],
              "price": variant["price"], "available": variant["available"]}
    return Fact(f"item:{variant['item_id']}", "product", item_line(variant, name), fields)


def distinguishing(variant: dict, others: list[dict], most: int = 2) -> list[str]:
    """Option values of `variant` that tell it apart from `others` (a value none of them has comes first), at
    most `most`: "the blue Yoga Mat" instead of every option in brackets."""
    if not others:
        return []
    unique = [v for k, v in variant["options"].items() if all(o["options"].get(k) != v for o in others)]
    if unique:
        return unique[:1]
    differing = [v for k, v in variant["options"].items() if any(o["options"].get(k) != v for o in others)]
    return differing[:most]


def order_total(order: dict) -> float:
    return round(sum(p["amount"] for p in order["payment_history"] if p["transaction_type"] == "payment"), 2)


def order_fact(order: dict) -> Fact:
    items = "; ".join(f"{i['name']} ({opts_text(i['options'])}, item {i['item_id']}, ${money(i['price'])})"
                      for i in order["items"])
    tracking = [t for f in order.get("fulfillments", []) for t in f.get("tracking_id", [])]
    pay = order["payment_history"][0]["payment_method_id"] if order["payment_history"] else ""
    text = (f"Order {order['order_id']}: status {order['status']}; items: {items}; total ${money(order_total(order))}"
            f" paid with {pay}" + (f"; tracking {', '.join(tracking)}" if tracking else ""))
    fields = {"order_id": order["order_id"], "user_id": order["user_id"], "status": order["status"],
              "items": order["items"], "total": order_total(order), "payment_method_id": pay, "tracking": tracking}
    return Fact(f"order:{order['order_id']}", "order", text, fields)


def customer_fact(user_id: str, user: dict) -> Fact:
    name = f"{user['name']['first_name']} {user['name']['last_name']}"
    return Fact(f"customer:{user_id}", "customer", f"Identified customer: {name}, user id {user_id}",
                {"user_id": user_id, "name": name})


def policy_sections(policy: str) -> dict[str, str]:
    """policy.md split at its headings: {'cancel-pending-order': text, ...}; the opening part is 'general'."""
    sections, name, lines = {}, "general", []
    for line in policy.splitlines():
        heading = re.match(r"#{1,3}\s+(.*)", line)
        if heading:
            if lines:
                sections[name] = " ".join(" ".join(lines).split())
            name, lines = re.sub(r"[^a-z0-9]+", "-", heading.group(1).lower()).strip("-"), []
        elif line.strip():
            lines.append(line.strip().lstrip("- ").replace("**", ""))
    if lines:
        sections[name] = " ".join(" ".join(lines).split())
    return sections


def policy_fact(sections: dict, name: str) -> Fact:
    return Fact(f"policy:{name}", "policy", sections[name])


class Builder:
    """Turns the raw data into `Example`s; one `random.Random(seed)` drives every choice."""

    def __init__(self, sources: Sources, seed: int = 0):
        from knowledge.faq import load_faq, load_policy
        self.seed, self.rng = seed, random.Random(seed)
        self.products = _read_json(sources.products)
        self.users = _read_json(sources.users)
        self.orders = _read_json(sources.orders)
        self.faq = {f.id: f for f in load_faq(sources.faq)}
        self.policy = policy_sections(load_policy(sources.policy))
        self.bitext = _read_csv(sources.bitext, ",", "utf-8-sig", ("utterance", "intent"))
        self.pqa = _read_csv(sources.pqa, "\t", "utf-8", ("ASIN", "question", "candidate", "answer"))
        self.words = phrasings()

    def faq_fact(self, fid: str) -> Fact:
        entry = self.faq[fid]
        return Fact(f"faq:{fid}", "faq", f"{entry.question} {entry.answer}")

    def pick(self, key: str) -> str:
        return self.rng.choice(self.words[key])

    def held_product(self, product_id: str) -> bool:
        return _held("product:" + product_id, self.seed)

    def held_customer(self, user_id: str) -> bool:
        return _held("customer:" + user_id, self.seed)

    def example(self, kind, message, facts, reply, products=(), customer="", history=(), must_state=(),
                **kw) -> Example:
        held = any(self.held_product(p) for p in products) or bool(customer and self.held_customer(customer))
        request = ReplyRequest(message=message, facts=tuple(facts), template=reply, history=tuple(history),
                               intent=kind, must_state=tuple(must_state))
        return Example(kind, request, reply, tuple(products), customer, held_out=held, **kw)

    # --- catalog -------------------------------------------------------------------------------------------
    def catalog(self):
        for pid, product in self.products.items():
            name, variants = product["name"], list(product["variants"].values())
            for v in variants:
                yield self.product_example(pid, name, v, variants)
            for pair in self.fitting_pairs(variants):
                yield self.pair_example(pid, name, *pair)
            for _ in range(2):
                shown = self.rng.sample(variants, min(4, len(variants)))
                facts = [item_fact(w, name, pid) for w in shown]
                available = [w for w in shown if w["available"]]
                if available:
                    best = min(available, key=lambda w: w["price"])
                    slots = dict(name=name, opts=opts_text(best["options"]), item_id=best["item_id"],
                                 price=price_text(best["price"]))
                    yield self.example("cheapest", self.pick("ask_cheapest").format(name=name), facts,
                                       self.pick("reply_cheapest").format(**slots), [pid])
                line = self.words["reply_option_line"]
                listing = " ".join(line["available" if w["available"] else "unavailable"].format(
                    item_id=w["item_id"], opts=opts_text(w["options"]), price=price_text(w["price"])) for w in shown)
                yield self.example("options", self.pick("ask_options").format(name=name), facts,
                                   self.pick("reply_options").format(name=name, listing=listing), [pid])
                yield self.example("unknown", self.pick("ask_unknown").format(name=name), facts[:2],
                                   self.pick("reply_unknown").format(name=name), [pid])

    def product_example(self, pid: str, name: str, v: dict, variants: list[dict]) -> Example:
        """Price or stock of one variant, alone (as the bot shows the one that fits) or beside two neighbours the
        model must tell it from. The reply answers first, in one short sentence with the price and the stock
        (the bot asks for one of them, the customer often for both), naming only the options that tell it apart."""
        shown = [v]
        if len(variants) > 1 and self.rng.random() < 0.5:
            shown += self.rng.sample([w for w in variants if w is not v], min(2, len(variants) - 1))
            self.rng.shuffle(shown)
        slots = dict(name=name, opts=opts_text(v["options"]), item_id=v["item_id"], price=price_text(v["price"]))
        asked = self.rng.choice(["price", "stock", "price_stock"])
        must = {"price": ("price",), "stock": ("availability",)}.get(asked) or \
            self.rng.choice([("price",), ("availability",)])
        key = f"reply_{'price' if asked == 'price' else 'stock'}_{'in' if v['available'] else 'out'}"
        facts = [item_fact(w, name, pid) for w in shown]
        wording = self.pick(key)
        reply = self.named(wording, facts, v, [w for w in shown if w is not v], slots)
        return self.example("product", self.pick(f"ask_{asked}").format(**slots), facts, reply, [pid],
                            must_state=must)

    def named(self, wording: str, facts, v: dict, others: list[dict], slots: dict) -> str:
        """`wording` with {which} naming the variant so that the claim check can tie the reply to it: by the values
        that tell it apart ("the blue Yoga Mat"), else in the catalog's own "with size 12 and material leather" form
        (a bare value such as "12" or "high" is not read as an option)."""
        name = slots["name"]
        keyed = [f"{k} {x}" for k, x in v["options"].items() if any(o["options"].get(k) != x for o in others)]
        tries = [" ".join(distinguishing(v, others) + [name]), f"{name} with " + " and ".join(keyed[:2])]
        for which in tries:
            reply = wording.format(which=which, **slots)
            if all(c.supported for c in _check(reply, facts)):
                return reply
        return reply

    def fitting_pairs(self, variants: list[dict]):
        """Up to two pairs of variants sharing an option value: what the bot shows when two variants fit."""
        pairs = []
        for _ in range(2):
            if len(variants) < 2:
                break
            a, b = self.rng.sample(variants, 2)
            if any(a["options"].get(k) == x for k, x in b["options"].items()):
                pairs.append((a, b))
        return pairs

    def pair_example(self, pid: str, name: str, a: dict, b: dict) -> Example:
        """Two variants fit the question (the customer named what they share): both prices and stock, told apart
        by what differs."""
        shared = {k: x for k, x in a["options"].items() if b["options"].get(k) == x}
        ta, tb = distinguishing(a, [b], 1), distinguishing(b, [a], 1)
        state = {True: "in stock", False: "out of stock"}
        slots = dict(name=name, opts=opts_text(shared), which_a=" ".join(ta + [name]), which_b=" ".join(tb + [name]),
                     price_a=price_text(a["price"]), price_b=price_text(b["price"]),
                     stock_a=state[a["available"]], stock_b=state[b["available"]])
        facts = [item_fact(w, name, pid) for w in (a, b)]
        return self.example("product", self.pick("ask_pair").format(**slots), facts,
                            self.pick("reply_pair").format(**slots), [pid], must_state=("price",))

    # --- orders and actions --------------------------------------------------------------------------------
    def orders_examples(self):
        sec = self.policy
        user_ids = list(self.users)
        for oid, order in self.orders.items():
            fact, user = order_fact(order), order["user_id"]
            pids = sorted({i["product_id"] for i in order["items"]})
            items = ", ".join(f"{i['name']} ({opts_text(i['options'])})" for i in order["items"])
            slots = dict(order_id=oid, status=order["status"], items=items, total=money(order_total(order)),
                         payment=fact.fields["payment_method_id"], reason=self.rng.choice(CANCEL_REASONS))
            reply = self.pick("reply_order").format(**slots)
            if fact.fields["tracking"] and self.rng.random() < 0.5:
                reply += self.words["reply_tracking"].format(tracking=fact.fields["tracking"][0])
            yield self.example("order_status", self.pick("ask_order").format(**slots), [fact], reply, pids, user)
            roll = self.rng.random()
            cancel_ask = self.pick("ask_cancel").format(**slots)
            cancel_facts = [fact, policy_fact(sec, "cancel-pending-order"), self.faq_fact("cancel-who")]
            if order["status"] == "pending" and roll < 0.4:
                confirm = self.pick("reply_confirm_cancel").format(**slots)
                yield self.example("confirm", cancel_ask, cancel_facts, confirm, pids, user)
                gift = slots["payment"].startswith("gift_card")
                refund_time = "immediately" if gift else "in 5 to 7 business days"
                done = Fact(f"action:cancel:{oid}", "action", f"Order {oid} was cancelled (reason: {slots['reason']});"
                            f" ${slots['total']} refunded to {slots['payment']}",
                            {"order_id": oid, "status": "cancelled", "refund": order_total(order)})
                yield self.example("action_result", self.pick("confirm_yes"), [done, *cancel_facts],
                                   self.pick("reply_cancelled").format(refund_time=refund_time, **slots), pids, user,
                                   history=[("user", cancel_ask), ("assistant", confirm)])
            elif order["status"] == "pending" and roll < 0.5:
                ask = f"Cancel {oid}, I found it cheaper somewhere else."
                yield self.example("refusal", ask, cancel_facts, self.pick("reply_refuse_reason").format(**slots),
                                   pids, user)
            elif order["status"] != "pending" and roll < 0.3:
                reply = self.pick("reply_refuse_cancel").format(**slots)
                facts = list(cancel_facts)
                if order["status"] == "delivered":
                    reply += self.words["reply_refuse_cancel_delivered"]
                    facts += [self.faq_fact("return-who"), self.faq_fact("exchange-who")]
                yield self.example("refusal", cancel_ask, facts, reply, pids, user)
            elif roll < 0.6:
                item = self.rng.choice(order["items"])
                rslots = dict(slots, item_name=item["name"], item_id=item["item_id"], price=money(item["price"]))
                ask = self.pick("ask_return").format(**rslots)
                rfacts = [fact, policy_fact(sec, "return-delivered-order"), self.faq_fact("return-who")]
                if order["status"] == "delivered":
                    confirm = self.pick("reply_confirm_return").format(**rslots)
                    yield self.example("confirm", ask, rfacts, confirm, pids, user)
                    done = Fact(f"action:return:{oid}", "action", f"Return requested for item {item['item_id']} of "
                                f"order {oid}; status return requested", {"order_id": oid, "status": "return requested"})
                    yield self.example("action_result", self.pick("confirm_yes"), [done, *rfacts],
                                       self.pick("reply_returned").format(**rslots), pids, user,
                                       history=[("user", ask), ("assistant", confirm)])
                else:
                    yield self.example("refusal", ask, rfacts, self.pick("reply_refuse_return").format(**rslots),
                                       pids, user)
            elif roll < 0.68:
                # the asking customer is held out exactly when the order is, so the order stays in one split
                order_held = self.held_customer(user) or any(self.held_product(p) for p in pids)
                other = self.rng.choice([u for u in user_ids if u != user and self.held_customer(u) == order_held])
                owner = Fact(f"order:{oid}", "order", f"Order {oid} is not on the identified customer's account",
                             {"order_id": oid, "own_order": False})
                facts = [customer_fact(other, self.users[other]), owner, self.faq_fact("other-customer")]
                ex = self.example("refusal", self.pick("ask_order").format(**slots), facts,
                                  self.pick("reply_other_customer").format(**slots), pids, other)
                ex.held_out = ex.held_out or self.held_customer(user)  # the order's owner is a customer too
                yield ex

    # --- FAQ, policy, hand-overs ---------------------------------------------------------------------------
    def faq_examples(self):
        by_target: dict[str, list[str]] = {}
        for row in self.bitext:
            target = BITEXT_MAP.get(row["intent"])
            if target:
                by_target.setdefault(target, []).append(row["utterance"].strip())
        for texts in by_target.values():
            self.rng.shuffle(texts)
        for fid, entry in self.faq.items():
            fact = Fact(f"faq:{fid}", "faq", f"{entry.question} {entry.answer}")
            held = _held("faq:" + fid, self.seed)
            others = self.rng.sample([f for f in self.faq if f != fid], 1)
            facts = [fact] + [Fact(f"faq:{o}", "faq", f"{self.faq[o].question} {self.faq[o].answer}") for o in others]
            asks = [entry.question] + by_target.get(f"faq:{fid}", [])[:PER_INTENT]
            for ask in asks:
                self.rng.shuffle(facts)
                ex = self.example("policy", ask, list(facts), entry.answer)
                ex.held_out = held
                yield ex
        transfer = policy_fact(self.policy, "retail-agent-policy")
        for kind, reply_key, asks in (
                ("handover", "reply_handover", self.words["ask_human"] + by_target["handover"][:PER_INTENT]),
                ("handover", "reply_out_of_scope", self.words["ask_out_of_scope"]
                 + by_target["out_of_scope"][:PER_INTENT])):
            for ask in asks:
                ex = self.example(kind, ask, [transfer], self.pick(reply_key))
                ex.held_out = self.rng.random() < HOLDOUT
                yield ex
        for ask in by_target["unknown"][:PER_INTENT]:
            facts = [Fact("faq:order-statuses", "faq", f"{self.faq['order-statuses'].question} "
                          f"{self.faq['order-statuses'].answer}")] if self.rng.random() < 0.5 else []
            ex = self.example("unknown", ask, facts, self.pick("reply_no_facts"))
            ex.held_out = self.rng.random() < HOLDOUT
            yield ex

    # --- real shopper questions ----------------------------------------------------------------------------
    def pqa_examples(self):
        rows = [r for r in self.pqa if r["candidate"].strip() and r["answer"].strip() and _answer_grounded(r)]
        self.rng.shuffle(rows)
        for row in rows[:PQA_MAX]:
            asin = row["ASIN"].strip()
            fact = Fact(f"item:{asin}", "product", " ".join(row["candidate"].split()), {"asin": asin})
            ex = self.example("shopper_qa", row["question"].strip(), [fact], _sentence(row["answer"]),
                              source="amazon-pqa")
            ex.products, ex.held_out = (asin,), _held("asin:" + asin, self.seed)
            yield ex

    def build(self) -> list[Example]:
        examples = [*self.catalog(), *self.orders_examples(), *self.faq_examples(), *self.pqa_examples()]
        self.rng.shuffle(examples)
        kept = [e for e in examples if supported(e)]
        self.dropped = Counter(e.kind for e in examples) - Counter(e.kind for e in kept)
        return kept


def _check(reply: str, facts) -> list:
    from .claims import check
    return check(reply, facts).claims


def supported(example: Example) -> bool:
    """Whether the claim checker finds every claim of the reply in the example's facts.

    Real shoppers' answers sometimes say more than their evidence; such examples (and the rare template whose
    wording the checker reads differently) are left out, so the model never learns an unsupported claim.
    """
    from .claims import check
    return all(c.supported for c in check(example.reply, example.request.facts).claims)


def _numbers(text: str) -> set[str]:
    return set(re.findall(r"\d+(?:\.\d+)?", text))


def _answer_grounded(row: dict) -> bool:
    """Keep a human answer only if every number in it appears in its evidence (the rest is wording)."""
    return _numbers(row["answer"]) <= _numbers(row["candidate"])


def _sentence(text: str) -> str:
    text = " ".join(text.split()).strip()
    return text[:1].upper() + text[1:]


def build_examples(data_root: str | Path | None = None, seed: int = 0) -> list[Example]:
    """Every example, shuffled; split membership is `Example.held_out`. Cached per process (~20 s to build)."""
    return list(_build_cached(str(Path(data_root).resolve()) if data_root else "", seed)[0])


def dropped_examples(data_root: str | Path | None = None, seed: int = 0) -> Counter:
    """How many examples of each kind the claim check left out of the last build."""
    return _build_cached(str(Path(data_root).resolve()) if data_root else "", seed)[1]


@lru_cache(maxsize=4)
def _build_cached(data_root: str, seed: int) -> tuple[tuple[Example, ...], Counter]:
    builder = Builder(Sources.from_root(data_root or None), seed)
    return tuple(builder.build()), builder.dropped


def write_jsonl(examples, out_dir: str | Path) -> dict[str, Path]:
    """Write train.jsonl and val.jsonl (one chat record per line); returns their paths."""
    from .prompting import build_messages
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"train": out / "train.jsonl", "val": out / "val.jsonl"}
    handles = {k: open(p, "w", encoding="utf-8") for k, p in paths.items()}
    try:
        for ex in examples:
            record = ex.record(build_messages)
            handles[record["split"]].write(json.dumps(record, ensure_ascii=False) + "\n")
    finally:
        for h in handles.values():
            h.close()
    return paths


def read_jsonl(path: str | Path) -> list[dict]:
    """Read a written split; a missing file or a bad line names the file and the line."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(path, "dataset file is missing; build it with `python -m trustgen.dataset`")
    records = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                messages = record["messages"]
                assert messages and messages[-1]["role"] == "assistant"
            except (json.JSONDecodeError, KeyError, TypeError, AssertionError):
                raise DatasetError(path, f"line {n} is not a chat record ending with the assistant's reply") from None
            records.append(record)
    if not records:
        raise DatasetError(path, "dataset file is empty")
    return records


def facts_of(record: dict) -> tuple[Fact, ...]:
    return tuple(Fact(f["id"], f["kind"], f["text"], f.get("fields", {})) for f in record.get("facts", []))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Build the grounded training set (train.jsonl, val.jsonl).")
    parser.add_argument("--data-root", default=None, help=f"shared data folder; default {DEFAULT_DATA_ROOT}")
    parser.add_argument("--out", required=True, help="folder to write train.jsonl and val.jsonl into")
    parser.add_argument("--seed", type=int, default=0, help="seed for phrasing choices and the split")
    args = parser.parse_args(argv)
    try:
        examples = build_examples(args.data_root, args.seed)
    except TrustgenError as exc:
        print(f"error: {exc}")
        return 2
    paths = write_jsonl(examples, args.out)
    counts = {k: sum(1 for e in examples if (e.held_out == (k == "val"))) for k in paths}
    print(f"wrote {counts['train']} training and {counts['val']} validation examples to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

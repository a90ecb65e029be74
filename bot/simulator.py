"""A scripted customer that plays one tau-bench retail task against the assistant, reading only the reply's text.

What it knows is what the task's customer knows: who they are (the instruction's emails, or name and zip), what
they want (the gold actions: order, items, new options, reason, payment method, address), what they bought (their
own orders' products and options) and their own payment methods. What it hears is the reply's words only: `hear`
decides what the assistant asked with the cue phrases of bot/data/sim/asks.yaml, never from any field a person
does not see. What it says comes from a style's phrasings (bot/data/sim/plain.yaml: whole sentences, the same every
run; casual.yaml: lower case, short answers, everyday item names, details volunteered, typos in filler words,
picked afresh for each repeat). It is not a language model, and it does not voice the instructions' side wishes.
Run it through `shopbot eval scenarios [--style casual]` (bot/evaluate.py).
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

STYLES = ("plain", "casual")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
SENTENCE_END = re.compile(r"(?<=[.?!])\s+(?=[A-Z\"'(#-])|\n+")
ASK_KINDS = ("confirm", "identify", "reason", "payment", "address", "order", "items", "choice", "new_item")


def _data(name: str) -> dict:
    return yaml.safe_load((resources.files("bot") / "data" / "sim" / name).read_text(encoding="utf-8"))


# ------------------------------------------------------------------ hearing the reply
@dataclass(frozen=True)
class Heard:
    """What a reply asks (`kind`: one of ASK_KINDS), or how it left the request (done, declined, refused,
    handover, unclear), or `other`; `sentence` is the words that decided it (the question, for ask kinds)."""

    kind: str
    sentence: str = ""


@lru_cache(maxsize=1)
def cues() -> dict:
    raw = _data("asks.yaml")
    comp = lambda pats: [re.compile(p, re.I) for p in pats]  # noqa: E731
    return {"version": raw["version"], "asking": comp(raw["asking_sentence"]),
            "ask": {k: comp(v) for k, v in raw["ask"].items()},
            "ask_statement": {k: comp(v) for k, v in raw["ask_statement"].items()},
            "status": {k: comp(v) for k, v in raw["status"].items()}}


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(text or "") if s and s.strip()]


def hear(text: str) -> Heard:
    """Read what the assistant asked, from its words only (see bot/data/sim/asks.yaml for the order of reading)."""
    c = cues()
    parts = sentences(text)
    for sent in reversed(parts):
        if not any(p.search(sent) for p in c["asking"]):
            continue
        for kind, pats in c["ask"].items():
            if any(p.search(sent) for p in pats):
                return Heard(kind, sent)
    for group in ("ask_statement", "status"):
        for kind, pats in c[group].items():
            for sent in parts:
                if any(p.search(sent) for p in pats):
                    return Heard(kind, sent)
    return Heard("other")


# ------------------------------------------------------------------ speaking
def describe_options(options: dict) -> str:
    return ", ".join(f"{k}: {v}" for k, v in options.items())


class Voice:
    """One style's phrasings; `pick` chooses among them with the run's own random generator."""

    def __init__(self, style: str, rng: random.Random):
        if style not in STYLES:
            raise ValueError(f"unknown customer style {style!r}: choose one of {', '.join(STYLES)}")
        self.d = _data(f"{style}.yaml")
        self.style, self.rng = style, rng
        self.typos = {k.lower(): v for k, v in (self.d.get("typos") or {}).items()}
        self.shorts = self.d.get("short_names") or {}

    def __getattr__(self, key):  # settings of the style file: lower, drop_hash, short_items, volunteer, ...
        try:
            return self.__dict__["d"][key]
        except KeyError:
            raise AttributeError(key) from None

    def chance(self, p: float) -> bool:
        return p > 0 and self.rng.random() < p

    def pick(self, key, **fields) -> str:
        options = self.d[key] if isinstance(key, str) else key
        template = self.rng.choice(options) if options else ""
        return self.typo(template).format(**fields)

    def typo(self, template: str) -> str:
        """Mistype some filler words of a template (never a field: ids, names and values stay as they are)."""
        if not self.typos:
            return template
        def swap(m):
            word = m.group(0)
            alts = self.typos.get(word.lower())
            return self.rng.choice(alts) if alts and self.chance(self.d["typo_rate"]) else word
        return re.sub(r"(?<![{\w'])[A-Za-z']+(?![\w}])", swap, template)

    def case(self, text: str) -> str:
        return text.lower() if self.lower else text

    def value(self, key: str, value: str) -> str:
        """An option value as a person says it: 'white', 'size 10', 'waterproof', 'no backlight'."""
        if not self.short_items:
            return f"{key}: {value}"
        words = self.d.get("value_words") or {}
        if value.lower() in words:
            return words[value.lower()].format(key=key)
        if re.fullmatch(r"[\d.]+|[SMLX]{1,3}", value):
            return f"{key} {value}" if key in self.d.get("number_first", []) else f"{value} {key}"
        return value

    def values(self, options: dict, keys: bool = False) -> str:
        if keys or not self.short_items:
            return describe_options(options)
        return " ".join(self.value(k, v) for k, v in options.items())

    def names_for(self, name: str) -> list[str]:
        return self.shorts.get(name, []) + [name.split()[-1].lower()]

    def short_name(self, name: str, others: set[str] | list[str]) -> str:
        """The everyday name of a product ('kettle') that none of the `others` (product names) also goes by:
        with an Action Camera in the same order, the Digital Camera is not 'the camera'."""
        taken = {n for o in others if o != name for n in self.names_for(o)} | {o.lower() for o in others if o != name}
        for short in self.names_for(name):
            if short not in taken:
                return short
        return name.lower()

    def join(self, parts: list[str]) -> str:
        if len(parts) <= 1:
            return "".join(parts)
        return self.d["list_sep"].join(parts[:-1]) + self.d["and"] + parts[-1]


# ------------------------------------------------------------------ the customer
class Customer:
    """Plays one task: `first_message()`, then `answer(reply_text)` until it returns None."""

    def __init__(self, task: dict, store, style: str = "plain", repeat: int = 0):
        self.task, self.store = task, store
        self.voice = Voice(style, random.Random(f"{task.get('id', task['user_id'])}:{style}:{repeat}"))
        self.instruction = task["instruction"]
        self.user = store.get_user(task["user_id"])
        self.emails = EMAIL.findall(self.instruction)
        m = re.search(r"name is ([A-Z][\w'-]+) ([A-Z][\w'-]+)", self.instruction)
        self.name = (m.group(1), m.group(2)) if m else None
        z = re.search(r"zip code is (\d{5})", self.instruction)
        self.zip = z.group(1) if z else None
        self.actions = list(task["actions"])
        self.step = 0
        self.tries_identify = 0
        self.asked: dict[tuple, int] = {}
        self.restated: dict[int, int] = {}
        self.refused_listing: set[int] = set()
        self.done = False
        self.heard: list[Heard] = []
        self.events: list[str] = []  # what went wrong, as the customer saw it: the evaluation's failure categories

    # -------------------------------------------------------------- what the customer knows, in words
    def current(self) -> dict | None:
        return self.actions[self.step] if self.step < len(self.actions) else None

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

    def order_id(self, order_id: str) -> str:
        return order_id.lstrip("#") if self.voice.drop_hash else order_id

    def order_phrase(self, order_id: str) -> str:
        if order_id.lstrip("#") in self.instruction:
            return self.voice.pick("order_given", id=self.order_id(order_id))
        return self.voice.pick("order_unnamed")

    def item_name(self, item: dict, order: dict, full: bool = False) -> str:
        """'the Water Bottle (capacity: 1000ml, ...)' plainly; casually 'the bottle', with the options that tell
        it apart when another item of the order goes by the same name, or all of them when `full`."""
        v = self.voice
        if not v.short_items:
            return f"the {item['name']} ({describe_options(item['options'])})"
        short = v.short_name(item["name"], {i["name"] for i in order["items"]})
        twins = [i for i in order["items"] if i["name"] == item["name"] and i["item_id"] != item["item_id"]]
        if full:
            return f"the {v.values(item['options'])} {short}"
        if twins:
            differ = {k: x for k, x in item["options"].items() if any(t["options"].get(k) != x for t in twins)}
            return f"the {v.values(differ)} {short}"
        return f"the {short}"

    def items_phrase(self, action, full: bool = False) -> str:
        order = self.store.get_order(action["kwargs"]["order_id"])
        names = [self.item_name(i, order, full) for i in self.order_items(action)]
        if not self.voice.short_items:  # the plain customer's sentence, as it has always been said
            return " and ".join(names).capitalize()
        return self.voice.join(names)

    def new_phrase(self, old: dict, new: dict, level: int) -> str:
        """The new variant: first only the options that change, then all of them, then with their names."""
        changed = {k: v for k, v in new["options"].items() if old["options"].get(k) != v}
        if level == 0 and changed:
            return self.voice.values(changed)
        return self.voice.values(new["options"], keys=level >= 2)

    def pairs_phrase(self, action) -> str:
        order = self.store.get_order(action["kwargs"]["order_id"])
        pairs = zip(self.order_items(action), action["kwargs"].get("new_item_ids", []))
        return self.voice.join([self.voice.pick("pair", old=self.item_name(old, order).removeprefix("the "),
                                                new=self.new_phrase(old, self.store.get_variant(nid), 0))
                                for old, nid in pairs])

    def method_phrase(self, method_id: str, refund: bool = False, order_id: str | None = None) -> str:
        v = self.voice
        if refund and order_id and v.d["method"].get("original") and v.chance(0.3):
            paid = self.store.get_order(order_id)["payment_history"][0]["payment_method_id"]
            if paid == method_id:
                return v.pick(v.d["method"]["original"])
        m = self.user["payment_methods"][method_id]
        return v.pick(v.d["method"][m["source"]], brand=m.get("brand", "credit"), last4=m.get("last_four", ""))

    @staticmethod
    def address_phrase(a: dict) -> str:
        parts = [a["address1"], a.get("address2", ""), a["city"], f"{a['state']} {a['zip']}", a["country"]]
        return ", ".join(p for p in parts if p)

    def reason_phrase(self, reason: str) -> str:
        table = self.voice.d["reason"]
        return self.voice.pick(table.get(reason) or table["other"])

    # -------------------------------------------------------------- messages
    def opener(self, action: dict, full: bool = False) -> str:
        v, kw, name = self.voice, action["kwargs"], action["name"]
        templates = v.d["open"][name]
        if isinstance(templates, dict):
            templates = templates["full"] if full or v.chance(v.volunteer) else templates["short"]
        fields = {"order": self.order_phrase(kw["order_id"]) if "order_id" in kw else "",
                  "address": self.address_phrase(kw) if "zip" in kw else ""}
        template = v.rng.choice(templates)
        if "{items}" in template:
            fields["items"] = self.items_phrase(action)
        if "{pairs}" in template:
            fields["pairs"] = self.pairs_phrase(action)
        if "{reason}" in template:
            fields["reason"] = self.reason_phrase(kw.get("reason", ""))
        if "{method}" in template:
            fields["method"] = self.method_phrase(kw["payment_method_id"], refund=name.startswith("return"),
                                                  order_id=kw.get("order_id"))
        return self.say(v.typo(template).format(**fields))

    def say(self, text: str) -> str:
        """Lower-case a casual message, except the parts people paste (addresses) and emails."""
        if not self.voice.lower:
            return text
        keep = [self.address_phrase(a["kwargs"]) for a in self.actions if "zip" in a["kwargs"]]
        out = text.lower()
        for k in keep:
            out = out.replace(k.lower(), k)
        return out

    def first_message(self) -> str:
        v = self.voice
        action = self.current()
        if action is None:  # nothing to change: the customer voices their wish and keeps everything
            return self.say(v.pick(v.d["open"]["nothing"]))
        intro = v.pick("greet")
        if v.chance(v.identify_first) and (self.emails or (self.name and self.zip)):
            who = (v.pick("identify_who_email", email=self.emails[0]) if self.emails else
                   v.pick("identify_who_name", first=self.name[0], last=self.name[1], zip=self.zip))
            # not counted as a try: asked who they are, a person says the same again before anything else
            intro += v.pick("identify_volunteer", who=who)
        return self.say(intro) + self.opener(action)

    def identify(self) -> str | None:
        v = self.voice
        self.tries_identify += 1
        if self.tries_identify <= len(self.emails):
            return self.say(v.pick("identify_email", email=self.emails[self.tries_identify - 1]))
        if self.name and self.zip and self.tries_identify <= len(self.emails) + 1:
            first, last = self.name
            if v.lower and v.chance(0.5):
                first, last = first.lower(), last.lower()
            return v.pick("identify_name", first=first, last=last, zip=self.zip)
        if self.tries_identify <= len(self.emails) + 2:
            return self.say(v.pick("identify_unknown"))
        return None

    def answer(self, reply_text: str) -> str | None:
        """The customer's next message after the assistant's reply, or None when they are done."""
        heard = hear(reply_text)
        self.heard.append(heard)
        v, action = self.voice, self.current()
        if heard.kind == "identify":
            if len(self.turns_heard("identify")) == 2:
                self.events.append("asked again: identify")
            return self.identify()
        if heard.kind == "handover":  # a person takes over; the scripted customer has nothing more to add
            self.events.append("handed over")
            return None
        if action is None:
            return self.finish()
        kw = action["kwargs"]
        item = self.asked_item(action, heard, reply_text) if heard.kind in ("new_item", "choice") else None
        key = (self.step, heard.kind, item[0]["item_id"] if item else "")
        n = self.asked[key] = self.asked.get(key, 0) + 1
        if heard.kind in ASK_KINDS and n == 2 and heard.kind != "order":  # an order is described, then numbered
            self.events.append(f"asked again: {heard.kind}")
        if heard.kind in ASK_KINDS and n > 3:
            return self.move_on(v.pick("never_mind"))
        if heard.kind == "order" and "order_id" in kw:
            if n >= 2 or kw["order_id"].lstrip("#") in self.instruction:
                return self.say(v.pick("order_id", id=self.order_id(kw["order_id"])))
            order = self.store.get_order(kw["order_id"])
            names = list(dict.fromkeys(i["name"] for i in order["items"]))
            if v.short_items:  # a person names one or two things they remember from it
                names = [v.short_name(x, set(names)) for x in names][:2]
            return self.say(v.pick("order_describe", names=" and the ".join(names)))
        if heard.kind == "items" and "item_ids" in kw:
            if not v.short_items:
                return v.pick("items", items=self.items_phrase(action))
            return self.say(v.pick("items" if n == 1 else "items_full", items=self.items_phrase(action, n > 1)))
        if heard.kind in ("new_item", "choice") and item:
            old, new = item
            level = min(2, n - 1 + (heard.kind == "choice"))
            return self.say(v.pick("new_item" if level == 0 else "new_item_full", new=self.new_phrase(old, new, level))
                            if v.short_items else v.pick("new_item", new=self.new_phrase(old, new, level)))
        if heard.kind == "reason":
            return self.say(self.reason_phrase(kw.get("reason", "")))
        if heard.kind == "payment" and "payment_method_id" in kw:
            refund = action["name"].startswith("return")
            return self.say(v.pick("payment", method=self.method_phrase(kw["payment_method_id"], refund,
                                                                       kw.get("order_id"))))
        if heard.kind == "address" and "zip" in kw:
            return self.say(v.pick("address", address=self.address_phrase(kw)))
        if heard.kind == "confirm":
            if self.listing_matches(action, reply_text):
                return self.say(v.pick("say_yes"))
            self.refused_listing.add(self.step)
            self.events.append("confirmation lists something else")
            return self.say(v.pick("say_no"))
        if heard.kind in ("done", "refused"):
            if heard.kind == "refused":  # sometimes right (the store would refuse too); in a failed run, a clue
                self.events.append("refused: " + re.sub(r"#?W\d{7}", "#W…", heard.sentence)[:80])
            return self.move_on("")
        # declined (after our "no"), unclear, an answer to something else, or a question this customer has no
        # answer for: say the request again, in full, at most twice; then give it up
        self.restated[self.step] = self.restated.get(self.step, 0) + 1
        if heard.kind != "declined":
            self.events.append(f"request not taken up ({heard.kind})")
        if self.restated[self.step] > 2:
            return self.move_on(v.pick("never_mind"))
        return self.say(v.pick("restate")) + self.opener(action, full=True)

    def turns_heard(self, kind: str) -> list[Heard]:
        return [h for h in self.heard if h.kind == kind]

    def asked_item(self, action, heard: Heard, text: str) -> tuple[dict, dict] | None:
        """(old item, new variant) the assistant's question is about: named in the question, else in the reply."""
        pairs = [(old, self.store.get_variant(nid))
                 for old, nid in zip(self.order_items(action), action["kwargs"].get("new_item_ids", []))]
        for asked in (heard.sentence.lower(), text.lower()):
            for test in (lambda o: f"{o['name']} ({describe_options(o['options'])})".lower() in asked,
                         lambda o: o["name"].lower() in asked,
                         lambda o: any(s in asked for s in self.voice.shorts.get(o["name"], []))):
                for old, new in pairs:
                    if test(old):
                        return old, new
        return pairs[0] if pairs else None

    def listing_matches(self, action, text: str) -> bool:
        """Does the confirmation list what this customer asked for? Order, items, new options, payment, address,
        reason: each must be there; an item of the order the customer did not name must not be."""
        t, kw, name = text.lower(), action["kwargs"], action["name"]
        need: list[str] = []
        if "order_id" in kw and "item_ids" not in kw:  # item changes are told apart by their items
            need.append(kw["order_id"].lstrip("#").lower())
        if "zip" in kw:
            need += [kw["zip"], kw["address1"].lower()]
        if "reason" in kw:
            need.append("mistake" if kw["reason"] == "ordered by mistake" else "no longer")
        if "payment_method_id" in kw:
            m = self.user["payment_methods"][kw["payment_method_id"]]
            need.append(m["last_four"] if m["source"] == "credit_card" else
                        "gift card" if m["source"] == "gift_card" else "paypal")
        if "item_ids" in kw:
            mine = self.order_items(action)
            need += [i["name"].lower() for i in mine]
            for nid in kw.get("new_item_ids", []):
                need += [str(x).lower() for x in self.store.get_variant(nid)["options"].values()]
            order = self.store.get_order(kw["order_id"])
            names = {i["name"] for i in mine}
            if any(i["name"].lower() in t for i in order["items"] if i["name"] not in names):
                return False
        return all(x in t for x in need)

    def move_on(self, prefix: str) -> str | None:
        self.step += 1
        action = self.current()
        if action is None:
            return self.finish(prefix)
        lead = (prefix + " " if prefix else "") + self.say(self.voice.pick("also"))
        return lead + self.opener(action)

    def finish(self, prefix: str = "") -> str | None:
        if self.done:
            return None
        self.done = True
        return (prefix + " " if prefix else "") + self.say(self.voice.pick("finish"))

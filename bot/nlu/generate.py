"""Training and dev messages for the reader, each with the dialogue state before it and its Reading.

Messages are written from the phrasing families in bot/data/nlu/phrasings_en.yaml, filled with the shop's real
products, values, customers and orders; order tasks come from the tau-bench tasks (train tasks for training, dev
tasks for the dev split). Casual style is applied at random: lower case, no final punctuation, fillers, typos in
filler words, several requests in one message, follow-ups that refer back. Families named "dev*" never reach
training. Run `python -m bot.nlu.generate --split dev --n 400` to print examples.
"""
from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import yaml

from ..reading import (CatalogQuery, ItemChange, ItemRef, Payment, Reading, Request, empty_focus, pairs)
from .lexicon import language_data

FILLER_TYPOS = {"please": ["pls", "plz", "pleas"], "thanks": ["thx", "thnks"], "what": ["waht", "wat"],
                "the": ["teh"], "want": ["wnat", "wanna"], "you": ["u", "yuo"], "know": ["kno"],
                "order": ["ordr"], "would": ["wold"], "like": ["liek"]}
PREFIXES = ["", "", "", "hi, ", "hey ", "um ", "so ", "ok so ", "hello, ", "quick question, "]
SUFFIXES = ["", "", "", " please", " pls", " thanks", " thx", "?"]
NEW_REQUESTS = ("order_task", "account_info", "catalog:price", "catalog:stock", "catalog:count", "policy")
TASK_QUESTIONS = ("order", "items", "new_item", "choice", "reason", "payment", "confirm", "address")  # asked mid-task


@dataclass
class Example:
    text: str
    reading: dict
    state: dict = field(default_factory=dict)
    clauses: list = field(default_factory=list)  # (clause text, awaiting, label) for the clause classifier
    family: str = ""

    def to_json(self) -> dict:
        return {"text": self.text, "state": self.state, "reading": self.reading, "family": self.family}


@lru_cache(maxsize=2)
def phrasings(language: str = "en") -> dict:
    raw = (resources.files("bot") / "data" / "nlu" / f"phrasings_{language}.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(raw)


def tau_tasks(split: str) -> list[dict]:
    name = "tasks_dev.json" if split == "dev" else "tasks_train.json"
    return json.loads((resources.files("bot") / "data" / "tau_bench" / name).read_text(encoding="utf-8"))


class Generator:
    def __init__(self, store, split: str = "train", seed: int = 0, language: str = "en"):
        self.store, self.split, self.rng = store, split, random.Random(seed)
        self.p = phrasings(language)
        self.lex = language_data(language)
        self.variants = store.variants()
        self.by_product: dict[str, list[dict]] = {}
        for v in self.variants:
            self.by_product.setdefault(v["product_id"], []).append(v)
        self.names = {pid: vs[0]["name"] for pid, vs in self.by_product.items()}
        self.aliases = {n.lower(): a for n, a in self.lex.get("product_aliases", {}).items()}
        self.tasks = [t for t in tau_tasks(split) if t.get("actions")]
        from .lexicon import Lexicon
        self.lexicon = Lexicon(self.variants, language)

    # ---------------------------------------------------------------- pieces
    def families(self, table: dict) -> list[list[str]]:
        keep = [v for k, v in table.items() if k.startswith("dev") == (self.split == "dev")]
        return keep

    def template(self, table: dict) -> tuple[str, str]:
        names = [k for k in table if k.startswith("dev") == (self.split == "dev")]
        name = self.rng.choice(names)
        return self.rng.choice(table[name]), name

    def piece(self, key: str) -> str:
        return self.template(self.p["pieces"][key])[0]

    def product_phrase(self, pid: str, plural: bool = False) -> str:
        name = self.names[pid]
        options = [name, name.lower(), name.lower()]
        for alias in self.aliases.get(name.lower(), []):
            if self.lexicon.products_in(alias) == [pid]:
                options.append(alias)
        head = name.lower().split()[-1]
        if len(name.split()) > 1 and self.lexicon.products_in(head) == [pid]:
            options.append(head)
        phrase = self.rng.choice(options)
        if self.rng.random() < 0.15 and len(phrase) > 6:  # a typo in the product name
            i = self.rng.randrange(1, len(phrase) - 2)
            if phrase[i].isalpha() and phrase[i + 1].isalpha():
                phrase = phrase[:i] + phrase[i + 1] + phrase[i] + phrase[i + 2:]
        if plural and not phrase.endswith("s"):
            phrase += "es" if phrase.endswith(("sh", "ch", "x")) else "s"
        article = self.rng.choice(["the ", "the ", "a ", "", "your "]) if not plural else self.rng.choice(["", "your "])
        return article + phrase

    def values_phrase(self, pid: str, k: int) -> tuple[str, dict]:
        variant = self.rng.choice(self.by_product[pid])
        opts = list(variant["options"].items())
        self.rng.shuffle(opts)
        chosen = {}
        for key, value in opts:
            if len(chosen) >= k:
                break
            if self.usable_value(pid, key, value):
                chosen[key] = value
        return " ".join(chosen.values()), chosen

    def usable_value(self, pid, key, value) -> bool:
        """A value that names one option of this product unambiguously ("blue"; not "yes" or "none")."""
        if value.lower() in ("yes", "no", "none") or len(value) <= 1:
            return False
        hits = {(p, o) for p, o, _ in self.lexicon.values.get(tuple(self.lexicon_tokens(value)), set()) if p == pid}
        return len(hits) == 1

    def lexicon_tokens(self, text):
        from .lexicon import _norm_phrase
        return _norm_phrase(text)

    def product_with_values(self, pid: str) -> tuple[str, dict]:
        values, chosen = self.values_phrase(pid, self.rng.choice([0, 1, 1, 2]))
        name = self.product_phrase(pid)
        if not chosen:
            return name, {}
        bare = re.sub(r"^(the|a|your) ", "", name)
        style = self.rng.random()
        if style < 0.5:
            return f"the {values} {bare}", chosen
        if style < 0.8:
            return f"{name} in {values}", chosen
        return f"{name}, {values}", chosen

    def amount(self) -> tuple[str, float | None, float | None]:
        n = self.rng.choice([20, 30, 50, 75, 100, 150, 190, 200, 250, 300, 500, 519, 1000])
        if self.rng.random() < 0.75:
            return self.piece("price_max").replace("{n}", str(n)), None, float(n)
        return self.piece("price_min").replace("{n}", str(n)), float(n), None

    # ---------------------------------------------------------------- one request
    def catalog_request(self, label: str, state: dict) -> tuple[str, Request]:
        want = label.split(":")[1]
        table = self.p["requests"][label]
        tpl, _ = self.template(table)
        pid = self.rng.choice(list(self.by_product))
        q = {"want": want, "product_ids": (pid,)}
        text = tpl
        if want in ("refine", "focus_stock", "focus_price", "focus_option"):
            return self.focus_request(want, tpl, state)
        if want == "sell":
            x = self.rng.choice(self.p["pieces"]["unknown_products"])
            return tpl.replace("{X}", x), Request("catalog", catalog=CatalogQuery(want="sell", unknown_product=x))
        if "{PV2}" in text:
            pid2 = self.rng.choice([p for p in self.by_product if p != pid])
            a, oa = self.product_with_values(pid)
            b, ob = self.product_with_values(pid2)
            text = text.replace("{PV}", a).replace("{PV2}", b)
            refs = (ItemRef(product_id=pid, options=pairs(oa)), ItemRef(product_id=pid2, options=pairs(ob)))
            return text, Request("catalog", catalog=CatalogQuery(want="compare", product_ids=(pid, pid2), compare=refs))
        options: dict = {}
        if "{PV}" in text:
            phrase, options = self.product_with_values(pid)
            text = text.replace("{PV}", phrase)
        if "{P}" in text:
            text = text.replace("{P}", self.product_phrase(pid, plural=want in ("list", "count") and self.rng.random() < 0.6))
        if "{O}" in text:
            option = self.rng.choice(sorted(self.by_product_options(pid)))
            text = text.replace("{O}", self.option_word(option))
            q["option"] = option
        lo = hi = None
        if "{N}" in text:
            if self.rng.random() < 0.6:
                phrase, lo, hi = self.amount()
                text = text.replace("{N}", phrase)
            else:
                text = text.replace(" {N}", "").replace("{N}", "")
        in_stock = None
        if "{STOCK}" in text:
            if self.rng.random() < 0.7:
                text = text.replace("{STOCK}", self.piece("stock"))
                in_stock = True
            else:
                text = text.replace(" {STOCK}", "")
        if self.asks_available(tpl):
            in_stock = True  # the template itself asks for what is in stock
        if want == "stock":
            in_stock = None
        query = CatalogQuery(want=want, product_ids=(pid,), options=pairs(options), option=q.get("option", ""),
                             price_min=lo, price_max=hi, in_stock=in_stock)
        return text, Request("catalog", catalog=query)

    def asks_available(self, template: str) -> bool:
        """The wording asks for what can be ordered now (the lexicon's in-stock words)."""
        low = f" {template.lower()} "
        return any(f" {w} " in low or f" {w}?" in low for w in self.lex.get("in_stock", []))

    def by_product_options(self, pid):
        return {k for v in self.by_product[pid] for k in v["options"]}

    def option_word(self, option: str) -> str:
        words = self.lex.get("option_names", {}).get(option) or [option]
        good = [w for w in words if w not in ("made of", "long", "tall")]
        return self.rng.choice(good or [option])

    def focus_request(self, want: str, tpl: str, state: dict) -> tuple[str, Request]:
        """A follow-up on the product in focus: the state before it says which."""
        pid = self.rng.choice(list(self.by_product))
        first_want = self.rng.choice(["price", "stock", "list"])
        _, first_opts = self.values_phrase(pid, 1)
        prev = CatalogQuery(want=first_want, product_ids=(pid,), options=pairs(first_opts))
        focus = empty_focus()
        focus.update(product_ids=[pid], options=dict(first_opts), catalog=_plain(prev))
        state.update(focus=focus)
        if want == "refine":
            option_pool = [k for k in self.by_product_options(pid)
                           if any(self.usable_value(pid, k, v["options"][k]) for v in self.by_product[pid])]
            if not option_pool:
                option_pool = sorted(self.by_product_options(pid))
            key = first_opts and next(iter(first_opts)) or self.rng.choice(sorted(option_pool))
            values = sorted({v["options"][key] for v in self.by_product[pid]
                             if self.usable_value(pid, key, v["options"][key])} - {first_opts.get(key)})
            if not values:
                return self.focus_request("focus_price", "how much is it", state)
            value = self.rng.choice(values)
            new_opts = dict(first_opts)
            new_opts[key] = value
            q = CatalogQuery(want=first_want, product_ids=(pid,), options=pairs(new_opts))
            return tpl.replace("{V}", value.lower() if self.rng.random() < 0.7 else value), Request("catalog", catalog=q)
        if want == "focus_option":
            option = self.rng.choice(sorted(self.by_product_options(pid)))
            q = CatalogQuery(want="option_values", product_ids=(pid,), option=option,
                             in_stock=True if self.asks_available(tpl) else None)  # "available colours?"
            return tpl.replace("{O}", self.option_word(option)), Request("catalog", catalog=q)
        real = {"focus_stock": "stock", "focus_price": "price"}[want]
        q = CatalogQuery(want=real, product_ids=(pid,), options=pairs(first_opts))
        return tpl, Request("catalog", catalog=q)

    def simple_request(self, label: str) -> tuple[str, Request]:
        tpl, _ = self.template(self.p["requests"][label])
        kind, _, task = label.partition(":")
        if kind == "recommend":
            pid = self.rng.choice(list(self.by_product))
            text = tpl.replace("{HOBBY}", self.rng.choice(self.p["pieces"]["hobbies"]))
            text = text.replace("{WHO}", self.rng.choice(self.p["pieces"]["who"]))
            lo = hi = None
            if "{N}" in text:
                phrase, lo, hi = self.amount()
                text = text.replace("{N}", phrase)
            pids = ()
            if "{P}" in text:
                text = text.replace("{P}", self.product_phrase(pid))
                pids = (pid,)
            return text, Request("recommend", catalog=CatalogQuery(want="list", product_ids=pids, price_min=lo,
                                                                   price_max=hi))
        if kind == "policy":
            a, b = self.rng.sample(list(self.by_product), 2)
            return tpl.replace("{P2}", self.product_phrase(b)).replace("{P}", self.product_phrase(a)), \
                Request("policy")
        if kind == "identify":
            user = self.rng.choice(self.users())
            first, last = user["name"]["first_name"], user["name"]["last_name"]
            z = user["address"]["zip"]
            if "{EMAIL}" in tpl:
                return tpl.replace("{EMAIL}", user["email"]), Request("identify", email=user["email"].lower())
            name = f"{first} {last}" if self.rng.random() < 0.6 else f"{first.lower()} {last.lower()}"
            return tpl.replace("{NAME}", name).replace("{ZIP}", z), Request("identify", name=(first, last), zip=z)
        if kind == "preamble":  # "i have another question" on its own: a conversational opener
            return tpl, Request("greeting")
        return tpl, Request(kind, task=task)

    @lru_cache(maxsize=1)
    def users(self) -> list[dict]:
        return list(self.store.export()["users"].values())[:500]

    # ---------------------------------------------------------------- order tasks from tau-bench
    def order_request(self, label: str, awaiting_detail: str = "") -> tuple[str, Request, dict, list[str]]:
        """An order task (or, with awaiting_detail, the answer to one of the assistant's questions), and the
        sentences said after it that add its details ("... the kettle for the glass one. it's w1234567.")."""
        task = label.split(":")[1] if ":" in label else ""
        wanted = {"cancel": "cancel_pending_order", "return": "return_delivered_order_items",
                  "exchange": "exchange_delivered_order_items", "modify_items": "modify_pending_order_items",
                  "order_address": "modify_pending_order_address", "user_address": "modify_user_address",
                  "payment": "modify_pending_order_payment"}.get(task)
        actions = [a for t in self.tasks for a in t["actions"] if not wanted or a["name"] == wanted]
        if actions:
            kw = self.rng.choice(actions)["kwargs"]
        else:  # no task of this kind: another customer's address as the new one
            kw = dict(self.rng.choice(self.users())["address"])
        if awaiting_detail:
            table = self.p["details"][awaiting_detail]
        else:
            table = self.p["requests"][label]
        tpl, _ = self.template(table)
        req: dict = {"kind": "detail" if awaiting_detail else "order_task", "task": "" if awaiting_detail else task}
        task_record: dict | None = None
        state_focus = empty_focus()
        order = self.store.get_order(kw["order_id"]) if kw.get("order_id") else None
        text = tpl
        tail: list[str] = []
        if "{ORDER}" in text:
            oid = kw.get("order_id") or "#W0000000"
            text = text.replace("{ORDER}", self.order_phrase(oid))
            req["order_ids"] = (oid,)
        elif order is not None and not awaiting_detail and self.rng.random() < 0.25:  # the order said after the task
            with_id = {k: [t for t in v if "{ORDER}" in t] for k, v in self.p["details"]["order"].items()}
            tail.append(self.template({k: v for k, v in with_id.items() if v})[0].replace(
                "{ORDER}", self.order_phrase(order["order_id"])))
            req["order_ids"] = (order["order_id"],)
        elif order is not None and self.rng.random() < 0.5:
            state_focus["order_ids"] = [order["order_id"]]  # the order was named earlier
        implied = re.search(r"\{=reason:([^}]*)\}", text)
        if implied:  # the wording itself gives the reason ("i don't want it anymore")
            text = text.replace(implied.group(0), "").rstrip()
            req["reason"] = implied.group(1)
        if "{REASON}" in text:
            if kw.get("reason") or awaiting_detail:
                reason = kw.get("reason") or self.rng.choice(["no longer needed", "ordered by mistake"])
                text = text.replace("{REASON}", self.piece("reason_" + reason.replace(" ", "_")))
                req["reason"] = reason
            else:
                text = re.sub(r",?\s*\{REASON\}", "", text)
        known_order = order if (req.get("order_ids") or state_focus["order_ids"]) else None
        if "{ITEMS}" in text or "{ITEM}" in text:
            item_ids = kw.get("item_ids") or [i["item_id"] for i in (order or {}).get("items", [])[:1]]
            new_ids = kw.get("new_item_ids") or []
            phrases, changes = [], []
            for n, item_id in enumerate(item_ids if "{ITEMS}" in text else item_ids[:1]):
                item = next(i for i in order["items"] if i["item_id"] == item_id)
                phrase, ref = self.item_phrase(item, order, known_order is not None)
                new_opts, same = (), False
                if "{NEW}" in text and n < len(new_ids):
                    new_text, new_opts, same = self.new_phrase(item, new_ids[n])
                    text = text.replace("{NEW}", new_text)
                phrases.append(phrase)
                changes.append(ItemChange(item=ref, new_options=new_opts, same=same))
            joined = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
            text = text.replace("{ITEMS}", joined).replace("{ITEM}", joined)
            req["items"] = tuple(changes)
        if "{NEW}" in text:
            first = (kw.get("item_ids") or [None])[0]
            item = next((i for i in order["items"] if i["item_id"] == first), None) if order else None
            new_ids = kw.get("new_item_ids") or []
            if item and new_ids:
                new_text, new_opts, same = self.new_phrase(item, new_ids[0])
                text = text.replace("{NEW}", new_text)
                if awaiting_detail:
                    req["items"] = (ItemChange(item=ItemRef(), new_options=new_opts, same=same),)
                    # the flows' record of the task: the item whose new variant the assistant asked for
                    state_focus["order_ids"] = [order["order_id"]]
                    task_record = {"kind": "exchange", "order_id": order["order_id"], "items": [first], "asking": 0}
            else:
                text = text.replace("{NEW}", "another one")
        if "{PAY}" in text:
            phrase, pay = self.payment_phrase(kw.get("payment_method_id", ""), order)
            text = text.replace("{PAY}", phrase)
            req["payment"] = pay
        elif not awaiting_detail and task in ("return", "exchange", "modify_items") and \
                kw.get("payment_method_id") and self.rng.random() < 0.2:  # how to pay, said after the task
            phrase, pay = self.payment_phrase(kw["payment_method_id"], order)
            tail.append(self.template(self.p["details"]["payment"])[0].replace("{PAY}", phrase))
            req["payment"] = pay
        if "{ADDR}" in text:
            addr = {k: v for k, v in kw.items() if k in ("address1", "address2", "city", "state", "zip", "country")}
            if not addr:
                addr = {"address1": "12 Elm Street", "city": "Denver", "state": "CO", "zip": "80217", "country": "USA"}
            text = text.replace("{ADDR}", self.address_phrase(addr))
            req["address"] = pairs({k: v for k, v in addr.items() if v})
        state = {"focus": state_focus}
        if task_record:
            state["task"] = task_record
        self.rng.shuffle(tail)
        return text, Request(**req), state, tail

    def order_phrase(self, oid: str) -> str:
        digits = oid[2:]
        return self.rng.choice([oid, oid, oid.lower(), f"W{digits}", f"w{digits}", f"#{oid[1:].lower()}"])

    def item_phrase(self, item: dict, order: dict, order_known: bool) -> tuple[str, ItemRef]:
        """The item by product name plus as many of its options as tell it from the order's other items."""
        same_product = [i for i in order["items"] if i["product_id"] == item["product_id"] and i["item_id"] != item["item_id"]]
        if self.rng.random() < 0.15:  # copied from the assistant's list: "the backpack (color: black, size: small)"
            listed = ", ".join(f"{k}: {v}" for k, v in item["options"].items())
            name = self.rng.choice([item["name"], item["name"].lower()])
            return f"the {name} ({listed})", ItemRef(product_id=item["product_id"], options=pairs(item["options"]),
                                                     item_id=item["item_id"] if order_known else "")
        opts = {}
        for key, value in item["options"].items():
            if any(o["options"].get(key) != value for o in same_product) and self.usable_value(item["product_id"], key, value):
                opts[key] = value
                if not [o for o in same_product if all(o["options"].get(k) == v for k, v in opts.items())]:
                    break
        if same_product and [o for o in same_product if all(o["options"].get(k) == v for k, v in opts.items())]:
            opts = {}  # cannot be told apart by usable values: named by product only
        if self.rng.random() < 0.4 and not same_product:
            extra = [(k, v) for k, v in item["options"].items() if self.usable_value(item["product_id"], k, v)]
            if extra:
                k, v = self.rng.choice(extra)
                opts[k] = v
        name = re.sub(r"^(a|your) ", "the ", self.product_phrase(item["product_id"]))
        if opts:
            bare = re.sub(r"^(the|a|your) ", "", name)
            phrase = f"the {' '.join(opts.values())} {bare}"
        else:
            phrase = name
        unique = not same_product or bool(opts)
        ref = ItemRef(product_id=item["product_id"], options=pairs(opts),
                      item_id=item["item_id"] if order_known and unique else "")
        return phrase, ref

    def new_phrase(self, item: dict, new_id: str) -> tuple[str, tuple, bool]:
        if new_id == item["item_id"] or self.rng.random() < 0.0:
            return self.piece("same_item"), (), True
        new = self.store.get_variant(new_id)
        diff = {k: v for k, v in new["options"].items() if item["options"].get(k) != v}
        words = " ".join(self.value_words(k, v) for k, v in diff.items())
        style = self.rng.choice(["a {w} one", "the {w} one", "{w}", "the {w} version", "one in {w}"])
        return style.replace("{w}", words), pairs(diff), False

    def value_words(self, option: str, value: str) -> str:
        """A value as said in a wish: a yes/no option by its name ("waterproof", "no water resistance")."""
        if value.lower() == "yes":
            return self.option_word(option)
        if value.lower() == "no":
            return self.rng.choice(["no ", "not ", "without "]) + self.option_word(option)
        return value

    def payment_phrase(self, method_id: str, order) -> tuple[str, Payment]:
        source = method_id.rsplit("_", 1)[0] if method_id else self.rng.choice(["paypal", "gift_card", "credit_card"])
        user = self.store.get_user(order["user_id"]) if order else None
        method = (user or {}).get("payment_methods", {}).get(method_id, {})
        if source == "paypal":
            return self.rng.choice(["paypal", "PayPal", "my paypal", "pay pal"]), Payment(source="paypal")
        if source == "gift_card":
            return self.rng.choice(["my gift card", "the gift card", "gift card", "store credit"]), \
                Payment(source="gift_card")
        brand, four = method.get("brand", "visa"), method.get("last_four", "1234")
        style = self.rng.random()
        if style < 0.4:
            return f"the {brand} ending {four}", Payment(source="credit_card", brand=brand, last_four=four)
        if style < 0.7:
            return f"my {brand}", Payment(source="credit_card", brand=brand)
        return f"card ending in {four}", Payment(source="credit_card", last_four=four)

    def address_phrase(self, a: dict) -> str:
        line2 = f", {a['address2']}" if a.get("address2") else ""
        return f"{a['address1']}{line2}, {a['city']}, {a['state']} {a['zip']}"

    # ---------------------------------------------------------------- whole messages
    def casual(self, text: str) -> str:
        r = self.rng
        if r.random() < 0.5:
            text = text.lower()
        if r.random() < 0.3:
            words = text.split(" ")
            text = " ".join(r.choice(FILLER_TYPOS[w]) if w in FILLER_TYPOS and r.random() < 0.5 else w for w in words)
        if r.random() < 0.4:
            text = text.rstrip("?.!")
        return text

    def message(self, label: str) -> Example:
        """One message with one request (or a detail answering the assistant's question)."""
        state: dict = {"focus": empty_focus()}
        awaiting = ""
        tail: list[str] = []
        if label.startswith("detail:"):
            awaiting = label.split(":")[1]
            task = {"order": "cancel", "items": "return", "new_item": "exchange", "payment": "return",
                    "reason": "cancel", "address": "order_address"}[awaiting]
            text, req, st, _ = self.order_request(f"order_task:{task}", awaiting_detail=awaiting)
            state.update(st)
            state.update(task=st.get("task") or task, awaiting=awaiting)
            clause_label = "detail"
        elif label.startswith(("order_task", "account_info")) and label != "order_task:user_address" and \
                not label.startswith("account_info:") or label == "order_task:user_address":
            text, req, st, tail = self.order_request(label)
            state.update(st)
            clause_label = label
        elif label.startswith("account_info"):
            tpl, _ = self.template(self.p["requests"][label])
            oid = self.rng.choice(self.tasks)["actions"][0]["kwargs"].get("order_id", "#W2378156")
            text = tpl.replace("{ORDER}", self.order_phrase(oid))
            req = Request("account_info", task=label.split(":")[1], order_ids=(oid,) if "{ORDER}" in tpl else ())
            clause_label = label
        elif label.startswith("catalog"):
            text, req = self.catalog_request(label, state)
            clause_label = label
        else:
            text, req = self.simple_request(label)
            clause_label = label
            if label in ("confirm", "deny", "hedge"):
                awaiting = "confirm"
                dropped = self.rng.random() if label == "deny" else 0.0
                if dropped > 0.8:  # "never mind that one" after the assistant refused or finished something
                    awaiting = ""
                elif dropped > 0.4:  # dropping the task while asked for a detail
                    awaiting = self.rng.choice(TASK_QUESTIONS)
                if awaiting:
                    state.update(task=self.rng.choice(["cancel", "return", "exchange"]), awaiting=awaiting)
            if label == "identify":
                awaiting = "identify"
                state.update(task=self.rng.choice(["cancel", "return", ""]), awaiting="identify")
        if label == "identify" and self.rng.random() < 0.3:  # said before being asked
            awaiting = ""
            state.pop("awaiting", None)
        elif not awaiting and label not in ("greeting",) and self.rng.random() < 0.2:
            # the assistant had asked something, and the customer asks something else instead
            awaiting = self.rng.choice(("identify",) + TASK_QUESTIONS)
            other = [t for t in ("cancel", "return", "exchange", "modify_items") if t != label.partition(":")[2]]
            state.update(task=self.rng.choice(other), awaiting=awaiting)
        text = self.casual(text)
        if label not in ("confirm", "deny", "hedge", "greeting", "thanks") and not awaiting:
            text = self.rng.choice(PREFIXES) + text + self.rng.choice(SUFFIXES)
        clauses = [(text, awaiting, clause_label)]
        for sentence in tail:  # details said after the task, each as a sentence of its own
            sentence = self.casual(sentence)
            clauses.append((sentence, awaiting, "detail"))
            text = text.rstrip(" ?.!") + self.rng.choice([". ", ". ", ", ", "? "]) + sentence
        reading = Reading(requests=(req,))
        return Example(text, _label(reading), state, clauses, label)

    def multi(self, labels: list[str]) -> Example:
        parts = [self.message(label) for label in labels]
        joiners = self.p["pieces"]["dev_joiners" if self.split == "dev" else "joiners"]
        text = parts[0].text
        for part in parts[1:]:
            joiner = self.rng.choice(joiners)
            end = "?" if self.rng.random() < 0.3 and joiner[0] == " " else ""
            text = text.rstrip(" ?.!") + end + joiner + part.text
        requests = [r for p in parts for r in p.reading["requests"]]
        state = parts[0].state if len(parts[0].state) > 1 or parts[0].state["focus"] != empty_focus() else parts[-1].state
        clauses = [c for p in parts for c in p.clauses]
        return Example(text, {"requests": requests}, state, clauses, "+".join(labels))

    def after_preamble(self, label: str) -> Example:
        """"i have another question. <the request>": the preamble adds no request of its own."""
        ex = self.message(label)
        pre, _ = self.template(self.p["requests"]["preamble"])
        pre = self.casual(pre[0].upper() + pre[1:] if self.rng.random() < 0.5 else pre)
        text = pre.rstrip(" ?.!") + self.rng.choice([". ", ". ", ", ", ": ", "! "]) + ex.text
        awaiting = ex.clauses[0][1] if ex.clauses else ""
        return Example(text, ex.reading, ex.state, [(pre, awaiting, "preamble")] + ex.clauses, "preamble+" + ex.family)

    def after_deny(self, label: str) -> Example:
        """"never mind that one. <another request>" while a task waits for a detail: the task is dropped and the
        rest is read as a new request (nothing is asked any more)."""
        no, _ = self.template(self.p["requests"]["deny"])
        no = self.casual(no)
        awaiting = self.rng.choice(TASK_QUESTIONS)
        ex = self.message(label)
        ex.clauses = [(c, "", lab) for c, _, lab in ex.clauses]
        state = {**ex.state, "task": self.rng.choice(["cancel", "return", "exchange"]), "awaiting": awaiting}
        text = no.rstrip(" ?.!") + self.rng.choice([". ", ". ", ", ", "! "]) + ex.text
        deny = _label(Reading(requests=(Request("deny"),)))["requests"]
        return Example(text, {"requests": deny + ex.reading["requests"]}, state,
                       [(no, awaiting, "deny")] + ex.clauses, "deny+" + ex.family)

    def examples(self, n: int) -> list[Example]:
        labels = list(self.p["requests"]) + [f"detail:{k}" for k in self.p["details"]]
        out = []
        while len(out) < n:
            r = self.rng.random()
            if r < 0.05:
                out.append(self.after_preamble(self.rng.choice([x for x in labels if x != "preamble"])))
            elif r < 0.08:
                out.append(self.after_deny(self.rng.choice([x for x in labels if x.startswith(NEW_REQUESTS)])))
            elif r < 0.12:
                first = self.rng.choice(["thanks", "greeting", "catalog:price", "policy", "catalog:count"])
                second = self.rng.choice(["catalog:count", "catalog:price", "policy", "catalog:sell", "order_task:cancel",
                                          "catalog:stock", "account_info:order_status", "recommend"])
                if first.startswith("catalog") and second.startswith("catalog") or first == second:
                    continue
                out.append(self.multi([first, second]))
            else:
                out.append(self.message(self.rng.choice(labels)))
        return out


def _plain(query: CatalogQuery) -> dict:
    return Reading(requests=(Request("catalog", catalog=query),)).to_dict()["requests"][0]["catalog"]


def _label(reading: Reading) -> dict:
    return reading.to_dict()


def main() -> None:
    import argparse
    from knowledge.paths import default_data_dir
    from knowledge.store import open_store
    parser = argparse.ArgumentParser(description="print generated reader examples as JSON lines")
    parser.add_argument("--split", default="train", choices=["train", "dev"], help="which phrasing families")
    parser.add_argument("--n", type=int, default=20, help="how many messages")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args()
    gen = Generator(open_store(default_data_dir()), args.split, args.seed)
    for ex in gen.examples(args.n):
        print(json.dumps(ex.to_json(), ensure_ascii=False))


if __name__ == "__main__":
    main()

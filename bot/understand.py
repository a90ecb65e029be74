"""The reader: one customer message plus the dialogue state -> one Reading (bot/reading.py), read once.

The message is split into request clauses; a trained classifier labels each clause (bot/nlu/classify.py:
catalog question and what is wanted, policy, order task, detail, confirm, ...), seeing what the assistant just
asked; then each request's arguments are read: products and option values from the catalog lexicon (fuzzy),
price bounds and cancel reasons by small learned heads, identifiers by patterns, references ("it", "and in
green?", "that order") from state["focus"]. It decides nothing: the flows do. Usage:

    reader = Reader.load(store, index=None, embedder=None)   # models load on first use
    reading = reader.read("how much is the yoga mat in blue?", state)
    reader.remember(state, reading)                          # what the message referred to -> state["focus"]
"""
from __future__ import annotations

import re
import threading
from dataclasses import replace

from .nlu import spans
from .nlu.heads import REASON_MIN as REASON_SURE
from .nlu.lexicon import Lexicon, Mention, _singular, tokens
from .reading import (REASONS, CatalogQuery, ItemChange, ItemRef, Payment, Reading, Request, empty_focus, pairs)

MIN_CONFIDENCE = 0.15  # below this a clause is "unclear" (the flows ask again)
TASK_SURE = 0.6  # below this an order task that names nothing to act on is "unclear" too
ORDER_WORDS = {"order", "no", "nr", "num", "number", "id", "is", "it's", "its", "the", "my", "should", "be", "i",
               "think", "um", "uh", "ok", "so", "that's", "thats"}  # words around an id that add nothing to it
CHANGE_CUE = re.compile(r"\b(for|to|into|with|instead|rather than|than)\b", re.I)
SENTENCE = re.compile(r"(?<=[.!?;])\s+(?=\S)|(?<=[。！？；])|\n+")  # Chinese stops need no space after them
LEADING = re.compile(r"^\s*((?:\S+\s+){0,4}?\S+?)\s*[,:]\s+(.+)$", re.S)  # up to five words before a comma
LEADING_ACTS = ("deny", "preamble")  # what may stand before a request in one clause
LEADING_SURE = 0.6
ADDRESS_FIELDS = ("address1", "address2", "city", "state", "zip", "country")
DESCRIBING = ("list", "option_values", "details", "refine", "compare")  # catalog wants that a bare item description resembles


class Reader:
    def __init__(self, store, index=None, embedder=None, classifier=None, language: str = "en"):
        self.store, self.index, self.embedder, self.language = store, index, embedder, language
        self._classifier = classifier
        self._lexicon = self._bounds = self._reasons = None
        self._lock = threading.Lock()

    @classmethod
    def load(cls, store, index=None, embedder=None, classifier=None, language: str = "en") -> "Reader":
        """A light constructor: the lexicon, the classifier and the heads load on first use."""
        return cls(store, index=index, embedder=embedder, classifier=classifier, language=language)

    # ---------------------------------------------------------------- parts loaded on first use
    @property
    def lexicon(self) -> Lexicon:
        with self._lock:
            if self._lexicon is None:
                self._lexicon = Lexicon.from_store(self.store, self.language)
            return self._lexicon

    @property
    def classifier(self):
        with self._lock:
            if self._classifier is None:
                from .nlu.classify import MiniLMClauses
                same = self.embedder is not None and getattr(self.embedder, "name", "") == MiniLMClauses.load().embedder_name
                # a search index may run on another embedder (tests use a hashing one); the classifier needs its own
                self._classifier = MiniLMClauses.load(embedder=self.embedder if same else None)
            return self._classifier

    def _heads(self):
        with self._lock:
            if self._bounds is None:
                from .nlu.generate import phrasings
                from .nlu.heads import BoundHead, ReasonHead
                pieces = phrasings(self.language)["pieces"]
                requests = phrasings(self.language)["requests"]
                negatives = [t for fam in requests.values()
                             for name, texts in fam.items() if not name.startswith("dev") for t in texts
                             if "{REASON}" not in t][:400]
                # a cancel that gives no reason ("i need to cancel {ORDER} please") is no reason either
                negatives += [re.sub(r"\{=?[^}]*\}", "", t.replace("{ORDER}", "#W0000000")).strip(" ,")
                              for name, texts in requests["order_task:cancel"].items() if not name.startswith("dev")
                              for t in texts if "{=" not in t]
                self._bounds, self._reasons = BoundHead(pieces), ReasonHead(pieces, negatives)
            return self._bounds, self._reasons

    def warm_up(self) -> None:
        self.lexicon, self._heads()
        self.classifier.predict(["hello"], [""])

    # ---------------------------------------------------------------- reading
    def read(self, text: str, state: dict | None = None) -> Reading:
        state = state or {}
        text = (text or "").strip()
        if not text:
            return Reading(requests=(Request("unclear", confidence=0.0),), language=self.language)
        awaiting = state.get("awaiting") or ""
        clauses = [c for clause in split_clauses(text, self.lexicon.data.get("request_breaks", []))
                   for c in _identity_first(clause)]
        clauses, labels = self._classify(clauses, awaiting)
        dropped = next((n for n, lab in enumerate(labels[:-1]) if lab.label == "deny"), None)
        if awaiting and dropped is not None:  # after "never mind that one", nothing is asked any more
            labels[dropped + 1:] = self.classifier.predict([self.lexicon.normalise(c) for c in clauses[dropped + 1:]],
                                                           [""] * (len(clauses) - dropped - 1))
        groups: list[tuple[str, str, float]] = []  # (label, text, confidence)
        for clause, lab in zip(clauses, labels):
            label = lab.label
            if lab.confidence < MIN_CONFIDENCE and not any(m.kind == "product" for m in self.lexicon.mentions(clause)):
                label = "unclear"
            elif label.startswith("order_task:") and lab.confidence < TASK_SURE and not self._names_anything(clause):
                label = "unclear"  # an account action is not opened on a guess ("DROP TABLE orders; --")
            elif spans.order_ids(clause) and not set(tokens(spans.ORDER_ID.sub(" ", clause))) - ORDER_WORDS:
                label = "detail"  # "order no. #W3657213?": an order id and nothing else is said
            if groups and self._says_how_to_pay(groups[-1][0], label, lab.confidence, clause):
                prev = groups[-1]  # "... the blue one. paypal for the difference": the task's payment
                groups[-1] = (prev[0], prev[1] + " " + clause, prev[2])
                continue
            if groups and self._gives_reason(groups[-1][0], clause):
                prev = groups[-1]  # the clause's own label was a guess at a reason; the cancel's confidence stands
                groups[-1] = (prev[0], prev[1] + " " + clause, prev[2])
                continue
            if groups and (_continues(groups[-1][0], label, clause) or _adds_bound(groups[-1][0], clause, self.lexicon)
                           or self._about_service(label, clause)
                           or _adds_purpose(groups[-1][0], label, clause, self.lexicon)):
                prev = groups[-1]
                groups[-1] = (prev[0], prev[1] + " " + clause, min(prev[2], lab.confidence))
                continue
            groups.append((label, clause, lab.confidence))
        # "I also have another request. ...": an announcement asks nothing; alone, it opens the conversation again
        groups = [g for g in groups if g[0] != "preamble"] or [("greeting", g[1], g[2]) for g in groups[:1]]
        substantive = [g for g in groups if g[0].split(":")[0] not in ("thanks", "greeting")]
        if substantive:  # "how much is it? thanks": a courtesy after a request is not a request of its own
            first = groups.index(substantive[0])
            groups = groups[:first] + [g for g in groups[first:] if g[0].split(":")[0] not in ("thanks", "greeting")]
        requests = []
        for label, clause, conf in groups:
            label = self._answering(self._scope(label, clause), conf, clause, state)
            request = self._request(label, clause, state, requests)
            before = requests[-1].catalog if requests and requests[-1].kind == "catalog" else None
            if before is not None and request.kind == "catalog" and before.want == "list" and \
                    (before.product_ids, before.options) == (request.catalog.product_ids, request.catalog.options):
                requests.pop()  # "i'm after a bamboo skateboard, 28 inch. cost?": one question about that one
            requests.append(replace(request, confidence=round(conf, 3)))
            if request.kind == "deny" and state.get("awaiting") == "confirm" and self._names_anything(clause):
                # "no wait, only the kettle": the no comes with what should be done instead
                instead = self._order("detail", "", clause, state)
                items = tuple(c for c in instead.items if c.item.product_id)
                if items or instead.payment or instead.order_ids or instead.address:
                    requests.append(replace(instead, items=items, reason="", confidence=round(conf, 3)))
            if request.kind == "deny" and state.get("awaiting") != "confirm":
                # "never mind that one. I want to return ...": what follows answers nothing (but "no, refund it
                # to paypal", asked to confirm, still speaks of the task being confirmed)
                state = {**state, "awaiting": "", "task": None}
            if request.catalog is not None and request.catalog.product_ids:
                state = dict(state)  # "the bamboo skateboard, 28 inch. cost?": later clauses may refer to it
                self.remember(state, Reading(requests=(request,), language=self.language))
        return Reading(requests=tuple(requests), language=self.language)

    def _any_of_a_kind(self, clause: str) -> bool:
        """A product named with "a", "an" or "any" before it: any one of its kind, not an item of an order."""
        toks = tokens(clause)
        return any(m.kind == "product" and m.start > 0 and toks[m.start - 1] in ("a", "an", "any")
                   for m in self.lexicon.mentions(clause))

    def _about_service(self, label: str, clause: str) -> bool:
        """"what payment do u take? apple pay?": a catalog-like clause that names no product or option value but
        speaks of the service belongs to the request before it."""
        return label.split(":")[0] == "catalog" and _speaks_of_service(clause, self.lexicon) and \
            not self.lexicon.mentions(clause)

    def _names_anything(self, clause: str) -> bool:
        """An order, a product, a way to pay or an address: something an order task could act on."""
        return bool(spans.order_ids(clause) or self.lexicon.mentions(clause) or self._payment(clause) is not None
                    or spans.address(clause))

    def _classify(self, clauses: list[str], awaiting: str) -> tuple[list[str], list]:
        """The clauses and their labels, in one pass of the classifier. "no leave it, charge paypal for #W...",
        "got another thing for you: which of my details...": a short "no" or announcement before a comma is a
        request of its own when the classifier reads it so and the rest as something else."""
        heads = [(n, m) for n, c in enumerate(clauses) if (m := LEADING.match(c)) and len(m.group(2).split()) >= 2]
        texts = clauses + [t for _, m in heads for t in (m.group(1), m.group(2))]
        labels = self.classifier.predict([self.lexicon.normalise(t) for t in texts], [awaiting] * len(texts))
        split = {n: (m, head, rest) for (n, m), head, rest in
                 zip(heads, labels[len(clauses)::2], labels[len(clauses) + 1::2])
                 if head.label in LEADING_ACTS and head.confidence >= LEADING_SURE and rest.confidence >= LEADING_SURE
                 and rest.label != head.label and rest.label.split(":")[0] not in ("detail", "confirm", "hedge")}
        out_clauses, out_labels = [], []
        for n, (clause, label) in enumerate(zip(clauses, labels)):
            if n in split:
                m, head, rest = split[n]
                out_clauses += [m.group(1), m.group(2)]
                out_labels += [head, rest]
            else:
                out_clauses.append(clause)
                out_labels.append(label)
        return out_clauses, out_labels

    def _scope(self, label: str, clause: str) -> str:
        """Policy or order task, by whose order it is about (the lexicon's `scope` words): a question about
        what is possible that names no order of the customer's is a policy question; a wish about the customer's
        own order is the task it names. Anything else keeps the classifier's label."""
        scope = self.lexicon.data.get("scope")
        if not scope:
            return label
        if spans.order_ids(clause):  # "can u swap the camera ...? it's order w2435638": about that order, a task
            if label.split(":")[0] in ("policy", "catalog"):  # "exchange for order w4556683: the earbuds for ..."
                for task, words in scope["task_words"].items():
                    if _has_phrase(clause, words):
                        return f"order_task:{task}"
            return label
        own = _has_phrase(clause, scope["own_order"])
        if label.startswith("catalog:") and (own or _has_phrase(clause, scope.get("bought", []))) and \
                _has_phrase(clause, scope.get("where_is", [])):
            return "account_info:order_status"  # "did my espresso machine get delivered?"
        if label.startswith("order_task:") and not own and _has_phrase(clause, scope["asks_possible"]) and \
                (_has_phrase(clause, scope["general_object"]) or self._any_of_a_kind(clause)):
            return "policy"  # "can i swap a shirt i got for a different size?": what is possible, not an action
        if label == "policy" and own and _has_phrase(clause, scope["wish"]):
            for task, words in scope["task_words"].items():
                if _has_phrase(clause, words):
                    return f"order_task:{task}"
        return label

    def _says_how_to_pay(self, prev: str, label: str, confidence: float, clause: str) -> bool:
        """A clause naming only a way to pay, after a task that may take one, is that task's payment, whatever
        else it resembles ("use teh visa ending 9182 to pay or refund" reads like a policy question)."""
        if prev.split(":")[0] != "order_task" or prev in ("order_task:cancel", "order_task:order_address",
                                                          "order_task:user_address"):
            return False
        kind = label.split(":")[0]
        if kind in ("account_info", "privacy", "handover", "identify", "confirm", "deny") or \
                (kind == "order_task" and confidence >= 0.7):
            return False
        if spans.order_ids(clause) or any(m.kind == "product" for m in self.lexicon.mentions(clause)):
            return False
        return self._payment(clause) is not None

    def _gives_reason(self, prev: str, clause: str) -> bool:
        """"can u cancel it? not needed anymore": a reason said on its own after a cancel belongs to that cancel."""
        if prev != "order_task:cancel" or spans.order_ids(clause) or \
                any(m.kind == "product" for m in self.lexicon.mentions(clause)):
            return False
        return self._heads()[1].reason(clause) in REASONS

    def _answering(self, label: str, confidence: float, clause: str, state: dict) -> str:
        """A clause that gives what the assistant just asked for is a detail, whatever else it resembles:
        the task in progress restated ("the hose, i want the 50ft one instead" while asked which items), or a
        payment method when asked how to pay."""
        awaiting, task = state.get("awaiting") or "", _task_kind(state.get("task"))
        if label == "order_task:payment" and (awaiting == "payment" or awaiting == "confirm" and task in (
                "return", "exchange", "modify_items", "change")) and \
                not spans.order_ids(clause) and self._payment(clause) is not None:
            # asked how to pay, "please use my card ending in 9182" answers; asked to confirm a return, "no, refund
            # it to paypal" is that return's refund: neither opens a task
            return "detail"
        if awaiting == "confirm" and label.split(":")[0] == "catalog" and label.partition(":")[2] in DESCRIBING and \
                self._names_order_items(clause, state):
            return "detail"  # "no i mean both, the mouse and the backpack": the order's items, not a catalog search
        if not awaiting and label == "detail" and self._refines_focus(clause, state):
            return "catalog:refine"  # "the 34 inch one" after the bamboo skateboards were listed: asks nothing else
        if not awaiting or awaiting in ("identify", "confirm"):
            return label
        kind, _, sub = label.partition(":")
        if task == "change" and sub in ("exchange", "modify_items"):
            sub = task  # the flows keep "change" until the order's status says which
        if awaiting == "reason" and not spans.order_ids(clause) and self._heads()[1].reason(clause, 0.0) in REASONS:
            return "detail"  # "changed my mind" while asked why: the reason, whatever it resembles
        if kind == "order_task" and sub == task and not spans.order_ids(clause) or \
                (kind == "order_task" and sub == task and awaiting != "order"):
            return "detail"
        if kind in ("order_task", "account_info", "policy", "privacy", "handover", "identify", "detail"):
            return label
        if awaiting == "payment" and self._payment(clause) is not None:
            return "detail"
        if awaiting == "order" and spans.order_ids(clause):
            return "detail"
        if awaiting in ("items", "new_item", "choice") and confidence < 0.7:  # unsure: what the clause names decides
            mentions = self.lexicon.mentions(clause)
            if awaiting in ("new_item", "choice") and any(m.kind == "value" for m in mentions) or \
                    awaiting == "items" and any(m.kind == "product" for m in mentions) and not _asks_option(mentions):
                return "detail"
        if awaiting == "items" and kind == "catalog" and sub in DESCRIBING and self._names_order_items(clause, state):
            return "detail"  # "The backpack (color: black, size: small)": the order's item, as the assistant listed it
        if awaiting == "new_item" and kind == "catalog" and sub in DESCRIBING and self._names_new_values(clause, state):
            return "detail"  # "red 20 hours water resistance": values of the product asked about, not a question
        return label

    def _refines_focus(self, clause: str, state: dict) -> bool:
        """The clause names option values of the product in focus and no product, order or way to pay."""
        focus = state.get("focus") or {}
        pid = (focus.get("product_ids") or [None])[0]
        mentions = self.lexicon.mentions(clause)
        if not pid or spans.order_ids(clause) or any(m.kind == "product" for m in mentions) or \
                self._payment(clause) is not None:
            return False
        return bool(self.lexicon.values_for(mentions, [pid]))

    def _order_in_discussion(self, state: dict) -> dict | None:
        """The order of the task in progress, else the first order in focus (None when there is none)."""
        task, focus = state.get("task"), state.get("focus") or {}
        order_id = (task.get("order_id") if isinstance(task, dict) else None) or (focus.get("order_ids") or [None])[0]
        return self._order_of(order_id)

    def _names_new_values(self, clause: str, state: dict) -> bool:
        """The clause gives option values of the product whose new variant was asked for, and no other product."""
        pid = _product_in_question(state, self._order_in_discussion(state))
        mentions = self.lexicon.mentions(clause)
        if not pid or any(m.kind == "product" and pid not in m.product_ids for m in mentions):
            return False
        return bool(self.lexicon.values_for(mentions, [pid]))

    def _names_order_items(self, clause: str, state: dict) -> bool:
        """Every item the clause names is one item of the order under discussion, options and all, and no option
        is named without its value ("what colours does the backpack come in?" asks about the option)."""
        if _asks_option(self.lexicon.mentions(clause)):
            return False
        order = self._order_in_discussion(state)
        if order is None:
            return False
        items = self._items(clause, order, "items")
        return bool(items) and all(c.item.item_id and not c.new_options and not c.same for c in items)

    def _request(self, label: str, text: str, state: dict, earlier: list[Request]) -> Request:
        kind, _, sub = label.partition(":")
        if kind in ("catalog", "recommend"):
            query = self._catalog(kind, sub, text, state)
            topic = _purpose(text, self.lexicon) if kind == "recommend" and not query.product_ids else ""
            return Request(kind, catalog=query, topic=topic)
        if kind == "policy":
            return Request("policy", faq_ids=self._faq(text))
        if kind == "identify" or (kind == "detail" and state.get("awaiting") == "identify"):
            return self._identify(text)
        if kind in ("order_task", "account_info", "detail"):
            return self._order(kind, sub, text, state)
        if kind == "privacy":
            return Request("privacy", task=sub)
        return Request(kind)

    # ---------------------------------------------------------------- catalog
    def _catalog(self, kind: str, want: str, text: str, state: dict) -> CatalogQuery:
        lex = self.lexicon
        mentions = lex.mentions(text)
        focus = {**empty_focus(), **(state.get("focus") or {})}
        named = [p for m in mentions if m.kind == "product" for p in m.product_ids]
        named = list(dict.fromkeys(named))
        asked = lex.option_asked(mentions, named or list(focus["product_ids"][:1]))
        refers = want.startswith("focus") or want == "refine" or (not named and _refers_back(text, lex)) or \
            (not named and want in ("option_values", "details") and bool(asked))
        if not named and asked and _refers_back(text, lex) and focus["product_ids"] and \
                not any(m.kind == "value" and m.option == asked for m in mentions):
            want = "focus_option"  # "what about its power source", "are they waterproof"
        product_ids = named or (list(focus["product_ids"][:1]) if refers or want == "refine" else [])
        # "size 12", "5k", "30-50 lbs": option values, not prices (of the products named, when some are)
        own = [m for m in mentions if m.kind == "value" and (not named or set(m.product_ids) & set(named))]
        numeric = {m.text for m in own if m.text[:1].isdigit()}
        numeric |= {n for m in own for n in re.findall(r"\d+(?:\.\d+)?", m.text)}
        lo, hi = self._heads()[0].bounds(text, skip=numeric)  # "size 12" is an option value, not a price
        bound_numbers = {str(int(x)) if x == int(x) else str(x) for x in (lo, hi) if x is not None}
        mentions = [m for m in mentions if not (m.kind == "value" and m.text in bound_numbers)]
        stock = _has_phrase(text, lex.data.get("in_stock", []))
        if want == "refine" and not named and not focus["product_ids"] and not focus.get("catalog"):
            want = "list"  # "you guys got tv?" at the start: nothing asked before to refine
        if want == "refine" and not any(m.kind == "value" for m in mentions) and \
                lex.option_asked(mentions, product_ids):
            want = "focus_option"  # "and the colours?"
        if want == "refine":
            prev = CatalogQuery(**_query_args(focus.get("catalog") or {}))
            options = dict(prev.options)
            options.update(_values(lex, mentions, product_ids or list(prev.product_ids)))
            products = product_ids or list(prev.product_ids)
            if products:  # "and the chair?" after a kettle question: the kettle's capacity is no option of a chair
                have = {o for p in products for o in lex.option_values.get(p, {})}
                options = {k: v for k, v in options.items() if k in have}
            return _narrowed(prev, options, lo, hi, stock, product_ids=tuple(product_ids or prev.product_ids))
        if want in ("cheapest", "dearest", "count") and not named and refers and focus.get("catalog"):
            prev = CatalogQuery(**_query_args(focus["catalog"]))
            if set(prev.product_ids) == set(product_ids):  # "which one is cheapest" after "the yoga mat in green?"
                options = {**dict(prev.options), **_values(lex, mentions, product_ids)}
                return _narrowed(prev, options, lo, hi, stock, want=want, option="", compare=())
        if want.startswith("focus_"):
            want = {"focus_stock": "stock", "focus_price": "price", "focus_option": "option_values"}[want]
        options = _values(lex, mentions, product_ids)
        if want in ("stock", "price") and not named and refers:
            options = {**focus.get("options", {}), **options}
        asked = lex.option_asked(mentions, product_ids)
        if want in ("sell", "list") and asked and asked not in options and re.match(r"\s*(what|which)\b", text, re.I):
            want = "option_values"  # "what types of coffee maker do you sell?"
        if want == "option_values" and asked in options:
            want = "list"  # "keyboards with rgb backlight": a value of that option is wanted, not the list of values
        option = asked if want in ("option_values", "details") else ""
        if want == "option_values" and not option:
            want = "details"
        if want == "details" and not option and options:
            want = "list"  # "show me t-shirts in medium": the values are a filter, not a question about them
        if want == "compare":
            refs = _compare_refs(lex, mentions, tokens(text))
            return CatalogQuery(want="compare", product_ids=tuple(dict.fromkeys(r.product_id for r in refs)),
                                compare=tuple(refs))
        if want == "sell" and product_ids and (options or lo is not None or hi is not None):
            want = "list"  # "do you have a grill under $300?": which ones, not whether grills are sold
        unknown = ""
        if not product_ids and kind == "catalog" and want in ("sell", "list", "cheapest", "dearest", "count"):
            unknown = _unknown_product(text, lex)
            if unknown:
                want, options = "sell", {}
                unknown = _unknown_product(text, lex, keep_values=True)  # "wine glasses", not "wine"
        return CatalogQuery(want="list" if kind == "recommend" else want, product_ids=tuple(product_ids),
                            unknown_product=unknown, options=pairs(options), option=option,
                            price_min=lo, price_max=hi,
                            in_stock=True if stock and want not in ("stock",) else None)

    # ---------------------------------------------------------------- policy
    def _faq(self, text: str) -> tuple[str, ...]:
        if self.index is None:
            return ()
        hits = self.index.search(text, top_k=3, filters={"kind": ["faq", "policy"]})
        return tuple(h.id for h in hits)

    # ---------------------------------------------------------------- identity
    def _identify(self, text: str) -> Request:
        emails = spans.emails(text)
        zips = spans.zips(text)
        zip_code = zips[0] if zips else ""
        first, last = spans.names(text, zip_code, self.store) if zip_code or not emails else ("", "")
        return Request("identify", email=emails[0] if emails else "", name=(first, last) if first else (),
                       zip=zip_code if first else "")

    # ---------------------------------------------------------------- orders
    def _order(self, kind: str, task: str, text: str, state: dict) -> Request:
        lex = self.lexicon
        order_ids = tuple(spans.order_ids(text))
        focus = {**empty_focus(), **(state.get("focus") or {})}
        if not order_ids and kind != "detail" and focus["order_ids"] and \
                _has_phrase(text, lex.data.get("refer_order", [])):
            order_ids = (focus["order_ids"][0],)  # "cancel that order"
        awaiting = state.get("awaiting") or ""
        if not order_ids and kind == "detail" and awaiting == "order" and len(focus["order_ids"]) == 1 and \
                _refers_back(text, lex) and not any(m.kind == "product" for m in lex.mentions(text)):
            order_ids = tuple(focus["order_ids"])  # "yeah that one", when one order was listed
        order = self._order_of(order_ids[0] if order_ids else (focus["order_ids"] or [None])[0])
        items = self._items(text, order, awaiting, _product_in_question(state, order))
        if kind == "order_task" and task == "user_address" and order_ids:
            task = "order_address"  # an address change naming an order is that order's; the account's names none
        if kind == "order_task" and task in ("exchange", "modify_items") and order is not None:
            # the same wish is an exchange on a delivered order and a modification on a pending one
            task = {"pending": "modify_items", "delivered": "exchange"}.get(order.get("status", ""), task)
        if kind == "order_task" and task in ("return", "payment") and any(c.new_options or c.same for c in items):
            # "switch the kettle to the glass one, refund my visa", "..., charge or refund card ending 4015": a new
            # variant is wanted, so the items change (the payment is for the difference)
            task = "change"
        reason = ""
        # "yeah that one, i ordered it by mistake": a reason given with another answer ("ordr no. #W..." gives none)
        cancelling = kind == "detail" and _task_kind(state.get("task")) == "cancel" and not spans.order_ids(text)
        if kind == "order_task" and task == "cancel" or awaiting == "reason" or cancelling:
            asked = awaiting == "reason" and kind == "detail"
            reason = self._heads()[1].reason(text, 0.0 if asked else REASON_SURE, forced=asked)
            reason = reason if reason in REASONS or reason == "other" else ""
        payment = self._payment(text) if (task in ("payment", "return", "exchange", "modify_items", "change") or
                                          awaiting == "payment" or kind == "detail") else None
        address = ()
        if task in ("order_address", "user_address") or awaiting == "address" or kind == "detail":
            found = spans.address(text)
            address = pairs({k: v for k, v in (found or {}).items() if v}) if found else ()
        all_items = _has_phrase(text, lex.data.get("all_items", []))
        adds = kind == "detail" and bool(items) and _has_phrase(text, lex.data.get("adding", []))
        if kind == "account_info":
            return Request(kind, task=task, order_ids=order_ids)
        return Request(kind, task=task if kind == "order_task" else "", order_ids=order_ids, items=tuple(items),
                       all_items=all_items, adds=adds, reason=reason, payment=payment, address=address)

    def _order_of(self, order_id: str | None) -> dict | None:
        if not order_id:
            return None
        try:
            order = self.store.get_order(order_id)
        except Exception:  # noqa: BLE001 - an unknown id is the flows' to report, not the reader's
            return None
        return order

    def _items(self, text: str, order: dict | None, awaiting: str, asked_about: str = "") -> list[ItemChange]:
        """Items named, in order, each with the change wanted: "the blue t-shirt for a red one", "the same one".

        The text is cut into list parts (commas, "and"); a part naming a product starts an item, the option values
        before a change word ("for", "to", "instead") describe it and those after describe what it becomes. A part
        that looks like an item but names nothing in the catalog is kept with its words, never dropped; a part
        that says how to pay ("my gift card for any difference") is the payment, not an item. Values in brackets
        after a product describe that item ("the kettle (capacity: 2l, color: white)"). While a new variant is
        asked for, bare values are read against the product in question (`asked_about`)."""
        lex = self.lexicon
        in_order = {i["product_id"] for i in (order or {}).get("items", [])}
        out: list[ItemChange] = []
        for part in _list_parts(text):
            part = part.strip()
            if not part:
                continue
            toks = tokens(lex.normalise(part))  # "make teh pet bed teh medium one": word for word, slips put right
            mentions = lex.mentions(part)
            products = [m for m in mentions if m.kind == "product"]
            same = _has_phrase(part, lex.data.get("same_item", []))
            if products:
                m = products[0]
                cues = [next((i for i, t in enumerate(toks) if i >= m.end and CHANGE_CUE.fullmatch(t)), None),
                        # "make the 19 bar espresso machine a 9 bar capsule one instead"
                        next((i for i, t in enumerate(toks) if i >= m.end and t in ("a", "an", "the") and
                              any(w in ("one", "version", "instead", "model") for w in toks[i + 1:])), None),
                        # "make the USB lamp silver low AC adapter instead": what follows the item is new
                        m.end - 1 if "instead" in toks[m.end:] else None]
                cue = min((c for c in cues if c is not None), default=None)
                pids = [p for p in m.product_ids if p in in_order] or list(m.product_ids)
                pid = pids[0] if len(pids) == 1 or order else ""
                reverse = next((i for i, t in enumerate(toks) if i < m.start and t in ("than", "of") and
                                (t == "than" or (i and toks[i - 1] == "instead"))), None)
                described = [v for v in mentions if v.kind in ("value", "option")]
                if reverse is not None:  # "i'd rather have a 1.5L glass one than the 2L kettle": new before old
                    before = [v for v in described if v.start > reverse]
                    after = [v for v in described if v.start < reverse]
                else:
                    before = [v for v in described if cue is None or v.start < cue]
                    after = [v for v in described if cue is not None and v.start > cue]
                old = _wished(lex, before, pid, toks)
                new = _wished(lex, after, pid, toks)
                ref = ItemRef(product_id=pid, options=pairs(old), item_id=_item_id(order, pid, old),
                              mention=" ".join(toks[m.start:m.end]))
                out.append(ItemChange(item=ref, new_options=pairs(new), same=same and not new))
            elif out and (mentions or same):  # "... and in blue": more about the item before
                last = out[-1]
                pid = last.item.product_id or (asked_about if awaiting == "new_item" else "")
                values = _wished(lex, mentions, pid, toks)
                if values and awaiting != "new_item" and not last.new_options and _labelled(mentions, toks):
                    # "the kettle, capacity 2l, color white": the item described option by option, not changed
                    old = {**dict(last.item.options), **values}
                    out[-1] = replace(last, item=replace(last.item, options=pairs(old),
                                                         item_id=_item_id(order, pid, old)))
                    continue
                merged = {**dict(last.new_options), **values}
                out[-1] = ItemChange(item=last.item, new_options=pairs(merged), same=(last.same or same) and not merged)
            elif awaiting == "new_item" and (mentions or same):  # "the red one": what the item becomes
                new = _wished(lex, mentions, asked_about, toks) or _values(lex, mentions, None)
                out.append(ItemChange(item=ItemRef(), new_options=pairs(new), same=same and not new))
            elif out or awaiting == "items":
                if self._payment(part) is not None:
                    continue  # "my gift card for any difference" says how to pay
                words = _unmatched_item(part, lex)
                if words:
                    out.append(ItemChange(item=ItemRef(mention=words)))
        return out

    def _payment(self, text: str) -> Payment | None:
        lex = self.lexicon
        ids = spans.method_ids(text)
        if ids:
            return Payment(method_id=ids[0], source=ids[0].rsplit("_", 1)[0])
        toks = tokens(text)
        numbers = set()  # "the 2000 animals version": a puzzle's pieces, not a card's last digits
        for m in lex.mentions(text):  # "the CF card" is a camera's option, not a way to pay
            if m.kind == "value":
                toks[m.start:m.end] = ["_"] * (m.end - m.start)
                numbers.add(m.text)
        low = " " + " ".join(toks) + " "
        source = ""
        for name, words in lex.data.get("payment_sources", {}).items():
            if any(f" {' '.join(tokens(w))} " in low for w in words):
                source = name
                break
        brand = next((b for b in lex.data.get("card_brands", []) if f" {b} " in low), "")
        four = spans.last_four(text) if source in ("", "credit_card") else ""
        four = "" if four in numbers and not source and not brand else four
        plain = lex.normalise(text)  # "rather than teh original"
        original = _has_phrase(plain, lex.data.get("original_payment", [])) and \
            not _has_phrase(plain, lex.data.get("not_original", []))
        if four and not source:
            source = "credit_card"
        if not (source or four or original):
            return None
        return Payment(source=source, last_four=four, brand=brand, original=original)

    # ---------------------------------------------------------------- the dialogue state
    def remember(self, state: dict, reading: Reading) -> None:
        """Write what the message referred to into state["focus"] (most recent first)."""
        focus = {**empty_focus(), **(state.get("focus") or {})}
        for request in reading.requests:
            if request.catalog is not None and request.catalog.product_ids:
                q = request.catalog
                focus["product_ids"] = list(dict.fromkeys(list(q.product_ids) + focus["product_ids"]))[:5]
                focus["options"] = dict(q.options)
                focus["catalog"] = Reading(requests=(Request("catalog", catalog=q),)).to_dict()["requests"][0]["catalog"]
            if request.order_ids:
                focus["order_ids"] = list(dict.fromkeys(list(request.order_ids) + focus["order_ids"]))[:5]
            for change in request.items:
                if change.item.product_id:
                    focus["product_ids"] = list(dict.fromkeys([change.item.product_id] + focus["product_ids"]))[:5]
        state["focus"] = focus


# ---------------------------------------------------------------- helpers (pure)
def split_clauses(text: str, breaks: list[str]) -> list[str]:
    """Sentences, then request breaks ("also", "btw") after punctuation: one request each, in order."""
    words = sorted(breaks, key=len, reverse=True)
    pattern = re.compile(r"(?:(?<=[,;:\-])|(?<=\s))\s*(?=\b(?:" + "|".join(re.escape(w) for w in words) + r")\b[\s,:])",
                         re.I) if words else None
    out = []
    for sentence in SENTENCE.split(text):
        parts = [sentence]
        if pattern is not None:
            parts = []
            last = 0
            for m in pattern.finditer(sentence):
                before = sentence[last:m.start()].strip()
                if before and (re.search(r"[,;:\-]\s*$", sentence[:m.start()]) or
                               len(before.split()) > 1 and  # "got another thing for you" is one announcement
                               sentence[m.end():].lower().startswith(("and also", "and then", "also,", "btw",
                                                                     "one more thing", "another thing"))):
                    parts.append(before)
                    last = m.start()
            parts.append(sentence[last:])
        for p in parts:
            p = p.strip(" ,;:-")
            if not p:
                continue
            if out and (not re.search(r"[A-Za-z\u4e00-\u9fff]{2,}", p) or re.fullmatch(r"(order )?(no|nr|num)\.?", out[-1].lower())):
                out[-1] = out[-1] + " " + p
            else:
                out.append(p)
    return out or [text]


IDENTITY_FIRST = re.compile(r"^\W*(?:(?:hi|hey|hello|hiya)\W+)?(?:(?:this is|it's|its|it is|i'm|im|i am|me)\s+)?"
                            r"(" + spans.EMAIL.pattern + r")(?:\s+here)?\s*[.,:;!\-]*\s+", re.I)


IDENTITY_LAST = re.compile(r"[,;\-]\s*(?:(?:my\s+)?e-?mail(?:\s+address)?(?:\s+is|:)?|this is|it's|i'm|im|i am)?\s*"
                           r"(" + spans.EMAIL.pattern + r")(?:\s+here)?\W*$", re.I)


def _identity_first(clause: str) -> list[str]:
    """"hey <email> here. exchange ...", "return the kettle, my email is <email>": who the customer is, then the
    request, as two clauses (the identity first, as the flows need it before any account action)."""
    m = IDENTITY_FIRST.match(clause)
    rest = clause[m.end():].strip() if m else ""
    if m and len(rest.split()) >= 2:
        return [clause[:m.end()].strip(" ,;:-"), rest]
    m = IDENTITY_LAST.search(clause)
    rest = clause[:m.start()].strip() if m else ""
    if m and len(rest.split()) >= 2:
        return [clause[m.start():].strip(" ,;:-"), rest]
    return [clause]


def _asks_option(mentions: list[Mention]) -> bool:
    """An option is named without a value after it ("what colours does it come in?")."""
    values_at = {(m.start, m.option) for m in mentions if m.kind == "value"}
    value_spans = {m.start for m in mentions if m.kind == "value"}
    named: dict[int, bool] = {}  # option name span -> a value of one of its options follows
    for m in mentions:
        if m.kind == "option" and m.start not in value_spans:  # "the battery one": a value, not a question
            named[m.end] = named.get(m.end, False) or (m.end, m.option) in values_at
    return not all(named.values())


def _labelled(mentions: list[Mention], toks: list[str]) -> bool:
    """Every value in the part follows the name of its option ("color: white", "capacity 2l"), and no change word."""
    values = [m for m in mentions if m.kind == "value"]
    starts = {m.end for m in mentions if m.kind == "option"}
    return bool(values) and not any(CHANGE_CUE.fullmatch(t) for t in toks) and \
        all(v.start in starts for v in values)


def _task_kind(task) -> str:
    """The task in progress: the flows keep a dict with its "kind"; a plain name is taken as it is."""
    return (task.get("kind") or "") if isinstance(task, dict) else (task or "")


def _continues(prev: str, label: str, clause: str) -> bool:
    """A clause that adds details to the request before it rather than asking something new."""
    if label in ("detail", "unclear") and prev.split(":")[0] in ("order_task", "detail", "identify"):
        return True
    return label == prev and label.split(":")[0] in ("order_task", "detail", "greeting", "thanks", "identify",
                                                      "recommend", "policy")


def _adds_bound(prev: str, clause: str, lex: Lexicon) -> bool:
    """"... she's into yoga? under 80 dollars": a price bound alone belongs to the catalog request before it."""
    return prev.split(":")[0] in ("catalog", "recommend") and bool(spans.amounts(clause)) and \
        len(tokens(clause)) <= 6 and not any(m.kind == "product" for m in lex.mentions(clause))


def _adds_purpose(prev: str, label: str, clause: str, lex: Lexicon) -> bool:
    """"any ideas for a present under 150? my boyfriend is into hiking": who it is for belongs to the suggestion
    asked for before it, whatever the clause resembles on its own, unless it asks something of its own."""
    return prev == "recommend" and label.split(":")[0] not in ("order_task", "account_info", "policy", "privacy",
                                                               "handover", "identify", "catalog") \
        and bool(_purpose(clause, lex)) and not any(m.kind == "product" for m in lex.mentions(clause))


def _refers_back(text: str, lex: Lexicon) -> bool:
    toks = set(tokens(text))
    return bool(toks & {w for w in lex.data.get("refer_back", [])}) or len(toks) <= 4


def _has_phrase(text: str, phrases: list[str]) -> bool:
    low = " " + " ".join(tokens(text)) + " "
    return any(f" {' '.join(tokens(p))} " in low for p in phrases if tokens(p))


def _wished(lex: Lexicon, mentions: list[Mention], pid: str, toks: list[str]) -> dict[str, str]:
    """The option values an item is described by, yes/no options named alone included ("the waterproof one")."""
    if not pid:
        return {}
    return {**lex.flags(mentions, pid, toks), **lex.values_for(mentions, [pid])}


def _values(lex: Lexicon, mentions: list[Mention], product_ids) -> dict[str, str]:
    """Option values named; without a product, an option only when every product with that value agrees."""
    if product_ids:
        return lex.values_for(mentions, list(product_ids))
    out: dict[str, str] = {}
    by_text: dict[tuple, set] = {}
    for m in mentions:
        if m.kind == "value":
            by_text.setdefault((m.start, m.value), set()).add(m.option)
    for (_, value), options in by_text.items():
        common = "color" if "color" in options else (next(iter(options)) if len(options) == 1 else "")
        if common:
            out.setdefault(common, value)
    return out


LIST_BREAK = re.compile(r",|;|&|\band\b|\bplus\b", re.I)


def _list_parts(text: str) -> list[str]:
    """The text cut at commas, "and", "plus", except inside brackets: "(capacity: 2l, color: white)" stays whole."""
    parts, depth, last = [], 0, 0
    spans_ = [(m.start(), m.end()) for m in LIST_BREAK.finditer(text)]
    marks = {i for i, c in enumerate(text) if c in "()"}
    pos = 0
    for start, end in spans_:
        for i in range(pos, start):
            if i in marks:
                depth = depth + 1 if text[i] == "(" else max(0, depth - 1)
        pos = start
        if depth == 0:
            parts.append(text[last:start])
            last = end
    parts.append(text[last:])
    return [p.replace("(", " ").replace(")", " ") for p in parts]


def _product_in_question(state: dict, order: dict | None) -> str:
    """The product of the item whose new variant the assistant asked for, else the product in focus."""
    task = state.get("task")
    if isinstance(task, dict) and order and task.get("asking") is not None:
        items = task.get("items") or []
        n = task["asking"]
        if isinstance(n, int) and 0 <= n < len(items):
            pid = next((i["product_id"] for i in order["items"] if i["item_id"] == items[n]), "")
            if pid:
                return pid
    focus = state.get("focus") or {}
    return (focus.get("product_ids") or [""])[0] if state.get("awaiting") == "new_item" else ""


def _item_id(order: dict | None, pid: str, options: dict) -> str:
    if not order or not pid:
        return ""
    matches = [i for i in order["items"] if i["product_id"] == pid and
               all(i["options"].get(k) == v for k, v in options.items())]
    ids = {i["item_id"] for i in matches}
    return matches[0]["item_id"] if len(ids) == 1 else ""


COMPARE_BREAKS = {"and", "or", "vs", "versus", "than", "compared", "against", "between", "to", "with"}


def _compare_refs(lex: Lexicon, mentions: list[Mention], toks: list[str]) -> list[ItemRef]:
    """The products set side by side, each with the values on its side of the word between them: "the speaker
    (color: green) and the speaker (color: black)", "the blue speaker or the black one"."""
    products = [m for m in mentions if m.kind == "product"]
    cuts = []  # (where the values of the product before end, where those of the product after start)
    for a, b in zip(products, products[1:]):
        between = [i for i in range(a.end, b.start) if toks[i] in COMPARE_BREAKS]
        cuts.append((between[-1], between[-1]) if between else (b.start, a.end))  # no word between: either side
    refs = []
    for n, m in enumerate(products):
        lo = cuts[n - 1][1] if n else 0
        hi = cuts[n][0] if n < len(cuts) else 10 ** 6
        pid = m.product_ids[0]
        opts = {}
        for v in mentions:
            if v.kind == "value" and lo <= v.start < hi and v.product_ids[0] == pid:
                opts.setdefault(v.option, v.value)
        refs.append(ItemRef(product_id=pid, options=pairs(opts)))
    values = [v for v in mentions if v.kind == "value"]
    if len(products) == 1 and values:  # "the blue speaker and the black one": two variants of one product
        pid = products[0].product_ids[0]
        for cut in (i for i, t in enumerate(toks) if t in COMPARE_BREAKS):
            sides = [{v.option: v.value for v in values if (v.start < cut) == first and v.product_ids[0] == pid}
                     for first in (True, False)]
            if all(sides):
                return [ItemRef(product_id=pid, options=pairs(side)) for side in sides]
    return refs


def _speaks_of_service(text: str, lex: Lexicon) -> bool:
    """A word of the lexicon's `service_words` (pay, card, order, typo, ...): about the shop's service."""
    return not set(tokens(text)).isdisjoint(lex.data.get("service_words", []))


def _unknown_product(text: str, lex: Lexicon, keep_values: bool = False) -> str:
    """The words left once filler and catalog words are taken out: the kind of product asked about ("" when the
    clause speaks of the shop's service: "apple pay?", "sorry typo")."""
    if _speaks_of_service(text, lex):
        return ""
    toks = tokens(text)
    known = set() if keep_values else {w for k in list(lex.values) + list(lex.option_names) for w in k}
    keep = [t for t in toks if not lex.is_filler(t) and _singular(t) not in known
            and not t[0].isdigit() and len(t) > 1]
    return " ".join(keep)


def _purpose(text: str, lex: Lexicon) -> str:
    """What a suggestion is for, in the customer's words: "he likes hiking" -> "hiking", "a photography fan" ->
    "photography" (the lexicon's `purpose` cues); "" when none is said or it is a product of the catalog."""
    cues = lex.data.get("purpose", {})
    toks = tokens(text)
    skip = set(cues.get("skip", []))

    def usable(word: str) -> bool:
        return word.isalpha() and len(word) > 2 and not lex.is_filler(word) and not lex.mentions(word)
    for i, t in enumerate(toks):
        if t in cues.get("before", []):
            rest = [w for w in toks[i + 1:i + 4]]
            while rest and rest[0] in skip:
                rest.pop(0)
            if rest and usable(rest[0]):
                return rest[0]
        if t in cues.get("after", []) and i and usable(toks[i - 1]):
            return toks[i - 1]
    return ""


def _unmatched_item(part: str, lex: Lexicon) -> str:
    """A list part like "the blender (from my order)" that names nothing in the catalog: its words, else ""."""
    words = re.split(r"\b(?:from|in|of|on)\b", part.strip(), maxsplit=1, flags=re.I)[0].strip()
    if not re.match(r"(the|my|a|an|that|this)\s+\w", words, re.I) or spans.order_ids(words):
        return ""
    rest = _unknown_product(words, lex)
    return words if 0 < len(rest.split()) <= 3 else ""


def _narrowed(prev: CatalogQuery, options: dict, lo, hi, stock: bool, **changes) -> CatalogQuery:
    """The earlier question with these option values, the bounds and stock filter said now (else its own)."""
    return replace(prev, options=pairs(options), price_min=lo if lo is not None else prev.price_min,
                   price_max=hi if hi is not None else prev.price_max, in_stock=True if stock else prev.in_stock,
                   **changes)


def _query_args(d: dict) -> dict:
    from .reading import _catalog
    q = _catalog(d) if d else CatalogQuery()
    return {f: getattr(q, f) for f in ("want", "product_ids", "unknown_product", "options", "option", "price_min",
                                       "price_max", "in_stock", "compare")}


__all__ = ["Reader", "split_clauses"]

"""Everything that is not an account flow: product, FAQ and policy answers, recommendations, privacy requests,
greetings, hand-over when out of scope or unclear.

Facts: prices and availability from the store at answer time, passages from the search index. The reply text
comes from the writer (trustgen), which checks every claim against those facts; citations list the facts used.
It decides nothing about orders (bot/flows.py does).
"""
from __future__ import annotations

import re

from trustgen.types import CheckedReply, Fact, ReplyRequest

from . import slots
from .flows import Outcome, money
from .reply import Citation

FAQ_KINDS = ("faq", "policy")


class PlainWriter:
    """Sends the template as it is (it is true by construction); used when no trustgen writer is installed."""

    healthy = False

    def write(self, request: ReplyRequest) -> CheckedReply:
        return CheckedReply(request.template)

    def stream(self, request: ReplyRequest):
        yield request.template


def default_writer():
    try:
        from trustgen.writer import load_default_writer
    except ImportError:
        return PlainWriter()
    return load_default_writer()


def variant_fact(v: dict) -> Fact:
    stock = "in stock" if v["available"] else "out of stock"
    text = f"{v['name']} ({slots.describe_options(v['options'])}): {money(v['price'])}, {stock}"
    if v.get("sponsored"):
        text += " (sponsored)"
    return Fact(f"item:{v['item_id']}", "product", text,
                {"price": v["price"], "available": v["available"], "options": v["options"], "name": v["name"],
                 "item_id": v["item_id"], "product_id": v["product_id"]})


ORDER_FLOWS = ("cancel", "modify", "exchange", "return", "address", "payment")


def write(bot, text: str, facts: list[Fact], template: str, intent: str, session_id: str,
          use_model: bool = True, must_state: tuple[str, ...] = ()) -> Outcome:
    history = tuple((t.role, t.text) for t in bot.memory.history(session_id, limit=bot.config.history_turns)
                    if t.role in ("user", "assistant"))
    request = ReplyRequest(message=text, facts=tuple(facts), template=template, history=history, intent=intent,
                           use_model=use_model and bot.config.use_model, must_state=must_state)
    checked = bot.writer.write(request)
    used = set(checked.sources) or {f.id for f in facts if f.text and f.text in template}
    citations = [Citation(f.id, f.kind, f.text) for f in facts if f.id in used] or \
        [Citation(f.id, f.kind, f.text) for f in facts[:3]]
    out = Outcome(checked.text, intent, citations=citations, facts=facts)
    out.claims_checked = len(checked.claims)
    out.claims_repaired = len(checked.repaired)
    out.unsupported = checked.unsupported
    return out


def mentioned_products(store, text: str) -> list[str]:
    t = slots.normalise(text)
    out = []
    for pid in store.product_ids():
        name = store.get_product(pid)["name"]
        if slots.name_score(t, name) == 1.0:
            out.append(pid)
    return out


def product_answer(bot, text, intent, session_id) -> Outcome:
    store = bot.store
    pids = mentioned_products(store, text)
    variants = [v for v in store.variants() if v["product_id"] in pids] if pids else []
    passages = []
    if not variants:
        for hit in bot.index.search(text, top_k=bot.config.search_top_k):
            meta = hit.metadata or {}
            if meta.get("item_id"):
                variants.append(store.get_variant(meta["item_id"]))
            elif meta.get("product_id") and meta.get("kind") == "product":
                variants += [store.get_variant(i) for i in store.get_product(meta["product_id"])["variants"]]
            elif hit.id.split(":")[0] in FAQ_KINDS:
                passages.append(hit)
    if not variants:
        return faq_answer(bot, text, intent, session_id, passages)
    t = slots.normalise(text)
    wanted = slots.mentioned_values(t, variants)
    fitting = [v for v in variants if all(v["options"].get(k) == val for k, val in wanted.items())] or variants
    if re.search(r"\b(in stock|available|availability)\b", t):
        fitting = sorted(fitting, key=lambda v: not v["available"])
    shown = fitting[:6]
    facts = [variant_fact(v) for v in shown]
    name = shown[0]["name"]
    lines = [f"- {f.text}" for f in facts]
    more = f"\n({len(fitting) - len(shown)} more options of the {name}.)" if len(fitting) > len(shown) else ""
    template = "Here is what our catalog says:\n" + "\n".join(lines) + more
    # one or two variants: the model may word it; a longer list is clearer as the list itself
    return write(bot, text, facts, template, intent or "product_question", session_id, use_model=len(facts) <= 2,
                 must_state=asked_kinds(t))


def asked_kinds(normalised_question: str) -> tuple[str, ...]:
    """What a product question asks for, as claim kinds the answer must state."""
    kinds = []
    if re.search(r"\b(how much|price|prices|cost|costs|expensive|cheap|cheaper|cheapest)\b", normalised_question):
        kinds.append("price")
    if re.search(r"\b(in stock|stock|available|availability|sold out|have any|do you have)\b", normalised_question):
        kinds.append("availability")
    return tuple(kinds)


def faq_answer(bot, text, intent, session_id, passages=None) -> Outcome:
    hits = passages if passages else [h for h in bot.index.search(text, top_k=bot.config.search_top_k)
                                      if h.id.split(":")[0] in FAQ_KINDS]
    if not hits:
        return Outcome(bot.flows.t["unclear"], "unclear", confidence=0.2)
    facts = [Fact(h.id, h.id.split(":")[0], h.text) for h in hits[:3]]
    first, _, rest = facts[0].text.partition("\n")
    template = rest.strip() if first.rstrip().endswith("?") and rest.strip() else facts[0].text
    # the shop's own FAQ and policy wording, as written: a reworded rule is a risk with nothing to gain
    out = write(bot, text, facts, template, intent or "policy_question", session_id, use_model=False)
    out.citations = out.citations or [Citation(facts[0].id, facts[0].kind, facts[0].text)]
    return out


def answer(bot, state, text, flow, intent, confidence, session_id, personalise):
    """(Outcome, facts, personalise) for a message the account flows did not take."""
    t = bot.flows.t
    if flow == "greeting":
        return Outcome(t["greeting"], "greeting", confidence=confidence), [], personalise
    if flow == "thanks":
        return Outcome(t["thanks"], "thanks", confidence=confidence), [], personalise
    if flow == "personalisation":
        on = bool(re.search(r"\b(on|back|enable|start|resume)\b", text.lower())) and not re.search(
            r"\b(off|stop|don't|do not|disable|no)\b", text.lower())
        return Outcome(t["personalisation_on" if on else "personalisation_off"], "personalisation_off",
                       action="personalisation"), [], on
    if flow == "privacy_show":
        if not state.get("user_id"):
            state["after_identify"] = {"flow": "privacy_show", "intent": intent, "text": text}
            return Outcome(t["privacy_needs_id"], "privacy_what_you_know", awaiting="identify"), [], personalise
        from .privacy import customer_data, customer_facts, render_customer_data
        data = customer_data(bot.store, bot.memory, state["user_id"])
        facts = customer_facts(bot.store, data)  # the account summary is checked and cited like any reply
        out = write(bot, text, facts, render_customer_data(data), "privacy_what_you_know", session_id,
                    use_model=False)
        return out, facts, personalise
    if flow == "privacy_forget":
        return Outcome(t["forget_session"], "privacy_forget", action="forget"), [], personalise
    if flow in ("recommend",):
        from .recommend import recommend
        out = recommend(bot, state, text, intent or "recommend_product", session_id, personalise)
        return out, out.facts, personalise
    if flow == "product" or (flow in ("unknown", "out_of_scope", "policy") and mentioned_products(bot.store, text)):
        out = product_answer(bot, text, intent, session_id)
        out.confidence = confidence
        return out, out.facts, personalise
    # an order flow reaches here only when the flows read the message as a question about how orders work
    if flow in ("policy", *ORDER_FLOWS) or re.search(r"\bpolic(y|ies)\b", text.lower()):
        out = faq_answer(bot, text, intent, session_id)
        out.confidence = confidence
        return out, out.facts, personalise
    if flow == "out_of_scope":
        what = intent.replace("_", " ")
        return Outcome(t["out_of_scope"].format(what=what), intent, action="handover", confidence=confidence,
                       handover="out of scope: " + what), [], personalise
    if flow == "handover":  # complaints, payment problems: a person decides
        return Outcome(t["handover"], intent, action="handover", confidence=confidence,
                       handover=intent), [], personalise
    if state.get("unclear", 0) + 1 >= bot.config.handover_after_unclear:
        return Outcome(t["unclear_handover"], "unclear", action="handover", confidence=confidence,
                       handover="low confidence"), [], personalise
    return Outcome(t["unclear"], "unclear", confidence=confidence), [], personalise

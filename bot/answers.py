"""Everything that is not an account flow, decided from one Request of the Reading: catalog questions (computed
from the database by bot/catalog.py), policy questions (the FAQ's own words), recommendations, privacy requests,
greetings and thanks, off-topic requests (declined in one sentence), hand-over, and what could not be read.

Every reply goes through trustgen's writer with the facts it rests on (claim check); citations list the facts
used. The focus (state["focus"], see bot/reading.py) is updated with what each answer showed. It reads no message
text (the writer gets it only to word the reply) and decides nothing about orders (bot/flows.py does).
"""
from __future__ import annotations

from dataclasses import asdict

from trustgen.types import CheckedReply, Fact, ReplyRequest

from . import catalog
from .flows import Outcome
from .reading import Reading, Request, empty_focus
from .reply import Citation

FAQ_KINDS = ("faq", "policy")
variant_fact = catalog.variant_fact  # kept here for the modules that import it from answers


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


def write(bot, text: str, facts: list[Fact], template: str, intent: str, session_id: str,
          use_model: bool = True, must_state: tuple[str, ...] = ()) -> Outcome:
    """The writer's claim-checked reply to `text` from `facts`; `template` is the true-by-construction fallback."""
    history = tuple((t.role, t.text) for t in bot.memory.history(session_id, limit=bot.config.history_turns)
                    if t.role in ("user", "assistant"))
    request = ReplyRequest(message=text, facts=tuple(facts), template=template, history=history, intent=intent,
                           use_model=use_model and bot.config.use_model, must_state=must_state)
    checked = bot.writer.write(request)
    used = set(checked.sources) or {f.id for f in facts if f.text and f.text in template}
    citations = [Citation(f.id, f.kind, f.text) for f in facts if f.id in used] or \
        [Citation(f.id, f.kind, f.text) for f in facts[:3]]
    out = Outcome(checked.text, intent, citations=citations, facts=list(facts))
    out.claims_checked = len(checked.claims)
    out.claims_repaired = len(checked.repaired)
    out.unsupported = checked.unsupported
    return out


# ---------------------------------------------------------------- the focus
def focus(state: dict) -> dict:
    return state.setdefault("focus", empty_focus())


def show_products(state: dict, product_ids, item_ids=(), options=None, query=None) -> None:
    """What an answer showed becomes what "it", "the blue one", "and in green?" refer to next."""
    f = focus(state)
    if product_ids:
        f["product_ids"] = list(dict.fromkeys(list(product_ids) + f.get("product_ids", [])))[:5]
    f["item_ids"] = list(item_ids)
    if options is not None:
        f["options"] = dict(options)
    if query is not None:
        f["catalog"] = {k: v for k, v in asdict(query).items() if v not in (None, "", (), [], False)}


# ---------------------------------------------------------------- catalog and policy
def nearest_products(bot, term: str) -> list[str]:
    """Products the search index finds closest to a kind of product we don't sell, best first."""
    out = []
    for hit in bot.index.search(term, top_k=bot.config.search_top_k * 3, filters={"kind": "product"}):
        pid = (hit.metadata or {}).get("product_id")
        if pid and pid not in out:
            out.append(pid)
    return out


def catalog_answer(bot, state, request: Request, text: str, session_id: str) -> Outcome:
    query = request.catalog or catalog.CatalogQuery()
    found = catalog.answer(bot.store, query, nearest=lambda term: nearest_products(bot, term))
    # a short answer may be worded by the model; a list is clearer as the list itself
    out = write(bot, text, list(found.facts), found.text, "product_question", session_id,
                use_model=len(found.shown) <= 2 and found.found, must_state=found.must_state)
    out.confidence = request.confidence
    show_products(state, found.product_ids or query.product_ids, found.shown, query.options, query)
    return out


def faq_facts(bot, request: Request) -> list[Fact]:
    facts = []
    for fid in request.faq_ids:
        doc_id = fid if ":" in fid else f"faq:{fid}"
        doc = bot.index.get(doc_id)
        if doc is not None:
            facts.append(Fact(doc.id, doc.id.split(":")[0], doc.text))
    return facts


def faq_text(fact: Fact) -> str:
    """An FAQ entry's answer without its question (a policy passage as it is)."""
    first, _, rest = fact.text.partition("\n")
    return rest.strip() if first.rstrip().endswith("?") and rest.strip() else fact.text


def faq_answer(bot, request: Request, text: str, session_id: str) -> Outcome:
    found = faq_facts(bot, request)
    # the FAQ is written for customers; a policy passage (written for staff) only when no FAQ entry answers
    facts = ([f for f in found if f.kind == "faq"] or found)[:3]
    if not facts:
        return Outcome(bot.flows.t["unclear"], "unclear", confidence=0.2)
    template = faq_text(facts[0])
    also = next((f for f in facts[1:] if f.kind == "faq"), None)
    if also is not None:  # the next entry often holds what the first leaves out (a refund's timing)
        template += f"\n\nAlso: {also.text.partition(chr(10))[0].strip()} {faq_text(also)}"
    # the shop's own FAQ and policy wording, as written: a reworded rule is a risk with nothing to gain
    out = write(bot, text, facts, template, "policy_question", session_id, use_model=False)
    out.citations = [Citation(facts[0].id, facts[0].kind, facts[0].text)] + \
        [c for c in out.citations if c.id != facts[0].id]
    out.confidence = request.confidence
    return out


# ---------------------------------------------------------------- one request
def answer(bot, state: dict, request: Request, text: str, session_id: str, personalise: bool):
    """(Outcome, personalise) for a request the account flows do not take."""
    t = bot.flows.t
    kind = request.kind
    if kind == "greeting":
        return Outcome(t["greeting"], "greeting", confidence=request.confidence), personalise
    if kind == "thanks":
        return Outcome(t["thanks"], "thanks", confidence=request.confidence), personalise
    if kind == "catalog":
        return catalog_answer(bot, state, request, text, session_id), personalise
    if kind == "recommend":
        from .recommend import recommend
        return recommend(bot, state, request, text, session_id, personalise), personalise
    if kind == "policy":
        return faq_answer(bot, request, text, session_id), personalise
    if kind == "privacy":
        return privacy(bot, state, request, text, session_id, personalise)
    if kind == "offtopic":
        return Outcome(t["offtopic"], "out_of_scope", confidence=request.confidence), personalise
    if kind == "handover":
        reason = request.topic or "customer asked"
        return Outcome(t["handover"], "handover", action="handover", handover=reason), personalise
    if state.get("unclear", 0) + 1 >= bot.config.handover_after_unclear:
        return Outcome(t["unclear_handover"], "unclear", action="handover", confidence=request.confidence,
                       handover="low confidence"), personalise
    return Outcome(t["unclear"], "unclear", confidence=request.confidence), personalise


def privacy(bot, state, request: Request, text: str, session_id: str, personalise: bool):
    t = bot.flows.t
    if request.task in ("personalise_on", "personalise_off"):
        on = request.task == "personalise_on"
        return Outcome(t["personalisation_on" if on else "personalisation_off"], "personalisation_off",
                       action="personalisation"), on
    if request.task == "forget":
        return Outcome(t["forget_session"], "privacy_forget", action="forget"), personalise
    if not state.get("user_id"):
        state["after_identify"] = Reading(requests=(request,)).to_dict()
        return Outcome(t["privacy_needs_id"], "privacy_what_you_know", awaiting="identify"), personalise
    from .privacy import customer_data, customer_facts, render_customer_data
    data = customer_data(bot.store, bot.memory, state["user_id"])
    facts = customer_facts(bot.store, data)  # the account summary is checked and cited like any reply
    out = write(bot, text, facts, render_customer_data(data), "privacy_what_you_know", session_id, use_model=False)
    return out, personalise

"""The staff desk: a drafted reply in which every sentence shows its evidence, and sending a person's reply.

`make_draft(bot, session_id)` answers the customer's last message again without saving (`bot.preview`), or
takes the reply already sent, checks it with the claim checker and gives each claim to its sentence: supporting
facts become its evidence; a sentence with an unsupported claim is flagged with a note. It decides nothing for
staff; `staff_send` saves what they send. Reached through `Bot.draft`, `Bot.staff_reply`; tests: test_staff_*.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence

from trustgen.types import CheckedReply, Claim, Fact

from .memory import LOW_CONFIDENCE, ConversationStore, Turn, clean_text
from .reply import Citation, Reply

MAX_STAFF_NAME_CHARS = 80
# A sentence ends at . ! or ? followed by space and a capital, digit, quote, bracket or '#'/'$' (so "$50.88"
# and "e.g. the" stay whole), or at a line break (lists, one item per line).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[#$*\-\u2022])|\s*\n+\s*")

Checker = Callable[[str, Sequence[Fact]], CheckedReply]


class DraftingBot(Protocol):
    """What `make_draft` needs from the dialogue agent."""

    memory: ConversationStore

    def preview(self, message: str, session_id: str) -> tuple[Reply, list[Fact]]:
        """The reply the bot would give to `message` now, with the facts it gathered; nothing is saved."""
        ...


@dataclass(frozen=True)
class DraftSentence:
    text: str
    evidence: list[Citation]  # the facts that support this sentence's claims
    flagged: bool  # a claim in it is not supported by the facts: staff should check before sending
    note: str = ""


@dataclass(frozen=True)
class Draft:
    session_id: str
    sentences: list[DraftSentence]
    text: str  # the sentences joined with the reply's own spaces and line breaks: what staff edit
    question: str = ""  # the customer's message this draft answers
    note: str = ""  # about the draft as a whole (no question yet, the bot would hand over, low confidence)
    facts: list[Citation] = field(default_factory=list)  # every fact gathered for the answer


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text or "") if s and s.strip()]


def make_draft(bot: DraftingBot, session_id: str, *, checker: Checker | None = None) -> Draft:
    """A drafted answer to the customer's last message in `session_id`, each sentence with its evidence.

    A `bot` without `preview` still gets a draft: the reply it already sent, checked against its citations."""
    turns = bot.memory.history(session_id)
    last_user = next((i for i in range(len(turns) - 1, -1, -1) if turns[i].role == "user"), None)
    if last_user is None:
        return Draft(session_id, [], "", note="The customer has not asked anything yet.")
    question = turns[last_user].text
    if hasattr(bot, "preview"):
        reply, facts = bot.preview(question, session_id)
        reply_dict = reply.to_dict() if hasattr(reply, "to_dict") else dict(reply)
    else:
        reply_dict, facts = _sent_reply(turns[last_user + 1:]), []
        if reply_dict is None:
            return Draft(session_id, [], "", question=question, note="No reply has been given to this message yet.")
    facts = _with_citations(list(facts), reply_dict)
    check = checker or _default_checker()
    citations = {f.id: Citation(f.id, f.kind, f.text) for f in reversed(facts)}  # the first fact of an id wins
    cited = {c["id"] for c in reply_dict.get("citations") or [] if isinstance(c, dict)}
    text = str(reply_dict.get("text") or "").strip()
    sentences, unplaced = _checked_sentences(text, facts, citations, check, cited)
    return Draft(session_id, sentences, text, question=question,
                 note=_draft_note(reply_dict, sentences, unplaced), facts=list(citations.values()))


def staff_send(memory: ConversationStore, session_id: str, text: str, staff: str = "staff") -> int:
    """Save a staff member's reply in the customer's chat; returns its turn id. A hand-over stays with staff."""
    text = clean_text(text or "").strip()
    if not text:
        raise ValueError("a staff reply needs some text")
    staff = clean_text(staff or "staff", MAX_STAFF_NAME_CHARS).strip() or "staff"
    turn_id = memory.add_turn(session_id, "staff", text, {"staff": staff})
    memory.mark_handled(session_id, staff)
    return turn_id


def _checked_sentences(text: str, facts: Sequence[Fact], citations: dict[str, Citation], check: Checker,
                       cited: set[str]) -> tuple[list[DraftSentence], list[Claim]]:
    """Check the whole reply once (so "it" can refer to the product named before), then give each claim to the
    sentence where its words stand: the n-th claim with the same words goes to their n-th occurrence."""
    parts = split_sentences(text)
    bounds, pos = [], 0
    for part in parts:
        start = text.find(part, pos)
        bounds.append((start, start + len(part)))
        pos = start + len(part)
    per_sentence: list[list[Claim]] = [[] for _ in parts]
    seen: dict[str, int] = {}
    unplaced = []
    for claim in check(text, facts).claims:
        at = _nth(text, claim.text, seen.get(claim.text, 0))
        seen[claim.text] = seen.get(claim.text, 0) + 1
        index = next((i for i, (a, b) in enumerate(bounds) if a <= at < b), None) if at >= 0 else None
        if index is None:
            unplaced.append(claim)  # the checker reported words that are not in the text: shown in the note
        else:
            per_sentence[index].append(claim)
    return [_sentence(part, claims, citations, cited) for part, claims in zip(parts, per_sentence)], unplaced


def _nth(text: str, words: str, n: int) -> int:
    at = -1
    for _ in range(n + 1):
        at = text.find(words, at + 1) if words else -1
        if at < 0:
            return -1
    return at


def _sentence(text: str, claims: list[Claim], citations: dict[str, Citation], cited: set[str]) -> DraftSentence:
    # A claim supported by a fact the reply cites shows that fact only, not every variant sharing a colour.
    sources = dict.fromkeys(s for c in claims for s in ([x for x in c.sources if x in cited] or c.sources))
    evidence = [citations[s] for s in sources if s in citations]
    bad = [c for c in claims if not c.supported]
    if not bad:
        return DraftSentence(text, evidence, False)
    note = "Not supported by the shop's data: " + "; ".join(f"{c.kind} '{c.text}'" for c in bad)
    return DraftSentence(text, evidence, True, note)


def _sent_reply(after: list[Turn]) -> dict | None:
    """The assistant's saved reply to the message, if it has been answered."""
    return next((t.reply for t in after if t.role == "assistant" and t.reply), None)


def _with_citations(facts: list[Fact], reply: dict) -> list[Fact]:
    """The reply's citations first (as text-only facts), then the facts: a citation is what the customer was
    shown as the source, and its text may state more of the record than the fact's own short text."""
    shown = {(f.id, f.text) for f in facts}
    out = []
    for c in reply.get("citations") or []:
        c = c if isinstance(c, dict) else {"id": c.id, "kind": c.kind, "text": c.text}
        if c.get("id") and (c["id"], c.get("text", "")) not in shown:
            out.append(Fact(c["id"], c.get("kind", ""), c.get("text", "")))
            shown.add((c["id"], c.get("text", "")))
    return out + facts


def _draft_note(reply: dict, sentences: list[DraftSentence], unplaced: list[Claim]) -> str:
    notes = []
    if reply.get("handover"):
        notes.append("The assistant would hand this conversation over; the draft is its hand-over message.")
    if float(reply.get("confidence", 1.0)) < LOW_CONFIDENCE:
        notes.append(f"The assistant is unsure it understood (confidence {float(reply['confidence']):.2f}).")
    flagged = sum(s.flagged for s in sentences)
    if flagged:
        notes.append(f"{flagged} sentence{'s' if flagged > 1 else ''} flagged: check before sending.")
    bad = [c for c in unplaced if not c.supported]
    if bad:
        notes.append("Not supported by the shop's data: " + "; ".join(f"{c.kind} '{c.text}'" for c in bad) + ".")
    return " ".join(notes)


def _default_checker() -> Checker:
    from trustgen.claims import check  # the trust layer's claim checker
    return check

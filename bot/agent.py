"""The assistant: one turn = clean the message, read the session, understand, follow the flows or answer, save.

`Bot.load(data_dir)` opens a shop (an empty directory gets a fresh copy of the demo shop); `bot.respond(message,
session_id)` returns a `Reply` and saves the turn and the session state. Business rules live in bot/flows.py,
answers in bot/answers.py and bot/recommend.py, memory in bot/memory.py; models load on first use.
`setup_step` (for `shopbot setup`) checks the intent classifier and the shop database.
"""
from __future__ import annotations

import copy
import functools
import logging
import queue
import re
import threading
import weakref
from pathlib import Path
from typing import Iterator

from knowledge.paths import default_data_dir
from knowledge.store import Store, open_store

from .config import BotConfig
from .flows import ACCOUNT_KINDS, Flows, Outcome
from .markup import inert_reply, inert_text
from .reading import Reading, Request
from .reply import Reply
from .text import clean_message

class Bot:
    def __init__(self, data_dir: Path, store: Store, memory, *, writer=None, embedder=None, index=None,
                 config: BotConfig | None = None, classifier=None, reader=None):
        self.data_dir, self.store, self.memory = Path(data_dir), store, memory
        self.config = config or BotConfig()
        self.flows = Flows(store)
        self._writer, self._embedder, self._index, self._classifier = writer, embedder, index, classifier
        self._reader = reader
        self._lock = threading.RLock()  # the shop's data and conversations; let go while the model writes
        self._session_locks: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # one turn at a time
        self._session_locks_guard = threading.Lock()

    # ---------------------------------------------------------------- loading
    @classmethod
    def load(cls, data_dir: str | Path | None = None, *, writer=None, embedder=None, index=None,
             config: BotConfig | None = None, memory=None, classifier=None, reader=None) -> "Bot":
        """Open the shop in data_dir; an empty or new dir gets a fresh copy of the demo shop. Models load later."""
        data_dir = Path(data_dir) if data_dir else default_data_dir()
        data_dir.mkdir(parents=True, exist_ok=True)
        store = open_store(data_dir)  # data_dir/shop.db, or $SHOPBOT_DATABASE_URL's database
        if memory is None:
            from .memory_pg import open_conversations
            memory = open_conversations(data_dir)
        return cls(data_dir, store, memory, writer=writer, embedder=embedder, index=index, config=config,
                   classifier=classifier, reader=reader)

    def close(self) -> None:
        self.store.close()
        if hasattr(self.memory, "close"):
            self.memory.close()

    @property
    def classifier(self):
        if self._classifier is None:
            from .intents import IntentClassifier
            self._classifier = IntentClassifier.load(embedder=self._embedder)
        return self._classifier

    @property
    def reader(self):
        """The one step that reads the customer's message (bot/understand.py); loaded on first use."""
        if self._reader is None:
            from .understand import Reader
            shared = shared_clause_classifier() if self._embedder is None else None
            self._reader = Reader.load(self.store, index=_OnFirstUse(self), embedder=self._embedder,
                                       classifier=shared)
        return self._reader

    @property
    def writer(self):
        if self._writer is None:
            from .answers import default_writer
            self._writer = default_writer()
        return self._writer

    @property
    def index(self):
        from .degraded import GuardedIndex
        if not isinstance(self._index, GuardedIndex):  # a failing index degrades search, never stops a reply
            from knowledge.ingest import open_shop_index
            self._index = GuardedIndex(self._index if self._index is not None else lambda: open_shop_index(
                self.data_dir, embedder=self._embedder, store=self.store))
        return self._index

    # ---------------------------------------------------------------- the dialogue
    def respond(self, message: str, session_id: str = "default") -> Reply:
        from trustgen.writer import generating_outside
        # Turns of one conversation run one at a time. The bot's lock guards the data; the writer lets it go
        # while the model generates, so other conversations read, act and generate meanwhile.
        with self._session_lock(session_id), self._lock, generating_outside(self._lock):
            # No action may be taken that cannot be recorded: a full or read-only conversation store raises its
            # storage error here, before the flows touch an order (the edge shows the customer a clear message).
            self.memory.check_writable(session_id)
            reply, _facts, state, user_id, personalise, status = self._turn(message, session_id, act=True)
            reply = inert_reply(reply)  # no renderer may act on markup from the catalog, FAQ or customer
            if reply.action == "forget":  # nothing of this exchange is stored either
                return _with(self.forget(session_id), notice=reply.notice)
            said = clean_message(message)[0] or "(empty message)"
            ticket = (reply.intent or "handover", self._summary(session_id, message, pending=said)) \
                if reply.handover else None
            turn_id = self.memory.record_exchange(session_id, said, reply.text, reply.to_dict(), user_id=user_id,
                                                  state=state, personalise=personalise, status=status,
                                                  ticket=ticket)  # all of it, or none of it
            return _with(reply, turn_id=turn_id)

    def preview(self, message: str, session_id: str = "default"):
        """(Reply, facts) the bot would give now; nothing is saved and no action is taken."""
        with self._lock:
            reply, facts, *_ = self._turn(message, session_id, act=False)
            return reply, facts

    def _session_lock(self, session_id: str):
        with self._session_locks_guard:
            return self._session_locks.setdefault(session_id, threading.Lock())

    def stream(self, message: str, session_id: str = "default") -> Iterator:
        """Text pieces, then the complete Reply. A model-worded reply arrives sentence by sentence as each passes
        the claim check (made inert as the Reply is), while the turn runs in a worker thread; the rest of the
        reply text follows in word groups when the turn is done. The turn completes even if the caller stops."""
        from trustgen.writer import streaming_to
        pieces: queue.Queue = queue.Queue()
        done, box = object(), {}

        def work():
            try:
                with streaming_to(lambda piece: pieces.put(inert_text(piece))):
                    box["reply"] = self.respond(message, session_id)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                box["error"] = exc
            finally:
                pieces.put(done)

        threading.Thread(target=work, name="shopbot-turn", daemon=True).start()
        sent = ""
        while (piece := pieces.get()) is not done:
            sent += piece
            yield piece
        if "error" in box:
            raise box["error"]
        reply = box["reply"]
        if not reply.text.startswith(sent):  # the turn replaced what the model wrote: the Reply has the text
            logging.getLogger(__name__).warning("streamed text is not the start of the reply (turn %s)",
                                                reply.turn_id)
        rest = reply.text[len(sent):] if reply.text.startswith(sent) else ""
        words = re.findall(r"\S+\s*|\s+", rest)
        for n in range(0, len(words), 4):
            yield "".join(words[n:n + 4])
        yield reply

    def _turn(self, message, session_id, act: bool):
        session = self.memory.session(session_id)
        state = copy.deepcopy(session.state) or {}
        state.setdefault("user_id", session.user_id)
        personalise = session.personalise
        text, notice = clean_message(message)
        facts = []
        if not text:
            out = Outcome(self.flows.t["empty"], "empty", confidence=1.0)
        else:
            out, facts, personalise = self._understand_and_answer(state, text, session_id, personalise, act)
        state["awaiting"] = out.awaiting
        state["unclear"] = state.get("unclear", 0) + 1 if out.intent == "unclear" else 0
        reply = Reply(text=out.text, citations=out.citations, action=out.action, products=getattr(out, "products", []),
                      confidence=out.confidence, intent=out.intent, session_id=session_id,
                      claims_checked=getattr(out, "claims_checked", 0), claims_repaired=getattr(out, "claims_repaired", 0),
                      claims_unsupported=out.unsupported, handover=bool(out.handover), notice=notice,
                      awaiting=out.awaiting)
        return reply, facts, state, state.get("user_id"), personalise, session.status

    def _understand_and_answer(self, state, text, session_id, personalise, act):
        """Read the message once, then answer each request in the order said; the flows take the account ones."""
        from . import answers
        reading = self.reader.read(text, state)
        self.reader.remember(state, reading)
        requests = list(reading.requests) or [Request("unclear", confidence=0.0)]
        account = [r for r in requests if r.kind in ACCOUNT_KINDS]
        waiting = bool(state.get("task")) and state.get("awaiting") not in (None, "", "identify")
        if waiting and not account:  # answer what was asked, then ask the pending question again
            requests = [r for r in requests if r.kind != "unclear"] + [None]
        outs, took_account = [], False
        for n, request in enumerate(requests):
            if request is None or request.kind in ACCOUNT_KINDS:
                if took_account:
                    continue
                took_account = True
                out = self.flows.turn(state, account, act=act)
                if out is not None:
                    outs.append(self._checked(out, state, text, session_id))
                    continue
                redo = state.pop("redo", None)  # the customer just identified themselves for an earlier request
                for again in Reading.from_dict(redo).requests if redo else ():
                    out, personalise = answers.answer(self, state, again, text, session_id, personalise)
                    outs.append(out)
                continue
            more = n + 1 < len(requests)
            if request.kind in ("thanks", "greeting") and more:  # "Thank you. Also, ...": the rest is the answer
                key = "thanks_short" if request.kind == "thanks" else "greeting_short"
                outs.append(Outcome(self.flows.t[key], request.kind, confidence=request.confidence))
                continue
            out, personalise = answers.answer(self, state, request, text, session_id, personalise)
            outs.append(out)
        if not outs and any(r.kind == "deny" for r in requests if r is not None):
            # "never mind" with nothing in progress: nothing to drop, and nothing misunderstood either
            outs.append(Outcome(self.flows.t["declined"], "declined", confidence=1.0))
        asking = [o for o in outs if o.awaiting]
        if asking and outs[-1] is not asking[-1]:  # the open question goes last, where the customer looks for it
            outs.remove(asking[-1])
            outs.append(asking[-1])
        out = combine(outs) if outs else answers.answer(self, state, Request("unclear"), text, session_id,
                                                        personalise)[0]
        return out, out.facts, personalise

    def _checked(self, out: Outcome, state: dict, text: str, session_id: str) -> Outcome:
        """A flow's exact template, claim-checked against the customer's records (never reworded)."""
        from .answers import write
        facts = self.flows.context_facts(state) + out.facts
        checked = write(self, text, facts, out.text, out.intent, session_id, use_model=False)
        out.facts = facts
        out.claims_checked, out.claims_repaired = checked.claims_checked, checked.claims_repaired
        out.unsupported = checked.unsupported
        if not out.citations:
            out.citations = checked.citations if out.awaiting != "identify" else []
        return out

    def _summary(self, session_id: str, message: str, pending: str | None = None) -> str:
        """The conversation's last lines for a hand-over ticket; `pending`: the customer's turn not yet saved."""
        turns = [(t.role, t.text) for t in self.memory.history(session_id, limit=12)
                 if t.role in ("user", "assistant")]
        turns += [("user", pending)] if pending is not None else []
        lines = [f"{role}: {text[:200]}" for role, text in turns]
        return "\n".join(lines[-10:]) or f"user: {message[:200]}"

    # ---------------------------------------------------------------- around the dialogue
    def request_handover(self, session_id: str, reason: str = "customer asked for a person") -> Reply:
        with self._lock:
            session = self.memory.session(session_id)
            self.memory.open_ticket(session_id, reason, self._summary(session_id, reason))
            reply = Reply(text=self.flows.t["handover"], action="handover", intent="handover",
                          session_id=session_id, handover=True)
            turn_id = self.memory.add_turn(session_id, "assistant", reply.text, reply.to_dict())
            self.memory.save_session(session_id, user_id=session.user_id, state=session.state,
                                     personalise=session.personalise, status="handover")
            return _with(reply, turn_id=turn_id)

    def feedback(self, session_id: str, turn_id: int, helpful: bool) -> None:
        self.memory.set_feedback(session_id, turn_id, helpful)

    def set_personalisation(self, session_id: str, on: bool) -> None:
        with self._lock:
            s = self.memory.session(session_id)
            self.memory.save_session(session_id, user_id=s.user_id, state=s.state, personalise=bool(on))

    def customer_data(self, session_id: str) -> dict | None:
        user_id = self.memory.session(session_id).user_id
        if not user_id:
            return None
        from .privacy import customer_data
        return customer_data(self.store, self.memory, user_id)

    def forget(self, session_id: str) -> Reply:
        with self._lock:
            user_id = self.memory.session(session_id).user_id
            if user_id:
                from .privacy import forget_customer, forget_message
                text = forget_message(forget_customer(self.memory, user_id))
            else:
                self.memory.erase_session(session_id)
                text = self.flows.t["forget_session"]
            return Reply(text=text, action="forget", intent="privacy_forget", session_id=session_id)

    def draft(self, session_id: str):
        from .staff import make_draft
        return make_draft(self, session_id)

    def staff_reply(self, session_id: str, text: str, staff: str = "staff") -> int:
        from .staff import staff_send
        return staff_send(self.memory, session_id, text, staff)

    def conversations(self):
        return self.memory.conversations()

    def handover_queue(self):
        return self.memory.tickets("open")

    def transcript(self, session_id: str):
        return self.memory.history(session_id)

    def insights(self) -> dict:
        return self.memory.insights()

    def health(self) -> dict[str, str]:
        out = {}
        try:
            self.store.product_ids()
            out["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - health reports, never raises
            out["database"] = f"error: {exc}"
        try:
            self.memory.conversations()
            out["memory"] = "ok"
        except Exception as exc:  # noqa: BLE001
            out["memory"] = f"error: {exc}"
        out["search"] = self.index.health() if self._index is not None else \
            "ok" if (self.data_dir / "index").exists() else "degraded: index not built yet (run shopbot setup)"
        try:
            from .intents import IntentClassifier
            IntentClassifier.load()
            out["intents"] = "ok"
        except Exception as exc:  # noqa: BLE001
            out["intents"] = f"degraded: {exc}"
        writer = self._writer
        out["model"] = "ok" if writer is None or getattr(writer, "healthy", True) else "degraded: template replies"
        return out


@functools.lru_cache(maxsize=1)
def shared_clause_classifier():
    """The packaged clause classifier, loaded once per process on first use: it is read-only, and every bot of
    the process (scenario runs, a server's sessions, tests) reads with the same one instead of loading its own."""
    from .nlu.classify import MiniLMClauses
    return MiniLMClauses.load()


class _OnFirstUse:
    """The bot's search index for the reader, opened only when the reader first searches it."""

    def __init__(self, bot: "Bot"):
        self._bot = bot

    def __getattr__(self, name):
        return getattr(self._bot.index, name)


def combine(outs: list[Outcome]) -> Outcome:
    """One reply from the answers to several requests of one message, in the order they were asked."""
    if len(outs) == 1:
        return outs[0]
    last = outs[-1]
    out = Outcome("\n\n".join(o.text for o in outs), next((o.intent for o in outs if o.intent not in (
        "thanks", "greeting")), last.intent), action=next((o.action for o in reversed(outs) if o.action), None),
        citations=[c for o in outs for c in o.citations], facts=[f for o in outs for f in o.facts],
        confidence=min(o.confidence for o in outs), handover=next((o.handover for o in outs if o.handover), ""),
        awaiting=next((o.awaiting for o in reversed(outs) if o.awaiting), ""),
        products=[p for o in outs for p in o.products])
    out.claims_checked = sum(o.claims_checked for o in outs)
    out.claims_repaired = sum(o.claims_repaired for o in outs)
    out.unsupported = sum(o.unsupported for o in outs)
    return out


def _with(reply: Reply, **changes) -> Reply:
    from dataclasses import replace
    return replace(reply, **changes)


def setup_step(data_dir: Path, force: bool = False) -> str:
    """Check the packaged intent classifier (retrain it with `python -m bot.intents`) and the shop database."""
    from .intents import IntentClassifier
    clf = IntentClassifier.load()
    db = Path(data_dir) / "shop.db"
    if not db.exists():
        Store.create(db)[0].close()
    return f"assistant ready: intent classifier with {len(clf.labels)} intents ({clf.embedder_name})"

"""A scripted stand-in for `bot.Bot` with the same public methods, for the UI's tests and screenshots.

`FakeBot` answers from the real shop database (a product named in the message gets its real price and
stock, cited) or echoes the message; `enqueue()` scripts the next replies. It keeps conversations in memory,
so it tests the web layer, not the assistant. `gate` (a threading.Event) holds replies to test busy answers.
"""
from __future__ import annotations

import re
import threading
import time
from collections import defaultdict, deque
from pathlib import Path

from bot.memory import ConversationSummary, Ticket, Turn
from bot.reply import Citation, ProductSuggestion, Reply
from bot.staff import Draft, DraftSentence
from knowledge.store import open_store
from bot.text import clean_message

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


class FakeBot:
    def __init__(self, data_dir: str | Path, health: dict | None = None):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = open_store(self.data_dir)
        self.queue: deque[Reply | str] = deque()
        self.gate: threading.Event | None = None  # when set to an unset Event, replies wait for it
        self.entered = threading.Event()  # set when a reply has started (and may be waiting at the gate)
        self.stream_delay = 0.0
        self._health = health or {"database": "ok", "search": "ok", "model": "ok"}
        self._lock = threading.Lock()
        self._turns: dict[str, list[Turn]] = defaultdict(list)
        self._users: dict[str, str] = {}
        self.personalise: dict[str, bool] = {}
        self._status: dict[str, str] = {}
        self._tickets: list[Ticket] = []
        self._next_turn = 1
        self._products = [(p["name"].lower(), p) for p in self.store.variants()]

    @classmethod
    def load(cls, data_dir: str | Path | None = None, **_) -> "FakeBot":
        from knowledge.paths import default_data_dir
        return cls(data_dir or default_data_dir())

    def enqueue(self, *replies: Reply | str) -> None:
        self.queue.extend(replies)

    # ------------------------------------------------------------ dialogue
    def respond(self, message: str, session_id: str = "default") -> Reply:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(timeout=30)
        text, notice = clean_message(message)
        self._add(session_id, "user", text)
        email = _EMAIL.search(text)
        if email and self.store.find_user_by_email(email.group(0)):
            self._users[session_id] = self.store.find_user_by_email(email.group(0))
        reply = self._answer(text, session_id)
        if notice:
            reply = Reply(**{**reply.__dict__, "notice": notice})
        turn_id = self._add(session_id, "assistant", reply.text, reply.to_dict())
        reply = Reply(**{**reply.__dict__, "turn_id": turn_id, "session_id": session_id})
        with self._lock:  # store the final dict, turn id included, like the real memory does
            turns = self._turns[session_id]
            turns[-1] = Turn(**{**turns[-1].__dict__, "reply": reply.to_dict()})
        return reply

    def stream(self, message: str, session_id: str = "default"):
        reply = self.respond(message, session_id)
        for piece in re.findall(r"\S+\s*", reply.text):
            if self.stream_delay:
                time.sleep(self.stream_delay)
            yield piece
        yield reply

    def _answer(self, text: str, session_id: str) -> Reply:
        if self.queue:
            scripted = self.queue.popleft()
            return Reply(text=scripted, intent="scripted") if isinstance(scripted, str) else scripted
        if not text.strip():
            return Reply(text="Please type a question, for example about a product or an order.",
                         intent="empty", confidence=1.0)
        lowered = text.lower()
        for name, variant in self._products:
            if name in lowered:
                options = ", ".join(str(v) for v in variant["options"].values())
                stock = "in stock" if variant["available"] else "out of stock"
                fact = f"{variant['name']} ({options}): ${variant['price']:.2f}, {stock}"
                return Reply(text=f"The {fact}.", intent="product_info", claims_checked=2,
                             citations=[Citation(f"item:{variant['item_id']}", "product", fact)],
                             products=[ProductSuggestion(variant["item_id"], variant["product_id"],
                                                         variant["name"], variant["options"], variant["price"],
                                                         variant["available"], f"you asked about a {name}")])
        return Reply(text=f"You said: {text}", intent="unknown", confidence=0.2)

    def request_handover(self, session_id: str, reason: str = "customer asked for a person") -> Reply:
        summary = self._last_user_text(session_id)
        with self._lock:
            ticket = Ticket(len(self._tickets) + 1, session_id, self._users.get(session_id), reason,
                                summary, "open", time.time())
            self._tickets.append(ticket)
            self._status[session_id] = "handover"
        text = "I have asked a person from our team to take over; they will answer here."
        turn_id = self._add(session_id, "assistant", text, {"intent": "handover", "handover": True})
        return Reply(text=text, action="handover", handover=True, session_id=session_id, turn_id=turn_id)

    def feedback(self, session_id: str, turn_id: int, helpful: bool) -> None:
        with self._lock:
            turns = self._turns[session_id]
            for i, turn in enumerate(turns):
                if turn.turn_id == turn_id:
                    turns[i] = Turn(**{**turn.__dict__, "helpful": helpful})
                    return
        raise KeyError(f"no turn {turn_id} in session {session_id}")

    def set_personalisation(self, session_id: str, on: bool) -> None:
        self.personalise[session_id] = bool(on)

    def customer_data(self, session_id: str) -> dict | None:
        user_id = self._users.get(session_id)
        if user_id is None:
            return None
        return {"profile": self.store.get_user(user_id), "orders": self.store.orders_of(user_id),
                "conversations": [session_id], "tickets": [], "feedback": 0}

    def forget(self, session_id: str) -> Reply:
        with self._lock:
            self._turns.pop(session_id, None)
            self._users.pop(session_id, None)
        return Reply(text="I have erased our conversations and what I stored about you. The shop keeps your "
                          "account and orders.", action="forget", session_id=session_id)

    # ------------------------------------------------------------ staff
    def draft(self, session_id: str) -> Draft:
        last = self._last_user_text(session_id)
        answer = self._answer(last, session_id) if last else Reply(text="Hello, how can I help?")
        sentences = [DraftSentence(answer.text, list(answer.citations), flagged=not answer.citations,
                                       note="" if answer.citations else "no fact supports this sentence")]
        sentences.append(DraftSentence("Our shipping is free on every order.", [], True,
                                           "claim could not be checked against the policy"))
        return Draft(session_id, sentences, " ".join(s.text for s in sentences), last)

    def staff_reply(self, session_id: str, text: str, staff: str = "staff") -> int:
        return self._add(session_id, "staff", text, {"staff": staff})

    def conversations(self) -> list[ConversationSummary]:
        with self._lock:
            out = [ConversationSummary(sid, self._users.get(sid), self._status.get(sid, "open"), len(turns),
                               turns[-1].text if turns else "", turns[-1].created if turns else 0.0,
                               sorted({(t.reply or {}).get("intent", "") for t in turns} - {""}))
                   for sid, turns in self._turns.items()]
        return sorted(out, key=lambda s: s.updated, reverse=True)

    def handover_queue(self) -> list[Ticket]:
        return [t for t in self._tickets if t.status == "open"]

    def transcript(self, session_id: str) -> list[Turn]:
        with self._lock:
            return list(self._turns.get(session_id, []))

    def insights(self) -> dict:
        with self._lock:
            turns = [t for ts in self._turns.values() for t in ts]
        replies = [t.reply or {} for t in turns if t.role == "assistant"]
        intents: dict[str, int] = defaultdict(int)
        for r in replies:
            if r.get("intent"):
                intents[r["intent"]] += 1
        handed = len({t.session_id for t in self._tickets})
        return {"conversations": len(self._turns), "resolved_by_bot": len(self._turns) - handed,
                "handed_over": handed, "top_intents": sorted(intents.items(), key=lambda kv: -kv[1]),
                "unanswered": [t.text for t, nxt in zip(turns, turns[1:])
                               if t.role == "user" and (nxt.reply or {}).get("intent") == "unknown"],
                "thumbs_up": sum(t.helpful is True for t in turns),
                "thumbs_down": sum(t.helpful is False for t in turns),
                "claims_checked": sum(r.get("claims_checked", 0) for r in replies),
                "claims_repaired": sum(r.get("claims_repaired", 0) for r in replies)}

    def health(self) -> dict[str, str]:
        return dict(self._health)

    # ------------------------------------------------------------ helpers
    def _add(self, session_id: str, role: str, text: str, reply: dict | None = None) -> int:
        with self._lock:
            turn_id = self._next_turn
            self._next_turn += 1
            self._turns[session_id].append(Turn(turn_id, session_id, role, text, reply, time.time(), None))
            return turn_id

    def _last_user_text(self, session_id: str) -> str:
        users = [t.text for t in self.transcript(session_id) if t.role == "user"]
        return users[-1] if users else ""


class BackgroundServer:
    """A real uvicorn server on a free localhost port in a daemon thread (browser tests, screenshots)."""

    def __init__(self, app, host: str = "127.0.0.1"):
        import socket

        import uvicorn
        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        self.url = f"http://{host}:{port}"
        self._server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> "BackgroundServer":
        self._thread.start()
        deadline = time.time() + 30
        while not self._server.started:
            if time.time() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

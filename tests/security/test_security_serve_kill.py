"""Faults: `kill -9` of the real HTTP server. `shopbot serve --no-model` runs as a subprocess on a free loopback
port over a copy of the demo shop; customers talk to it over HTTP (session token, identify, cancel an order or
change its address, "yes"), and the server is SIGKILLed at a random moment of a customer's "yes" (the action and
the turn's write) or of an ordinary turn (the turn's write), then started again on the same data folder.

After every restart: each planned action is wholly applied or not at all (the order and its customer's record
match either the state before or the state the action makes, and nothing else in the shop changed), an
acknowledged "yes" (its HTTP reply arrived) is applied, every acknowledged turn of every conversation so far is
in the transcript endpoint in order and a turn without a reply is there whole (customer's message and reply) or
not at all, and both SQLite files pass PRAGMA integrity_check. Then the customer who got no reply sends the same
message again, as a person would: an action is taken then if it was not before, never twice.

The 20-round tests run the server with --no-model (checked template replies; the flows, actions and writes are
the same with the model); a few rounds run it with the language model. Every round starts a server process
(about 5 s to answer /healthz on a loaded 2-core machine, then a conversation), so all of these tests are `slow`;
the default suite kills a process that holds the bot's databases instead (test_security_faults.py).

    .venv/bin/python -m pytest -m slow -s tests/security/test_security_serve_kill.py
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from fault_worker import integrity

ROUNDS = 20  # kills per kind
MODEL_ROUNDS = 3  # kills per kind with the language model on (each restart loads it)
KILL_SPREAD = 1.5  # kills land uniformly within this many times the request's usual duration
START_TIMEOUT_S = 180
CANCEL_REASON = "no longer needed"
ACTIONS = ("cancel_pending_order", "modify_pending_order_address")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """One `shopbot serve` process over `data` (--no-model unless `model`); started again after each kill, on a
    new port."""

    def __init__(self, data: Path, logs: Path, model: bool = False):
        self.data, self.logs, self.model, self.proc, self.url, self.starts = data, logs, model, None, "", 0
        self.fresh = False  # started and not asked anything yet
        self.first_replies: list[float] = []  # seconds of the first chat request after each start
        logs.mkdir(exist_ok=True)

    def start(self) -> float:
        """Start the server and wait for /healthz; the seconds that took."""
        command = [str(Path(sys.executable).with_name("shopbot")), "--data-dir", str(self.data), "serve",
                   "--host", "127.0.0.1", "--port", str(port := free_port()), *([] if self.model else ["--no-model"])]
        env = {**os.environ, "SHOPBOT_STAFF_KEY": "test-staff-key", "HF_HUB_OFFLINE": "1"}
        env.pop("SHOPBOT_DATABASE_URL", None)  # the SQLite files in the data folder are what this test kills
        self.starts += 1
        self.log = self.logs / f"serve-{self.starts}.log"
        began = time.perf_counter()
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.url = f"http://127.0.0.1:{port}"
        while time.perf_counter() - began < START_TIMEOUT_S:
            assert self.proc.poll() is None, f"the server exited: {self.log.read_text()[-3000:]}"
            try:
                if httpx.get(self.url + "/healthz", timeout=5).status_code == 200:
                    self.fresh = True
                    return time.perf_counter() - began
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the server did not answer in {START_TIMEOUT_S} s: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(timeout=30) == -signal.SIGKILL

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


class Conversation:
    """A customer talking to the server: what it sent, what was acknowledged, what was in flight at a kill."""

    def __init__(self, customer: dict, messages: list[str]):
        self.customer, self.messages = customer, messages
        self.token = None
        self.acked: list[tuple[str, str, int]] = []  # (message, reply text, turn id) of every reply received
        self.in_flight: str | None = None  # the message whose request the kill cut off
        self.last: dict = {}  # the last reply's `shopbot` part
        self.seconds: list[float] = []  # how long each acknowledged request took

    def post(self, served: Served, message: str) -> dict:
        body = {"messages": [{"role": "user", "content": message}]}
        headers = {"X-Session-Token": self.token} if self.token else {}
        began, fresh = time.perf_counter(), served.fresh
        served.fresh = False
        response = httpx.post(served.url + "/v1/chat/completions", json=body, headers=headers, timeout=120)
        response.raise_for_status()
        reply = response.json()
        self.seconds.append(time.perf_counter() - began)
        if fresh:  # the first reply of a process loads the reading models
            served.first_replies.append(self.seconds[-1])
        self.token, self.last = reply["session_token"], reply["shopbot"]
        self.acked.append((message, reply["shopbot"]["text"], reply["shopbot"]["turn_id"]))
        return reply

    def say(self, served: Served, upto: int) -> None:
        for message in self.messages[len(self.acked):upto]:
            self.post(served, message)

    def say_and_kill(self, served: Served, message: str, delay: float) -> bool:
        """Send `message` and SIGKILL the server `delay` seconds later: whether the reply came first."""
        done = threading.Event()

        def send():
            try:
                self.post(served, message)
                done.set()
            except (httpx.TransportError, httpx.HTTPStatusError):
                pass  # cut off by the kill
        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(delay)
        served.kill()
        sender.join(timeout=130)
        if not done.is_set():
            self.in_flight = message
        return done.is_set()

    def check_transcript(self, url: str) -> str:
        """Every acknowledged turn in order, the cut-off one whole or absent: 'recorded' or 'not recorded' (a
        recorded one then counts as acknowledged: it is what the customer sees on reloading the chat)."""
        if self.token is None:  # cut off before its first reply: nothing was acknowledged, no token to read with
            return "no reply yet"
        session_id = self.last["session_id"]
        r = httpx.get(f"{url}/v1/sessions/{session_id}/messages", headers={"X-Session-Token": self.token},
                      timeout=30)
        assert r.status_code == 200, r.text
        got = [(m["role"], m["text"], m["turn_id"] if m["role"] == "assistant" else None)
               for m in r.json()["messages"]]
        expected = [t for said, text, turn_id in self.acked
                    for t in (("user", said, None), ("assistant", text, turn_id))]
        assert got[:len(expected)] == expected, "an acknowledged turn was lost, changed or reordered"
        rest = got[len(expected):]
        assert not rest or (self.in_flight is not None and len(rest) == 2 and rest[0] == ("user", self.in_flight, None)
                            and rest[1][0] == "assistant"), f"a half-written or unexpected turn: {rest}"
        if self.in_flight is not None:
            if rest:
                self.acked.append((self.in_flight, rest[1][1], rest[1][2]))
            self.in_flight = None
        return "recorded" if rest else "not recorded"


@pytest.fixture(scope="module")
def shop_plan(demo_db, tmp_path_factory):
    """Customers with a pending order (one each, all different), the shop before, and each planned action's result:
    even customers cancel, odd ones change the shipping address."""
    from knowledge.store import Store
    root = tmp_path_factory.mktemp("serve-plan")
    shutil.copy(demo_db, root / "after.db")
    store = Store(root / "after.db")
    before = store.export()
    customers, seen = [], set()
    for oid, order in sorted(before["orders"].items()):
        if order["status"] == "pending" and order["user_id"] not in seen:
            seen.add(order["user_id"])
            n = len(customers)
            address = {"address1": f"{100 + n} Maple Avenue", "address2": f"Suite {n + 1}", "city": "Austin",
                       "country": "USA", "state": "TX", "zip": f"787{n % 100:02d}"}
            customers.append({"order": oid, "user": order["user_id"], "address": address,
                              "email": before["users"][order["user_id"]]["email"],
                              "kind": "cancel" if n % 2 == 0 else "address"})
    for c in customers:
        if c["kind"] == "cancel":
            store.cancel_pending_order(c["order"], CANCEL_REASON)
        else:
            store.modify_pending_order_address(c["order"], c["address"])
    after = store.export()
    store.close()
    return customers, before, after


def action_messages(c: dict) -> list[str]:
    if c["kind"] == "cancel":
        task, detail = f"I'd like to cancel order {c['order']}.", CANCEL_REASON
    else:
        a = c["address"]
        task = f"I need to change the shipping address of order {c['order']}."
        detail = f"{a['address1']}, {a['address2']}, {a['city']}, {a['state']} {a['zip']}, {a['country']}"
    return [f"Hi, my email is {c['email']}.", task, detail, "yes"]


def ordinary_messages(c: dict) -> list[str]:
    return [f"Hi, my email is {c['email']}.", f"What is the status of order {c['order']}?",
            "How long do refunds take?", f"Which items are in order {c['order']}?", "What orders do I have?",
            "thanks, that's all"]


def state(export: dict, customer: dict) -> tuple:
    order = export["orders"][customer["order"]]
    return order, export["users"][order["user_id"]]


def check_shop(data: Path, plan, acted: dict[int, str]) -> dict[int, str]:
    """`acted`: customer index -> 'acked' (their "yes" was answered) or 'cut' (the kill cut it off). Each planned
    action whole or absent, acknowledged ones applied, none that was never asked for, nothing else changed;
    returns, for the cut ones, 'applied' or 'not applied'."""
    from knowledge.store import Store
    customers, before, after = plan
    store = Store(data / "shop.db")
    try:
        now = store.export()
    finally:
        store.close()
    outcome = {}
    for i, c in enumerate(customers):
        got = state(now, c)
        assert got in (state(before, c), state(after, c)), f"order {c['order']} half-applied"
        if acted.get(i) == "acked":
            assert got == state(after, c), f"the acknowledged {c['kind']} of {c['order']} is lost"
        elif i not in acted:
            assert got == state(before, c), f"order {c['order']} changed though nobody asked"
        else:
            outcome[i] = "applied" if got == state(after, c) else "not applied"
    touched_orders = {c["order"] for c in customers}
    touched_users = {c["user"] for c in customers}
    assert {k: v for k, v in now["orders"].items() if k not in touched_orders} == \
        {k: v for k, v in before["orders"].items() if k not in touched_orders}
    assert {k: v for k, v in now["users"].items() if k not in touched_users} == \
        {k: v for k, v in before["users"].items() if k not in touched_users}
    assert now["products"] == before["products"]
    return outcome


def run_kills(kind: str, rounds: int, seed: int, demo_db, tmp_path, plan, model: bool = False) -> dict:
    """`rounds` kills of one kind on one data folder; every restart is checked against everything so far."""
    customers = plan[0]
    rng = random.Random(seed)
    data = tmp_path / "shop"
    data.mkdir()
    shutil.copy(demo_db, data / "shop.db")
    served = Served(data, tmp_path / "logs", model=model)
    conversations: list[Conversation] = []
    acted: dict[int, str] = {}
    stats = {"start_s": [], "replied": 0, "applied": 0, "not applied": 0,
             "recorded": 0, "not recorded": 0, "delays": [], "retry actions": []}
    try:
        stats["start_s"].append(served.start())
        # Whole conversations, not killed: the request times the kills are spread over (each message's own, once
        # the search index is built and the models are loaded), and a first check that the script really acts.
        warm_up = Conversation({}, ["How long do refunds take?"])
        calibration = ([Conversation(c, action_messages(c)) for c in customers[:2]] if kind == "action"
                       else [Conversation(customers[0], ordinary_messages(customers[0]))])
        for conversation in [warm_up, *calibration]:
            conversations.append(conversation)
            conversation.say(served, len(conversation.messages))
        if kind == "action":
            assert [c.last["action"] for c in calibration] == list(ACTIONS), [c.acked[-1] for c in calibration]
            acted.update({0: "acked", 1: "acked"})
            scales = {c.customer["kind"]: c.seconds[-1] for c in calibration}  # the "yes" of each action
        else:
            scales = dict(enumerate(calibration[0].seconds[1:], start=1))  # the turns after identifying
        for k in range(len(calibration), len(calibration) + rounds):
            c = customers[k]
            if kind == "action":
                conversation = Conversation(c, action_messages(c))
                target, scale = 3, scales[c["kind"]]  # the "yes"
            else:
                conversation = Conversation(c, ordinary_messages(c))
                target = rng.randrange(1, len(conversation.messages))  # an ordinary turn once identified
                scale = scales[target]
            conversations.append(conversation)
            conversation.say(served, target)
            if kind == "action" and c["kind"] == "address":  # the detail was read as the new address
                assert c["address"]["address1"] in conversation.acked[-1][1], conversation.acked[-1]
            delay = rng.uniform(0, KILL_SPREAD * scale)
            stats["delays"].append(delay)
            replied = conversation.say_and_kill(served, conversation.messages[target], delay)
            stats["replied"] += replied
            if kind == "action":
                acted[k] = "acked" if replied else "cut"
                if replied:
                    assert conversation.last["action"] in ACTIONS
            stats["start_s"].append(served.start())
            assert integrity(data / "shop.db") == "ok" and integrity(data / "conversations.db") == "ok"
            for earlier in conversations:
                outcome = earlier.check_transcript(served.url)
                if earlier is conversation and not replied:
                    stats[outcome] += 1
            outcome = check_shop(data, plan, acted).get(k)
            if outcome:
                stats[outcome] += 1
            if not replied:  # the customer got no answer and sends the same message again
                retry = conversation.post(served, conversation.messages[target])["shopbot"]
                if kind == "action":  # taken now if not before, never twice (a second cancel refunds twice)
                    stats["retry actions"].append(f"{outcome}, then {retry['action'] or 'no action'}")
                    if retry["action"] in ACTIONS:
                        acted[k] = "acked"
                check_shop(data, plan, acted)
    finally:
        served.stop()
    stats["scale_s"], stats["first_reply_s"] = scales, served.first_replies
    return stats


def report(kind: str, rounds: int, stats: dict, model: bool = False) -> str:
    starts, scales = stats["start_s"], stats["scale_s"].values()
    cut = rounds - stats["replied"]
    line = (f"{kind}: {rounds} kills of `shopbot serve{'' if model else ' --no-model'}`; server ready in "
            f"{statistics.median(starts):.1f} s median (max {max(starts):.1f} s) over {len(starts)} starts; "
            f"its first reply after a start "
            f"{statistics.median(stats['first_reply_s']):.1f} s median (max {max(stats['first_reply_s']):.1f} s); "
            f"kill delays uniform from 0 to {KILL_SPREAD}x the message's time in calibration "
            f"({min(scales):.2f}-{max(scales):.2f} s); reply arrived before the kill {stats['replied']}, "
            f"cut off {cut}: turn recorded whole {stats['recorded']}, not recorded {stats['not recorded']}")
    if kind == "action":
        retries = ", ".join(f"{n}x {what}" for what, n in sorted(Counter(stats["retry actions"]).items()))
        line += (f"; cut-off actions applied {stats['applied']}, not applied {stats['not applied']}; the customer's "
                 f"repeated message after the restart: {retries or 'none'}")
    return line + "; every check held after every restart"


@pytest.mark.slow
@pytest.mark.parametrize("kind, seed", [("action", 11), ("turn", 12)])
def test_kill_the_server_20_times(kind, seed, demo_db, tmp_path, shop_plan):
    stats = run_kills(kind, ROUNDS, seed, demo_db, tmp_path, shop_plan)
    print("\n" + report(kind, ROUNDS, stats))
    assert stats["replied"] < ROUNDS, "every kill came after the reply: none landed in a request"


@pytest.mark.slow
@pytest.mark.parametrize("kind, seed", [("action", 13), ("turn", 14)])
def test_kill_the_server_with_the_language_model(kind, seed, demo_db, tmp_path, shop_plan):
    """The same, fewer times, with the language model on: each restart loads it, and a policy question may be
    worded by it (the kill may land while it generates)."""
    stats = run_kills(kind, MODEL_ROUNDS, seed, demo_db, tmp_path, shop_plan, model=True)
    print("\n" + report(kind, MODEL_ROUNDS, stats, model=True))

"""Faults: the process writing the shop's databases killed with SIGKILL in the middle of an action or of the write
of a turn, then reopened. Every action is wholly applied or not at all, no acknowledged write is lost, and both
SQLite files pass PRAGMA integrity_check. The default tests kill a few times at the storage layer; the slow ones
kill 20 times each, at the storage layer and inside a real assistant confirming cancellations.

The killed process is tests/security/fault_worker.py; it prints BEGIN before a write and ACK once it returned.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fault_worker import integrity

WORKER = Path(__file__).with_name("fault_worker.py")
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_KILLS = 2  # per kind in the default suite; the slow tests kill KILLS times
KILLS = 20


def kill_during(mode: str, data: Path, target: int, rng: random.Random, timeout: float = 300
                ) -> tuple[set[int], int]:
    """Run the worker, SIGKILL it a moment after it begins write `target`: (the writes it acknowledged, the last
    write it began). The worker may be a little ahead of what this process has read when the signal lands."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(WORKER), mode, str(data)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    acked: set[int] = set()
    begun, killed = -1, False
    try:
        for line in proc.stdout:
            word, _, number = line.strip().partition(" ")
            if word == "ACK":
                acked.add(int(number))
            elif word == "BEGIN":
                begun = int(number)
            if word == "BEGIN" and begun == target:
                os.sched_yield()
                if rng.random() < 0.7:  # mostly a little later, sometimes at once
                    time.sleep(rng.uniform(0, 0.02))
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
        rest, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
    acked |= {int(line.split()[1]) for line in rest.splitlines() if line.startswith("ACK ")}
    begun = max([begun] + [int(line.split()[1]) for line in rest.splitlines() if line.startswith("BEGIN ")])
    assert killed, f"the worker ended before write {target}: {err[-2000:]}"
    assert proc.returncode == -signal.SIGKILL
    return acked, begun


# ------------------------------------------------------------------------------------------ actions
@pytest.fixture(scope="module")
def cancel_plan(demo_db, tmp_path_factory):
    """30 pending orders of 30 different customers, and each (order, customer) before and after its cancel."""
    from knowledge.store import Store
    root = tmp_path_factory.mktemp("plan")
    shutil.copy(demo_db, root / "after.db")
    store = Store(root / "after.db")
    before = store.export()
    seen, orders = set(), []
    for oid, o in sorted(before["orders"].items()):
        if o["status"] == "pending" and o["user_id"] not in seen:
            seen.add(o["user_id"])
            orders.append(oid)
    orders = orders[:30]
    for oid in orders:
        store.cancel_pending_order(oid, "no longer needed")
    after = store.export()
    store.close()
    return orders, before, after


def state(export: dict, order_id: str) -> tuple:
    order = export["orders"][order_id]
    return order, export["users"][order["user_id"]]


def check_actions(data: Path, plan, acked: set[int], begun: int) -> str:
    """Acknowledged cancels applied, none begun after the kill, each whole or undone; what became of the one
    in flight."""
    from knowledge.store import Store
    orders, before, after = plan
    assert integrity(data / "shop.db") == "ok"
    store = Store(data / "shop.db")
    now = store.export()
    store.close()
    outcome = "none in flight"
    for i, oid in enumerate(orders):
        got = state(now, oid)
        assert got in (state(before, oid), state(after, oid)), f"order {oid} half-applied"
        if i in acked:
            assert got == state(after, oid), f"acknowledged cancel of {oid} lost"
        elif i > begun:
            assert got == state(before, oid), f"order {oid} changed though its cancel never began"
        if i == begun and i not in acked:
            outcome = "applied" if got == state(after, oid) else "not applied"
    return outcome


def run_action_kills(demo_db, tmp_path, plan, kills: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    outcomes = []
    for k in range(kills):
        data = tmp_path / f"actions-{k}"
        data.mkdir()
        shutil.copy(demo_db, data / "shop.db")
        (data / "plan.json").write_text(json.dumps({"orders": plan[0]}))
        target = rng.randrange(1, len(plan[0]))
        acked, begun = kill_during("actions", data, target, rng)
        outcomes.append(check_actions(data, plan, acked, begun))
    return outcomes


def test_kill_during_an_action_leaves_it_whole_or_undone(demo_db, tmp_path, cancel_plan):
    outcomes = run_action_kills(demo_db, tmp_path, cancel_plan, DEFAULT_KILLS, seed=1)
    assert len(outcomes) == DEFAULT_KILLS


@pytest.mark.slow
def test_kill_during_an_action_20_times(demo_db, tmp_path, cancel_plan):
    outcomes = run_action_kills(demo_db, tmp_path, cancel_plan, KILLS, seed=2)
    print(f"in-flight action after {KILLS} kills: {outcomes.count('applied')} applied, "
          f"{outcomes.count('not applied')} not applied")


# ------------------------------------------------------------------------------------------ turns
def check_turns(data: Path, acked: set[int]) -> str:
    from bot.memory import ConversationStore
    assert integrity(data / "conversations.db") == "ok"
    memory = ConversationStore(data / "conversations.db")
    texts = [t.text for t in memory.history("fault-session")]
    memory.close()
    expected = [f"turn {i} " + "x" * 3000 for i in range(len(texts))]
    assert texts == expected, "a turn was cut, reordered or duplicated"
    assert set(range(len(texts))) >= acked, "an acknowledged turn was lost"
    assert len(texts) in (len(acked), len(acked) + 1)
    return "written" if len(texts) > len(acked) else "not written"


def run_turn_kills(tmp_path, kills: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    outcomes = []
    for k in range(kills):
        data = tmp_path / f"turns-{k}"
        data.mkdir()
        acked, _ = kill_during("turns", data, rng.randrange(5, 60), rng)
        outcomes.append(check_turns(data, acked))
    return outcomes


def test_kill_during_the_write_of_a_turn_loses_no_acknowledged_turn(tmp_path):
    assert len(run_turn_kills(tmp_path, DEFAULT_KILLS, seed=3)) == DEFAULT_KILLS


@pytest.mark.slow
def test_kill_during_the_write_of_a_turn_20_times(tmp_path):
    outcomes = run_turn_kills(tmp_path, KILLS, seed=4)
    print(f"in-flight turn after {KILLS} kills: {outcomes.count('written')} written, "
          f"{outcomes.count('not written')} not")


# ------------------------------------------------------------------------------------------ a real assistant
@pytest.mark.slow
@pytest.mark.parametrize("moment", ["confirm", "turn"])
def test_kill_the_assistant_20_times_while_it_confirms_or_answers(demo_db, tmp_path, cancel_plan, moment):
    """A real Bot (packaged classifier, claim-checked templates) cancels orders for customers who identify,
    name the order, give the reason and say yes; it is killed as a "yes" arrives (the action and the turn's
    writes) or as another message arrives (the turn's writes), 20 times each on fresh copies of the shop."""
    from bot.memory import ConversationStore
    orders, before, after = cancel_plan
    rng = random.Random(5 if moment == "confirm" else 6)
    outcomes = []
    for k in range(KILLS):
        data = tmp_path / f"bot-{moment}-{k}"
        data.mkdir()
        shutil.copy(demo_db, data / "shop.db")
        chosen = orders[:4]
        conversations = [{"order": oid, "messages": [
            f"Hi, my email is {before['users'][before['orders'][oid]['user_id']]['email']}.",
            f"I'd like to cancel order {oid}.", "no longer needed", "yes"]} for oid in chosen]
        (data / "plan.json").write_text(json.dumps({"conversations": conversations}))
        message = rng.randrange(len(chosen) * 4)
        if moment == "confirm":
            message = message - message % 4 + 3  # a "yes"
        elif message % 4 == 3:
            message -= 1
        acked, begun = kill_during("bot", data, message, rng, timeout=600)
        assert integrity(data / "shop.db") == "ok" and integrity(data / "conversations.db") == "ok"
        from knowledge.store import Store
        store = Store(data / "shop.db")
        now = store.export()
        store.close()
        memory = ConversationStore(data / "conversations.db")
        for n, conv in enumerate(conversations):
            oid = conv["order"]
            got = state(now, oid)
            assert got in (state(before, oid), state(after, oid)), f"order {oid} half-applied"
            yes = n * 4 + 3
            if yes in acked:
                assert got == state(after, oid), "an acknowledged cancel was lost"
            if yes == begun and yes not in acked:
                outcomes.append("applied" if got == state(after, oid) else "not applied")
            users = sum(1 for t in memory.history(f"c{n}") if t.role == "user")
            assert users >= sum(1 for i in acked if n * 4 <= i < n * 4 + 4), "an acknowledged turn was lost"
        memory.close()
    print(f"{moment}: {KILLS} kills; in-flight action {outcomes.count('applied')} applied, "
          f"{outcomes.count('not applied')} not applied")

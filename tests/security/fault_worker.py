"""A process for the kill -9 tests to kill: it writes to a shop's databases and says what it is doing.

    python fault_worker.py actions DIR   cancel each order in DIR/plan.json, one transaction each
    python fault_worker.py turns DIR     append turns to DIR/conversations.db
    python fault_worker.py bot DIR       a real Bot: identify, cancel, confirm, for each customer in DIR/plan.json

Before each write it prints "BEGIN i" and after the write returns (committed) "ACK i", flushing both, so the
test knows what was in flight when it killed the process. SQLite's VM is slowed a little (a progress handler
that sleeps) so that a kill lands inside the write, not between writes.
"""
from __future__ import annotations

import json
import sqlite3
import sys
import time
from pathlib import Path


def integrity(path: Path) -> str:
    """SQLite's own check of a database file: "ok" when it is sound (used by the fault tests after each kill)."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def slow(obj, depth: int = 3) -> None:
    """Slow every SQLite connection `obj` holds (found by looking through its attributes, so the worker does not
    depend on how the store names them): each 200 VM steps sleep 0.5 ms, then carry on (the handler returns 0)."""
    if isinstance(obj, sqlite3.Connection):
        obj.set_progress_handler(lambda: time.sleep(0.0005) or 0, 200)
    elif depth and hasattr(obj, "__dict__"):
        for value in vars(obj).values():
            slow(value, depth - 1)


def say(word: str, i: int) -> None:
    print(f"{word} {i}", flush=True)


def actions(data: Path) -> None:
    from knowledge.store import Store
    store = Store(data / "shop.db")
    slow(store)
    for i, order_id in enumerate(json.loads((data / "plan.json").read_text())["orders"]):
        say("BEGIN", i)
        store.cancel_pending_order(order_id, "no longer needed")
        say("ACK", i)


def turns(data: Path) -> None:
    from bot.memory import ConversationStore
    memory = ConversationStore(data / "conversations.db")
    slow(memory)
    for i in range(100_000):
        say("BEGIN", i)
        memory.add_turn("fault-session", "user", f"turn {i} " + "x" * 3000)
        say("ACK", i)


def bot(data: Path) -> None:
    import torch
    torch.set_num_threads(1)
    from bot import Bot
    from knowledge.documents import shop_documents
    from knowledge.embeddings import HashEmbedder
    from knowledge.index import SearchIndex
    from trustgen.writer import TemplateWriter
    from knowledge.store import Store
    store = Store(data / "shop.db")
    index = SearchIndex.build(shop_documents(store), embedder=HashEmbedder())  # FAQ answers only; fast
    store.close()
    b = Bot.load(data, writer=TemplateWriter(), index=index)
    slow(b.store)
    slow(b.memory)
    plan = json.loads((data / "plan.json").read_text())
    i = 0
    for n, step in enumerate(plan["conversations"]):
        for message in step["messages"]:
            say("BEGIN", i)
            b.respond(message, session_id=f"c{n}")
            say("ACK", i)
            i += 1
    print("DONE", flush=True)


if __name__ == "__main__":
    {"actions": actions, "turns": turns, "bot": bot}[sys.argv[1]](Path(sys.argv[2]))

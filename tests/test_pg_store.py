"""The shop on PostgreSQL as several workers see it: actions apply exactly once, the schema is versioned.

Each "worker" is its own Store with its own connection pool on the same database, as two processes would
be. Skipped (saying why) without SHOPBOT_DATABASE_URL; under CI the PostgreSQL leg fails instead.
"""
from __future__ import annotations

import threading
import time

import pytest

from knowledge.errors import ActionError
from knowledge.storage import open_database
from knowledge.storage.errors import BadDatabaseUrl, DatabaseUnavailable, SchemaMismatch
from knowledge.store import Store


@pytest.fixture
def workers(pg_url):
    """Two stores on one fresh PostgreSQL shop: two workers of one deployment."""
    url = pg_url
    first, _ = Store.fill(open_database(url))
    second = Store(open_database(url))
    yield first, second
    first.close()
    second.close()


def _pending_gift_card_orders(store, n):
    out = []
    for order in store.export()["orders"].values():
        history = order["payment_history"]
        if order["status"] == "pending" and len(history) == 1 and "gift_card" in history[0]["payment_method_id"]:
            out.append(order)
    assert len(out) >= n
    return out[:n]


def _race(calls):
    """Run the calls at the same instant in threads; returns each one's result or exception."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        try:
            results[i] = call()
        except Exception as exc:  # the loser's ActionError is the expected outcome
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_two_workers_confirming_the_same_cancel_apply_it_once(workers):
    a, b = workers
    for order in _pending_gift_card_orders(a, 8):
        card = order["payment_history"][0]["payment_method_id"]
        before = a.get_user(order["user_id"])["payment_methods"][card]["balance"]
        results = _race([lambda: a.cancel_pending_order(order["order_id"], "no longer needed"),
                         lambda: b.cancel_pending_order(order["order_id"], "no longer needed")])
        done = [r for r in results if isinstance(r, dict)]
        refused = [r for r in results if isinstance(r, ActionError)]
        assert len(done) == 1 and len(refused) == 1, results
        assert "cancelled, not pending" in str(refused[0])
        after = b.get_order(order["order_id"])
        assert after["status"] == "cancelled"
        assert [p["transaction_type"] for p in after["payment_history"]] == ["payment", "refund"]
        balance = b.get_user(order["user_id"])["payment_methods"][card]["balance"]
        assert balance == round(before + order["payment_history"][0]["amount"], 2)  # refunded once


def test_two_workers_confirming_the_same_exchange_apply_it_once(workers):
    a, b = workers
    order = next(o for o in a.export()["orders"].values() if o["status"] == "delivered")
    item = order["items"][0]
    product = a.get_product(item["product_id"])
    new = next(v for v in product["variants"].values() if v["available"] and v["item_id"] != item["item_id"])
    method = next(iter(a.get_user(order["user_id"])["payment_methods"]))
    results = _race([lambda s=s: s.exchange_delivered_order_items(order["order_id"], [item["item_id"]],
                                                                  [new["item_id"]], method) for s in (a, b)])
    assert sum(isinstance(r, dict) for r in results) == 1, results
    assert sum(isinstance(r, ActionError) for r in results) == 1, results
    assert b.get_order(order["order_id"])["status"] == "exchange requested"


def test_a_second_confirmation_waits_for_the_first_ones_row_lock(workers, monkeypatch):
    """Deterministic: worker A holds the order's lock mid-transaction; B's confirmation waits, then is refused."""
    a, b = workers
    order = _pending_gift_card_orders(a, 1)[0]
    import knowledge.store as store_module
    holding, release = threading.Event(), threading.Event()
    real_save = store_module._save_order

    def slow_save(conn, o):
        if threading.current_thread().name == "worker-a":
            holding.set()
            release.wait(10)
        real_save(conn, o)

    monkeypatch.setattr(store_module, "_save_order", slow_save)
    first = threading.Thread(target=a.cancel_pending_order, args=(order["order_id"], "no longer needed"),
                             name="worker-a")
    first.start()
    assert holding.wait(10)
    outcome = {}

    def second():
        try:
            b.cancel_pending_order(order["order_id"], "ordered by mistake")
        except ActionError as exc:
            outcome["refused"] = str(exc)
        outcome["at"] = time.monotonic()

    other = threading.Thread(target=second)
    other.start()
    time.sleep(0.5)
    assert "at" not in outcome  # B is waiting on A's row lock, not reading the order as still pending
    released = time.monotonic()
    release.set()
    first.join(10)
    other.join(10)
    assert outcome["at"] >= released and "cancelled, not pending" in outcome["refused"]
    assert b.get_order(order["order_id"])["cancel_reason"] == "no longer needed"


def test_failed_action_changes_nothing_on_postgres(workers):
    a, _ = workers
    order = _pending_gift_card_orders(a, 1)[0]
    before = a.export()
    with pytest.raises(ActionError):
        a.cancel_pending_order(order["order_id"], "because")  # not an allowed reason
    assert a.export() == before


def test_schema_version_is_checked_at_start(pg_url):
    url = pg_url
    store, _ = Store.fill(open_database(url))
    assert store.db.rows("SELECT component, version FROM schema_migrations") == [("shop", 1)]
    with store.transaction() as conn:
        conn.execute("INSERT INTO schema_migrations VALUES ('shop', 2, 'from_the_future', 0)")
    store.close()
    with pytest.raises(SchemaMismatch, match="version 2, newer than this code's 1"):
        Store(open_database(url))


def test_workers_starting_together_migrate_and_import_once(pg_url):
    url = pg_url
    results = _race([lambda: Store.fill(open_database(url)) for _ in range(3)])
    stores = [r[0] for r in results]
    assert all(isinstance(s, Store) for s in stores), results
    assert stores[0].db.rows("SELECT COUNT(*) FROM products")[0][0] == 50
    assert stores[0].db.rows("SELECT COUNT(*) FROM schema_migrations")[0][0] == 1
    for s in stores:
        s.close()


def test_unreachable_server_and_bad_urls_say_so():
    with pytest.raises(DatabaseUnavailable, match="cannot connect to postgresql://nobody:\\*\\*\\*@127.0.0.1:1/x"):
        from knowledge.storage.postgres import PostgresConfig, PostgresDatabase
        PostgresDatabase("postgresql://nobody:secret@127.0.0.1:1/x", PostgresConfig(connect_timeout_s=1))
    with pytest.raises(BadDatabaseUrl, match="only postgresql://"):
        from knowledge.storage import database_url
        database_url({"SHOPBOT_DATABASE_URL": "mysql://shop"})
    with pytest.raises(BadDatabaseUrl, match="schema name"):
        open_database("postgresql://root@127.0.0.1/x?options=-csearch_path%3Da;drop")

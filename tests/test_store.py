import json

import pytest

from knowledge.errors import ActionError, DataFileError
from knowledge.paths import demo_shop_source
from knowledge.store import Store, open_store


def _source(name):
    return json.loads((demo_shop_source() / f"{name}.json").read_text())


def test_export_after_import_equals_source_field_for_field(store):
    exported = store.export()
    for name in ("products", "users", "orders"):
        source = _source(name)
        assert list(exported[name]) == list(source)  # same records, same order
        for key, record in source.items():
            assert exported[name][key] == record, (name, key)
    assert sum(len(p["variants"]) for p in exported["products"].values()) == 591
    assert (len(exported["users"]), len(exported["orders"])) == (500, 1000)


def test_open_store_creates_then_reopens(tmp_path):
    store = open_store(tmp_path / "shop")
    order_id = next(iter(_source("orders")))
    assert store.get_order(order_id)["order_id"] == order_id
    store.close()
    again = open_store(tmp_path / "shop")
    assert len(again.product_ids()) == 50
    if again.db.dialect == "sqlite":  # on the PostgreSQL leg open_store uses the server, not a file
        assert again.db.rows("PRAGMA journal_mode")[0][0] == "wal"
    again.close()


def test_lookups(store):
    user = _source("users")["noah_brown_6181"]
    assert store.find_user_by_email(user["email"].upper()) == "noah_brown_6181"
    assert store.find_user_by_name_zip("noah", "BROWN", user["address"]["zip"]) == "noah_brown_6181"
    assert store.find_user_by_name_zip("Noah", "Brown", "00000") is None
    variant = store.get_variant("9612497925")
    assert variant["name"] == "T-Shirt" and variant["price"] == 50.88 and variant["options"]["color"] == "blue"


def _pending_order_paid_by(source, users, kind="gift_card"):
    for order in source.values():
        if order["status"] == "pending" and len(order["payment_history"]) == 1 \
                and kind in order["payment_history"][0]["payment_method_id"]:
            return order


def test_cancel_refunds_gift_card_at_once(store):
    orders, users = _source("orders"), _source("users")
    order = _pending_order_paid_by(orders, users)
    gift = order["payment_history"][0]["payment_method_id"]
    before = users[order["user_id"]]["payment_methods"][gift]["balance"]
    after = store.cancel_pending_order(order["order_id"], "ordered by mistake")
    assert after["status"] == "cancelled" and after["cancel_reason"] == "ordered by mistake"
    assert after["payment_history"][-1] == {"transaction_type": "refund", "amount": order["payment_history"][0]["amount"],
                                            "payment_method_id": gift}
    balance = store.get_user(order["user_id"])["payment_methods"][gift]["balance"]
    assert balance == round(before + order["payment_history"][0]["amount"], 2)


def test_refused_actions_change_nothing(store):
    orders = _source("orders")
    pending = next(o for o in orders.values() if o["status"] == "pending")
    delivered = next(o for o in orders.values() if o["status"] == "delivered")
    before = store.export()
    with pytest.raises(ActionError, match="reason"):
        store.cancel_pending_order(pending["order_id"], "found it cheaper elsewhere")
    with pytest.raises(ActionError, match="not pending"):
        store.cancel_pending_order(delivered["order_id"], "no longer needed")
    with pytest.raises(ActionError, match="no order"):
        store.return_delivered_order_items("#W0000000", ["1"], "paypal_1")
    with pytest.raises(ActionError, match="not in order"):
        store.return_delivered_order_items(delivered["order_id"], ["0000000000"],
                                           delivered["payment_history"][0]["payment_method_id"])
    other_item = next(i for i in _source("products")["9523456873"]["variants"])  # a T-Shirt variant
    item = delivered["items"][0]
    if item["product_id"] != "9523456873":
        with pytest.raises(ActionError, match="not a variant"):
            store.exchange_delivered_order_items(delivered["order_id"], [item["item_id"]], [other_item],
                                                 delivered["payment_history"][0]["payment_method_id"])
    assert store.export() == before


def test_modify_items_is_all_or_nothing(store):
    """Two items, the second change invalid: the first must not have been applied."""
    orders, products = _source("orders"), _source("products")
    order = next(o for o in orders.values() if o["status"] == "pending" and len(o["items"]) >= 2)
    first = order["items"][0]
    new_first = next(v["item_id"] for v in products[first["product_id"]]["variants"].values()
                     if v["available"] and v["item_id"] != first["item_id"])
    before = store.export()
    with pytest.raises(ActionError):
        store.modify_pending_order_items(order["order_id"], [first["item_id"], order["items"][1]["item_id"]],
                                         [new_first, "not-an-item"], order["payment_history"][0]["payment_method_id"])
    assert store.export() == before
    done = store.modify_pending_order_items(order["order_id"], [first["item_id"]], [new_first],
                                            order["payment_history"][0]["payment_method_id"])
    assert done["status"] == "pending (item modified)"
    assert done["items"][0]["item_id"] == new_first
    assert done["items"][0]["price"] == products[first["product_id"]]["variants"][new_first]["price"]


def test_gift_card_without_enough_balance_is_refused(store):
    users, orders = _source("users"), _source("orders")
    for order in orders.values():
        if order["status"] != "pending" or len(order["payment_history"]) != 1:
            continue
        cards = [m for m in users[order["user_id"]]["payment_methods"].values()
                 if m["source"] == "gift_card" and m["balance"] < order["payment_history"][0]["amount"]
                 and m["id"] != order["payment_history"][0]["payment_method_id"]]
        if cards:
            before = store.export()
            with pytest.raises(ActionError, match="balance"):
                store.modify_pending_order_payment(order["order_id"], cards[0]["id"])
            assert store.export() == before
            return
    pytest.fail("the demo shop should have such an order")


def test_malformed_records_are_reported_and_skipped_whole(tmp_path):
    products, users, orders = _source("products"), _source("users"), _source("orders")
    first_product = next(iter(products))
    products[first_product]["variants"][next(iter(products[first_product]["variants"]))]["price"] = "cheap"
    first_user = next(iter(users))
    del users[first_user]["email"]
    order_ids = list(orders)
    orders[order_ids[5]]["items"][0]["price"] = -3
    for name, data in (("products", products), ("users", users), ("orders", orders)):
        (tmp_path / f"{name}.json").write_text(json.dumps(data))
    store, problems = Store.create(tmp_path / "shop.db", tmp_path)
    text = [str(p) for p in problems]
    assert any(t.startswith(f"products.json: record {first_product}:") and "price" in t for t in text)
    assert any(t.startswith(f"users.json: record {first_user}:") and "email" in t for t in text)
    assert any(t.startswith(f"orders.json: record {order_ids[5]}:") and "price" in t for t in text)
    exported = store.export()
    assert first_product not in exported["products"] and first_user not in exported["users"]
    assert order_ids[5] not in exported["orders"]
    # orders of the skipped customer are skipped too, and say why
    skipped_for_user = [o for o in orders if orders[o]["user_id"] == first_user]
    assert skipped_for_user and all(o not in exported["orders"] for o in skipped_for_user)
    assert any("not a known customer" in t for t in text)
    assert len(exported["products"]) == 49


def test_unreadable_file_is_a_clear_error(tmp_path):
    (tmp_path / "products.json").write_text("{not json")
    with pytest.raises(DataFileError, match="products.json: not valid JSON"):
        Store.create(tmp_path / "shop.db", tmp_path)
    assert not (tmp_path / "shop.db").exists()


def test_reads_are_not_held_up_by_a_write_in_progress(store):
    """A worker's reads run beside an open write transaction (own connection per thread, or a pool)."""
    import threading
    order_id = next(iter(_source("orders")))
    holding, release = threading.Event(), threading.Event()

    def writer():
        with store.transaction() as conn:
            conn.execute("UPDATE orders SET status = status WHERE order_id = ?", (order_id,))
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(10)
        done = threading.Event()
        threading.Thread(target=lambda: (store.get_order(order_id), store.variants(), done.set())).start()
        assert done.wait(5), "a read waited for the write transaction to end"
    finally:
        release.set()
        thread.join(10)

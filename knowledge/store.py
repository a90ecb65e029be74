"""The shop's database: catalog, customers and orders, and the actions the shop's policy allows.

`open_store(data_dir)` opens the shop where the settings put it: the SQLite file `data_dir/shop.db` by default,
or the PostgreSQL database of $SHOPBOT_DATABASE_URL, filling an empty one from the shop's JSON files (the demo
shop by default). `Store.create(path)` imports into a new SQLite file; `Store(path_or_database)` opens one.
Reads return plain dicts in the source files' shape, so `export()` after import equals the source.
Each action (cancel, modify, return, exchange, change address) locks the rows it changes, checks the order's
state, runs in one transaction and either changes everything it should or nothing, raising `ActionError` with the
reason; two workers confirming the same action at once apply it exactly once. It does not decide what a
customer may ask for: that is the dialogue policy's job in `bot/`. Backends: knowledge/storage/.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from .errors import ActionError, NotFound
from .paths import demo_shop_source
from .records import Problem, load_shop_files
from .storage import Database, database_url, migrate, open_database
from .storage.sqlite import SqliteDatabase

log = logging.getLogger(__name__)
COMPONENT = "shop"  # its migrations: knowledge/migrations/<dialect>/
CANCEL_REASONS = ("no longer needed", "ordered by mistake")
ADDRESS_FIELDS = ("address1", "address2", "city", "country", "state", "zip")
_ORDER_FIELDS = ("order_id", "user_id", "address", "items", "fulfillments", "status", "payment_history")


class Store:
    """One shop's database. Safe to share between threads; on PostgreSQL, between worker processes and hosts."""

    def __init__(self, target: str | Path | Database):
        if isinstance(target, (str, Path)):
            if not Path(target).exists():
                raise NotFound("shop database", str(target))
            target = SqliteDatabase(Path(target))
        self.db = target
        self.path = getattr(target, "path", None)  # the SQLite file; None on a database server
        try:
            migrate(self.db, COMPONENT, "knowledge")  # checks the schema version; applies what is missing
        except BaseException:
            self.db.close()
            raise

    # ---------------------------------------------------------------- creation
    @classmethod
    def create(cls, path: str | Path, source_dir: str | Path | None = None) -> tuple["Store", list[Problem]]:
        """Import a shop's JSON files into a new SQLite file at `path`; returns the store and skipped records."""
        shop = load_shop_files(Path(source_dir) if source_dir else demo_shop_source())
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".importing")
        for suffix in ("", "-wal", "-shm"):
            Path(str(tmp) + suffix).unlink(missing_ok=True)
        db = SqliteDatabase(tmp)
        try:
            migrate(db, COMPONENT, "knowledge")
            with db.transaction() as conn:
                _import(conn, shop)
            db.checkpoint()
        finally:
            db.close()
        for suffix in ("-wal", "-shm"):
            Path(str(tmp) + suffix).unlink(missing_ok=True)
        tmp.replace(path)  # all or nothing: a half-written import never takes the database's name
        return cls(path), shop.problems

    @classmethod
    def fill(cls, db: Database, source_dir: str | Path | None = None) -> tuple["Store", list[Problem]]:
        """Open the shop in `db` (a server), importing the shop's files first if it holds no shop yet.

        The check and the import run in one transaction under a lock, so workers starting at once import once.
        """
        store = cls(db)
        if db.rows("SELECT 1 FROM products LIMIT 1"):
            return store, []
        shop = load_shop_files(Path(source_dir) if source_dir else demo_shop_source())
        with db.transaction() as conn:
            db.lock(conn, "import")
            if conn.execute("SELECT 1 FROM products LIMIT 1").fetchone() is None:
                _import(conn, shop)
        return store, shop.problems

    def close(self) -> None:
        self.db.close()

    def transaction(self):
        """One all-or-nothing transaction: COMMIT at the end, ROLLBACK on any exception."""
        return self.db.transaction()

    def _rows(self, sql: str, args=()) -> list:
        return self.db.rows(sql, args)

    # ---------------------------------------------------------------- reads
    def product_ids(self) -> list[str]:
        return [r[0] for r in self._rows("SELECT product_id FROM products ORDER BY pos")]

    def get_product(self, product_id: str) -> dict:
        rows = self._rows("SELECT * FROM products WHERE product_id = ?", (product_id,))
        if not rows:
            raise NotFound("product", product_id)
        return self._product_dict(rows[0])

    def _product_dict(self, row) -> dict:
        variants = self._rows("SELECT * FROM variants WHERE product_id = ? ORDER BY pos", (row["product_id"],))
        return {"name": row["name"], "product_id": row["product_id"],
                "variants": {v["item_id"]: _variant_dict(v) for v in variants}}

    def get_variant(self, item_id: str) -> dict:
        """A variant with its product's id and name: {item_id, options, available, price, product_id, name}."""
        rows = self._rows("SELECT v.*, p.name FROM variants v JOIN products p USING (product_id) WHERE item_id = ?",
                          (item_id,))
        if not rows:
            raise NotFound("item", item_id)
        return {**_variant_dict(rows[0]), "product_id": rows[0]["product_id"], "name": rows[0]["name"]}

    def variants(self) -> list[dict]:
        """Every variant of the catalog, with product id and name, in catalog order."""
        rows = self._rows("SELECT v.*, p.name FROM variants v JOIN products p USING (product_id) "
                          "ORDER BY p.pos, v.pos")
        return [{**_variant_dict(r), "product_id": r["product_id"], "name": r["name"]} for r in rows]

    def find_user_by_email(self, email: str) -> str | None:
        rows = self._rows("SELECT user_id FROM users WHERE lower(email) = lower(?)", (email.strip(),))
        return rows[0][0] if len(rows) == 1 else None

    def find_user_by_name_zip(self, first_name: str, last_name: str, zip_code: str) -> str | None:
        rows = self._rows(
            "SELECT user_id FROM users WHERE lower(first_name) = lower(?) AND lower(last_name) = lower(?) "
            f"AND {self.db.json_text('address', 'zip')} = ?", (first_name.strip(), last_name.strip(), zip_code.strip()))
        return rows[0][0] if len(rows) == 1 else None

    def get_user(self, user_id: str) -> dict:
        rows = self._rows("SELECT * FROM users WHERE user_id = ?", (user_id,))
        if not rows:
            raise NotFound("customer", user_id)
        return self._user_dict(rows[0])

    def _user_dict(self, row) -> dict:
        methods = self._rows("SELECT * FROM payment_methods WHERE user_id = ? ORDER BY pos", (row["user_id"],))
        return {"name": {"first_name": row["first_name"], "last_name": row["last_name"]},
                "address": json.loads(row["address"]), "email": row["email"],
                "payment_methods": {m["id"]: _payment_dict(m) for m in methods},
                "orders": json.loads(row["orders"])}

    def get_order(self, order_id: str) -> dict:
        rows = self._rows("SELECT * FROM orders WHERE order_id = ?", (order_id,))
        if not rows:
            raise NotFound("order", order_id)
        return _order_dict(rows[0])

    def orders_of(self, user_id: str) -> list[dict]:
        return [_order_dict(r) for r in self._rows("SELECT * FROM orders WHERE user_id = ? ORDER BY pos", (user_id,))]

    def export(self) -> dict:
        """products, users and orders in the JSON shape of the source files."""
        return {
            "products": {r["product_id"]: self._product_dict(r) for r in self._rows("SELECT * FROM products ORDER BY pos")},
            "users": {r["user_id"]: self._user_dict(r) for r in self._rows("SELECT * FROM users ORDER BY pos")},
            "orders": {r["order_id"]: _order_dict(r) for r in self._rows("SELECT * FROM orders ORDER BY pos")},
        }

    # ---------------------------------------------------------------- actions
    def cancel_pending_order(self, order_id: str, reason: str) -> dict:
        """Cancel a pending order; refund every payment (gift cards at once, others in 5-7 business days)."""
        with self.transaction() as conn:
            order = self._order_for_action(conn, "cancel", order_id, "pending")
            if reason not in CANCEL_REASONS:
                raise ActionError("cancel", f"reason must be one of {CANCEL_REASONS}, not {reason!r}")
            refunds = []
            for payment in order["payment_history"]:
                refunds.append({"transaction_type": "refund", "amount": payment["amount"],
                                "payment_method_id": payment["payment_method_id"]})
                if "gift_card" in payment["payment_method_id"]:
                    _add_balance(conn, order["user_id"], payment["payment_method_id"], payment["amount"])
            order["status"] = "cancelled"
            order["cancel_reason"] = reason
            order["payment_history"].extend(refunds)
            _save_order(conn, order)
        return order

    def modify_pending_order_address(self, order_id: str, address: dict) -> dict:
        with self.transaction() as conn:
            order = self._order_for_action(conn, "modify address", order_id, "pending")
            order["address"] = _clean_address("modify address", address)
            _save_order(conn, order)
        return order

    def modify_pending_order_payment(self, order_id: str, payment_method_id: str) -> dict:
        """Pay a pending order with another of the customer's methods; the old one is refunded."""
        with self.transaction() as conn:
            order = self._order_for_action(conn, "modify payment", order_id, "pending")
            history = order["payment_history"]
            if len(history) != 1 or history[0]["transaction_type"] != "payment":
                raise ActionError("modify payment", "the order's payment has already been changed")
            old_id, amount = history[0]["payment_method_id"], history[0]["amount"]
            if payment_method_id == old_id:
                raise ActionError("modify payment", "the new payment method is the one already used")
            method = self._method_covering(conn, "modify payment", order["user_id"], payment_method_id, amount)
            history.append({"transaction_type": "payment", "amount": amount, "payment_method_id": payment_method_id})
            history.append({"transaction_type": "refund", "amount": amount, "payment_method_id": old_id})
            if method["source"] == "gift_card":
                _add_balance(conn, order["user_id"], payment_method_id, -amount)
            if "gift_card" in old_id:
                _add_balance(conn, order["user_id"], old_id, amount)
            _save_order(conn, order)
        return order

    def modify_pending_order_items(self, order_id: str, item_ids: list[str], new_item_ids: list[str],
                                   payment_method_id: str) -> dict:
        """Swap items of a pending order for other available variants of the same products (once per order)."""
        with self.transaction() as conn:
            order = self._order_for_action(conn, "modify items", order_id, "pending")
            diff, new_variants = self._price_difference(conn, "modify items", order, item_ids, new_item_ids)
            method = self._method_covering(conn, "modify items", order["user_id"], payment_method_id, diff)
            order["payment_history"].append({"transaction_type": "payment" if diff > 0 else "refund",
                                             "amount": abs(diff), "payment_method_id": payment_method_id})
            if method["source"] == "gift_card":
                _add_balance(conn, order["user_id"], payment_method_id, -diff)
            for item_id, variant in zip(item_ids, new_variants):
                item = next(i for i in order["items"] if i["item_id"] == item_id)
                item.update(item_id=variant["item_id"], price=variant["price"], options=variant["options"])
            order["status"] = "pending (item modified)"
            _save_order(conn, order)
        return order

    def return_delivered_order_items(self, order_id: str, item_ids: list[str], payment_method_id: str) -> dict:
        """Request a return; the refund goes to the original payment method or an existing gift card."""
        with self.transaction() as conn:
            order = self._order_for_action(conn, "return", order_id, "delivered")
            self._method(conn, "return", order["user_id"], payment_method_id)
            original = order["payment_history"][0]["payment_method_id"]
            if "gift_card" not in payment_method_id and payment_method_id != original:
                raise ActionError("return", "the refund must go to the original payment method or a gift card")
            _check_items_in_order("return", order, item_ids)
            order["status"] = "return requested"
            order["return_items"] = sorted(item_ids)
            order["return_payment_method_id"] = payment_method_id
            _save_order(conn, order)
        return order

    def exchange_delivered_order_items(self, order_id: str, item_ids: list[str], new_item_ids: list[str],
                                       payment_method_id: str) -> dict:
        """Request an exchange for other available variants of the same products (once per order)."""
        with self.transaction() as conn:
            order = self._order_for_action(conn, "exchange", order_id, "delivered")
            diff, _ = self._price_difference(conn, "exchange", order, item_ids, new_item_ids)
            self._method_covering(conn, "exchange", order["user_id"], payment_method_id, diff)
            order["status"] = "exchange requested"
            order["exchange_items"] = sorted(item_ids)
            order["exchange_new_items"] = sorted(new_item_ids)
            order["exchange_payment_method_id"] = payment_method_id
            order["exchange_price_difference"] = diff
            _save_order(conn, order)
        return order

    def modify_user_address(self, user_id: str, address: dict) -> dict:
        with self.transaction() as conn:
            if not conn.execute("SELECT 1 FROM users WHERE user_id = ?" + self.db.for_update, (user_id,)).fetchone():
                raise ActionError("modify user address", f"no customer {user_id!r}")
            conn.execute("UPDATE users SET address = ? WHERE user_id = ?",
                         (json.dumps(_clean_address("modify user address", address)), user_id))
        return self.get_user(user_id)

    # ---------------------------------------------------------------- action helpers
    def _order_for_action(self, conn, action: str, order_id: str, status: str) -> dict:
        """The order, locked until the transaction ends: a second confirmation waits, then sees the new status."""
        rows = conn.execute("SELECT * FROM orders WHERE order_id = ?" + self.db.for_update, (order_id,)).fetchall()
        if not rows:
            raise ActionError(action, f"no order {order_id!r}")
        order = _order_dict(rows[0])
        if order["status"] != status:
            raise ActionError(action, f"order {order_id} is {order['status']}, not {status}")
        return order

    def _method(self, conn, action: str, user_id: str, method_id: str) -> dict:
        row = conn.execute("SELECT * FROM payment_methods WHERE user_id = ? AND id = ?" + self.db.for_update,
                           (user_id, method_id)).fetchone()
        if row is None:
            raise ActionError(action, f"payment method {method_id!r} is not one of the customer's")
        return _payment_dict(row)

    def _method_covering(self, conn, action: str, user_id: str, method_id: str, amount: float) -> dict:
        """The customer's payment method; a gift card must hold at least `amount`."""
        method = self._method(conn, action, user_id, method_id)
        if method["source"] == "gift_card" and method["balance"] < amount:
            raise ActionError(action, f"gift card balance {method['balance']:.2f} cannot pay {amount:.2f}")
        return method

    def _price_difference(self, conn, action, order, item_ids, new_item_ids) -> tuple[float, list[dict]]:
        if len(item_ids) != len(new_item_ids) or not item_ids:
            raise ActionError(action, "give one new item for each item to change")
        _check_items_in_order(action, order, item_ids)
        diff, new_variants = 0.0, []
        for item_id, new_id in zip(item_ids, new_item_ids):
            item = next(i for i in order["items"] if i["item_id"] == item_id)
            row = conn.execute("SELECT * FROM variants WHERE item_id = ? AND product_id = ?",
                               (new_id, item["product_id"])).fetchone()
            if row is None:
                raise ActionError(action, f"item {new_id} is not a variant of {item['name']}")
            if not row["available"]:
                raise ActionError(action, f"item {new_id} is not available")
            if new_id == item_id:
                raise ActionError(action, f"item {new_id} is the item already ordered")
            new_variants.append(_variant_dict(row))
            diff += row["price"] - item["price"]
        return round(diff, 2), new_variants


# -------------------------------------------------------------------- row <-> dict
def _variant_dict(row) -> dict:
    out = {"item_id": row["item_id"], "options": json.loads(row["options"]),
           "available": bool(row["available"]), "price": row["price"]}
    if row["sponsored"] is not None:
        out["sponsored"] = bool(row["sponsored"])
    return out


def _payment_dict(row) -> dict:
    out = {"source": row["source"]}
    for key in ("brand", "last_four", "balance"):
        if row[key] is not None:
            out[key] = row[key]
    out["id"] = row["id"]
    return out


def _order_dict(row) -> dict:
    out = {"order_id": row["order_id"], "user_id": row["user_id"], "address": json.loads(row["address"]),
           "items": json.loads(row["items"]), "fulfillments": json.loads(row["fulfillments"]),
           "status": row["status"], "payment_history": json.loads(row["payment_history"])}
    out.update(json.loads(row["extra"]))
    return out


def _import(conn, shop) -> None:
    """Insert a loaded shop (products, users, orders) through an open transaction."""
    products, variants = [], []
    for pos, product in enumerate(shop.products.values()):
        products.append((product["product_id"], product["name"], pos))
        for vpos, v in enumerate(product["variants"].values()):
            variants.append((v["item_id"], product["product_id"], json.dumps(v["options"]), int(v["available"]),
                             v["price"], None if "sponsored" not in v else int(v["sponsored"]), vpos))
    users, methods = [], []
    for pos, (user_id, user) in enumerate(shop.users.items()):
        users.append((user_id, user["name"]["first_name"], user["name"]["last_name"], user["email"],
                      json.dumps(user["address"]), json.dumps(user["orders"]), pos))
        for mpos, m in enumerate(user["payment_methods"].values()):
            methods.append((user_id, m["id"], m["source"], m.get("brand"), m.get("last_four"), m.get("balance"),
                            mpos))
    orders = []
    for pos, order in enumerate(shop.orders.values()):
        extra = {k: v for k, v in order.items() if k not in _ORDER_FIELDS}
        orders.append((order["order_id"], order["user_id"], json.dumps(order["address"]), json.dumps(order["items"]),
                       json.dumps(order["fulfillments"]), order["status"], json.dumps(order["payment_history"]),
                       json.dumps(extra), pos))
    for table, rows in (("products", products), ("variants", variants), ("users", users),
                        ("payment_methods", methods), ("orders", orders)):
        conn.insert_rows(table, rows)


def _save_order(conn, order: dict) -> None:
    extra = {k: v for k, v in order.items() if k not in _ORDER_FIELDS}
    conn.execute("UPDATE orders SET address = ?, items = ?, status = ?, payment_history = ?, extra = ? "
                 "WHERE order_id = ?", (json.dumps(order["address"]), json.dumps(order["items"]), order["status"],
                                        json.dumps(order["payment_history"]), json.dumps(extra), order["order_id"]))


def _add_balance(conn, user_id: str, method_id: str, amount: float) -> None:
    # One UPDATE adds (and, on a server, locks the row); the second rounds to cents as the source data is.
    row = conn.execute("UPDATE payment_methods SET balance = balance + ? WHERE user_id = ? AND id = ? "
                       "RETURNING balance", (amount, user_id, method_id)).fetchone()
    conn.execute("UPDATE payment_methods SET balance = ? WHERE user_id = ? AND id = ?",
                 (round(row["balance"], 2), user_id, method_id))


def _check_items_in_order(action: str, order: dict, item_ids: list[str]) -> None:
    ordered = [i["item_id"] for i in order["items"]]
    for item_id in set(item_ids):
        if item_ids.count(item_id) > ordered.count(item_id):
            raise ActionError(action, f"item {item_id} is not in order {order['order_id']} that many times")


def _clean_address(action: str, address: dict) -> dict:
    missing = [f for f in ADDRESS_FIELDS if f != "address2" and not str(address.get(f, "")).strip()]
    if missing:
        raise ActionError(action, f"address lacks {', '.join(missing)}")
    return {f: str(address.get(f, "")).strip() for f in ADDRESS_FIELDS}


def open_store(data_dir: str | Path, source_dir: str | Path | None = None) -> Store:
    """The shop where the settings put it: $SHOPBOT_DATABASE_URL's database, else `data_dir/shop.db`.

    An empty database (or a missing file) is filled from the shop's files (the demo shop by default).
    """
    url = database_url()
    if url:
        store, problems = Store.fill(open_database(url), source_dir)
    else:
        path = Path(data_dir) / "shop.db"
        if path.exists():
            return Store(path)
        store, problems = Store.create(path, source_dir)
    for problem in problems:
        log.warning("skipped %s", problem)
    return store


def setup_step(data_dir: Path, force: bool = False) -> str:
    store = open_store(data_dir)
    n = len(store.product_ids())
    where = store.db.where
    store.close()
    return f"shop database {where} ({n} products, schema up to date)"

"""Validation of the shop's data files (catalog, customers, orders) before they reach the database.

Each record is checked whole with pydantic: a malformed record is reported with its file and id and skipped,
never half-loaded. Records that refer to a skipped or unknown record (an order of an unknown customer, say) are
skipped too, with the reason. This module only validates; `store.py` writes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from .errors import DataFileError

Id = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=False)]
Money = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Variant(_Strict):
    item_id: Id
    options: dict[str, str]
    available: bool
    price: Money
    sponsored: bool | None = None  # a catalog may mark paid placement; the demo shop marks none


class Product(_Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    product_id: Id
    variants: dict[str, Variant]

    @model_validator(mode="after")
    def _keys_match(self):
        for key, variant in self.variants.items():
            if key != variant.item_id:
                raise ValueError(f"variant key {key!r} differs from its item_id {variant.item_id!r}")
        return self


class Name(_Strict):
    first_name: Annotated[str, StringConstraints(min_length=1)]
    last_name: Annotated[str, StringConstraints(min_length=1)]


class Address(_Strict):
    address1: str
    address2: str
    city: str
    country: str
    state: str
    zip: str


class PaymentMethod(_Strict):
    source: Literal["credit_card", "paypal", "gift_card"]
    id: Id
    brand: str | None = None
    last_four: str | None = None
    balance: Money | None = None

    @model_validator(mode="after")
    def _fields_of_source(self):
        if self.source == "gift_card" and self.balance is None:
            raise ValueError(f"gift card {self.id} has no balance")
        if self.source == "credit_card" and not (self.brand and self.last_four):
            raise ValueError(f"credit card {self.id} lacks brand or last_four")
        return self


class User(_Strict):
    name: Name
    address: Address
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$")]
    payment_methods: dict[str, PaymentMethod]
    orders: list[Id]


class OrderItem(_Strict):
    name: str
    product_id: Id
    item_id: Id
    price: Money
    options: dict[str, str]


class Fulfillment(_Strict):
    tracking_id: list[str]
    item_ids: list[Id]


class Payment(_Strict):
    transaction_type: Literal["payment", "refund"]
    amount: Money
    payment_method_id: Id


class Order(BaseModel):
    # Orders carry optional attributes after actions (cancel_reason, exchange_items, ...): kept as they are.
    model_config = ConfigDict(extra="allow", strict=True)
    order_id: Id
    user_id: Id
    address: Address
    items: list[OrderItem]
    fulfillments: list[Fulfillment]
    status: Annotated[str, StringConstraints(min_length=1)]
    payment_history: list[Payment]


@dataclass
class Problem:
    file: str
    record_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: record {self.record_id}: {self.message}"


@dataclass
class ShopData:
    """Validated records as plain dicts in the source files' shape, plus what was skipped and why."""

    products: dict[str, dict] = field(default_factory=dict)
    users: dict[str, dict] = field(default_factory=dict)
    orders: dict[str, dict] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def _read_json_object(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFileError(path, "file not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFileError(path, f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise DataFileError(path, f"expected a JSON object keyed by id, got {type(data).__name__}")
    return data


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "record"
    return f"{where}: {err['msg']}"


def _validate(model, file: str, key: str, raw, id_field: str, problems: list[Problem]) -> dict | None:
    try:
        record = model.model_validate(raw)
    except ValidationError as exc:
        problems.append(Problem(file, key, _first_error(exc)))
        return None
    if getattr(record, id_field) != key:
        problems.append(Problem(file, key, f"{id_field} {getattr(record, id_field)!r} differs from its key"))
        return None
    return raw


def load_shop_files(directory: Path) -> ShopData:
    """Read and check products.json, users.json and orders.json from a directory."""
    directory = Path(directory)
    shop = ShopData()
    for key, raw in _read_json_object(directory / "products.json").items():
        if _validate(Product, "products.json", key, raw, "product_id", shop.problems) is not None:
            shop.products[key] = raw
    item_product = {i: p for p, prod in shop.products.items() for i in prod["variants"]}

    for key, raw in _read_json_object(directory / "users.json").items():
        try:
            User.model_validate(raw)
        except ValidationError as exc:
            shop.problems.append(Problem("users.json", key, _first_error(exc)))
            continue
        shop.users[key] = raw

    for key, raw in _read_json_object(directory / "orders.json").items():
        if _validate(Order, "orders.json", key, raw, "order_id", shop.problems) is None:
            continue
        reason = _order_reference_problem(raw, shop.users, item_product)
        if reason:
            shop.problems.append(Problem("orders.json", key, reason))
            continue
        shop.orders[key] = raw
    return shop


def _order_reference_problem(order: dict, users: dict, item_product: dict) -> str | None:
    user = users.get(order["user_id"])
    if user is None:
        return f"user_id {order['user_id']!r} is not a known customer"
    for item in order["items"]:
        if item_product.get(item["item_id"]) not in (None, item["product_id"]):
            return f"item {item['item_id']} belongs to product {item_product[item['item_id']]}, not {item['product_id']}"
    for payment in order["payment_history"]:
        if payment["payment_method_id"] not in user["payment_methods"]:
            return f"payment method {payment['payment_method_id']!r} is not one of the customer's"
    return None

"""Shared fixtures of the trustgen tests."""
from __future__ import annotations

import pytest

from knowledge.store import Store


@pytest.fixture(scope="session")
def bottle(demo_db):
    """A Water Bottle variant of the demo shop, with its product's id and name."""
    store = Store(demo_db)
    product = next(store.get_product(p) for p in store.product_ids() if store.get_product(p)["name"] == "Water Bottle")
    store.close()
    variant = next(iter(product["variants"].values()))
    return {**variant, "product_id": product["product_id"], "name": product["name"]}

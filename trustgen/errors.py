"""Errors of the language layer. The base message is safe to show a customer; subclasses carry the detail."""
from __future__ import annotations


class TrustgenError(Exception):
    """Something went wrong writing a reply."""

    public_message = "Sorry, I could not write a reply just now."


class ModelFilesError(TrustgenError):
    """A model folder, packaged weights file or adapter is missing or unreadable."""

    def __init__(self, path, reason: str, fix: str = "run `shopbot setup` to rebuild it"):
        super().__init__(f"{path}: {reason}; {fix}")
        self.path, self.reason, self.fix = str(path), reason, fix


class UnknownItemError(TrustgenError):
    """An item id the shop's catalog does not have (for `shopbot copy`)."""

    def __init__(self, item_id: str):
        super().__init__(f"no item with id {item_id!r}. Item ids are 10 digits, one per product variant; list them "
                         "with `shopbot copy --list NAME` (for example `shopbot copy --list backpack`)")
        self.item_id = item_id


class UnknownProductError(TrustgenError):
    """A product name or id the shop's catalog does not have (for `shopbot copy --product`)."""

    def __init__(self, product: str, known: list[str]):
        super().__init__(f"no product is named {product!r}; products: {', '.join(known)}")
        self.product = product


class EngineError(TrustgenError):
    """The inference engine failed: a model server unreachable or answering garbage, an unknown engine name."""

    def __init__(self, where, reason: str):
        super().__init__(f"{where}: {reason}")
        self.where, self.reason = str(where), reason

"""What the customer said about an order task, kept with the task and matched against the shop's records.

`said_in(requests)` turns the details of a Reading's requests into JSON for the task (order ids, items and the
change wanted, reason, payment, address); `match_refs` finds the items named in an order and reports those that
match nothing; `methods_named` finds the payment methods a `Payment` points at; `pick_variant` chooses the new
variant for an item from the option values wanted. Pure functions over the Reading and the store's dicts: no
message text, no store access, no decisions about the policy (bot/flows.py makes those).
"""
from __future__ import annotations

from .reading import ItemChange, Request


def _change_dict(c: ItemChange) -> dict:
    return {"product_id": c.item.product_id, "options": dict(c.item.options), "item_id": c.item.item_id,
            "mention": c.item.mention, "new_options": dict(c.new_options), "same": c.same}


def said_in(requests: list[Request], awaiting: str = "") -> dict:
    """The details of these requests, as JSON for the task: later requests override earlier ones."""
    out: dict = {}
    for r in requests:
        if r.order_ids:
            out["order_ids"] = list(r.order_ids)
        if r.items:
            # when the assistant asked which order, the items named describe the order, not what to change
            key = "order_items" if awaiting == "order" else "items"
            out.setdefault(key, []).extend(_change_dict(c) for c in r.items)
        if r.all_items:
            out["all_items"] = True
        if r.adds and r.items:
            out["adds"] = True
        if r.reason:
            out["reason"] = r.reason
        if r.payment:
            out["payment"] = {k: getattr(r.payment, k) for k in ("method_id", "source", "last_four", "brand",
                                                                  "original")}
        if r.address:
            out["address"] = dict(r.address)
    return out


def merge_said(task: dict, new: dict) -> None:
    said = task.setdefault("said", {})
    for key, value in new.items():
        if key in ("items", "order_items"):
            have = said.setdefault(key, [])
            have.extend(v for v in value if v not in have)
        else:
            said[key] = value


def match_refs(refs: list[dict], items: list[dict]) -> tuple[list[int], list[int], list[dict]]:
    """(order item indexes matched, the index of the ref each came from, refs that match nothing)."""
    chosen, origin, missing = [], [], []
    for n, ref in enumerate(refs):
        free = [i for i in range(len(items)) if i not in chosen]
        if ref.get("item_id") and any(items[i]["item_id"] == ref["item_id"] for i in free):
            hits = [i for i in free if items[i]["item_id"] == ref["item_id"]][:1]
        else:
            pool = [i for i in free if items[i]["product_id"] == ref["product_id"]] if ref.get("product_id") else \
                (free if ref.get("options") else [])
            wanted = {k.lower(): str(v).lower() for k, v in ref.get("options", {}).items()}

            def score(i):
                opts = {k.lower(): str(v).lower() for k, v in items[i]["options"].items()}
                return sum(1 for k, v in wanted.items() if opts.get(k) == v)
            if not ref.get("product_id"):  # options alone must all fit
                pool = [i for i in pool if score(i) == len(wanted)]
            best = max((score(i) for i in pool), default=0)
            hits = [i for i in pool if score(i) == best]
        if hits:
            chosen += hits
            origin += [n] * len(hits)
        elif not _again(ref, [items[i] for i in chosen]):
            missing.append(ref)
    return chosen, origin, missing


def _again(ref: dict, chosen: list[dict]) -> bool:
    """The ref names an item already matched ("just the puzzle" after the puzzle was found): said twice, not new."""
    if ref.get("item_id"):
        return any(i["item_id"] == ref["item_id"] for i in chosen)
    wanted = {k.lower(): str(v).lower() for k, v in ref.get("options", {}).items()}
    def fits(item):
        have = {k.lower(): str(v).lower() for k, v in item["options"].items()}
        return item["product_id"] == ref["product_id"] and all(have.get(k) == v for k, v in wanted.items())
    return bool(ref.get("product_id")) and any(fits(i) for i in chosen)


def methods_named(p: dict, methods: dict, original: str | None) -> list[str]:
    """Ids of the customer's payment methods a Payment points at (several when it is not specific)."""
    if p.get("method_id") in methods:
        return [p["method_id"]]
    if p.get("original") and original:
        return [original]
    found = list(methods)
    if p.get("source"):
        found = [m for m in found if methods[m]["source"] == p["source"]]
    if p.get("brand"):
        found = [m for m in found if str(methods[m].get("brand", "")).lower() == p["brand"].lower()]
    if p.get("last_four"):
        exact = [m for m in found if methods[m].get("last_four") == p["last_four"]]
        return exact
    return found if (p.get("source") or p.get("brand")) else []


def wanted_now(requests, product) -> tuple[dict, bool]:
    """(option values wanted, same) from this message's answer to "what would you like instead?"."""
    for r in requests:
        for c in r.items:
            if c.same:
                return {}, True
            wanted = dict(c.new_options) or dict(c.item.options)
            if not wanted and c.item.item_id in product["variants"]:
                wanted = dict(product["variants"][c.item.item_id]["options"])
            if wanted:
                return wanted, False
    return {}, False


def pick_variant(old, pool, variants, wanted: dict):
    """An item id, or (problem, variants[, wanted]) where problem is none|unavailable|same|choose."""
    keys = {k.lower(): k for v in variants for k in v["options"]}
    wanted = {keys[k.lower()]: str(v) for k, v in wanted.items() if k.lower() in keys}
    if not wanted:
        return ("none", pool)

    def fits(v):
        return all(str(v["options"].get(k, "")).lower() == val.lower() for k, val in wanted.items())
    fitting = [v for v in pool if fits(v)]
    usable = [v for v in fitting if v["available"] and v["item_id"] != old["item_id"]]
    others = [v for v in variants if v["available"] and v["item_id"] != old["item_id"]]
    if not usable:
        if fitting and any(v["available"] for v in fitting) and \
                all(v["item_id"] == old["item_id"] for v in fitting if v["available"]):
            return ("same", others)
        return ("unavailable", others, wanted)

    def kept(v):  # keep what the customer did not ask to change
        return sum(1 for k, val in old["options"].items() if k not in wanted and v["options"].get(k) == val)
    best = max(kept(v) for v in usable)
    top = [v for v in usable if kept(v) == best]
    if len(top) == 1:
        return top[0]["item_id"]
    return ("choose", usable)

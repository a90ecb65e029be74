"""`shopbot copy ITEM_ID [--audience ...]`: short advertising text for one product variant that keeps trust.

The model words it from the variant's facts (name, options, price, stock); the compliance linter removes
superlatives, unsupported urgency, promises and health or environmental claims; the claim checker verifies every
attribute against the catalog and repairs it or falls back to a plain template. The output is always labelled as
advertising. It does not invent features the catalog does not list. `shopbot copy --list NAME` shows item ids.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, replace

from .claims import check, check_and_repair
from .compliance import Finding, lint
from .errors import TrustgenError, UnknownItemError
from .prompting import prompt_wording
from .types import Claim, fact_from_variant


@dataclass(frozen=True)
class Copy:
    text: str  # labelled advertising text, ready to publish
    claims: tuple[Claim, ...]
    findings: tuple[Finding, ...]  # what the compliance linter removed
    fell_back: bool
    used_model: bool
    draft: str = ""  # what the model wrote, before linting and checking (for review)

    @property
    def repaired(self) -> tuple[Claim, ...]:
        return tuple(c for c in self.claims if c.repaired_to is not None)


def copy_messages(variant: dict, audience: str) -> list[dict]:
    facts = fact_from_variant(variant).text
    return [{"role": "user", "content": prompt_wording("copy")["user"].format(audience=audience, facts=facts)}]


def template_copy(variant: dict, audience: str) -> str:
    w = prompt_wording("copy")
    options = ", ".join(str(v) for v in variant.get("options", {}).values()) or "its standard option"
    stock = w["stock_available"] if variant.get("available") else w["stock_unavailable"]
    return w["template"].format(audience=audience, name=variant["name"], options=options,
                                price=f"${float(variant['price']):.2f}", stock=stock)


def write_copy(variant: dict, audience: str = "", generator=None) -> Copy:
    """Advertising copy for a variant (`Store.get_variant`); `generator` has `.generate(messages) -> str`
    (trustgen.writer.ModelGenerator or ScriptedGenerator); None writes the template."""
    wording = prompt_wording("copy")
    audience = " ".join(str(audience or "").split())[:80] or wording["default_audience"]
    facts = (fact_from_variant(variant),)
    template = template_copy(variant, audience)
    draft, used_model = template, False
    if generator is not None:
        try:
            draft, used_model = generator.generate(copy_messages(variant, audience)), True
        except TrustgenError:
            draft = template
    linted = lint(draft, facts)
    checked = check_and_repair(linted.text, facts, template)
    if checked.fell_back or not checked.text.strip():
        checked = replace(check(template, facts), fell_back=used_model)
        used_model = False
    return Copy(wording["label"] + checked.text, checked.claims, linted.findings, checked.fell_back, used_model,
                draft if generator is not None else "")


def list_items(store, name: str) -> list[dict]:
    needle = name.lower().strip()
    return [v for v in store.variants() if needle in store.get_product(v["product_id"])["name"].lower()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("item_id", nargs="?", help="the variant's 10-digit item id")
    parser.add_argument("--audience", default="", help="who the copy speaks to, e.g. 'hikers' (default: everyone)")
    parser.add_argument("--list", metavar="NAME", help="list the item ids of products whose name contains NAME")
    parser.add_argument("--no-model", action="store_true", help="write the plain template (no language model)")
    parser.add_argument("--json", action="store_true", help="print the copy, its claims and findings as JSON")


def run(args) -> int:
    from knowledge.paths import default_data_dir
    from knowledge.store import open_store

    store = open_store(getattr(args, "data_dir", None) or default_data_dir())
    try:
        if args.list is not None:
            found = list_items(store, args.list)
            if not found:
                names = sorted(store.get_product(p)["name"] for p in store.product_ids())
                print(f"no product name contains {args.list!r}; products: {', '.join(names)}", file=sys.stderr)
                return 1
            for v in found:
                name = store.get_product(v["product_id"])["name"]
                opts = ", ".join(str(x) for x in v["options"].values())
                print(f"{v['item_id']}  {name} ({opts})  ${v['price']:.2f}")
            return 0
        item_id = (args.item_id or "").strip()
        if not item_id.isdigit() or not any(v["item_id"] == item_id for v in store.variants()):
            raise UnknownItemError(item_id)
        variant = store.get_variant(item_id)
    finally:
        store.close()
    generator = None
    if not args.no_model:
        from .writer import ModelGenerator, WriterConfig
        generator = ModelGenerator(WriterConfig(max_new_tokens=80))
    result = write_copy(variant, args.audience, generator)
    if args.json:
        print(json.dumps(asdict(result), indent=2))
        return 0
    print(result.text)
    print(f"\n[{len(result.claims)} claims checked, {len(result.repaired)} repaired"
          f"{', template sent' if result.fell_back else ''}; {len(result.findings)} compliance findings]")
    for f in result.findings:
        print(f"  {f.rule}: {f.text!r} -> {f.action} ({f.why})")
    return 0

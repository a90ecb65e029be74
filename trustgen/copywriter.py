"""`shopbot copy`: advertising copy for in-stock product variants that a shop could publish, every claim checked.

The model drafts two or three sentences in the shop's voice (plain, warm or technical) from the variant's facts;
the compliance linter removes superlatives, urgency, promises and health or environmental claims; the claim
checker repairs or rejects every attribute; the copy rules (copy_rules.py) reject a draft that is too short or
long, misses the product or its options, states an unasked price or echoes the instruction. A rejected draft is
replaced by copy composed from the reviewed phrasebook in prompts/copy.yaml, checked the same way. Out-of-stock
variants are never advertised: the nearest in-stock variant is offered instead. Output is labelled advertising.

    shopbot copy 1240311797 [--style warm] [--price] [--model]
    shopbot copy --product "Electric Kettle" --format json     # one copy per in-stock variant, for a feed
    shopbot copy --list kettle                                 # item ids
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict, dataclass, replace

from .claims import check, check_and_repair
from .compliance import Finding, lint
from .copy_rules import CopyRules, Verdict, advertisable, judge, template_overlap
from .errors import TrustgenError, UnknownItemError, UnknownProductError
from .prompting import prompt_wording
from .types import Claim, fact_from_variant

SHAPES = 36  # openers x middles x closers (4 x 3 x 3): siblings up to this many get distinct sentence shapes
COPY_ADAPTER = "trustgen/adapters/copy-lora"  # the copy adapter, used by the CLI when it exists


@dataclass(frozen=True)
class CopySettings:
    style: str = "plain"  # plain | warm | technical
    with_price: bool = False  # state the variant's own price (only when asked for)
    max_new_tokens: int = 90  # three sentences of copy; more only gives the model room to loop


@dataclass(frozen=True)
class Copy:
    item_id: str
    text: str  # labelled advertising text, ready to publish
    claims: tuple[Claim, ...]
    findings: tuple[Finding, ...]  # what the compliance linter removed from the model's draft
    verdict: Verdict  # the copy rules, judged on `text`
    used_model: bool  # the model's draft (linted, repaired) was published; False: composed from the phrasebook
    draft: str = ""  # what the model wrote, before linting and checking (for review)
    draft_failures: tuple[str, ...] = ()  # the rules the model's draft broke, when it was replaced

    @property
    def repaired(self) -> tuple[Claim, ...]:
        return tuple(c for c in self.claims if c.repaired_to is not None)


def options_line(variant: dict) -> str:
    return "; ".join(f"{k}: {v}" for k, v in (variant.get("options") or {}).items())


def copy_messages(variant: dict, settings: CopySettings = CopySettings()) -> list[dict]:
    """The chat messages asking the model for copy (wording in prompts/copy.yaml)."""
    w = prompt_wording("copy")
    price = f"${float(variant['price']):.2f}"
    content = w["user"].format(
        name=variant["name"], lower_name=str(variant["name"]).lower(), options=options_line(variant),
        price_line=w["price_line"].format(price=price) if settings.with_price else "",
        sentences="three" if settings.with_price else "two or three", voice=w["voice"][settings.style],
        price_rule=w["price_rule"]["asked" if settings.with_price else "not_asked"])
    return [{"role": "user", "content": content}]


def _benefit(key: str, value: str, pick: int) -> str:
    w = prompt_wording("copy")
    if value.lower() in {v.lower() for v in w["yes_values"]}:
        phrases = w["yes_benefits"].get(key, w["yes_benefits"]["_default"])
    else:
        phrases = w["benefits"].get(key, w["benefits"]["_default"])
    return phrases[pick % len(phrases)].format(key=key, value=value)


def compose(variant: dict, settings: CopySettings = CopySettings(), shape: int | None = None) -> str:
    """Copy from the phrasebook (unlabelled). `shape` picks the sentence shapes and phrasings; siblings given
    distinct shapes below SHAPES get distinct openers, middles or closers."""
    w = prompt_wording("copy")
    style = settings.style
    item = str(variant.get("item_id", "0"))
    shape = (int(item) if item.isdigit() else sum(map(ord, item))) % SHAPES if shape is None else shape % SHAPES
    opts = list(advertisable(variant).items())
    if opts:
        turn = shape % len(opts)
        opts = opts[turn:] + opts[:turn]
    benefits = [_benefit(k, v, shape // 2 + i) for i, (k, v) in enumerate(opts)]
    opener, middle, closer = w["openers"][style], w["middles"][style], w["closers"][style]
    name = str(variant["name"])
    if name.endswith("s") and not name.endswith("ss"):
        name = w["plural_name"].format(name=name)
    out = [opener[shape % len(opener)].format(name=name, b1=benefits[0] if benefits else "its standard design")]
    if len(benefits) > 1:
        rest = benefits[2:]
        more = "" if not rest else f" and {rest[0]}" if len(rest) == 1 else f", {', '.join(rest[:-1])} and {rest[-1]}"
        out.append(middle[(shape // len(opener)) % len(middle)].format(b2=benefits[1], more=more))
    if settings.with_price:
        out.append(w["price_sentence"].format(price=f"${float(variant['price']):.2f}"))
    c = (shape // (len(opener) * len(middle))) % len(closer)
    out.append(closer[c])
    if len(out) < 3 or len(" ".join(out).split()) < CopyRules().min_words:  # few options: a second closer
        out.append(closer[(c + 1) % len(closer)])
    text = re.sub(r"\b([Aa]) (?=[AEIOaeio])", r"\1n ", " ".join(out))  # "a Ethernet" -> "an Ethernet"
    text = re.sub(r"\b([Aa])n (?=[b-df-hj-np-tv-z])", r"\1 ", text)  # "an laser" -> "a laser" ("an RGB" stays)
    return text[0].upper() + text[1:]


def clean_draft(text: str) -> str:
    """The model's draft without a label or quotes it added itself, cut to its last whole sentence."""
    text = " ".join((text or "").split())
    text = re.sub(r"^(?:advertisement|ad|copy)\s*:\s*", "", text, flags=re.I).strip().strip('"').strip()
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s|$)", text)]
    return text[:ends[-1]] if ends else ""


def write_copy(variant: dict, settings: CopySettings = CopySettings(), generator=None, shape: int | None = None,
               rules: CopyRules = CopyRules()) -> Copy:
    """Checked, labelled copy for an in-stock variant (`Store.get_variant`). `generator` has
    `.generate(messages) -> str` (trustgen.writer.ModelGenerator or ScriptedGenerator); None composes it."""
    if not variant.get("available"):
        raise ValueError(f"item {variant.get('item_id')} is out of stock and must not be advertised")
    if settings.style not in prompt_wording("copy")["styles"]:
        raise ValueError(f"unknown style {settings.style!r}")
    label = prompt_wording("copy")["label"]
    facts = (fact_from_variant(variant),)
    composed = compose(variant, settings, shape)
    draft, findings, draft_failures = "", (), ()
    if generator is not None:
        try:
            draft = generator.generate(copy_messages(variant, settings))
        except TrustgenError:
            draft = ""
        linted = lint(clean_draft(draft), facts)
        findings = linted.findings
        checked = check_and_repair(linted.text, facts, composed)
        verdict = judge(label + checked.text, variant, settings.with_price, rules)
        if not checked.fell_back and verdict.passed:
            return Copy(variant["item_id"], label + checked.text, checked.claims, findings, verdict, True, draft)
        draft_failures = ("claims",) if checked.fell_back else verdict.failures
    checked = check(composed, facts)
    return Copy(variant["item_id"], label + composed, checked.claims, findings,
                judge(label + composed, variant, settings.with_price, rules), False, draft, draft_failures)


def nearest_in_stock(variant: dict, siblings: list[dict]) -> dict | None:
    """The in-stock sibling sharing most option values with `variant`, then the closest in price."""
    own = variant.get("options") or {}
    pool = [s for s in siblings if s.get("available") and s["item_id"] != variant["item_id"]]
    if not pool:
        return None
    return min(pool, key=lambda s: (-sum(own.get(k) == v for k, v in (s.get("options") or {}).items()),
                                    abs(float(s["price"]) - float(variant["price"])), s["item_id"]))


def siblings_of(store, variant: dict) -> list[dict]:
    """Every variant of the variant's product, by item id."""
    return sorted((store.get_variant(v["item_id"]) for v in store.variants()
                   if v["product_id"] == variant["product_id"]), key=lambda v: v["item_id"])


def distinct_shapes(siblings: list[dict], settings: CopySettings = CopySettings()) -> dict[str, int]:
    """A sentence shape for each in-stock sibling (item id -> shape) such that no two siblings' composed copies
    are one template with the values swapped (copy_rules.template_like), when SHAPES allows it."""
    chosen: dict[str, int] = {}
    texts: list[tuple[str, dict]] = []
    for i, v in enumerate(s for s in sorted(siblings, key=lambda s: s["item_id"]) if s.get("available")):
        best, best_clash = i % SHAPES, None
        for k in range(SHAPES):
            shape = (i + k) % SHAPES
            text = compose(v, settings, shape)
            clash = max((template_overlap(text, v, t, w) for t, w in texts), default=0.0)
            if best_clash is None or clash < best_clash:
                best, best_clash = shape, clash
            if clash < CopyRules().same_template:
                break
        chosen[v["item_id"]] = best
        texts.append((compose(v, settings, best), v))
    return chosen


def list_items(store, name: str) -> list[dict]:
    needle = name.lower().strip()
    return [v for v in store.variants() if needle in store.get_product(v["product_id"])["name"].lower()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("item_id", nargs="?", help="the variant's 10-digit item id")
    parser.add_argument("--product", metavar="P", help="copy for every in-stock variant of product P (name or id)")
    parser.add_argument("--style", default="plain", choices=prompt_wording("copy")["styles"],
                        help="the shop's voice (default plain)")
    parser.add_argument("--price", action="store_true", help="state the variant's own price in the copy")
    parser.add_argument("--format", default="text", choices=["text", "json"], help="json: a feed of copies")
    parser.add_argument("--list", metavar="NAME", help="list the item ids of products whose name contains NAME")
    parser.add_argument("--model", action="store_true",
                        help="let the language model draft the copy (drafts that fail a rule are replaced by the "
                             "phrasebook); default: the phrasebook, which measured better per second (docs/copy.md)")
    parser.add_argument("--no-model", action="store_true", help="compose from the phrasebook (the default)")
    parser.add_argument("--adapter", default=None,
                        help="with --model: a LoRA folder, 'none', or default (the copy adapter if present)")


def _product_variants(store, key: str) -> list[dict]:
    key = " ".join(key.split()).lower()
    ids = [p for p in store.product_ids() if p == key or store.get_product(p)["name"].lower() == key]
    if not ids:
        raise UnknownProductError(key, sorted(store.get_product(p)["name"] for p in store.product_ids()))
    return sorted((store.get_variant(v["item_id"]) for v in store.variants() if v["product_id"] == ids[0]),
                  key=lambda v: v["item_id"])


def _generator(args):
    if args.no_model or not args.model:
        return None
    from pathlib import Path

    from .writer import ModelGenerator, WriterConfig
    adapter = args.adapter or ("default" if not Path(COPY_ADAPTER).is_dir() else COPY_ADAPTER)
    adapter = None if adapter == "none" else adapter
    return ModelGenerator(WriterConfig(max_new_tokens=CopySettings().max_new_tokens, adapter_path=adapter))


def _record(result: Copy, variant: dict, settings: CopySettings) -> dict:
    return {"item_id": variant["item_id"], "product_id": variant["product_id"], "name": variant["name"],
            "options": variant["options"], "style": settings.style, "price_included": settings.with_price,
            "text": result.text, "written_by": "model" if result.used_model else "phrasebook",
            "rules_passed": result.verdict.passed, "rules_failed": list(result.verdict.failures),
            "claims_checked": len(result.claims), "claims_repaired": len(result.repaired),
            "compliance_removed": [asdict(f) for f in result.findings]}


def run(args) -> int:
    from knowledge.paths import default_data_dir
    from knowledge.store import open_store

    store = open_store(getattr(args, "data_dir", None) or default_data_dir())
    notes, targets = [], []
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
                stock = "" if v.get("available") else "  (out of stock)"
                print(f"{v['item_id']}  {name} ({opts})  ${v['price']:.2f}{stock}")
            return 0
        w = prompt_wording("copy")
        if args.product:
            siblings = _product_variants(store, args.product)
            targets = [v for v in siblings if v.get("available")]
            if not targets:
                notes.append(w["no_nearest"].format(name=siblings[0]["name"]))
        else:
            item_id = (args.item_id or "").strip()
            if not item_id.isdigit() or not any(v["item_id"] == item_id for v in store.variants()):
                raise UnknownItemError(item_id)
            variant = store.get_variant(item_id)
            siblings = siblings_of(store, variant)
            if variant.get("available"):
                targets = [variant]
            else:
                opts = ", ".join(str(x) for x in variant["options"].values())
                notes.append(w["out_of_stock"].format(item_id=item_id, name=variant["name"], options=opts))
                near = nearest_in_stock(variant, siblings)
                if near is None:
                    notes.append(w["no_nearest"].format(name=variant["name"]))
                else:
                    notes.append(w["nearest"].format(item_id=near["item_id"],
                                                     options=", ".join(map(str, near["options"].values()))))
                    targets = [near]
    finally:
        store.close()
    settings = CopySettings(style=args.style, with_price=args.price)
    generator = _generator(args) if targets else None
    shapes = distinct_shapes(siblings, settings)
    results = [(v, write_copy(v, settings, generator, shapes.get(v["item_id"]))) for v in targets]
    if args.format == "json":
        print(json.dumps({"notes": notes, "copies": [_record(r, v, settings) for v, r in results]}, indent=2))
        return 0 if targets else 1
    for note in notes:
        print(note)
    for v, result in results:
        if len(results) > 1:
            print(f"\n{v['item_id']} ({', '.join(map(str, v['options'].values()))})")
        print(result.text)
        source = "model" if result.used_model else "phrasebook"
        print(f"[{source}; {len(result.claims)} claims checked, {len(result.repaired)} repaired; "
              f"{len(result.findings)} compliance findings; rules "
              f"{'passed' if result.verdict.passed else 'FAILED: ' + ', '.join(result.verdict.failures)}]")
    return 0 if targets else 1

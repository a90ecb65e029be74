"""Search documents from a shop: one per product variant, one per FAQ entry, one per policy section.

A `Document` is plain data (id, text, metadata) so `SearchIndex` can take documents of any source; this module
only turns the shop's catalog, FAQ and policy into them. Long policy sections are split into chunks that keep
their source section. It does not embed or index anything: see `knowledge.index`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

CHUNK_WORDS = 140  # a policy section longer than this is split at paragraph boundaries


@dataclass(frozen=True)
class Document:
    id: str
    text: str
    metadata: dict = field(default_factory=dict)


def variant_document(variant: dict) -> Document:
    """A catalog variant ({item_id, product_id, name, options, price, available[, sponsored]}) as a document."""
    options = variant.get("options") or {}
    described = ", ".join(f"{name} {value}" for name, value in options.items())
    stock = "in stock, available to order" if variant["available"] else "out of stock, not available right now"
    text = (f"{variant['name']}: {described}. Price ${variant['price']:.2f}. {stock.capitalize()}."
            if described else f"{variant['name']}. Price ${variant['price']:.2f}. {stock.capitalize()}.")
    metadata = {"kind": "product", "product_id": variant["product_id"], "item_id": variant["item_id"],
                "name": variant["name"], "price": float(variant["price"]), "available": bool(variant["available"]),
                "sponsored": bool(variant.get("sponsored", False))}
    metadata.update({f"option.{name}": value for name, value in options.items()})
    return Document(f"item:{variant['item_id']}", text, metadata)


def faq_documents(entries: Iterable) -> list[Document]:
    """FAQ entries (objects with id, question, answer) as documents; the question is part of the text."""
    return [Document(f"faq:{e.id}", f"{e.question}\n{e.answer}", {"kind": "faq", "faq_id": e.id, "question": e.question})
            for e in entries]


def slugify(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "section"


def policy_sections(markdown: str) -> list[tuple[str, str]]:
    """(title, body) for each heading of a markdown policy; text before any heading goes under 'Policy'."""
    sections: list[tuple[str, list[str]]] = [("Policy", [])]
    for line in markdown.splitlines():
        heading = re.match(r"^#{1,6}\s+(.*\S)\s*$", line)
        if heading:
            sections.append((heading.group(1), []))
        else:
            sections[-1][1].append(line)
    return [(title, "\n".join(body).strip()) for title, body in sections if "\n".join(body).strip()]


def _chunks(body: str, max_words: int) -> list[str]:
    """Group whole paragraphs into chunks of at most about `max_words` words (a longer paragraph stays whole)."""
    chunks, current, size = [], [], 0
    for paragraph in (p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()):
        words = len(paragraph.split())
        if current and size + words > max_words:
            chunks.append("\n\n".join(current))
            current, size = [], 0
        current.append(paragraph)
        size += words
    if current:
        chunks.append("\n\n".join(current))
    return chunks


def _plain(text: str) -> str:
    return " ".join(text.replace("**", "").split()).lower()


def _asked_about(part: str, faq) -> list[str]:
    """Questions of the FAQ entries that quote this part of the policy (quotes of 4+ words, word for word)."""
    plain = _plain(part)
    return [e.question for e in faq
            if any(len(q.split()) >= 4 and _plain(q) in plain for q in getattr(e, "policy", ()))]


def policy_documents(markdown: str, max_words: int = CHUNK_WORDS, faq=()) -> list[Document]:
    """One document per policy section, or per chunk `policy:<slug>#<n>` (n from 1) of a long section.

    A chunk that FAQ entries quote also lists their questions ("Customers ask: ..."): policy is written for
    staff, and customers' wording in the text lets their questions find the rule itself, not only the FAQ.
    """
    docs, seen = [], {}
    for title, body in policy_sections(markdown):
        slug = slugify(title)
        seen[slug] = seen.get(slug, 0) + 1
        if seen[slug] > 1:  # two sections with one title keep distinct ids
            slug = f"{slug}-{seen[slug]}"
        source = f"policy:{slug}"
        parts = _chunks(body, max_words)
        for n, part in enumerate(parts, start=1):
            doc_id = source if len(parts) == 1 else f"{source}#{n}"
            meta = {"kind": "policy", "section": title, "source": source}
            if len(parts) > 1:
                meta["chunk"] = n
            asked = _asked_about(part, faq)
            text = f"{title}\n{part}" + (f"\nCustomers ask: {' '.join(asked)}" if asked else "")
            docs.append(Document(doc_id, text, meta))
    return docs


def shop_documents(store, faq=None, policy: str | None = None) -> list[Document]:
    """Every document of a shop: its catalog (from `store`), FAQ and policy (the packaged ones by default)."""
    from .faq import load_faq, load_policy
    faq = load_faq() if faq is None else faq
    policy = load_policy() if policy is None else policy
    return [variant_document(v) for v in store.variants()] + faq_documents(faq) + policy_documents(policy, faq=faq)

"""Reply text that no Markdown or HTML renderer acts on, whoever renders it (our pages, an integrator's client).

`inert_text` turns tags into look-alike brackets (`<img ...>` -> `‹img ...›`), Markdown images and links into
their plain words, and URLs into "(link removed)"; a shop's replies never need a link, and text from the
catalog, the FAQ or the customer may carry one planted to exfiltrate data or to phish. `inert_reply` applies it
to everything a `Reply` shows. It does not escape for a page: front ends still escape (ui/chat.py, widget.js).
Tests: tests/security/test_security_output.py.
"""
from __future__ import annotations

import re
from dataclasses import replace

LINK_REMOVED = "(link removed)"
_TAG = re.compile(r"<(\s*[/!?a-zA-Z][^<>]*)(>?)")
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\s*\([^)]*\)?")
_MD_LINK = re.compile(r"\[([^\]]*)\]\s*\([^)]*\)?")
_REF_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*\S+", re.M)  # [label]: https://... reference definitions
_URL = re.compile(r"(?:\b[a-z][a-z0-9+.-]*://|(?<![\w/])//(?=[a-z0-9-]+\.)|\bwww\.)[^\s<>()\[\]]*"
                  r"|\b(?:javascript|vbscript|data):[^\s<>()\[\]]*", re.I)


def inert_text(text: str) -> str:
    """`text` with every tag, image, link and URL made plain; ordinary text (prices, "< $50") is unchanged."""
    if not text:
        return text
    out = _MD_IMAGE.sub(lambda m: m.group(1).strip(), text)
    out = _MD_LINK.sub(lambda m: m.group(1), out)
    out = _REF_LINK.sub(LINK_REMOVED, out)
    out = _URL.sub(LINK_REMOVED, out)
    return _TAG.sub(lambda m: "‹" + m.group(1) + ("›" if m.group(2) else ""), out)


def inert_reply(reply):
    """The Reply with its text, note, sources and product cards made inert (a new Reply; the input is kept)."""
    citations = [replace(c, text=inert_text(c.text)) for c in reply.citations]
    products = [replace(p, name=inert_text(p.name), reason=inert_text(p.reason),
                        options={k: inert_text(str(v)) for k, v in p.options.items()})
                for p in reply.products]
    return replace(reply, text=inert_text(reply.text), notice=inert_text(reply.notice), citations=citations,
                   products=products)

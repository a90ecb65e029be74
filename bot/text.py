"""Cleaning what a customer types before anything else reads it.

`clean_message` removes control characters and lone surrogates, normalises Unicode (NFC) and whitespace, and
cuts messages over MAX_MESSAGE_CHARS; it returns the cleaned text and a notice for the customer (or "").
It never raises on any str. Front ends import MAX_MESSAGE_CHARS from here.
"""
from __future__ import annotations

import re
import unicodedata

MAX_MESSAGE_CHARS = 4000

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean_message(text) -> tuple[str, str]:
    """(cleaned text, notice). The notice says what was changed that the customer should know about."""
    if text is None:
        return "", ""
    if not isinstance(text, str):
        text = str(text)
    notices = []
    cleaned = _SURROGATE.sub("", text)
    cleaned = unicodedata.normalize("NFC", cleaned)
    cleaned = _CONTROL.sub(" ", cleaned.replace("\r\n", "\n"))
    if cleaned != text and _SURROGATE.search(text):
        notices.append("Some characters could not be read and were left out.")
    cleaned = re.sub(r"[ \t]+", " ", cleaned)
    cleaned = re.sub(r"\n{3,}", "\n\n", cleaned).strip()
    if len(cleaned) > MAX_MESSAGE_CHARS:
        cleaned = cleaned[:MAX_MESSAGE_CHARS].rstrip()
        notices.append(f"Your message was longer than {MAX_MESSAGE_CHARS} characters, so I only read the first "
                       f"{MAX_MESSAGE_CHARS}.")
    return cleaned, " ".join(notices)

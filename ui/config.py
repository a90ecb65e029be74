"""Settings of the web app (`shopbot serve`): one frozen dataclass, from a TOML file, the environment and flags.

Later sources win: defaults < TOML file (`[serve]` table) < environment (SHOPBOT_STAFF_KEY,
SHOPBOT_SHOP_ORIGINS, SHOPBOT_INTEGRATION_KEYS) < command-line flags. The staff key and the integrations' API
keys are secrets: keep them in the environment or a file outside the repository, never in the TOML file you
commit. (The key that signs conversation tokens is ui/sessions.py's: $SHOPBOT_SESSION_KEY or the data folder.)
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path

from bot.text import MAX_MESSAGE_CHARS, clean_message  # the bot's documented input limit and cleaning

@dataclass(frozen=True)
class UiConfig:
    host: str = "127.0.0.1"
    port: int = 7860
    # "on": the staff desk and insights need the staff key, on every host (localhost too: anyone with a login on
    # the machine reaches 127.0.0.1). "off" is for development: the desk is open and shows personal data masked.
    staff_auth: str = "on"
    staff_key: str = ""  # the password of the staff desk and insights; empty + auth on = one made at start
    shop_origins: tuple[str, ...] = ()  # browser origins (https://shop.example) allowed to call the HTTP API
    max_concurrent: int = 4  # chat requests answered at once; more are told "busy" at once (HTTP 429)
    retry_after_s: int = 2  # what a busy answer tells the client to wait
    max_message_chars: int = MAX_MESSAGE_CHARS  # longer messages are cut, with a note in the reply
    poll_s: float = 3.0  # how often an open chat page looks for replies written by staff
    session_ttl_hours: float = 30 * 24  # a conversation token unused this long no longer opens its conversation
    identity_ttl_minutes: float = 30  # idle minutes after which the customer must identify again
    # (name, API key) pairs: a request with that key (Authorization: Bearer) may name its own conversations.
    integration_keys: tuple[tuple[str, str], ...] = ()

    @property
    def staff_auth_required(self) -> bool:
        return self.staff_auth != "off"

    def __post_init__(self):
        if self.staff_auth not in ("on", "off"):
            raise ValueError(f"staff_auth must be on or off, not {self.staff_auth!r}")
        if self.max_concurrent < 1:
            raise ValueError(f"max_concurrent must be at least 1, not {self.max_concurrent}")
        if isinstance(self.shop_origins, (list, str)):
            object.__setattr__(self, "shop_origins", _origins(self.shop_origins))
        if self.session_ttl_hours <= 0:
            raise ValueError(f"session_ttl_hours must be positive, not {self.session_ttl_hours}")
        if self.identity_ttl_minutes <= 0:
            raise ValueError(f"identity_ttl_minutes must be positive, not {self.identity_ttl_minutes}")
        if isinstance(self.integration_keys, str):
            from ui.sessions import parse_integration_keys
            object.__setattr__(self, "integration_keys", parse_integration_keys(self.integration_keys))
        elif isinstance(self.integration_keys, dict):
            object.__setattr__(self, "integration_keys", tuple(self.integration_keys.items()))


def _origins(value) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    return tuple(o.strip().rstrip("/") for o in items if o and o.strip())


def load_config(path: str | Path | None = None, env: dict | None = None, **overrides) -> UiConfig:
    """Defaults, then the `[serve]` table of a TOML file, then the environment, then `overrides` (not None)."""
    env = os.environ if env is None else env
    values: dict = {}
    if path:
        with open(path, "rb") as f:
            table = tomllib.load(f).get("serve", {})
        known = {f.name for f in fields(UiConfig)}
        unknown = set(table) - known
        if unknown:
            raise ValueError(f"unknown settings in {path}: {', '.join(sorted(unknown))}")
        values.update(table)
    if env.get("SHOPBOT_STAFF_KEY"):
        values["staff_key"] = env["SHOPBOT_STAFF_KEY"]
    if env.get("SHOPBOT_SHOP_ORIGINS"):
        values["shop_origins"] = env["SHOPBOT_SHOP_ORIGINS"]
    if env.get("SHOPBOT_INTEGRATION_KEYS"):
        values["integration_keys"] = env["SHOPBOT_INTEGRATION_KEYS"]
    values.update({k: v for k, v in overrides.items() if v is not None})
    if "shop_origins" in values:
        values["shop_origins"] = _origins(values["shop_origins"])
    return replace(UiConfig(), **values)



def clean_input(text: str, limit: int = MAX_MESSAGE_CHARS) -> tuple[str, str]:
    """A customer's message made safe to store and show: (cleaned text, a note for the customer or "").

    The bot's own cleaning (lone surrogates such as a JSON "\\ud800" and control characters removed, text
    beyond MAX_MESSAGE_CHARS cut), applied at the edge so the web layer never fails to encode a message, plus
    this server's own `limit` when it is lower.
    """
    cleaned, notice = clean_message(text)
    if len(cleaned) > limit:
        cleaned = cleaned[:limit]
        notice = f"Your message was longer than {limit} characters, so I only read the first {limit}."
    return cleaned, notice

"""Server-issued conversation tokens, and integrations that name their own conversations under an API key.

A client never picks the conversation it continues. `SessionTokens.issue()` makes a new conversation id (128
random bits) and a token for it: the id, the time it was issued and an HMAC-SHA256 of both under the server's
key. `verify(token)` gives the id back only for a token this server signed that is younger than the lifetime;
anything else (made up, edited, expired, signed under another key) is None and the caller starts a new
anonymous conversation. Every reply carries a fresh token, so a conversation in use does not expire.
The key is $SHOPBOT_SESSION_KEY or the file `session.key` in the shop's data folder, made (mode 0600) on first
start; workers sharing the folder share the key. `Integrations` maps a server-side API key to an integration
name; only a request carrying one may name a conversation (`api:NAME:ID`). Who the customer is, and how long
that holds, is bot.memory's. Tests: tests/ui/test_ui_sessions.py.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

KEY_FILE = "session.key"
KEY_ENV = "SHOPBOT_SESSION_KEY"
MIN_KEY_BYTES = 16  # a shorter secret could be guessed
_VERSION = "s1"
_ID = re.compile(r"^w[0-9a-f]{32}$")
_CONVERSATION = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
MAX_TOKEN_CHARS = 200  # a longer "token" is refused before any work is done on it


class SessionKeyError(ValueError):
    """The session key could not be read or made (the message names the file or variable)."""


@dataclass(frozen=True)
class Session:
    session_id: str  # the conversation's key in the bot's memory
    token: str  # what the client holds and sends back
    new: bool = True  # False: the client's token was verified and the conversation goes on


class SessionTokens:
    """Issue and verify conversation tokens under one secret key."""

    def __init__(self, key: bytes, ttl_s: float = 30 * 24 * 3600, *, clock: Callable[[], float] = time.time):
        if len(key) < MIN_KEY_BYTES:
            raise SessionKeyError(f"the session key must be at least {MIN_KEY_BYTES} bytes, not {len(key)}")
        if ttl_s <= 0:
            raise ValueError(f"the session lifetime must be positive, not {ttl_s}")
        self._key, self.ttl_s, self._clock = key, float(ttl_s), clock

    @classmethod
    def for_data_dir(cls, data_dir: str | Path, ttl_s: float = 30 * 24 * 3600,
                     env: Mapping[str, str] | None = None) -> "SessionTokens":
        """The key from $SHOPBOT_SESSION_KEY, else from data_dir/session.key (made on first start)."""
        return cls(load_key(data_dir, env), ttl_s)

    @classmethod
    def ephemeral(cls, ttl_s: float = 30 * 24 * 3600) -> "SessionTokens":
        """A random key kept in memory only: tokens stop working when the process ends (tests, one-off pages)."""
        return cls(secrets.token_bytes(32), ttl_s)

    def _sign(self, session_id: str, issued: str) -> str:
        mac = hmac.new(self._key, f"{_VERSION}.{session_id}.{issued}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def token_for(self, session_id: str) -> str:
        """A fresh token for a conversation this server already trusts the caller with."""
        issued = format(int(self._clock()), "x")
        return f"{_VERSION}.{session_id}.{issued}.{self._sign(session_id, issued)}"

    def issue(self) -> Session:
        """A new anonymous conversation and its token."""
        session_id = "w" + secrets.token_hex(16)
        return Session(session_id, self.token_for(session_id), new=True)

    def verify(self, token: str | None) -> str | None:
        """The conversation id of a token this server issued and that has not expired, else None."""
        if not token or not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
            return None
        version, _, rest = token.partition(".")
        parts = rest.rsplit(".", 2)  # an integration's conversation id may itself hold dots
        if version != _VERSION or len(parts) != 3 or not parts[0]:
            return None
        session_id, issued, signature = parts
        if not hmac.compare_digest(signature.encode(), self._sign(session_id, issued).encode()):
            return None
        try:
            age = self._clock() - int(issued, 16)
        except ValueError:
            return None
        return session_id if -60 <= age <= self.ttl_s else None  # a minute of clock skew between workers

    def resume(self, token: str | None) -> Session:
        """The token's conversation with a refreshed token, or a new anonymous one when the token is not good."""
        session_id = self.verify(token)
        if session_id is None:
            return self.issue()
        return Session(session_id, self.token_for(session_id), new=False)


def load_key(data_dir: str | Path, env: Mapping[str, str] | None = None) -> bytes:
    """$SHOPBOT_SESSION_KEY, else the key file in data_dir, created with 32 random bytes (mode 0600) if absent."""
    env = os.environ if env is None else env
    if env.get(KEY_ENV):
        key = env[KEY_ENV].encode()
        if len(key) < MIN_KEY_BYTES:
            raise SessionKeyError(f"${KEY_ENV} must be at least {MIN_KEY_BYTES} characters long")
        return key
    path = Path(data_dir) / KEY_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass  # made on an earlier start, or by another worker a moment ago
    except OSError as exc:
        raise SessionKeyError(f"cannot create the session key file {path}: {exc.strerror}") from exc
    else:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_urlsafe(32) + "\n")
    for _ in range(50):  # another worker may have created the file and not written it yet
        try:
            key = path.read_text(encoding="ascii").strip().encode()
        except OSError as exc:
            raise SessionKeyError(f"cannot read the session key file {path}: {exc.strerror}") from exc
        if key:
            break
        time.sleep(0.02)
    if len(key) < MIN_KEY_BYTES:
        raise SessionKeyError(f"the session key file {path} holds fewer than {MIN_KEY_BYTES} characters")
    return key


class Integrations:
    """API keys configured on the server, one per integration; a request with one may name its conversations.

    The conversation of (integration, conversation id) is `api:NAME:ID`, so two integrations can never reach
    each other's conversations and a request without the key can never reach any of them.
    """

    def __init__(self, keys: Mapping[str, str] | tuple[tuple[str, str], ...] = ()):
        pairs = dict(keys)
        for name, key in pairs.items():
            if not _NAME.match(name):
                raise ValueError(f"an integration name must be 1-40 letters, digits, _ or -, not {name!r}")
            if len(key) < MIN_KEY_BYTES:
                raise ValueError(f"the API key of integration {name!r} must be at least {MIN_KEY_BYTES} characters")
        self._by_key = {key.encode(): name for name, key in pairs.items()}

    def __bool__(self) -> bool:
        return bool(self._by_key)

    def name_for(self, api_key: str | None) -> str | None:
        """The integration whose key this is, compared in constant time, or None."""
        if not api_key:
            return None
        given = api_key.encode()
        found = None
        for key, name in self._by_key.items():
            if hmac.compare_digest(given, key):
                found = name
        return found

    @staticmethod
    def session_id(name: str, conversation_id: str) -> str:
        if not _CONVERSATION.match(conversation_id or ""):
            raise ValueError("a conversation id must be 1-128 letters, digits or . _ : @ -")
        return f"api:{name}:{conversation_id}"


def parse_integration_keys(text: str) -> tuple[tuple[str, str], ...]:
    """`name=key` pairs separated by commas or new lines ($SHOPBOT_INTEGRATION_KEYS or a key file)."""
    pairs = []
    for item in re.split(r"[,\n]", text or ""):
        item = item.strip()
        if not item or item.startswith("#"):
            continue
        name, sep, key = item.partition("=")
        if not sep or not name.strip() or not key.strip():
            raise ValueError("integration keys are written name=key, separated by commas or lines")
        pairs.append((name.strip(), key.strip()))
    return tuple(pairs)

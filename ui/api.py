"""HTTP API: an OpenAI-compatible chat endpoint, a conversation's transcript and a health check, over a Bot.

`POST /v1/chat/completions` answers the last user message, as JSON or, with "stream": true, as server-sent
events ending in `data: [DONE]`, with `usage` counted by the model's tokenizer. The conversation is the one
of a session token this server issued (X-Session-Token header or `session_token` field), or of an integration's
own conversation id under its API key; otherwise a new anonymous one, whose focus (products, options, orders)
comes from the earlier user messages sent. A client-written history and the `user` field are never evidence
or a key. `GET /v1/sessions/{id}/messages` needs the token. Errors come in OpenAI's shape and status codes.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
from dataclasses import replace
from typing import Literal

import psycopg
from fastapi import APIRouter, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from bot.history import MAX_HISTORY_MESSAGES
from ui.chat import SHOWN_ROLES
from ui.config import UiConfig, clean_input
from ui.sessions import Integrations, Session, SessionTokens
from ui.usage import TokenCounter

log = logging.getLogger(__name__)
STORAGE_MESSAGE = ("Sorry, the shop's records cannot be saved right now, so I could not handle your message. "
                   "Please try again in a few minutes.")
MODEL_NAME = "shopbot"


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str = "text"
    text: str = ""


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text for p in self.content if p.type == "text")
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: bool = False


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # temperature, max_tokens...: the shop decides these
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = None  # the integrator's end-user id (OpenAI's meaning); never a conversation key
    model: str | None = None
    session_token: str | None = None  # the token of an earlier reply (or the X-Session-Token header)
    conversation_id: str | None = None  # an integration's own id for the conversation; needs its API key


class NotAuthorised(Exception):
    """A conversation id was sent without the API key of an integration."""


class Limiter:
    """At most `limit` chats at once; the next one is refused at once instead of waiting in line."""

    def __init__(self, limit: int):
        self._slots = threading.BoundedSemaphore(limit)

    def try_acquire(self) -> bool:
        return self._slots.acquire(blocking=False)

    def release(self) -> None:
        self._slots.release()


def error(status: int, message: str, kind: str, headers: dict | None = None, code: str | None = None,
          param: str | None = None) -> JSONResponse:
    """An error body in the OpenAI shape: {"error": {"message", "type", "param", "code"}}; safe to show."""
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": code}},
                        status_code=status, headers=headers)


def completion(reply, session: Session, created: int, usage: dict | None) -> dict:
    return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": created,
            "model": MODEL_NAME, "session_id": session.session_id, "session_token": session.token,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": _shown_text(reply)},
                         "finish_reason": "stop"}],
            "usage": usage, "shopbot": reply.to_dict()}


def chunk(stream_id: str, session: Session, created: int, delta: dict | None, finish: str | None = None,
          **extra) -> str:
    """One server-sent event: `data: {chat.completion.chunk}` and a blank line (delta None: no choices)."""
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    body = {"id": stream_id, "object": "chat.completion.chunk", "created": created, "model": MODEL_NAME,
            "session_id": session.session_id, "session_token": session.token, "choices": choices, **extra}
    return f"data: {json.dumps(body)}\n\n"


def _shown_text(reply) -> str:
    return f"{reply.notice}\n\n{reply.text}" if getattr(reply, "notice", "") else reply.text


def _with_notice(reply, notice: str):
    """The reply with the web layer's note about the input (cut, cleaned) joined to the bot's own."""
    if not notice:
        return reply
    joined = " ".join(n for n in (notice, reply.notice) if n)
    return replace(reply, notice=joined)


def _bearer(authorization: str | None) -> str | None:
    scheme, _, value = (authorization or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def open_session(body: ChatRequest, token: str | None, authorization: str | None, tokens: SessionTokens,
                 integrations: Integrations) -> Session:
    """The conversation this request may continue; a new anonymous one when it may continue none.

    An integration's conversation id counts only with that integration's API key (else NotAuthorised; a bad
    id is a ValueError). A session token counts only if this server issued it and it has not expired.
    """
    if body.conversation_id is not None:
        name = integrations.name_for(_bearer(authorization))
        if name is None:
            raise NotAuthorised()
        session_id = Integrations.session_id(name, body.conversation_id)
        return Session(session_id, tokens.token_for(session_id), new=False)
    return tokens.resume(token or body.session_token)


def earlier_read(body: ChatRequest, last_user: int, session: Session, limit: int) -> list[str]:
    """The earlier user messages the server reads: for a new conversation only, the most recent ones, each cut."""
    if not session.new:
        return []  # the conversation kept on the server is the history
    users = [m for m in body.messages[:last_user] if m.role == "user"][-MAX_HISTORY_MESSAGES:]
    return [clean_input(m.text(), limit)[0] for m in users]


def _seed(bot, session: Session, earlier: list[str]) -> None:
    """A new conversation starts from the focus of the customer's earlier messages sent with the request."""
    if not earlier or not hasattr(bot, "reader"):  # the UI's scripted fake reads nothing
        return
    from bot.history import start_from_history
    start_from_history(bot.memory, bot.reader, session.session_id, earlier)


def api_router(bot, config: UiConfig, tokens: SessionTokens, integrations: Integrations | None = None,
               counter: TokenCounter | None = None) -> APIRouter:
    router = APIRouter()
    limiter = Limiter(config.max_concurrent)
    integrations = integrations or Integrations()
    counter = counter or TokenCounter()
    busy_message = (f"The assistant is busy with other customers right now; please try again in "
                    f"{config.retry_after_s} seconds.")

    @router.get("/healthz")
    def healthz():
        try:
            parts = bot.health()
        except Exception as exc:  # the check itself failing is the worst health there is
            log.exception("health check failed")
            return JSONResponse({"status": "down", "parts": {"bot": f"down: {type(exc).__name__}"}},
                                status_code=503)
        degraded = {k: v for k, v in parts.items() if v != "ok"}
        return {"status": "degraded" if degraded else "ok", "parts": parts, "degraded": sorted(degraded)}

    @router.get("/v1/models")
    def models():
        return {"object": "list", "data": [{"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "shop"}]}

    @router.get("/v1/models/{model}")
    def model(model: str):
        if model != MODEL_NAME:
            return _unknown_model(model)
        return {"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "shop"}

    @router.get("/v1/sessions/{session_id}/messages")
    def session_messages(session_id: str, x_session_token: str | None = Header(default=None)):
        """The conversation so far, for the holder of its token (the widget after a page load, staff replies)."""
        if tokens.verify(x_session_token) != session_id:  # no token, another's, forged, expired: all alike
            return error(404, "No conversation with that id was found for this session token.",
                         "invalid_request_error", code="session_not_found")
        turns = [t for t in bot.transcript(session_id) if t.role in SHOWN_ROLES]
        return {"session_id": session_id,
                "messages": [{"turn_id": t.turn_id, "role": t.role, "text": t.text,
                              "citations": (t.reply or {}).get("citations", []),
                              "products": (t.reply or {}).get("products", [])} for t in turns]}

    @router.post("/v1/chat/completions")
    def chat_completions(body: ChatRequest, x_session_token: str | None = Header(default=None),
                         authorization: str | None = Header(default=None)):
        if body.model not in (None, "", MODEL_NAME):
            return _unknown_model(body.model)
        last_user = max((i for i, m in enumerate(body.messages) if m.role == "user"), default=None)
        if last_user is None:
            return error(400, "The request has no message with role 'user' to answer.", "invalid_request_error",
                         param="messages")
        try:
            session = open_session(body, x_session_token, authorization, tokens, integrations)
        except NotAuthorised:
            return error(401, "A conversation_id needs the API key of an integration configured on this server "
                              "(Authorization: Bearer KEY).", "invalid_request_error", code="invalid_api_key")
        except ValueError as exc:
            return error(400, str(exc), "invalid_request_error", param="conversation_id")
        message, notice = clean_input(body.messages[last_user].text(), config.max_message_chars)
        if not limiter.try_acquire():
            return error(429, busy_message, "busy", {"Retry-After": str(config.retry_after_s)},
                         code="rate_limit_exceeded")
        created = int(time.time())
        headers = {"X-Session-Token": session.token}
        earlier = earlier_read(body, last_user, session, config.max_message_chars)
        prompt = [("user", text) for text in [*earlier, message]]  # what the assistant reads; the rest is not
        if not body.stream:
            try:
                _seed(bot, session, earlier)
                reply = _with_notice(bot.respond(message, session_id=session.session_id), notice)
            finally:
                limiter.release()
            usage = counter.usage(prompt, _shown_text(reply))
            return JSONResponse(completion(reply, session, created, usage), headers=headers)
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        events = _events(bot, limiter, earlier, message, notice, session, created,
                         counter if include_usage else None, prompt)
        return StreamingResponse(events, media_type="text/event-stream",
                                 headers={**headers, "Cache-Control": "no-cache"})

    return router


def _unknown_model(name: str) -> JSONResponse:
    return error(404, f"The model {name[:60]!r} does not exist here; this server answers as {MODEL_NAME!r}.",
                 "invalid_request_error", code="model_not_found", param="model")


def _events(bot, limiter: Limiter, earlier: list[str], message: str, notice: str, session: Session,
            created: int, counter: TokenCounter | None, prompt: list):
    """The SSE stream of one reply; the chat slot is given back however the stream ends.

    With a counter (stream_options.include_usage), every chunk has "usage": null and one more chunk with no
    choices carries the usage before [DONE], as OpenAI's API does.
    """
    stream_id = f"chatcmpl-{uuid.uuid4().hex}"
    extra = {"usage": None} if counter else {}
    try:
        _seed(bot, session, earlier)
        yield chunk(stream_id, session, created, {"role": "assistant", "content": ""}, **extra)
        shown = ""
        if notice:
            shown = notice + "\n\n"
            yield chunk(stream_id, session, created, {"content": shown}, **extra)
        reply = None
        for piece in bot.stream(message, session_id=session.session_id):
            if isinstance(piece, str):
                shown += piece
                yield chunk(stream_id, session, created, {"content": piece}, **extra)
            else:
                reply = _with_notice(piece, notice)
        yield chunk(stream_id, session, created, {}, "stop", shopbot=reply.to_dict() if reply else None, **extra)
        if counter:
            yield chunk(stream_id, session, created, None, usage=counter.usage(prompt, shown))
        yield "data: [DONE]\n\n"
    except Exception:
        log.exception("streaming a reply failed")
        failed = {"error": {"message": "The assistant failed on this message; please try again.",
                            "type": "server_error", "param": None, "code": None}}
        yield f"data: {json.dumps(failed)}\n\n"
        yield "data: [DONE]\n\n"
    finally:
        limiter.release()


def install_error_handlers(app: FastAPI) -> None:
    """Bad requests get a short, clear JSON message that never echoes the (possibly huge or invalid) input."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        problems = exc.errors()
        if any(p.get("type") == "json_invalid" for p in problems):
            return error(400, "The request body is not valid JSON.", "invalid_request_error")
        where = "; ".join(f"{'.'.join(str(x) for x in p.get('loc', ()) if x != 'body') or 'body'}: {p.get('msg')}"
                          for p in problems[:5])
        # 400 like OpenAI's own API, so the official clients raise BadRequestError
        return error(400, f"The request does not have the expected shape ({where}).", "invalid_request_error")

    @app.exception_handler(sqlite3.Error)
    @app.exception_handler(psycopg.Error)
    @app.exception_handler(OSError)
    async def _storage(request: Request, exc: Exception):  # a full disk, a read-only or broken database file
        log.error("storage failed: %s: %s", type(exc).__name__, exc)
        return error(503, STORAGE_MESSAGE, "storage_unavailable", {"Retry-After": "60"})

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException):
        if exc.status_code == 400 and "parsing the body" in str(exc.detail):  # e.g. bytes that are not UTF-8
            return error(400, "The request body could not be read: send JSON encoded as UTF-8.",
                         "invalid_request_error")
        return error(exc.status_code, str(exc.detail), "http_error", getattr(exc, "headers", None))

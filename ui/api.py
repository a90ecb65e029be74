"""HTTP API: an OpenAI-compatible chat endpoint and a health check, as a FastAPI router over a Bot.

`POST /v1/chat/completions` sends the last user message to the bot (the conversation lives on the server,
keyed by the `user` field or the X-Session-Id header) and answers as JSON or, with "stream": true, as
server-sent events ending in `data: [DONE]`. The reply's citations and products travel in an extra
`shopbot` field. `GET /healthz` reports each part of the bot. Too many chats at once get HTTP 429 at once.
"""
from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from dataclasses import replace
from typing import Literal

from fastapi import APIRouter, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from ui.config import UiConfig, clean_input

log = logging.getLogger(__name__)
MODEL_NAME = "shopbot"
_SESSION = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")


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


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # temperature, max_tokens...: the shop decides these
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    user: str | None = None
    model: str | None = None


class Limiter:
    """At most `limit` chats at once; the next one is refused at once instead of waiting in line."""

    def __init__(self, limit: int):
        self._slots = threading.BoundedSemaphore(limit)

    def try_acquire(self) -> bool:
        return self._slots.acquire(blocking=False)

    def release(self) -> None:
        self._slots.release()


def error(status: int, message: str, kind: str, headers: dict | None = None) -> JSONResponse:
    """An error body in the OpenAI shape: {"error": {"message", "type"}}; the message is safe to show."""
    return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status, headers=headers)


def session_from(body: ChatRequest, header: str | None) -> str | None:
    """The session id from the X-Session-Id header or the `user` field; a new one when neither is given."""
    value = header or body.user
    if value is None:
        return f"web-{uuid.uuid4().hex}"
    return value if _SESSION.match(value) else None


def completion(reply, session_id: str, created: int) -> dict:
    return {"id": f"chatcmpl-{session_id}-{reply.turn_id}", "object": "chat.completion", "created": created,
            "model": MODEL_NAME, "session_id": session_id,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": _shown_text(reply)},
                         "finish_reason": "stop"}],
            "shopbot": reply.to_dict()}


def chunk(session_id: str, created: int, delta: dict, finish: str | None = None, **extra) -> str:
    """One server-sent event: `data: {chat.completion.chunk}` and a blank line."""
    body = {"id": f"chatcmpl-{session_id}", "object": "chat.completion.chunk", "created": created,
            "model": MODEL_NAME, "session_id": session_id,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
    return f"data: {json.dumps(body)}\n\n"


def _shown_text(reply) -> str:
    return f"{reply.notice}\n\n{reply.text}" if getattr(reply, "notice", "") else reply.text


def _with_notice(reply, notice: str):
    """The reply with the web layer's note about the input (cut, cleaned) joined to the bot's own."""
    if not notice:
        return reply
    joined = " ".join(n for n in (notice, reply.notice) if n)
    return replace(reply, notice=joined)


def api_router(bot, config: UiConfig) -> APIRouter:
    router = APIRouter()
    limiter = Limiter(config.max_concurrent)
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

    @router.post("/v1/chat/completions")
    def chat_completions(body: ChatRequest, x_session_id: str | None = Header(default=None)):
        session_id = session_from(body, x_session_id)
        if session_id is None:
            return error(400, "The session id (the `user` field or X-Session-Id header) must be 1-128 letters, "
                              "digits or . _ : @ -", "invalid_request_error")
        users = [m for m in body.messages if m.role == "user"]
        if not users:
            return error(400, "The request has no message with role 'user' to answer.", "invalid_request_error")
        message, notice = clean_input(users[-1].text(), config.max_message_chars)
        if not limiter.try_acquire():
            return error(429, busy_message, "busy", {"Retry-After": str(config.retry_after_s)})
        created = int(time.time())
        headers = {"X-Session-Id": session_id}
        if not body.stream:
            try:
                reply = _with_notice(bot.respond(message, session_id=session_id), notice)
            finally:
                limiter.release()
            return JSONResponse(completion(reply, session_id, created), headers=headers)
        return StreamingResponse(_events(bot, limiter, message, notice, session_id, created),
                                 media_type="text/event-stream", headers={**headers, "Cache-Control": "no-cache"})

    return router


def _events(bot, limiter: Limiter, message: str, notice: str, session_id: str, created: int):
    """The SSE stream of one reply; the chat slot is given back however the stream ends."""
    try:
        yield chunk(session_id, created, {"role": "assistant", "content": ""})
        if notice:
            yield chunk(session_id, created, {"content": notice + "\n\n"})
        reply = None
        for piece in bot.stream(message, session_id=session_id):
            if isinstance(piece, str):
                yield chunk(session_id, created, {"content": piece})
            else:
                reply = _with_notice(piece, notice)
        yield chunk(session_id, created, {}, "stop", shopbot=reply.to_dict() if reply else None)
        yield "data: [DONE]\n\n"
    except Exception:
        log.exception("streaming a reply failed")
        failed = {"error": {"message": "The assistant failed on this message; please try again.",
                            "type": "server_error"}}
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
        return error(422, f"The request does not have the expected shape ({where}).", "invalid_request_error")

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException):
        if exc.status_code == 400 and "parsing the body" in str(exc.detail):  # e.g. bytes that are not UTF-8
            return error(400, "The request body could not be read: send JSON encoded as UTF-8.",
                         "invalid_request_error")
        return error(exc.status_code, str(exc.detail), "http_error", getattr(exc, "headers", None))

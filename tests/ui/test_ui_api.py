"""The HTTP API over a scripted bot on the demo shop: OpenAI-compatible replies (JSON and server-sent events),
server-issued sessions, CORS, busy answers, bad input that is answered clearly without losing the conversation,
health, the demo shop page and the staff login."""
from __future__ import annotations

import json
import threading
import time

import pytest

from bot.text import MAX_MESSAGE_CHARS


def ask(client, text, token=None, stream=False, **extra):
    """A chat request; json.dumps writes a lone surrogate as the escape "\\ud83d", as a browser's JSON would."""
    body = {"model": "shopbot", "stream": stream, "messages": [{"role": "user", "content": text}]}
    headers = {"content-type": "application/json", **({"X-Session-Token": token} if token else {})}
    return client.post("/v1/chat/completions", content=json.dumps({**body, **extra}), headers=headers)


class Chat:
    """One client's conversation: sends the token of the last reply with the next message."""

    def __init__(self, client):
        self.client, self.token, self.session_id = client, None, None

    def ask(self, text, stream=False, **extra):
        r = ask(self.client, text, self.token, stream, **extra)
        if r.status_code == 200:
            self.token = r.headers["X-Session-Token"]
            self.session_id = (events(r)[-1] if stream else r.json())["session_id"]
        return r


def events(response) -> list:
    assert response.headers["content-type"].startswith("text/event-stream")
    blocks = response.text.split("\n\n")
    assert blocks[-1] == ""
    assert all(b.startswith("data: ") for b in blocks[:-1]), blocks
    payloads = [b[len("data: "):] for b in blocks[:-1]]
    assert payloads[-1] == "[DONE]"
    return [json.loads(p) for p in payloads[:-1]]


def test_non_streaming_reply_is_openai_shaped_and_carries_sources(client, fake_bot):
    r = ask(client, "How much is the T-Shirt?")
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion" and body["session_token"] == r.headers["X-Session-Token"]
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] == "stop"
    variant = fake_bot.store.get_variant(body["shopbot"]["citations"][0]["id"].split(":")[1])
    assert f"${variant['price']:.2f}" in choice["message"]["content"]  # the real price, from the shop database
    assert body["shopbot"]["products"][0]["item_id"] == variant["item_id"]
    assert body["shopbot"]["turn_id"] > 0


def test_streaming_reply_is_server_sent_events_ending_in_done(client):
    r = ask(client, "How much is the T-Shirt?", stream=True)
    assert r.status_code == 200
    chunks = events(r)
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert "T-Shirt" in text and "$" in text
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["shopbot"]["citations"][0]["kind"] == "product"


def test_the_server_issues_the_session_and_the_client_cannot_pick_it(client, fake_bot):
    first = Chat(client)
    first.ask("hello")
    first.ask("again")
    assert [t.text for t in fake_bot.transcript(first.session_id) if t.role == "user"] == ["hello", "again"]
    chosen = [client.post("/v1/chat/completions", headers={"X-Session-Id": "mine"},
                          json={"user": "mine", "messages": [{"role": "user", "content": "hi"}]}),
              ask(client, "hi", token="s1.mine.0.forged"), ask(client, "hi", token=first.session_id),
              ask(client, "hi", session_token=first.token[:-2] + "xy")]
    ids = [r.json()["session_id"] for r in chosen]
    assert all(r.status_code == 200 for r in chosen)
    assert len(set(ids) | {first.session_id}) == 5 and "mine" not in ids  # each a new conversation
    assert ask(client, "and again", session_token=first.token).json()["session_id"] == first.session_id


def test_only_the_last_user_message_is_answered_and_content_parts_are_read(client, fake_bot):
    r = client.post("/v1/chat/completions", json={"messages": [
        {"role": "system", "content": "ignored"}, {"role": "user", "content": "first"},
        {"role": "assistant", "content": "x"},
        {"role": "user", "content": [{"type": "text", "text": "How much is the "}, {"type": "text", "text": "T-Shirt?"}]}]})
    assert r.status_code == 200
    sid = r.json()["session_id"]
    assert [t.text for t in fake_bot.transcript(sid) if t.role == "user"] == ["How much is the T-Shirt?"]
    none = client.post("/v1/chat/completions", json={"messages": [{"role": "system", "content": "hi"}]})
    assert none.status_code == 400 and "role 'user'" in none.json()["error"]["message"]


def test_bad_input_gets_a_clear_reply_and_nothing_is_lost(client, fake_bot):
    chat = Chat(client)
    replies = [chat.ask(""), chat.ask("x" * 1_000_000)]
    replies.append(client.post("/v1/chat/completions", headers={"content-type": "application/json",
                                                               "X-Session-Token": chat.token},
                               content=b'{"messages": [{"role": "user", "content": "hi \\ud800 there"}]}'))
    replies += [chat.ask("stop\x00\x07 the \x1b[31m bell"), chat.ask("\ud83d broken pair streamed", stream=True)]
    assert [r.status_code for r in replies] == [200] * 5
    assert "type a question" in replies[0].json()["choices"][0]["message"]["content"]
    long = replies[1].json()
    assert str(MAX_MESSAGE_CHARS) in long["shopbot"]["notice"]
    assert long["choices"][0]["message"]["content"].startswith(long["shopbot"]["notice"])
    assert "could not be read" in replies[2].json()["shopbot"]["notice"]
    streamed = events(replies[4])
    assert "could not be read" in streamed[-1]["shopbot"]["notice"]
    users = [t.text for t in fake_bot.transcript(chat.session_id) if t.role == "user"]
    assert len(users) == 5 and len(fake_bot.transcript(chat.session_id)) == 10  # every message and reply kept
    assert len(users[1]) == MAX_MESSAGE_CHARS
    assert "\ud800" not in users[2] and "there" in users[2]
    assert not any(ch in users[3] for ch in "\x00\x07\x1b") and "bell" in users[3]
    assert chat.ask("still serving?").status_code == 200


def test_malformed_requests_get_400_with_a_message(client):
    cases = {b"{not json": 400, b'{"messages": [{"role": "user", "content": "\xff\xfe"}]}': 400,
             b'{"messages": []}': 400, b'{"messages": [{"role": "wizard", "content": "hi"}]}': 400,
             b'{"messages": "hello"}': 400}
    for body, status in cases.items():
        r = client.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
        assert r.status_code == status, body
        assert r.json()["error"]["message"], body
    huge_wrong = client.post("/v1/chat/completions", json={"messages": [{"role": "x" * 100_000, "content": 1}]})
    assert huge_wrong.status_code == 400 and len(huge_wrong.text) < 2000  # the bad input is not echoed back


def test_too_many_at_once_are_told_busy_at_once(make_client, fake_bot):
    client = make_client(max_concurrent=1, retry_after_s=3)
    fake_bot.gate = threading.Event()
    first = {}
    worker = threading.Thread(target=lambda: first.setdefault("r", ask(client, "slow one")))
    worker.start()
    assert fake_bot.entered.wait(10)
    started = time.monotonic()
    busy = ask(client, "me too")
    assert time.monotonic() - started < 2
    assert busy.status_code == 429 and busy.headers["Retry-After"] == "3"
    assert "busy" in busy.json()["error"]["message"] and busy.json()["error"]["type"] == "busy"
    fake_bot.gate.set()
    worker.join(10)
    assert first["r"].status_code == 200
    assert events(ask(client, "streamed", stream=True))  # a finished stream gives its slot back
    assert ask(client, "and again").status_code == 200


def test_cors_is_open_only_to_configured_shops(client):
    def preflight(origin):
        return client.options("/v1/chat/completions", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-session-token"})
    ok = preflight("https://shop.example")
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "https://shop.example"
    exposed = client.post("/v1/chat/completions", headers={"Origin": "https://shop.example"},
                          json={"messages": [{"role": "user", "content": "hi"}]})
    assert "x-session-token" in exposed.headers["access-control-expose-headers"].lower()
    denied = preflight("https://evil.example")
    assert denied.status_code == 400 and "access-control-allow-origin" not in denied.headers
    r = client.post("/v1/chat/completions", headers={"Origin": "https://evil.example"},
                    json={"messages": [{"role": "user", "content": "hi"}]})
    assert "access-control-allow-origin" not in r.headers


def test_healthz_reports_degraded_parts(make_client, fake_bot):
    assert make_client().get("/healthz").json() == {
        "status": "ok", "parts": {"database": "ok", "search": "ok", "model": "ok"}, "degraded": []}
    fake_bot._health["model"] = "degraded: model not loaded, template replies"
    body = make_client().get("/healthz").json()
    assert body["status"] == "degraded" and body["degraded"] == ["model"]

    def broken():
        raise RuntimeError("database is locked")
    fake_bot.health = broken
    down = make_client().get("/healthz")
    assert down.status_code == 503 and down.json()["status"] == "down"


def test_session_messages_show_staff_replies_to_the_token_holder_only(client, fake_bot):
    chat = Chat(client)
    chat.ask("where is my parcel?")
    fake_bot.staff_reply(chat.session_id, "It left our warehouse today.", staff="Dana")
    url = f"/v1/sessions/{chat.session_id}/messages"
    messages = client.get(url, headers={"X-Session-Token": chat.token}).json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "staff"]
    assert messages[-1]["text"] == "It left our warehouse today."
    other = Chat(client)
    other.ask("hello")
    for headers in ({}, {"X-Session-Token": other.token}, {"X-Session-Token": chat.token[:-3] + "abc"}):
        denied = client.get(url, headers=headers)
        assert denied.status_code == 404 and "parcel" not in denied.text


def test_demo_page_lists_real_products_escaped_and_embeds_the_widget(client, fake_bot):
    first = fake_bot.store.product_ids()[0]
    with fake_bot.store.transaction() as conn:  # the shop's own database, on either backend
        conn.execute("UPDATE products SET name = ? WHERE product_id = ?", ("<img src=x onerror=alert(1)>", first))
    page = client.get("/demo").text
    assert fake_bot.store.get_product(fake_bot.store.product_ids()[1])["name"] in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "<img src=x" not in page
    assert '<script src="/static/widget.js"' in page
    widget = client.get("/static/widget.js")
    assert widget.status_code == 200 and "textContent" in widget.text and "innerHTML" not in widget.text


def test_staff_pages_need_the_key_when_serving_beyond_localhost(make_client):
    client = make_client(host="0.0.0.0", staff_key="s3cret")
    to_login = client.get("/staff/", headers={"accept": "text/html"}, follow_redirects=False)
    assert to_login.status_code == 303 and to_login.headers["location"] == "/login?next=/staff/"
    assert client.get("/insights/").status_code == 401
    wrong = client.post("/login", data={"name": "Dana", "key": "guess", "next": "/staff/"}, follow_redirects=False)
    assert wrong.status_code == 401 and "not right" in wrong.text
    ok = client.post("/login", data={"name": "Dana", "key": "s3cret", "next": "/insights/"}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/insights/"
    assert client.get("/insights/").status_code == 404  # past the login (no pages mounted in this HTTP-only app)
    client.cookies.clear()
    client.cookies.set("shopbot_staff", "Dana:forged")
    assert client.get("/staff/").status_code == 401
    assert client.get("/staff/", headers={"X-Staff-Key": "s3cret"}).status_code == 404
    chat = Chat(client)
    chat.ask("hi")  # the shopper's side needs no staff key, only the conversation's token
    assert client.get(f"/v1/sessions/{chat.session_id}/messages",
                      headers={"X-Session-Token": chat.token}).status_code == 200


@pytest.mark.parametrize("settings, required", [({}, True), ({"host": "localhost"}, True),
                                                ({"host": "0.0.0.0"}, True), ({"staff_auth": "off"}, False),
                                                ({"host": "0.0.0.0", "staff_auth": "off"}, False)])
def test_staff_login_is_on_by_default_on_every_host(make_client, settings, required):
    client = make_client(**settings)
    assert bool(client.app.state.staff_key) is required  # a key is made when none is configured
    status = client.get("/staff/", headers={"accept": "text/html"}, follow_redirects=False).status_code
    assert status == (303 if required else 404)


def test_a_failure_mid_stream_ends_the_stream_cleanly_and_frees_the_slot(make_client, fake_bot):
    client = make_client(max_concurrent=1)

    def failing(message, session_id="default"):
        yield "Let me check "
        raise RuntimeError("search index is gone")
    fake_bot.stream = failing
    r = ask(client, "hello", stream=True)
    blocks = r.text.split("\n\n")
    assert blocks[-2] == "data: [DONE]"
    error = json.loads(blocks[-3][len("data: "):])["error"]
    assert error["type"] == "server_error" and "search index" not in error["message"]  # no internals shown
    assert ask(client, "hello again").status_code == 200


def test_usage_is_counted_and_streamed_last_only_when_asked(client):
    body = ask(client, "How much is the T-Shirt?").json()
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    longer = ask(client, "How much is the T-Shirt? " * 20).json()["usage"]
    assert longer["prompt_tokens"] > usage["prompt_tokens"] + 50  # the prompt is really counted
    with_usage = events(ask(client, "How much is the T-Shirt?", stream=True, stream_options={"include_usage": True}))
    assert all(c["usage"] is None for c in with_usage[:-1])
    assert with_usage[-1]["choices"] == [] and with_usage[-1]["usage"]["total_tokens"] > 0
    assert all("usage" not in c for c in events(ask(client, "hello", stream=True)))


def test_an_unknown_model_is_404_and_a_conversation_id_needs_an_api_key(client):
    r = ask(client, "hi", model="gpt-4o")
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
    assert client.get("/v1/models/gpt-4o").status_code == 404
    assert client.get("/v1/models/shopbot").json()["id"] == "shopbot"
    denied = ask(client, "hi", conversation_id="ticket-1")
    assert denied.status_code == 401 and denied.json()["error"]["code"] == "invalid_api_key"


def test_a_long_client_history_is_answered(client):
    history = [{"role": r, "content": "x" * 100_000} for _ in range(200) for r in ("user", "assistant")]
    r = client.post("/v1/chat/completions", json={"messages": [*history, {"role": "user", "content": "hello"}]})
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"]

"""The HTTP API over a scripted bot on the demo shop: OpenAI-compatible replies (JSON and server-sent events),
sessions, CORS, busy answers, bad input that is answered clearly without losing the conversation, health,
the demo shop page and the staff login."""
from __future__ import annotations

import json
import sqlite3
import threading
import time

import pytest

from bot.text import MAX_MESSAGE_CHARS


def ask(client, text, session="s1", stream=False, **extra):
    """A chat request; json.dumps writes a lone surrogate as the escape "\\ud83d", as a browser's JSON would."""
    body = {"model": "shopbot", "stream": stream, "user": session, "messages": [{"role": "user", "content": text}]}
    return client.post("/v1/chat/completions", content=json.dumps({**body, **extra}),
                       headers={"content-type": "application/json"})


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
    assert body["object"] == "chat.completion" and body["session_id"] == "s1"
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


def test_session_comes_from_user_field_or_header_or_is_made(client, fake_bot):
    ask(client, "hello", session="from-user")
    client.post("/v1/chat/completions", headers={"X-Session-Id": "from-header"},
                json={"messages": [{"role": "user", "content": "hello"}]})
    made = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
    new = made.json()["session_id"]
    assert made.headers["X-Session-Id"] == new and new.startswith("web-")
    assert {c.session_id for c in fake_bot.conversations()} == {"from-user", "from-header", new}
    bad = ask(client, "hello", session="no spaces allowed")
    assert bad.status_code == 400 and "session id" in bad.json()["error"]["message"]


def test_only_the_last_user_message_is_sent_and_content_parts_are_read(client, fake_bot):
    r = client.post("/v1/chat/completions", json={"user": "p", "messages": [
        {"role": "system", "content": "ignored"}, {"role": "user", "content": "first"},
        {"role": "assistant", "content": "x"},
        {"role": "user", "content": [{"type": "text", "text": "How much is the "}, {"type": "text", "text": "T-Shirt?"}]}]})
    assert r.status_code == 200
    assert [t.text for t in fake_bot.transcript("p") if t.role == "user"] == ["How much is the T-Shirt?"]
    none = client.post("/v1/chat/completions", json={"messages": [{"role": "system", "content": "hi"}]})
    assert none.status_code == 400 and "role 'user'" in none.json()["error"]["message"]


def test_bad_input_gets_a_clear_reply_and_nothing_is_lost(client, fake_bot):
    replies = [ask(client, "", session="bad"),
               ask(client, "x" * 1_000_000, session="bad"),
               client.post("/v1/chat/completions", headers={"content-type": "application/json"},
                           content=b'{"user": "bad", "messages": [{"role": "user", "content": "hi \\ud800 there"}]}'),
               ask(client, "stop\x00\x07 the \x1b[31m bell", session="bad"),
               ask(client, "\ud83d broken pair streamed", session="bad", stream=True)]
    assert [r.status_code for r in replies] == [200] * 5
    assert "type a question" in replies[0].json()["choices"][0]["message"]["content"]
    long = replies[1].json()
    assert str(MAX_MESSAGE_CHARS) in long["shopbot"]["notice"]
    assert long["choices"][0]["message"]["content"].startswith(long["shopbot"]["notice"])
    assert "could not be read" in replies[2].json()["shopbot"]["notice"]
    streamed = events(replies[4])
    assert "could not be read" in streamed[-1]["shopbot"]["notice"]
    users = [t.text for t in fake_bot.transcript("bad") if t.role == "user"]
    assert len(users) == 5 and len(fake_bot.transcript("bad")) == 10  # every message and every reply kept
    assert len(users[1]) == MAX_MESSAGE_CHARS
    assert "\ud800" not in users[2] and "there" in users[2]
    assert not any(ch in users[3] for ch in "\x00\x07\x1b") and "bell" in users[3]
    assert ask(client, "still serving?", session="bad").status_code == 200


def test_malformed_requests_get_400_or_422_with_a_message(client):
    cases = {b"{not json": 400, b'{"messages": [{"role": "user", "content": "\xff\xfe"}]}': 400,
             b'{"messages": []}': 422, b'{"messages": [{"role": "wizard", "content": "hi"}]}': 422,
             b'{"messages": "hello"}': 422}
    for body, status in cases.items():
        r = client.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
        assert r.status_code == status, body
        assert r.json()["error"]["message"], body
    huge_wrong = client.post("/v1/chat/completions", json={"messages": [{"role": "x" * 100_000, "content": 1}]})
    assert huge_wrong.status_code == 422 and len(huge_wrong.text) < 2000  # the bad input is not echoed back


def test_too_many_at_once_are_told_busy_at_once(make_client, fake_bot):
    client = make_client(max_concurrent=1, retry_after_s=3)
    fake_bot.gate = threading.Event()
    first = {}
    worker = threading.Thread(target=lambda: first.setdefault("r", ask(client, "slow one", session="a")))
    worker.start()
    assert fake_bot.entered.wait(10)
    started = time.monotonic()
    busy = ask(client, "me too", session="b")
    assert time.monotonic() - started < 2
    assert busy.status_code == 429 and busy.headers["Retry-After"] == "3"
    assert "busy" in busy.json()["error"]["message"] and busy.json()["error"]["type"] == "busy"
    fake_bot.gate.set()
    worker.join(10)
    assert first["r"].status_code == 200
    assert events(ask(client, "streamed", session="b", stream=True))  # a finished stream gives its slot back
    assert ask(client, "and again", session="b").status_code == 200


def test_cors_is_open_only_to_configured_shops(client):
    def preflight(origin):
        return client.options("/v1/chat/completions", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-session-id"})
    ok = preflight("https://shop.example")
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "https://shop.example"
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


def test_session_messages_show_staff_replies(client, fake_bot):
    ask(client, "where is my parcel?", session="w1")
    fake_bot.staff_reply("w1", "It left our warehouse today.", staff="Dana")
    messages = client.get("/v1/sessions/w1/messages").json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "staff"]
    assert messages[-1]["text"] == "It left our warehouse today."


def test_demo_page_lists_real_products_escaped_and_embeds_the_widget(client, fake_bot):
    first = fake_bot.store.product_ids()[0]
    with sqlite3.connect(fake_bot.data_dir / "shop.db") as conn:
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
    assert client.get("/v1/sessions/x/messages").status_code == 200  # the shopper's side stays open


@pytest.mark.parametrize("settings, required", [({}, False), ({"staff_auth": "on"}, True),
                                                ({"host": "0.0.0.0"}, True),
                                                ({"host": "0.0.0.0", "staff_auth": "off"}, False)])
def test_staff_login_is_on_by_default_only_outside_localhost(make_client, settings, required):
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

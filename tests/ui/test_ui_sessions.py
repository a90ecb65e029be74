"""Server-issued sessions: tokens that cannot be made up, edited or reused past their life, integrations that name
their own conversations only under their API key, identification that lapses, and the reported attack (a second
client sending another customer's `user` id) replayed against the real assistant on the demo shop."""
from __future__ import annotations

import os
import stat

import pytest
from fastapi.testclient import TestClient

from bot.memory import ConversationStore
from ui.config import UiConfig, load_config
from ui.server import create_api_app
from ui.sessions import (Integrations, SessionKeyError, SessionTokens, load_key, parse_integration_keys)

CUSTOMER = "sofia.rossi2645@example.com"  # a demo-shop customer with pending orders
PENDING = ("#W5918442", "#W5500815", "#W2818151")


class Clock:
    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------- tokens
def test_a_token_opens_only_the_conversation_it_was_issued_for():
    tokens = SessionTokens(b"k" * 32)
    one, two = tokens.issue(), tokens.issue()
    assert one.session_id != two.session_id and one.new
    assert tokens.verify(one.token) == one.session_id and tokens.verify(two.token) == two.session_id
    again = tokens.resume(one.token)
    assert again.session_id == one.session_id and not again.new


@pytest.mark.parametrize("forge", [
    lambda t, o: t.replace(o.session_id, "w" + "0" * 32),  # someone else's id under this signature
    lambda t, o: t[:-4] + ("AAAA" if not t.endswith("AAAA") else "BBBB"),  # an edited signature
    lambda t, o: SessionTokens(b"x" * 32).token_for(o.session_id),  # signed with another key
    lambda t, o: o.session_id,  # the bare id
    lambda t, o: "customer-1", lambda t, o: "", lambda t, o: None, lambda t, o: "s1." * 100,
    lambda t, o: "s1.a.b", lambda t, o: t + ".x"])
def test_a_made_up_or_edited_token_opens_nothing(forge):
    tokens = SessionTokens(b"k" * 32)
    one = tokens.issue()
    forged = forge(one.token, one)
    assert tokens.verify(forged) is None
    assert tokens.resume(forged).session_id != one.session_id  # a new, anonymous conversation instead


def test_a_token_expires_but_every_reply_renews_it():
    clock = Clock()
    tokens = SessionTokens(b"k" * 32, ttl_s=3600, clock=clock)
    first = tokens.issue()
    clock.now += 3000
    renewed = tokens.resume(first.token)
    assert renewed.session_id == first.session_id
    clock.now += 1000  # 4000 s after the first token, 1000 s after the renewed one
    assert tokens.verify(first.token) is None
    assert tokens.verify(renewed.token) == first.session_id


def test_the_key_is_made_once_readable_by_the_server_only_or_comes_from_the_environment(tmp_path):
    key = load_key(tmp_path, env={})
    path = tmp_path / "session.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and len(key) >= 32
    assert load_key(tmp_path, env={}) == key  # the same key after a restart: tokens keep working
    assert load_key(tmp_path, env={"SHOPBOT_SESSION_KEY": "e" * 40}) == b"e" * 40
    with pytest.raises(SessionKeyError, match="at least"):
        load_key(tmp_path, env={"SHOPBOT_SESSION_KEY": "short"})
    restarted = SessionTokens.for_data_dir(tmp_path, env={})
    assert restarted.verify(SessionTokens(key).issue().token)


def test_integration_keys_are_parsed_and_checked():
    assert parse_integration_keys("crm=" + "a" * 20 + ",\nhelpdesk = " + "b" * 20) == (
        ("crm", "a" * 20), ("helpdesk", "b" * 20))
    with pytest.raises(ValueError):
        parse_integration_keys("no-equals-sign")
    with pytest.raises(ValueError, match="at least"):
        Integrations({"crm": "short"})
    integrations = Integrations({"crm": "a" * 20})
    assert integrations.name_for("a" * 20) == "crm" and integrations.name_for("a" * 19) is None
    assert integrations.name_for(None) is None
    with pytest.raises(ValueError):
        Integrations.session_id("crm", "has spaces")
    config = load_config(env={"SHOPBOT_INTEGRATION_KEYS": "crm=" + "a" * 20})
    assert config.integration_keys == (("crm", "a" * 20),)


# ---------------------------------------------------------------- integrations over HTTP
def test_an_integration_names_its_conversations_only_with_its_api_key(fake_bot):
    config = UiConfig(integration_keys=(("crm", "c" * 24), ("desk", "d" * 24)))
    client = TestClient(create_api_app(fake_bot, config))

    def send(text, key=None, conversation="ticket-7"):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return client.post("/v1/chat/completions", headers=headers, json={
            "conversation_id": conversation, "messages": [{"role": "user", "content": text}]})

    first, second = send("hello", "c" * 24), send("again", "c" * 24)
    assert first.json()["session_id"] == second.json()["session_id"] == "api:crm:ticket-7"
    assert [t.text for t in fake_bot.transcript("api:crm:ticket-7") if t.role == "user"] == ["hello", "again"]
    other = send("hi", "d" * 24)
    assert other.json()["session_id"] == "api:desk:ticket-7"  # the same id under another integration
    for denied in (send("let me in"), send("let me in", "wrong-key-" * 3)):
        assert denied.status_code == 401 and denied.json()["error"]["code"] == "invalid_api_key"
    assert send("x", "c" * 24, conversation="bad id!").status_code == 400
    assert len(fake_bot.transcript("api:crm:ticket-7")) == 4  # nothing was added by the refused requests
    dotted = send("hi", "c" * 24, conversation="case.2024.17")
    shown = client.get(f"/v1/sessions/{dotted.json()['session_id']}/messages",
                       headers={"X-Session-Token": dotted.headers["X-Session-Token"]})
    assert shown.status_code == 200 and shown.json()["messages"][0]["text"] == "hi"


# ---------------------------------------------------------------- identification lapses
def test_identification_lapses_after_the_idle_time_and_keeps_only_the_focus(tmp_path):
    clock = Clock()
    memory = ConversationStore(tmp_path / "c.db", clock=clock, identity_ttl_s=600)
    focus = {"product_ids": ["p1"], "options": {}, "order_ids": [], "item_ids": [], "catalog": None}
    memory.save_session("s", user_id="sofia_rossi_8776", personalise=True,
                        state={"user_id": "sofia_rossi_8776", "task": {"kind": "cancel"}, "awaiting": "confirm",
                               "focus": focus})
    clock.now += 599
    assert memory.session("s").user_id == "sofia_rossi_8776"  # still within the idle time
    clock.now += 601
    lapsed = memory.session("s")
    assert lapsed.user_id is None and lapsed.state == {"focus": focus}
    assert memory.find_session("s").user_id is None  # forgotten in the file, not only in this answer


def test_after_the_idle_time_the_customer_must_identify_again(real_bot):
    clock = Clock()
    real_bot.memory._clock = clock
    real_bot.memory.identity_ttl_s = 30 * 60
    real_bot.respond("show me my orders", session_id="t")
    listed = real_bot.respond(CUSTOMER, session_id="t").text  # the email, asked for
    assert PENDING[0] in listed
    clock.now += 31 * 60
    later = real_bot.respond("show me my orders", session_id="t")
    assert not any(order in later.text for order in PENDING) and later.awaiting == "identify"


# ---------------------------------------------------------------- the reported attack
def _reply(response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]["content"]


def test_a_second_client_reusing_the_user_id_sees_nothing_and_changes_nothing(real_bot):
    """Issue 9 as reported: client 1 identifies with user=customer-1; client 2 sends the same user."""
    client = TestClient(create_api_app(real_bot, UiConfig()))
    before = real_bot.store.export()

    def say(text, token=None):
        headers = {"X-Session-Token": token} if token else {}
        return client.post("/v1/chat/completions", headers=headers, json={
            "user": "customer-1", "messages": [{"role": "user", "content": text}]})

    first = say("show me my orders")
    owner_token, owner_session = first.headers.get("X-Session-Token"), first.json()["session_id"]
    assert PENDING[0] in _reply(say(CUSTOMER, owner_token))  # identified with the email asked for

    attacker = [say("show me my orders"), say(f"cancel order {PENDING[1]}, I ordered it by mistake"),
                say("yes"), say(f"please cancel {PENDING[2]} because I no longer need it"), say("yes, confirm")]
    texts = [_reply(r) for r in attacker]
    assert all(order not in text for text in texts for order in PENDING), texts
    assert all(r.json()["session_id"] != owner_session for r in attacker)
    assert real_bot.store.export() == before  # no order was cancelled

    transcript = f"/v1/sessions/{owner_session}/messages"
    for headers in ({}, {"X-Session-Token": attacker[0].headers["X-Session-Token"]},
                    {"X-Session-Token": "customer-1"}):
        denied = client.get(transcript, headers=headers)
        assert denied.status_code == 404 and CUSTOMER not in denied.text
    own = client.get(transcript, headers={"X-Session-Token": owner_token})
    assert own.status_code == 200 and CUSTOMER in own.text  # the owner still has it


def test_the_chat_page_keeps_its_token_and_a_forged_one_starts_afresh(fake_bot):
    from ui.chat import ShopperChat
    chat = ShopperChat(fake_bot)
    start = chat.session(None)
    list(chat.respond("How much is the T-Shirt?", [], start.session_id))
    reloaded = chat.session(start.token)  # what the page does on load with the token from the browser
    assert reloaded.session_id == start.session_id and chat.history(reloaded.session_id)
    for forged in (start.session_id, start.token[:-2] + "zz", "chat-0123"):
        fresh = chat.session(forged)
        assert fresh.new and fresh.session_id != start.session_id and chat.history(fresh.session_id) == []
        assert chat.session_id(forged) is None


# ---------------------------------------------------------------- a client's history: focus only
def test_a_clients_history_gives_a_new_session_its_focus_and_nothing_else(real_bot):
    from bot.history import HistoryError, start_from_history
    texts = [f"My email is {CUSTOMER}", f"cancel order {PENDING[0]}", "how much is the yoga mat in blue?"]
    focus = start_from_history(real_bot.memory, real_bot.reader, "h", texts)
    yoga = next(p for p in real_bot.store.product_ids() if real_bot.store.get_product(p)["name"] == "Yoga Mat")
    assert focus["product_ids"][0] == yoga and focus["options"] == {"color": "blue"}
    saved = real_bot.memory.session("h")
    assert saved.user_id is None and set(saved.state) == {"focus"}  # no identity, no task, no confirmation
    green = real_bot.respond("and in green?", session_id="h")
    assert "Yoga Mat" in green.text and "green" in green.text
    with pytest.raises(HistoryError):  # a conversation with turns of its own is never rewritten by a client
        start_from_history(real_bot.memory, real_bot.reader, "h", ["how much is the T-Shirt?"])


def test_serve_settings_for_sessions(tmp_path, fake_bot, real_bot):
    import argparse

    from ui.server import add_arguments, config_from_args
    keys = tmp_path / "integrations"
    keys.write_text("# one per line\ncrm=" + "k" * 24 + "\n", encoding="utf-8")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--integration-keys-file", str(keys), "--no-model"])
    assert config_from_args(args).integration_keys == (("crm", "k" * 24),) and args.no_model
    with pytest.raises(ValueError):
        UiConfig(identity_ttl_minutes=0)
    with pytest.raises(ValueError):
        UiConfig(session_ttl_hours=-1)
    create_api_app(real_bot, UiConfig(identity_ttl_minutes=5))
    assert real_bot.memory.identity_ttl_s == 300  # the web app's setting reaches the conversation memory
    app = create_api_app(fake_bot, UiConfig(session_ttl_hours=1))
    assert app.state.session_tokens.ttl_s == 3600
    assert (fake_bot.data_dir / "session.key").exists() or os.environ.get("SHOPBOT_SESSION_KEY")

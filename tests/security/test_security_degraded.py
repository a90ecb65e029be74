"""Parts failing: the search index missing (the bot still answers, /healthz says "degraded"), and the disk full
or the database read-only (a clear error for the customer, nothing half-written). Full and read-only are real
SQLite conditions on the bot's own connections: PRAGMA max_page_count (SQLITE_FULL, what a full disk gives) and
PRAGMA query_only (SQLITE_READONLY)."""
from __future__ import annotations

import sqlite3

import pytest

from knowledge.errors import SearchIndexError


class MissingIndex:
    """An index whose files are gone: every search and look-up fails as SearchIndex does on a missing file."""

    def __init__(self, where):
        self.where = where

    def search(self, *args, **kwargs):
        raise SearchIndexError(self.where, "no index files")

    def get(self, doc_id):
        raise SearchIndexError(self.where, "no index files")


def connections(obj, depth: int = 3):
    """Every SQLite connection an object holds (looked for through its attributes)."""
    if isinstance(obj, sqlite3.Connection):
        yield obj
    elif depth and hasattr(obj, "__dict__"):
        for value in vars(obj).values():
            yield from connections(value, depth - 1)


def fill_up(obj) -> None:
    """The database behind `obj` can grow no more: the next write that needs a page fails with SQLITE_FULL."""
    for conn in connections(obj):
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")


def read_only(obj) -> None:
    for conn in connections(obj):
        conn.execute("PRAGMA query_only = ON")


@pytest.mark.parametrize("question", ["How long do refunds take?", "How much is the T-Shirt?",
                                      "Can I exchange a delivered item?"])
def test_a_missing_index_degrades_answers_never_stops_them(make_bot, tmp_path, question):
    bot = make_bot(index=MissingIndex(tmp_path / "index"))
    reply = bot.respond(question, session_id="s")
    assert reply.text
    assert bot.health()["search"].startswith("degraded")
    assert str(tmp_path) not in bot.health()["search"]  # no file path in what /healthz shows


def test_healthz_reports_degraded_when_the_index_is_missing(make_bot, tmp_path):
    from fastapi.testclient import TestClient

    from ui.config import UiConfig
    from ui.server import create_api_app
    bot = make_bot(index=MissingIndex(tmp_path / "index"))
    bot.respond("How long do refunds take?", session_id="s")
    body = TestClient(create_api_app(bot, UiConfig())).get("/healthz").json()
    assert body["status"] == "degraded" and "search" in body["degraded"]


def test_the_index_comes_back_after_a_failure(make_bot, hash_index, tmp_path):
    from bot.degraded import GuardedIndex
    now = [0.0]
    opened = []

    def opener():
        opened.append(1)
        if len(opened) == 1:
            raise SearchIndexError(tmp_path, "no index files")
        return hash_index

    guarded = GuardedIndex(opener, clock=lambda: now[0])
    assert list(guarded.search("refund")) == [] and guarded.health().startswith("degraded")
    now[0] += 1.0
    assert list(guarded.search("refund")) == [] and len(opened) == 1  # not retried at once
    now[0] += 120.0
    assert len(guarded.search("refund")) > 0 and guarded.health() == "ok"


def _pending(bot):
    export = bot.store.export()
    for uid, user in sorted(export["users"].items()):
        for oid in user["orders"]:
            if export["orders"][oid]["status"] == "pending":
                return user["email"], oid
    raise AssertionError("the demo shop has pending orders")


def _up_to_confirmation(bot, session="s"):
    email, oid = _pending(bot)
    for message in (f"Hi, my email is {email}.", f"I'd like to cancel order {oid}."):
        bot.respond(message, session_id=session)
    assert bot.respond("no longer needed", session_id=session).awaiting == "confirm"  # a "yes" now cancels it
    return oid


def _turns(bot, session="s"):
    return [(t.role, t.text) for t in bot.transcript(session)]


@pytest.mark.parametrize("break_it", [fill_up, read_only], ids=["disk-full", "read-only"])
def test_shop_database_full_or_read_only_during_an_action_changes_nothing(make_bot, break_it):
    bot = make_bot()
    oid = _up_to_confirmation(bot)
    order = bot.store.get_order(oid)
    before = _turns(bot)
    break_it(bot.store)
    try:
        reply = bot.respond("yes", session_id="s")
    except Exception as exc:  # noqa: BLE001 - the edge turns it into a message; here: what kind of error
        assert "full" in str(exc) or "readonly" in str(exc) or getattr(exc, "public_message", "")
        assert bot.store.get_order(oid) == order  # the action's transaction rolled back whole
        assert _turns(bot) == before
    else:  # max_page_count only stops a write that needs a new page: a cancel that fits in place goes through
        done = reply.action == "cancel_pending_order"
        assert (bot.store.get_order(oid)["status"] == "cancelled") == done  # what the reply says is what holds
        assert len(_turns(bot)) == len(before) + 2  # the message with its reply


@pytest.mark.parametrize("break_it", [fill_up, read_only], ids=["disk-full", "read-only"])
def test_conversation_store_full_or_read_only_nothing_half_written(make_bot, break_it):
    """The conversation cannot be saved: the order must not be cancelled behind an error the customer sees,
    and the conversation must not keep a message without its reply."""
    bot = make_bot()
    oid = _up_to_confirmation(bot)
    order = bot.store.get_order(oid)
    before = _turns(bot)
    if not list(connections(bot.memory)):
        pytest.skip("full and read-only are made with SQLite pragmas here; the PostgreSQL store's probe has "
                    "its own test (test_the_write_probe_on_postgresql_refuses_a_store_it_may_not_write)")
    break_it(bot.memory)
    try:
        reply = bot.respond("yes", session_id="s")
    except Exception:  # noqa: BLE001 - an error: then nothing may have been done
        assert bot.store.get_order(oid) == order, "the order was cancelled, yet the customer got an error"
    else:  # a reply: it must say what happened, and say the conversation was not saved
        assert reply.notice
    assert _turns(bot) == before


def test_http_api_turns_a_storage_failure_into_a_clear_message(make_bot):
    from fastapi.testclient import TestClient

    from ui.config import UiConfig
    from ui.server import create_api_app
    bot = make_bot()
    client = TestClient(create_api_app(bot, UiConfig()), raise_server_exceptions=False)
    if not (list(connections(bot.memory)) and list(connections(bot.store))):
        pytest.skip("read-only is made with an SQLite pragma here")
    read_only(bot.memory)
    read_only(bot.store)
    response = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hello"}]})
    assert response.status_code == 503
    message = response.json()["error"]["message"]
    assert "try again" in message and "Traceback" not in message and "sqlite" not in message.lower()


@pytest.fixture
def conversations(backend, tmp_path, request):
    """An empty conversation store on each backend of this leg."""
    from bot.memory import ConversationStore
    from bot.memory_pg import PgConversationStore
    store = (PgConversationStore(request.getfixturevalue("pg_url")) if backend == "postgres"
             else ConversationStore(tmp_path / "conversations.db"))
    yield store
    store.close()


def test_an_exchange_is_recorded_whole_in_one_call(conversations):
    conversations.add_turn("s", "user", "earlier")
    conversations.check_writable("s")  # the probe is rolled back: it leaves no turn behind
    assert [t.text for t in conversations.history("s")] == ["earlier"]
    turn_id = conversations.record_exchange("s", "I want a person", "A colleague will answer here.",
                                            {"intent": "handover"}, user_id="customer-1", state={"task": None},
                                            personalise=False, ticket=("handover", "user: I want a person"))
    turns = conversations.history("s")
    assert [(t.role, t.text) for t in turns] == [("user", "earlier"), ("user", "I want a person"),
                                                 ("assistant", "A colleague will answer here.")]
    assert turns[-1].turn_id == turn_id and turns[-1].reply == {"intent": "handover"}
    session = conversations.session("s")
    assert (session.user_id, session.state, session.personalise, session.status) == (
        "customer-1", {"task": None}, False, "handover")
    assert [(t.user_id, t.summary) for t in conversations.tickets()] == [("customer-1", "user: I want a person")]


def test_an_exchange_that_does_not_fit_leaves_nothing_behind(tmp_path):
    """The customer's turn fits in the last page, the reply does not: neither is kept, nor the new state."""
    from bot.memory import ConversationStore
    with ConversationStore(tmp_path / "conversations.db") as store:
        store.add_turn("s", "user", "earlier")
        fill_up(store)
        with pytest.raises(sqlite3.OperationalError, match="full"):
            store.record_exchange("s", "ok", "x" * 200_000, {}, user_id="customer-1", state={"n": 1},
                                  personalise=True, ticket=("handover", "summary"))
        assert [t.text for t in store.history("s")] == ["earlier"]
        assert store.session("s").state == {} and store.tickets(None) == []
        store.add_turn("s", "user", "x")  # a small turn still fits, but not a whole exchange: the probe says so
        with pytest.raises(sqlite3.OperationalError, match="full"):
            store.check_writable("s")


def test_the_write_probe_refuses_a_full_or_read_only_store_and_keeps_nothing(tmp_path):
    from bot.memory import ConversationStore
    for name, break_it, error in (("full", fill_up, "full"), ("read-only", read_only, "readonly")):
        with ConversationStore(tmp_path / f"{name}.db") as store:
            store.add_turn("s", "user", "earlier")
            store.check_writable("s")  # room and rights: no error
            break_it(store)
            with pytest.raises(sqlite3.OperationalError, match=error):
                store.check_writable("s")
            assert [t.text for t in store.history("s")] == ["earlier"]



def test_the_write_probe_on_postgresql_refuses_a_store_it_may_not_write(pg_url):
    """A role that may read the conversations but not add to them: the probe fails as the write would."""
    import secrets
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    from bot.memory_pg import PgConversationStore
    with PgConversationStore(pg_url) as store:
        store.add_turn("s", "user", "earlier")
        schema = store.db.schema
    role, parts = f"shopbot_reader_{secrets.token_hex(4)}", urlsplit(pg_url)
    admin = psycopg.connect(urlunsplit(parts), autocommit=True)
    database = admin.execute("SELECT current_database()").fetchone()[0]
    try:
        for sql in (f"CREATE ROLE {role} LOGIN", f'GRANT CREATE ON DATABASE "{database}" TO {role}',
                    f"GRANT USAGE ON SCHEMA {schema} TO {role}",
                    f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}"):
            admin.execute(sql)
        netloc = f"{role}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        with PgConversationStore(urlunsplit(parts._replace(netloc=netloc))) as reader:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                reader.check_writable("s")
            assert [t.text for t in reader.history("s")] == ["earlier"]
    finally:
        admin.execute(f"DROP OWNED BY {role}")
        admin.execute(f"DROP ROLE IF EXISTS {role}")
        admin.close()


def test_http_api_turns_a_database_server_failure_into_a_clear_message(make_bot, monkeypatch):
    """PostgreSQL errors (a read-only server, a lost connection) reach clients as the same clear 503."""
    import psycopg
    from fastapi.testclient import TestClient

    from ui.config import UiConfig
    from ui.server import create_api_app
    bot = make_bot()

    def lost(*args, **kwargs):
        raise psycopg.OperationalError("server closed the connection unexpectedly")
    monkeypatch.setattr(bot, "respond", lost)
    client = TestClient(create_api_app(bot, UiConfig()), raise_server_exceptions=False)
    response = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hello"}]})
    assert response.status_code == 503
    assert "try again" in response.json()["error"]["message"]

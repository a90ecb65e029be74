"""The conversation memory on both backends: the PostgreSQL store behaves as the SQLite one, and forgets.

Parametrised over the backends of this leg (SQLite always; PostgreSQL on the PostgreSQL leg). The parity test
runs everywhere: the PostgreSQL store must offer every public method of bot.memory.ConversationStore.
"""
from __future__ import annotations

import inspect
import threading

import pytest

from bot.memory import MAX_TEXT_CHARS, ConversationStore, TicketNotFound, TurnNotFound
from bot.memory_pg import PgConversationStore, open_conversations


class Clock:
    def __init__(self):
        self.now = 1_000.0

    def __call__(self):
        self.now += 1.0
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def memory(backend, tmp_path, clock, request):
    if backend == "postgres":
        m = PgConversationStore(request.getfixturevalue("pg_url"), clock=clock)
    else:
        m = ConversationStore(tmp_path / "conversations.db", clock=clock)
    yield m
    m.close()


def _public(cls):
    return {name: inspect.signature(fn) for name, fn in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_")}


def test_postgres_store_offers_the_same_public_interface():
    sqlite, postgres = _public(ConversationStore), _public(PgConversationStore)
    assert set(sqlite) == set(postgres)
    for name, signature in sqlite.items():
        if name == "__init__":
            continue
        assert list(postgres[name].parameters) == list(signature.parameters), name
    # the constructor takes the same keyword options (the first argument is a path or a URL)
    init = lambda cls: [p for p in inspect.signature(cls.__init__).parameters.values()  # noqa: E731
                        if p.kind is p.KEYWORD_ONLY]
    assert {p.name for p in init(ConversationStore)} <= {p.name for p in init(PgConversationStore)}


def test_open_conversations_follows_the_setting(tmp_path, monkeypatch):
    monkeypatch.delenv("SHOPBOT_DATABASE_URL", raising=False)
    m = open_conversations(tmp_path)
    assert isinstance(m, ConversationStore) and m.path == tmp_path / "conversations.db"
    m.close()


def test_a_conversation_round_trip(memory):
    assert memory.find_session("s1") is None
    s = memory.session("s1")
    assert (s.user_id, s.state, s.personalise, s.status) == (None, {}, True, "open")
    t1 = memory.add_turn("s1", "user", "Is the blue kettle in stock?")
    t2 = memory.add_turn("s1", "assistant", "Yes, $89.99.", {"intent": "product_availability", "confidence": 0.9,
                                                           "claims_checked": 2, "claims_repaired": 1})
    assert t2 > t1
    memory.save_session("s1", user_id="noah_brown_6181", state={"task": {"kind": "cancel"}}, personalise=False)
    s = memory.session("s1")
    assert (s.user_id, s.state, s.personalise) == ("noah_brown_6181", {"task": {"kind": "cancel"}}, False)
    assert [t.text for t in memory.history("s1")] == ["Is the blue kettle in stock?", "Yes, $89.99."]
    assert [t.turn_id for t in memory.history("s1", limit=1)] == [t2]
    memory.set_feedback("s1", t2, True)
    with pytest.raises(TurnNotFound):
        memory.set_feedback("s1", t1, True)  # a customer's own turn takes no feedback
    with pytest.raises(TurnNotFound):
        memory.set_feedback("other", t2, False)
    ticket = memory.open_ticket("s1", "handover", "wants a person")
    assert memory.session("s1").status == "handover" and ticket.user_id == "noah_brown_6181"
    assert [t.ticket_id for t in memory.tickets()] == [ticket.ticket_id]
    memory.mark_handled("s1", "Ana")
    assert memory.find_session("s1").handled_by == "Ana"
    memory.close_ticket(ticket.ticket_id)
    assert memory.session("s1").status == "open" and memory.tickets() == []
    with pytest.raises(TicketNotFound):
        memory.close_ticket(10 ** 6)
    memory.add_turn("s2", "user", "hello")
    memory.save_session("s2", user_id="noah_brown_6181", state={}, personalise=True)
    assert memory.sessions_of("noah_brown_6181") == ["s2", "s1"]
    summaries = memory.conversations()
    assert [c.session_id for c in summaries] == ["s2", "s1"]
    assert summaries[1].turns == 2 and summaries[1].intents == ["product_availability"]
    assert summaries[1].last_message == "Yes, $89.99."
    insights = memory.insights()
    assert (insights["conversations"], insights["handed_over"], insights["thumbs_up"]) == (2, 1, 1)
    assert (insights["claims_checked"], insights["claims_repaired"]) == (2, 1)
    assert insights["top_intents"] == [("product_availability", 1)]


def test_an_id_that_is_not_a_row_id_finds_nothing_on_either_backend(memory):
    """A bool, a numeric string, a float or an id past 64 bits names no turn or ticket, though SQLite would read
    True and "1" as the row id 1 if the store passed them on."""
    turn = memory.add_turn("s1", "assistant", "hi", {"intent": "greet"})
    ticket = memory.open_ticket("s1", "handover", "wants a person")
    assert (turn, ticket.ticket_id) == (1, 1)  # a fresh store: True and "1" would name these rows
    for bad in (True, str(turn), float(turn), 2 ** 63, 0, -1):
        with pytest.raises(TurnNotFound):
            memory.set_feedback("s1", bad, True)
    for bad in (True, str(ticket.ticket_id), float(ticket.ticket_id), 2 ** 63):
        with pytest.raises(TicketNotFound):
            memory.close_ticket(bad)
    assert memory.history("s1")[-1].helpful is None and [t.ticket_id for t in memory.tickets()] == [1]
    memory.set_feedback("s1", turn, True)  # the real ids still work
    memory.close_ticket(ticket.ticket_id)
    assert memory.history("s1")[-1].helpful is True and memory.tickets() == []


def test_hostile_text_is_stored_cleanly(memory):
    memory.add_turn("s1", "user", "nul \x00 here, lone \ud800 surrogate")
    memory.add_turn("s1", "user", "x" * (MAX_TEXT_CHARS + 50))
    memory.save_session("s1", user_id=None, state={"note": "nul \x00"}, personalise=True)
    texts = [t.text for t in memory.history("s1")]
    assert "\ud800" not in texts[0] and texts[0].startswith("nul ")
    assert len(texts[1]) == MAX_TEXT_CHARS
    assert memory.session("s1").state["note"].startswith("nul ")
    memory.add_turn("s1", "assistant", "ok", {"intent": "x\x00y", "confidence": "not a number"})
    assert memory.insights()["conversations"] == 1  # a reply record with odd values does not break the page
    for bad in ("", "  ", None, "x" * 201):
        with pytest.raises(ValueError):
            memory.session(bad)


def test_identity_lapses_after_the_idle_time(backend, tmp_path, clock, request):
    if backend == "postgres":
        m = PgConversationStore(request.getfixturevalue("pg_url"), clock=clock, identity_ttl_s=60)
    else:
        m = ConversationStore(tmp_path / "c.db", clock=clock, identity_ttl_s=60)
    m.save_session("s1", user_id="u1", state={"user_id": "u1", "task": {"kind": "cancel"}, "focus": ["x"]},
                   personalise=True)
    assert m.session("s1").user_id == "u1"
    clock.now += 120
    lapsed = m.session("s1")
    assert lapsed.user_id is None and lapsed.state == {"focus": ["x"]}
    m.close()


def test_forget_me_deletes_every_row_of_the_customer(memory):
    memory.add_turn("a", "user", "my address is 1 Secret Lane")
    turn = memory.add_turn("a", "assistant", "noted", {"intent": "x"})
    memory.set_feedback("a", turn, False)
    memory.save_session("a", user_id="u1", state={}, personalise=True)
    memory.open_ticket("a", "handover", "1 Secret Lane")
    memory.add_turn("b", "user", "someone else")
    counts = memory.erase_user("u1")
    assert counts == {"sessions": 1, "turns": 2, "tickets": 1, "feedback": 1}
    assert memory.find_session("a") is None and memory.history("a") == [] and memory.tickets(None) == []
    assert [c.session_id for c in memory.conversations()] == ["b"]


def test_forget_me_on_postgres_leaves_no_copy_in_the_table_files(pg_url):
    """After the erasure's VACUUM, the words are not in the table's file; a DELETE alone leaves them there."""
    import psycopg
    m = PgConversationStore(pg_url)
    for i in range(40):
        m.add_turn(f"s{i}", "user", f"other customer's words {i} " * 10)
    for user, secret in (("u1", "ZEBRA-PINEAPPLE-42"), ("u2", "OKAPI-MANGO-17")):
        m.add_turn(user + "-chat", "user", f"my secret is {secret}")
        m.save_session(user + "-chat", user_id=user, state={}, personalise=True)
    for i in range(40, 60):
        m.add_turn(f"s{i}", "user", f"more words {i} " * 10)

    def on_disk(secret: str) -> bool:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")  # the changed pages are written to the table's file
            path = conn.execute("SELECT pg_relation_filepath('turns')").fetchone()[0]
            data = bytes(conn.execute("SELECT pg_read_binary_file(%s)", (path,)).fetchone()[0])
        return secret.encode() in data

    assert on_disk("ZEBRA-PINEAPPLE-42") and on_disk("OKAPI-MANGO-17")
    with m.db.transaction() as conn:  # u2's rows deleted without a VACUUM: the dead row version stays
        conn.execute("DELETE FROM turns WHERE session_id = 'u2-chat'")
    assert on_disk("OKAPI-MANGO-17")
    assert m.erase_user("u1")["turns"] == 1
    assert not on_disk("ZEBRA-PINEAPPLE-42")
    m.close()


def test_many_workers_writing_one_session_lose_no_turn(backend, tmp_path, request):
    """Four stores (four workers) append 16 turns each to the same session at once: all 64 are kept, in order."""
    if backend == "postgres":
        url = request.getfixturevalue("pg_url")
        stores = [PgConversationStore(url) for _ in range(4)]
    else:
        stores = [ConversationStore(tmp_path / "shared.db") for _ in range(4)]
    barrier = threading.Barrier(4)

    def write(n, store):
        barrier.wait()
        for i in range(16):
            store.add_turn("busy", "user", f"w{n}-{i}")

    threads = [threading.Thread(target=write, args=(n, s)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    turns = stores[0].history("busy")
    assert len(turns) == 64 and len({t.text for t in turns}) == 64
    for n in range(4):  # each worker's turns in the order it wrote them
        mine = [t.text for t in turns if t.text.startswith(f"w{n}-")]
        assert mine == [f"w{n}-{i}" for i in range(16)]
    for s in stores:
        s.close()

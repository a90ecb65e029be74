"""Tests run offline and write only under pytest's temporary directory; the database backend is a parameter.

The embedded leg (`make test`) keeps the shop and the conversations in SQLite files under each test's
temporary directory. The PostgreSQL leg (`SHOPBOT_DATABASE_URL=postgresql://... make test`) creates a fresh
database on that server for the run, gives every test its own schema in it (so each test starts from a fresh
demo shop, as it does on SQLite), closes what a test left open, and drops the database at the end. Where
no server answers, the PostgreSQL leg is skipped with the reason; under CI (CI=true) it fails instead.
"""
from __future__ import annotations

import itertools
import os
import secrets
from urllib.parse import urlsplit, urlunsplit

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DATABASE_ENV = "SHOPBOT_DATABASE_URL"
_SERVER_URL = os.environ.pop(DATABASE_ENV, "").strip()  # the PostgreSQL leg's server; tests set their own
_UNDER_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_schemas = itertools.count(1)


class _PostgresLeg:
    """The run's fresh database on the server named by SHOPBOT_DATABASE_URL (None: the embedded leg)."""

    def __init__(self, server_url: str):
        self.server_url, self.url, self.problem, self._admin = server_url, None, None, None
        if not server_url:
            return
        import psycopg
        name = f"shopbot_test_{os.getpid()}_{secrets.token_hex(3)}"
        try:
            with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
        except psycopg.Error as exc:
            self.problem = f"no PostgreSQL at {_redact(server_url)}: {str(exc).strip().splitlines()[0]}"
            return
        self.name = name
        self.url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}", query=""))

    def schema_url(self, schema: str) -> str:
        return f"{self.url}?options=-csearch_path%3D{schema}"

    def drop(self) -> None:
        if not self.url:
            return
        import psycopg
        from knowledge.storage.postgres import open_databases
        for db in open_databases():
            db.close()
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def _redact(url: str) -> str:
    from knowledge.storage.postgres import redact
    return redact(url)


_LEG = _PostgresLeg(_SERVER_URL)


def pytest_report_header(config):
    if not _SERVER_URL:
        return "database: SQLite files (set SHOPBOT_DATABASE_URL=postgresql://... for the PostgreSQL leg)"
    if _LEG.problem:
        return f"database: PostgreSQL leg SKIPPED: {_LEG.problem}"
    return f"database: PostgreSQL, fresh database {_LEG.name} on {_redact(_SERVER_URL)} (dropped at the end)"


def pytest_sessionstart(session):
    if _LEG.problem and _UNDER_CI:
        raise pytest.UsageError(f"CI=true and the PostgreSQL leg cannot run: {_LEG.problem}")


def pytest_sessionfinish(session, exitstatus):
    _LEG.drop()


def _postgres_url() -> str:
    if not _LEG.url:
        pytest.skip(_LEG.problem or "PostgreSQL tests need a server: SHOPBOT_DATABASE_URL=postgresql://... make test")
    return _LEG.schema_url(f"t{next(_schemas)}")


@pytest.fixture
def pg_url() -> str:
    """A fresh, empty schema of the run's database, for a test that needs PostgreSQL itself (else skipped)."""
    return _postgres_url()


BACKENDS = ["sqlite"] + (["postgres"] if _SERVER_URL else [])


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path, monkeypatch):
    """Point the default data directory (and, on the PostgreSQL leg, the database) at this test's own."""
    monkeypatch.setenv("SHOPBOT_DATA_DIR", str(tmp_path / "shopbot-data"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    if not _LEG.url:
        monkeypatch.delenv(DATABASE_ENV, raising=False)
        yield
        return
    from knowledge.storage.postgres import open_databases
    before = set(map(id, open_databases()))
    monkeypatch.setenv(DATABASE_ENV, _LEG.schema_url(f"t{next(_schemas)}"))
    yield
    for db in open_databases():  # pools a test left open would use up the server's connections
        if id(db) not in before:
            db.close()


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory):
    """A pristine demo shop database file, imported once per test session; copy it before changing it."""
    from knowledge.store import Store
    path = tmp_path_factory.mktemp("demo") / "shop.db"
    store, problems = Store.create(path)
    assert problems == []
    store.close()
    return path


@pytest.fixture(scope="session")
def classifier():
    """The packaged intent classifier (real MiniLM), loaded once per test session."""
    import torch
    torch.set_num_threads(1)
    from bot.intents import IntentClassifier
    clf = IntentClassifier.load()
    clf.predict("warm up")
    return clf


@pytest.fixture(scope="session")
def hash_index(demo_db):
    """The demo shop's search index built with the hashing embedder (fast; search quality is not tested here)."""
    from knowledge.documents import shop_documents
    from knowledge.embeddings import HashEmbedder
    from knowledge.index import SearchIndex
    from knowledge.store import Store
    store = Store(demo_db)
    try:
        return SearchIndex.build(shop_documents(store), embedder=HashEmbedder())
    finally:
        store.close()


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """Each backend this leg runs: SQLite always, PostgreSQL on the PostgreSQL leg."""
    return request.param


@pytest.fixture
def store(backend, demo_db, tmp_path):
    """A fresh, writable copy of the demo shop on each backend."""
    import shutil
    from knowledge.store import Store
    if backend == "postgres":
        from knowledge.storage import open_database
        s, problems = Store.fill(open_database(_postgres_url()))
        assert problems == []
    else:
        path = tmp_path / "shop.db"
        shutil.copy(demo_db, path)
        s = Store(path)
    yield s
    s.close()

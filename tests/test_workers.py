"""`shopbot serve --workers N`: what the parent prepares once, and what each worker rebuilds from it.

uvicorn itself is not started here (bench/load.py drives real workers over HTTP); its `run` is replaced by a
recorder, and the worker factory is called as a worker process would call it, with a scripted bot.
"""
from __future__ import annotations

import json
import os

import pytest

from ui import workers


@pytest.fixture
def served(tmp_path, monkeypatch):
    """Run `shopbot --data-dir D serve --workers 3 ...` up to the point where uvicorn would start."""
    import uvicorn

    from ui.cli import build_parser
    calls = {}
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: calls.update(target=target, **kw))
    monkeypatch.delenv(workers.WORKER_ENV, raising=False)
    monkeypatch.delenv("SHOPBOT_SESSION_KEY", raising=False)
    data = tmp_path / "shop"
    args = build_parser().parse_args(["--data-dir", str(data), "serve", "--host", "0.0.0.0", "--port", "8123",
                                      "--workers", "3", "--max-concurrent", "16", "--shop-origin",
                                      "https://shop.example", "--no-model"])
    assert args._module.run(args) == 0
    return data, calls, json.loads(os.environ[workers.WORKER_ENV])


def test_the_parent_prepares_shared_state_once_then_starts_n_workers(served):
    data, calls, settings = served
    assert calls["target"] == "ui.workers:worker_app" and calls["factory"] is True
    assert (calls["workers"], calls["host"], calls["port"]) == (3, "0.0.0.0", 8123)
    # the shop and the conversations exist at the current schema before any worker starts
    url = os.environ.get("SHOPBOT_DATABASE_URL")
    if url:  # the PostgreSQL leg: both components migrated in the test's database
        from knowledge.storage import open_database
        db = open_database(url)
        assert db.rows("SELECT component FROM schema_migrations ORDER BY component") == [("conversations",), ("shop",)]
        db.close()
    else:
        assert (data / "shop.db").exists() and (data / "conversations.db").exists()
    assert (data / "session.key").stat().st_mode & 0o777 == 0o600  # one token key for every worker
    assert settings["workers"] == 3 and settings["no_model"] is True
    # the staff login is on by default: one key, made here, shared by the workers
    assert settings["config"]["staff_auth"] == "on" and len(settings["config"]["staff_key"]) >= 20
    assert settings["config"]["max_concurrent"] == 16


def test_each_worker_rebuilds_the_same_settings_and_serves(served, monkeypatch):
    from fastapi.testclient import TestClient

    import bot as bot_package
    from ui.testing import FakeBot
    data, _calls, settings = served
    monkeypatch.setattr(bot_package.Bot, "load", classmethod(lambda cls, data_dir=None, **kw: FakeBot(data_dir)))
    app = workers.worker_app()
    assert app.state.staff_key == settings["config"]["staff_key"]
    client = TestClient(app)
    assert client.get("/healthz").status_code == 200
    r = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]},
                    headers={"Origin": "https://shop.example"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://shop.example"

"""Fixtures for the web app's tests: a scripted bot and the real assistant on copies of the demo shop, and the HTTP
app around them."""
from __future__ import annotations

import shutil

import pytest


@pytest.fixture
def fake_bot(demo_db, tmp_path):
    from ui.testing import FakeBot
    (tmp_path / "shop").mkdir()
    shutil.copy(demo_db, tmp_path / "shop" / "shop.db")  # the pristine demo shop, without importing it again
    bot = FakeBot(tmp_path / "shop")
    yield bot
    bot.store.close()


@pytest.fixture
def make_client(fake_bot):
    """A TestClient over the HTTP part of the app (no Gradio pages), with the given settings."""
    from fastapi.testclient import TestClient

    from ui.config import UiConfig
    from ui.server import create_api_app

    def make(**settings) -> TestClient:
        return TestClient(create_api_app(fake_bot, UiConfig(**settings)))
    return make


@pytest.fixture
def client(make_client):
    return make_client(shop_origins=("https://shop.example",))


@pytest.fixture
def real_bot(demo_db, tmp_path, classifier, hash_index):
    """The real assistant (intent classifier, flows, claim-checked templates, no language model) on a fresh
    copy of the demo shop."""
    from bot import Bot
    from trustgen.writer import TemplateWriter
    data = tmp_path / "real-shop"
    data.mkdir()
    shutil.copy(demo_db, data / "shop.db")
    bot = Bot.load(data, writer=TemplateWriter(), classifier=classifier, index=hash_index)
    yield bot
    bot.close()

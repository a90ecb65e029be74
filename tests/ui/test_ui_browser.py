"""The web app in a real browser (Debian's chromium driven by Playwright), served by uvicorn on a free port.

The chat page and the widget talk to the real assistant on a copy of the demo shop (checked template replies,
no language model, so the test stays fast); the script-injection test scripts a hostile reply with the fake.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
HOSTILE = "<img src=x onerror=alert(1)>"
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed "
                                 "(apt-get install -y chromium chromium-driver; .ci/run installs it)")]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.dialogs = []  # any alert() from injected markup would land here
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    yield page
    context.close()


@pytest.fixture(scope="module")
def real(demo_db, tmp_path_factory):
    """(url, bot): the whole app over the real assistant on a fresh copy of the demo shop."""
    from bot import Bot
    from bot.config import BotConfig
    from ui.config import UiConfig
    from ui.server import create_app
    from ui.testing import BackgroundServer
    shop = tmp_path_factory.mktemp("browser-shop")
    shutil.copy(demo_db, shop / "shop.db")
    bot = Bot.load(shop, config=BotConfig(use_model=False))
    with BackgroundServer(create_app(bot, UiConfig(poll_s=1.0))) as server:
        yield server.url, bot
    bot.close()


@pytest.fixture(scope="module")
def fake(demo_db, tmp_path_factory):
    from ui.config import UiConfig
    from ui.server import create_app
    from ui.testing import BackgroundServer, FakeBot
    shop = tmp_path_factory.mktemp("browser-fake")
    shutil.copy(demo_db, shop / "shop.db")
    bot = FakeBot(shop)
    with BackgroundServer(create_app(bot, UiConfig())) as server:
        yield server.url, bot


def _ask_chat(page, text):
    box = page.locator("#shopbot-input textarea")
    box.fill(text)
    box.press("Enter")


def test_chat_page_answers_a_product_question_with_its_source(real, page):
    url, bot = real
    page.goto(url + "/")
    _ask_chat(page, "How much is the T-Shirt?")
    sources = page.locator("#shopbot-chat summary", has_text="Sources")
    sources.first.wait_for(timeout=90_000)  # the first question loads the search index and intent model
    sources.first.click()
    cited = page.locator("#shopbot-chat details li code").first.inner_text()
    assert cited.startswith("item:")
    variant = bot.store.get_variant(cited.split(":", 1)[1])
    assert variant["name"] == "T-Shirt"
    assert f"${variant['price']:.2f}" in page.locator("#shopbot-chat").inner_text()  # grounded in the database

    session = bot.conversations()[0].session_id  # the page's own session, kept in the browser
    page.locator("#shopbot-chat button[aria-label='Like']").last.click()
    page.get_by_text("your rating is saved").wait_for(timeout=10_000)
    assert [t.helpful for t in bot.transcript(session) if t.role == "assistant"][-1] is True

    bot.staff_reply(session, "Hello, Dana from the shop here: the blue one is my favourite.", staff="Dana")
    page.get_by_text("the blue one is my favourite").wait_for(timeout=15_000)  # picked up without reloading
    page.reload()
    page.get_by_text("the blue one is my favourite").wait_for(timeout=15_000)  # the session survives a reload
    assert page.dialogs == []


def test_chat_page_privacy_controls_and_handover(real, page):
    url, bot = real
    page.goto(url + "/")
    mine = page.locator("#shopbot-mydata")
    assert mine.count() == 0 or not mine.is_visible()  # nothing to show before the customer is identified
    _ask_chat(page, "Hi, my email is anya.garcia2061@example.com")
    mine.wait_for(state="visible", timeout=60_000)
    mine.click()
    page.get_by_text("anya.garcia2061@example.com").last.wait_for(timeout=10_000)
    session = next(c.session_id for c in bot.conversations() if c.user_id)
    page.locator("#shopbot-personalise input").uncheck()
    page.get_by_text("no longer use your past orders").wait_for(timeout=10_000)
    assert bot.memory.session(session).personalise is False
    page.locator("#shopbot-handover").click()
    page.locator("#shopbot-chat").get_by_text("member of our team").last.wait_for(timeout=15_000)
    assert session in [t.session_id for t in bot.handover_queue()]
    page.locator("#shopbot-forget").click()
    page.locator("#shopbot-forget").wait_for(state="hidden", timeout=15_000)
    assert bot.customer_data(session) is None and bot.transcript(session) == []


def test_widget_on_the_demo_shop_answers_and_keeps_the_session(real, page):
    url, bot = real
    page.goto(url + "/demo")
    assert bot.store.get_product(bot.store.product_ids()[0])["name"] in page.locator("main").inner_text()
    page.locator(".shopbot-bubble").click()
    page.locator(".shopbot-input").fill("How much is the T-Shirt?")
    page.locator(".shopbot-input").press("Enter")
    page.locator(".shopbot-assistant .shopbot-sources").wait_for(timeout=60_000)
    answer = page.locator(".shopbot-assistant").last.inner_text()
    assert re.search(r"\$\d+\.\d\d", answer) and "T-Shirt" in answer
    session = page.evaluate("localStorage.getItem('shopbot_session_id')")  # issued by the server
    assert page.evaluate("localStorage.getItem('shopbot_session_token')") and bot.transcript(session)

    page.reload()
    page.locator(".shopbot-bubble").click()
    page.locator(".shopbot-user", has_text="How much is the T-Shirt?").wait_for(timeout=10_000)
    assert page.evaluate("localStorage.getItem('shopbot_session_id')") == session
    bot.staff_reply(session, "Dana here: we restock T-Shirts on Mondays.", staff="Dana")
    page.locator(".shopbot-staff", has_text="we restock T-Shirts on Mondays").wait_for(timeout=20_000)


def test_markup_in_replies_and_product_data_is_shown_as_text(fake, page):
    from bot.reply import Citation, ProductSuggestion, Reply
    url, bot = fake
    hostile = Reply(text=f"Look: {HOSTILE} <script>alert(2)</script>",
                    citations=[Citation("item:1", "product", f"Lamp {HOSTILE}")],
                    products=[ProductSuggestion("1", "p", f"Lamp {HOSTILE}", {"color": HOSTILE}, 9.5, True, HOSTILE)])
    bot.enqueue(hostile, hostile)

    page.goto(url + "/")
    _ask_chat(page, "show me")
    page.locator("#shopbot-chat").get_by_text("Look: <img src=x onerror=alert(1)>").wait_for(timeout=30_000)
    page.locator("#shopbot-chat summary", has_text="Sources").first.click()
    assert "Lamp <img src=x onerror=alert(1)>" in page.locator("#shopbot-chat").inner_text()
    assert page.locator("#shopbot-chat img[src='x'], #shopbot-chat script").count() == 0

    page.goto(url + "/demo")
    page.locator(".shopbot-bubble").click()
    page.locator(".shopbot-input").fill("and here?")
    page.locator(".shopbot-input").press("Enter")
    page.locator(".shopbot-card").wait_for(timeout=30_000)
    assert HOSTILE in page.locator(".shopbot-assistant").last.inner_text()
    assert page.locator(".shopbot-widget img, .shopbot-widget script").count() == 0
    page.wait_for_timeout(500)
    assert page.dialogs == []

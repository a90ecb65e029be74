"""Take the screenshots in docs/screenshots/ from the running app, in Debian's chromium.

Starts the whole web app (the real assistant on a fresh copy of the demo shop, in a temporary directory) on a
free localhost port, holds a few conversations through the assistant, then photographs the shopper's chat,
the staff desk (after logging in), the insights page and the widget on the demo shop page. By default the
replies are the assistant's checked templates; --use-model lets the language model word them (slower).

    .venv/bin/python docs/take_screenshots.py [--out docs/screenshots] [--use-model]
"""
from __future__ import annotations

import argparse
import secrets
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
SEED = {  # session -> what the customer says; these fill the staff desk and the insights page
    "seed-anya": ["Hi, my email is anya.garcia2061@example.com", "What is the status of order #W6310710?"],
    "seed-tshirt": ["How much is the T-Shirt?"],
    "seed-gnome": ["Do you sell garden gnomes?"],
    "seed-returns": ["Can I return an item I bought?"],
}
RATINGS = {"seed-tshirt": True, "seed-gnome": False}


def seed(bot) -> None:
    for session, messages in SEED.items():
        for message in messages:
            reply = bot.respond(message, session)
        if session in RATINGS:
            bot.feedback(session, reply.turn_id, RATINGS[session])
    bot.request_handover("seed-anya")  # as the chat page's "Talk to a person" button does


def shoot(url: str, key: str, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright
    out.mkdir(parents=True, exist_ok=True)
    shots = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 1000})

        page.goto(url + "/")
        box = page.locator("#shopbot-input textarea")
        box.fill("Can you recommend a backpack under $210?")
        box.press("Enter")
        page.locator("#shopbot-chat summary", has_text="Sources").first.wait_for(timeout=120_000)
        page.locator("#shopbot-chat summary", has_text="Sources").first.click()
        page.wait_for_timeout(500)
        shots.append(out / "chat.png")
        page.screenshot(path=shots[-1])

        page.goto(url + "/login?next=/staff/")
        page.get_by_label("Your name").fill("Dana")
        page.get_by_label("Staff key").fill(key)
        page.get_by_role("button", name="Log in").click()
        page.locator("#staff-draft .sb-sentence").first.wait_for(timeout=60_000)
        page.wait_for_timeout(800)
        shots.append(out / "staff.png")
        page.screenshot(path=shots[-1], full_page=True)

        page.goto(url + "/insights/")
        page.locator("#insights-headline").get_by_text("conversations").wait_for(timeout=30_000)
        page.wait_for_timeout(1500)  # the bar charts draw after the data arrives
        shots.append(out / "insights.png")
        page.screenshot(path=shots[-1], full_page=True)

        page.goto(url + "/demo")
        page.locator(".shopbot-bubble").click()
        page.locator(".shopbot-input").fill("I'm looking for a water bottle under $50")
        page.locator(".shopbot-input").press("Enter")
        page.locator(".shopbot-assistant .shopbot-sources").wait_for(timeout=120_000)
        page.wait_for_timeout(500)
        shots.append(out / "widget.png")
        page.screenshot(path=shots[-1])
        browser.close()
    return shots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).parent / "screenshots"), help="folder for the PNGs")
    parser.add_argument("--use-model", action="store_true", help="let the language model word the replies")
    args = parser.parse_args(argv)

    from bot import Bot
    from bot.config import BotConfig
    from ui.config import UiConfig
    from ui.server import create_app
    from ui.testing import BackgroundServer

    key = secrets.token_urlsafe(12)  # a throwaway staff key for this run only
    with tempfile.TemporaryDirectory() as data_dir:
        bot = Bot.load(data_dir, config=BotConfig(use_model=args.use_model))
        seed(bot)
        with BackgroundServer(create_app(bot, UiConfig(staff_auth="on", staff_key=key))) as server:
            for path in shoot(server.url, key, Path(args.out)):
                print(f"{path} ({path.stat().st_size // 1024} KB)")
        bot.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

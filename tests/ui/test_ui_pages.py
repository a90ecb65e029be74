"""The plain functions behind the chat page, the staff desk and insights (no browser), the settings, and the
whole app with its Gradio pages mounted."""
from __future__ import annotations

import pytest

from bot.reply import Citation, ProductSuggestion, Reply
from ui.chat import ShopperChat, render_reply, safe_text
from ui.config import UiConfig, load_config
from ui.insights import summarise
from ui.staff import StaffDesk, render_draft
from bot.staff import Draft, DraftSentence

HOSTILE = "<img src=x onerror=alert(1)>"


def test_safe_text_shows_markup_as_written():
    out = safe_text(f"{HOSTILE} **bold** [x](javascript:alert(1)) $5.00")
    assert "<" not in out and "&lt;img src=x onerror=alert\\(1\\)&gt;" in out
    assert "\\*\\*bold\\*\\*" in out and "\\[x\\]\\(javascript:" in out and "\\$5\\.00" in out


def test_reply_shows_notice_text_sources_and_product_cards_escaped():
    reply = Reply(text="Here it is.", notice="Your message was cut.",
                  citations=[Citation("item:1", "product", f"Lamp {HOSTILE}: $10.00, in stock")],
                  products=[ProductSuggestion("1", "p1", f"Lamp {HOSTILE}", {"color": "red"}, 10.0, True,
                                              "you asked for a lamp", sponsored=True),
                            ProductSuggestion("2", "p1", "Lamp", {"color": "blue"}, 12.5, False, "cheaper")])
    html = render_reply(reply.text, reply.to_dict())
    assert html.index("Note: Your message was cut.") < html.index("Here it is") < html.index("<details")
    assert "<summary>Sources (1)</summary>" in html and "<code>item:1</code>" in html
    assert html.count("class=\"sb-card\"") == 2 and html.count(">Sponsored<") == 1
    assert "$10.00 · In stock" in html and "$12.50 · Out of stock" in html and "Why: cheaper" in html
    assert HOSTILE not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_respond_streams_then_shows_the_saved_conversation(fake_bot):
    chat = ShopperChat(fake_bot)
    steps = list(chat.respond("How much is the T-Shirt?", [], "c1"))
    assert steps[0] == [{"role": "user", "content": safe_text("How much is the T-Shirt?")}]
    partials = [s[-1]["content"] for s in steps[1:-1]]
    assert len(partials) > 2 and all(len(a) < len(b) for a, b in zip(partials, partials[1:]))
    final = steps[-1]
    assert final == chat.history("c1") and "Sources (1)" in final[-1]["content"]


def test_respond_notes_a_cut_message(fake_bot):
    final = list(ShopperChat(fake_bot, UiConfig(max_message_chars=50)).respond("y" * 200, [], "c2"))[-1]
    assert "only read the first 50" in final[-1]["content"]
    assert [len(t.text) for t in fake_bot.transcript("c2") if t.role == "user"] == [50]


def test_thumbs_are_saved_on_the_rated_reply(fake_bot):
    chat = ShopperChat(fake_bot)
    for text in ("hello", "How much is the T-Shirt?"):
        list(chat.respond(text, [], "c3"))
    assert chat.feedback("c3", 3, False).startswith("Thank you")
    assert chat.feedback("c3", 0, True) == "That message cannot be rated."
    rated = {t.turn_id: t.helpful for t in fake_bot.transcript("c3")}
    assert rated[chat.shown_turns("c3")[3].turn_id] is False
    assert sum(v is not None for v in rated.values()) == 1


def test_a_staff_reply_reaches_the_shoppers_chat(fake_bot):
    chat = ShopperChat(fake_bot)
    list(chat.respond("I need help", [], "c4"))
    seen = chat.last_turn_id("c4")
    assert chat.staff_update("c4", seen) is None
    StaffDesk(fake_bot).send("c4", "Hello, this is Dana from the shop.", staff="Dana")
    update = chat.staff_update("c4", seen)
    assert update[-1]["role"] == "assistant" and "Dana" in update[-1]["content"]
    assert "Hello, this is Dana from the shop\\." in update[-1]["content"]
    assert chat.staff_update("c4", chat.last_turn_id("c4")) is None


def test_handover_and_forget(fake_bot):
    chat = ShopperChat(fake_bot)
    list(chat.respond("My email is noah.brown7922@example.com", [], "c5"))
    messages = chat.handover("c5")
    assert "person" in messages[-1]["content"] and [t.session_id for t in fake_bot.handover_queue()] == ["c5"]
    assert chat.customer_data("c5")["profile"]["email"] == "noah.brown7922@example.com"
    assert "no longer" in chat.set_personalisation("c5", False) and fake_bot.personalise["c5"] is False
    assert "erased" in chat.forget("c5") and chat.history("c5") == []


def test_staff_desk_lists_conversations_queue_and_a_draft_with_evidence(fake_bot):
    desk = StaffDesk(fake_bot)
    fake_bot.respond("How much is the T-Shirt?", "d1")
    fake_bot.respond("hello", "d2")
    fake_bot.request_handover("d2")
    assert [r[0] for r in desk.conversation_rows()] == ["d2", "d1"]
    assert [(r[1], r[3]) for r in desk.queue_rows()] == [("d2", "customer asked for a person")]
    assert desk.sessions()[0] == "d2"
    html, text = desk.draft("d1")
    assert "item:" in html and "Not checked" in html and "T-Shirt" in text
    assert desk.send("d1", "   ") == "The reply is empty; nothing was sent."
    assert desk.send("d1", "On its way.").startswith("Sent")
    assert desk.transcript("d1")[-1]["content"].endswith("On its way\\.")


def test_draft_sentences_show_evidence_and_flag_unchecked_claims():
    draft = Draft("s", [DraftSentence("It costs $5.", [Citation("item:9", "product", "Pen: $5.00")], False),
                            DraftSentence(f"Ships free {HOSTILE}", [], True, "no fact about shipping")], "",
                      question=f"Is shipping free? {HOSTILE}")
    html = render_draft(draft)
    assert "Answering: <q>Is shipping free? &lt;img" in html
    first, second = html.split("sb-sentence")[1:]
    assert "<code>item:9</code> Pen: $5.00" in first and "Not checked" not in first
    assert "sb-flagged" in html and "Not checked: no fact about shipping" in second
    assert HOSTILE not in html


def test_insights_summary_guards_the_empty_case_and_counts(fake_bot):
    empty = summarise({})
    assert "no data" in empty["headline"] and empty["intents"].empty
    fake_bot.respond("How much is the T-Shirt?", "i1")
    fake_bot.respond("blah", "i2")
    fake_bot.request_handover("i2")
    fake_bot.feedback("i1", 2, True)
    view = summarise(fake_bot.insights())
    assert "**2** conversations" in view["headline"] and "**50%** (1)" in view["headline"]
    assert dict(zip(view["outcomes"]["outcome"], view["outcomes"]["count"]))["thumbs up"] == 1
    assert set(view["intents"]["intent"]) == {"product_info", "unknown", "handover"}
    assert list(view["unanswered"].iloc[:, 0]) == ["blah"]


def test_settings_from_toml_environment_and_flags(tmp_path):
    path = tmp_path / "serve.toml"
    path.write_text('[serve]\nport = 8000\nmax_concurrent = 2\nshop_origins = ["https://a.example/"]\n')
    config = load_config(path, env={"SHOPBOT_STAFF_KEY": "k", "SHOPBOT_SHOP_ORIGINS": "https://b.example, https://c.example"},
                         port=9000, max_concurrent=None)
    assert (config.port, config.max_concurrent, config.staff_key) == (9000, 2, "k")
    assert config.shop_origins == ("https://b.example", "https://c.example")
    assert load_config(path, env={}).shop_origins == ("https://a.example",)
    path.write_text("[serve]\nprot = 1\n")
    with pytest.raises(ValueError, match="prot"):
        load_config(path, env={})
    with pytest.raises(ValueError):
        UiConfig(staff_auth="maybe")


def test_serve_command_options():
    import argparse

    from ui.server import add_arguments, config_from_args
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([])
    assert (args.host, args.port) == ("127.0.0.1", 7860)
    args = parser.parse_args(["--host", "0.0.0.0", "--port", "8080", "--shop-origin", "https://shop.example",
                              "--max-concurrent", "2"])
    config = config_from_args(args)
    assert config.staff_auth_required and config.shop_origins == ("https://shop.example",)
    assert (config.port, config.max_concurrent) == (8080, 2)


def test_whole_app_mounts_the_pages(fake_bot):
    from fastapi.testclient import TestClient

    from ui.server import create_app
    client = TestClient(create_app(fake_bot, UiConfig(staff_key="k", staff_auth="on")))
    chat = client.get("/")
    assert chat.status_code == 200 and "ShopBot" in chat.text
    assert client.get("/staff/", headers={"accept": "text/html"}, follow_redirects=False).status_code == 303
    staff = client.get("/staff/", headers={"X-Staff-Key": "k"})
    assert staff.status_code == 200 and "Staff desk" in staff.text
    assert client.get("/insights/", headers={"X-Staff-Key": "k"}).status_code == 200
    assert client.get("/healthz").json()["status"] == "ok"

"""The staff desk and insights need a signed-in staff member on every host, localhost included; with the login
turned off (a developer's choice), the desk shows emails, street addresses and card digits masked."""
from __future__ import annotations

import argparse
import json

import pytest

from ui.config import UiConfig
from ui.staff import StaffDesk

EMAIL = "noah.brown7922@example.com"
STREET = "986 Sunset Drive"
CARD = "4111111111111111"
PERSONAL = f"I'm {EMAIL}, please ship to {STREET}, Denver, CO 80279 and charge card {CARD}"


def desk_lists(client, **headers) -> tuple[int, str]:
    """(status, the rows the staff desk's page loads) through the desk's own Gradio API, as the page does."""
    started = client.post("/staff/gradio_api/call/lists", json={"data": [None]}, headers=headers)
    if started.status_code != 200:
        return started.status_code, started.text
    event = started.json()["event_id"]
    result = client.get(f"/staff/gradio_api/call/lists/{event}", headers=headers)
    return result.status_code, result.text


def test_serve_asks_for_the_staff_login_by_default_on_localhost_too():
    from ui.server import add_arguments, config_from_args
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert config_from_args(parser.parse_args([])).staff_auth_required  # 127.0.0.1, no flags
    assert not config_from_args(parser.parse_args(["--staff-auth", "off"])).staff_auth_required
    with pytest.raises(SystemExit):
        parser.parse_args(["--staff-auth", "auto"])  # the old "open on localhost" setting is gone
    assert UiConfig().staff_auth_required and UiConfig(host="localhost").staff_auth_required


def test_localhost_staff_desk_needs_a_login_then_shows_the_data(fake_bot):
    """A server on 127.0.0.1 with default settings: strangers get the login page or 401, staff get the rows."""
    from fastapi.testclient import TestClient

    from ui.server import create_app
    fake_bot.respond(PERSONAL, session_id="s-personal")
    app = create_app(fake_bot, UiConfig(host="127.0.0.1", staff_key="desk-key"))
    with TestClient(app) as client:
        page = client.get("/staff/", headers={"accept": "text/html"}, follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/login?next=/staff/"
        assert client.get("/insights/", headers={"accept": "application/json"}).status_code == 401
        status, body = desk_lists(client)
        assert status == 401 and EMAIL not in body
        login = client.post("/login", data={"name": "Dana", "key": "desk-key", "next": "/staff/"},
                            follow_redirects=False)
        assert login.status_code == 303
        assert "Staff desk" in client.get("/staff/").text
        status, body = desk_lists(client)
        assert status == 200 and "s-personal" in body
        assert EMAIL in body and STREET in body  # signed-in staff see what the customer wrote


def test_without_the_staff_login_the_desk_shows_personal_data_masked(fake_bot):
    from fastapi.testclient import TestClient

    from ui.server import create_app
    fake_bot.respond(PERSONAL, session_id="s-personal")
    app = create_app(fake_bot, UiConfig(host="127.0.0.1", staff_auth="off"))
    assert app.state.staff_key == ""
    with TestClient(app) as client:
        status, body = desk_lists(client)
        assert status == 200 and "s-personal" in body
        assert EMAIL not in body and "Sunset" not in body and CARD not in body and "80279" not in body
        assert "[email]" in body and "[address]" in body


def test_masked_desk_masks_rows_transcript_and_draft(fake_bot):
    fake_bot.respond(PERSONAL, session_id="s1")
    fake_bot.request_handover("s1")
    open_desk, staff_desk = StaffDesk(fake_bot, mask=True), StaffDesk(fake_bot)
    shown = json.dumps([open_desk.conversation_rows(), open_desk.queue_rows(), open_desk.transcript("s1"),
                        open_desk.draft("s1")])
    for secret in (EMAIL, "Sunset", CARD, "80279"):
        assert secret not in shown, secret
    assert "[email]" in shown and "[card]" in shown and "[address]" in shown
    assert "please ship to" in shown  # the rest of what the customer wrote stays readable
    signed_in = json.dumps([staff_desk.queue_rows(), staff_desk.transcript("s1"), staff_desk.draft("s1")])
    assert EMAIL in signed_in and STREET in signed_in

"""Personal data: emails, street addresses and card digits are masked in logs and on the insights page, and
the staff desk and insights open only to signed-in staff when the server is reachable from other machines."""
from __future__ import annotations

import logging

import pytest

from bot.privacy import mask_personal


def test_every_email_and_address_of_the_demo_shop_is_masked(demo_export):
    """On the shop's real records: 500 emails, 1,500 addresses (accounts and orders) written out in full."""
    addresses = [u["address"] for u in demo_export["users"].values()]
    addresses += [o["address"] for o in demo_export["orders"].values()]
    for a in addresses:
        line = f"Ship it to {a['address1']}, {a['address2']}, {a['city']}, {a['state']} {a['zip']}, {a['country']}."
        masked = mask_personal(line)
        assert a["address1"] not in masked and a["zip"] not in masked, masked
        assert not a["address2"] or a["address2"] not in masked, masked
    for u in demo_export["users"].values():
        assert u["email"] not in mask_personal(f"my email is {u['email']}, thanks")


@pytest.mark.parametrize("text,gone", [
    ("card 4111 1111 1111 1111 please", "4111 1111 1111 1111"), ("card 4111-1111-1111-1111", "1111-1111"),
    ("number 378282246310005", "378282246310005"), ("my visa ending in 9212", "9212"),
    ("12 Elm Street, Apt 3, Springfield, IL 62704", "62704"), ("zip code 80279", "80279")])
def test_card_digits_and_written_addresses_are_masked(text, gone):
    assert gone not in mask_personal(text)


def test_what_is_not_personal_stays_readable():
    for text in ("Order #W2611340 costs $536.65; item 6469567736 (1000ml, blue).", "I have 3 orders and 2 items.",
                 "How long do refunds take?", ""):
        assert mask_personal(text) == text


def test_log_records_are_masked_when_made(caplog):
    from ui.logs import install_masking
    original = logging.getLogRecordFactory()
    try:
        install_masking()
        install_masking()  # twice is once
        log = logging.getLogger("shopbot.test")
        with caplog.at_level(logging.INFO):
            log.info("customer %s wrote from %s", "noah.brown7922@example.com", "986 Sunset Drive")
            try:
                raise ValueError("card 4111111111111111 declined for ana@example.org")
            except ValueError:
                log.exception("payment failed")
        text = caplog.text
        assert "noah.brown7922" not in text and "Sunset Drive" not in text
        assert "4111111111111111" not in text and "ana@example.org" not in text
        assert "[email]" in text and "[card]" in text and "payment failed" in text
    finally:
        logging.setLogRecordFactory(original)


def test_insights_page_masks_customer_questions():
    from ui.insights import summarise
    view = summarise({"unanswered": ["I'm noah.brown7922@example.com at 986 Sunset Drive, card 4111111111111111",
                                     "do you sell kites?"]})
    shown = " ".join(view["unanswered"].iloc[:, 0])
    assert "noah.brown7922" not in shown and "Sunset" not in shown and "4111111111111111" not in shown
    assert "do you sell kites?" in shown


def test_staff_pages_need_a_signed_in_staff_member(tmp_path):
    """Staff login on: the desk, insights and their Gradio API refuse strangers; the key or cookie lets staff in."""
    from fastapi.testclient import TestClient

    from ui.config import UiConfig
    from ui.server import create_api_app
    from ui.testing import FakeBot
    app = create_api_app(FakeBot(tmp_path), UiConfig(host="0.0.0.0", staff_key="s3cret-key"))
    client = TestClient(app)
    for path in ("/staff/", "/insights/", "/staff/gradio_api/info", "/insights/gradio_api/queue/join"):
        assert client.get(path, headers={"accept": "application/json"}).status_code == 401, path
        assert client.get(path, headers={"accept": "text/html"}, follow_redirects=False).status_code == 303
        assert client.get(path, headers={"x-staff-key": "wrong"}).status_code == 401
        assert client.get(path, headers={"x-staff-key": "s3cret-key"}).status_code != 401
    login = client.post("/login", data={"name": "Ana", "key": "s3cret-key", "next": "/staff/"},
                        follow_redirects=False)
    assert login.status_code == 303
    assert client.get("/insights/", headers={"accept": "application/json"}).status_code != 401


def test_masked_records_keep_their_arguments_for_formatters_that_unpack_them():
    """uvicorn's access log unpacks five arguments; masking must not collapse them into the message."""
    from uvicorn.logging import AccessFormatter

    from ui.logs import install_masking
    original = logging.getLogRecordFactory()
    try:
        install_masking()
        record = logging.getLogger("uvicorn.access").makeRecord(
            "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
            ("127.0.0.1:5000", "GET", "/v1/x?email=noah.brown7922@example.com", "1.1", 200), None)
        line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s').format(record)
        assert "noah.brown7922@example.com" not in line
        assert "[email]" in line and "GET" in line and "200" in line
    finally:
        logging.setLogRecordFactory(original)

"""`shopbot serve`: one web server for the shopper's chat, the staff desk, insights, the widget and the HTTP API.

`create_app(bot, config)` builds the FastAPI app (nothing starts); `run(args)` loads the bot and serves it
with uvicorn. Conversations are keyed by tokens this server issues (ui/sessions.py), on every page and the API.
Routes: "/" chat, "/staff" staff desk and "/insights" (staff login, on every host unless turned off, and then
personal data is masked), "/demo" a demo shop page with the widget, "/static/widget.js", "/v1/chat/completions",
"/v1/sessions/{id}/messages", "/healthz".

    shopbot serve --host 127.0.0.1 --port 7860
"""
from __future__ import annotations

import hashlib
import hmac
import html
import logging
import secrets
import sys
from importlib import resources
from pathlib import Path
from urllib.parse import quote, unquote

from ui.config import UiConfig, load_config

log = logging.getLogger(__name__)
STATIC = Path(str(resources.files("ui") / "static"))
DEMO_PRODUCTS = 8  # products listed on the demo shop page
STAFF_PATHS = ("/staff", "/insights")


class StaffAuth:
    """Who may open the staff pages: the staff key in an X-Staff-Key header or a signed cookie set by /login.

    With no key (staff auth off), everyone is "staff" and the desk masks personal data. The cookie holds the
    staff name and an HMAC of it under the key, so it cannot be forged without the key and stops working when the
    key changes.
    """

    COOKIE = "shopbot_staff"

    def __init__(self, key: str):
        self.key = key

    def _sign(self, name: str) -> str:
        return hmac.new(self.key.encode(), name.encode(), hashlib.sha256).hexdigest()

    def check_key(self, key: str) -> bool:
        return bool(self.key) and hmac.compare_digest((key or "").encode(), self.key.encode())

    def cookie_for(self, name: str) -> str:
        return f"{name}:{self._sign(name)}"

    def user(self, headers, cookies) -> str | None:
        if not self.key:
            return "staff"
        if self.check_key(headers.get("x-staff-key", "")):
            return headers.get("x-staff-name", "staff")
        name, _, signature = (cookies.get(self.COOKIE) or "").rpartition(":")
        if name and hmac.compare_digest(signature.encode(), self._sign(name).encode()):
            return name
        return None


def login_page(next_path: str, failed: bool = False) -> str:
    template = (STATIC / "login.html").read_text(encoding="utf-8")
    note = "<p class=\"error\">That key is not right.</p>" if failed else ""
    return template.replace("{{next}}", html.escape(next_path, quote=True)).replace("{{note}}", note)


def _safe_next(path: str) -> str:
    return path if path.startswith(("/staff", "/insights")) and "//" not in path else "/staff/"


def demo_page(bot, widget_url: str = "/static/widget.js", api_url: str = "") -> str:
    """The demo shop: a few real products from the shop's database and the widget's one script tag."""
    cards = []
    for product_id in bot.store.product_ids()[:DEMO_PRODUCTS]:
        product = bot.store.get_product(product_id)
        variants = list(product["variants"].values())
        prices = [v["price"] for v in variants]
        in_stock = sum(v["available"] for v in variants)
        cards.append(f"<article class=\"product\"><h3>{html.escape(product['name'])}</h3>"
                     f"<p>{len(variants)} variants, {in_stock} in stock</p>"
                     f"<p class=\"price\">${min(prices):.2f} – ${max(prices):.2f}</p></article>")
    template = (STATIC / "demo_shop.html").read_text(encoding="utf-8")
    return (template.replace("{{products}}", "\n".join(cards))
            .replace("{{widget_url}}", html.escape(widget_url, quote=True))
            .replace("{{api_url}}", html.escape(api_url, quote=True)))


def create_app(bot, config: UiConfig | None = None):
    """The whole web app over `bot`: the HTTP part below plus the Gradio pages, mounted, not started."""
    import gradio as gr

    from ui.chat import CSS as CHAT_CSS, build_chat_app
    from ui.insights import build_insights_app
    from ui.staff import CSS as STAFF_CSS, build_staff_app

    config = config or UiConfig()
    app = create_api_app(bot, config)
    tokens = app.state.session_tokens
    open_desk = not app.state.staff_key  # staff login off: whoever opens the desk sees personal data masked
    gr.mount_gradio_app(app, build_staff_app(bot, app.state.staff_name, mask=open_desk), path="/staff",
                        css=STAFF_CSS, footer_links=[])
    gr.mount_gradio_app(app, build_insights_app(bot), path="/insights", footer_links=[])
    gr.mount_gradio_app(app, build_chat_app(bot, config, tokens), path="/", css=CHAT_CSS, footer_links=[])
    return app


def create_api_app(bot, config: UiConfig, tokens=None):
    """Everything but the Gradio pages: HTTP API, widget files, demo shop, staff login (no Gradio import).

    `app.state.staff_key` is the staff key in force ("" when staff pages are open to all),
    `app.state.staff_name(request)` the logged-in staff member's name and `app.state.session_tokens` the
    issuer of conversation tokens (by default keyed from the bot's data folder). A FastAPI app.
    """
    # Imported here so that `shopbot --help` (which reads add_arguments) stays fast.
    from fastapi import FastAPI, Form
    from fastapi.middleware.cors import CORSMiddleware
    from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
    from fastapi.staticfiles import StaticFiles

    from ui.api import api_router, install_error_handlers
    from ui.sessions import Integrations, SessionTokens

    tokens = tokens or SessionTokens.for_data_dir(bot.data_dir, config.session_ttl_hours * 3600)
    if getattr(bot, "memory", None) is not None:  # identification lapses after this long without a message
        bot.memory.identity_ttl_s = config.identity_ttl_minutes * 60
    app = FastAPI(title="ShopBot", docs_url="/api/docs", redoc_url=None)
    app.state.session_tokens = tokens
    # X-Session-Id is still allowed (and ignored) so a widget cached from before tokens gets an answer, not a
    # CORS failure; its first reply gives it a token.
    app.add_middleware(CORSMiddleware, allow_origins=list(config.shop_origins), allow_credentials=False,
                       allow_methods=["GET", "POST", "OPTIONS"],
                       allow_headers=["Content-Type", "X-Session-Token", "X-Session-Id"],
                       expose_headers=["X-Session-Token", "Retry-After"])
    install_error_handlers(app)
    app.include_router(api_router(bot, config, tokens, Integrations(config.integration_keys)))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/demo", response_class=HTMLResponse)
    def demo():
        return demo_page(bot)

    key = (config.staff_key or secrets.token_urlsafe(18)) if config.staff_auth_required else ""
    app.state.staff_key = key
    auth = StaffAuth(key)

    @app.middleware("http")
    async def staff_only(request, call_next):
        if request.url.path.startswith(STAFF_PATHS) and auth.user(request.headers, request.cookies) is None:
            if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
                return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
            return JSONResponse({"error": {"message": "Staff only: log in at /login or send the X-Staff-Key "
                                                      "header.", "type": "unauthorized"}}, status_code=401)
        return await call_next(request)

    @app.get("/login", response_class=HTMLResponse)
    def login_form(next: str = "/staff/"):
        return login_page(_safe_next(next))

    @app.post("/login")
    def login(name: str = Form(""), key: str = Form(""), next: str = Form("/staff/")):
        if not auth.check_key(key) or not name.strip():
            return HTMLResponse(login_page(_safe_next(next), failed=True), status_code=401)
        response = RedirectResponse(_safe_next(next), status_code=303)
        response.set_cookie(StaffAuth.COOKIE, auth.cookie_for(quote(name.strip()[:40])), httponly=True,
                            samesite="strict", max_age=12 * 3600)
        return response

    @app.get("/logout")
    def logout():
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(StaffAuth.COOKIE)
        return response

    app.state.staff_name = lambda request: unquote(auth.user(request.headers, request.cookies) or "staff")
    return app


def add_arguments(parser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; "
                        "0.0.0.0 for every interface)")
    parser.add_argument("--port", type=int, default=7860, help="port to listen on (default 7860)")
    parser.add_argument("--config", default=None, help="a TOML file with a [serve] table of settings (ui/config.py)")
    parser.add_argument("--staff-auth", choices=["on", "off"], default=None,
                        help="staff login for /staff and /insights: on (default, also on localhost); off is for "
                             "development: the pages open to anyone, with emails, addresses and card digits masked")
    parser.add_argument("--staff-key-file", default=None,
                        help="file holding the staff key (else $SHOPBOT_STAFF_KEY; else one is made and printed)")
    parser.add_argument("--shop-origin", action="append", default=None, metavar="ORIGIN",
                        help="a shop site allowed to call the HTTP API from browsers, e.g. https://shop.example "
                             "(repeatable; also $SHOPBOT_SHOP_ORIGINS, comma-separated)")
    parser.add_argument("--max-concurrent", type=int, default=None,
                        help="chats answered at once; more get 'busy' (HTTP 429) at once (default 4)")
    parser.add_argument("--integration-keys-file", default=None, metavar="FILE",
                        help="file of name=key lines: API keys of integrations that may name their own "
                             "conversations (else $SHOPBOT_INTEGRATION_KEYS)")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="worker processes (default 1); any worker takes any message, as conversations live "
                             "in the database (ui/workers.py)")
    parser.add_argument("--no-model", action="store_true",
                        help="answer with checked templates only, never the language model (fast, small machines)")


def config_from_args(args) -> UiConfig:
    key = integrations = None
    if getattr(args, "staff_key_file", None):
        key = Path(args.staff_key_file).read_text(encoding="utf-8").strip()
    if getattr(args, "integration_keys_file", None):
        integrations = Path(args.integration_keys_file).read_text(encoding="utf-8")
    return load_config(getattr(args, "config", None), host=args.host, port=args.port,
                       staff_auth=getattr(args, "staff_auth", None), staff_key=key,
                       shop_origins=getattr(args, "shop_origin", None),
                       max_concurrent=getattr(args, "max_concurrent", None), integration_keys=integrations)


def run(args) -> int:
    import uvicorn

    from bot import Bot
    from ui.logs import install_masking

    install_masking()  # emails, addresses and card digits never reach the logs

    from bot.config import BotConfig

    config = config_from_args(args)
    if getattr(args, "workers", 1) > 1:
        from ui.workers import serve_workers
        return serve_workers(args, config, args.workers)
    bot_config = BotConfig(use_model=False) if getattr(args, "no_model", False) else None
    bot = Bot.load(data_dir=getattr(args, "data_dir", None), config=bot_config)
    app = create_app(bot, config)
    if app.state.staff_key and not config.staff_key:
        print(f"Staff desk key for this run (set SHOPBOT_STAFF_KEY to choose one): {app.state.staff_key}",
              file=sys.stderr)
    print(f"ShopBot on http://{config.host}:{config.port}/  (staff desk /staff, insights /insights, "
          f"demo shop /demo, API /v1/chat/completions)", file=sys.stderr)
    uvicorn.run(app, host=config.host, port=config.port, log_level="info")
    return 0


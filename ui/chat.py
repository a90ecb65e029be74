"""The shopper's chat page: plain functions over a Bot (`ShopperChat`), and a thin Gradio layer over them.

`ShopperChat` turns the bot's replies and the saved conversation into chat messages (role + safe Markdown):
text escaped so nothing from a reply or product data can run, sources behind a "Sources" fold, product cards
with price, stock, reason and a "Sponsored" label. `build_chat_app(bot, config)` builds the page without
launching it; `shopbot serve` mounts it at "/". Replies written by staff appear by polling the conversation.
The browser keeps only a session token the server issued (ui/sessions.py); every event checks it, so a page
can never open another shopper's conversation by editing its storage.
"""

import html
import re
from collections.abc import Iterator

from ui.config import UiConfig, clean_input
from ui.sessions import Session, SessionTokens

SHOWN_ROLES = ("user", "assistant", "staff")  # turns a shopper sees; message i of the chat is shown turn i
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$])")  # ">" and "<" are left to html.escape


def safe_text(text: str) -> str:
    """Text that Markdown and HTML show exactly as written: markup characters escaped, never interpreted."""
    return html.escape(_MARKDOWN.sub(r"\\\1", text or ""), quote=True).replace("\n", "  \n")


def _attr(value) -> str:
    return html.escape(str(value), quote=True)


def render_sources(citations: list[dict]) -> str:
    if not citations:
        return ""
    items = "".join(f"<li><code>{_attr(c.get('id', ''))}</code> {_attr(c.get('text', ''))}</li>"
                    for c in citations)
    return f"<details class=\"sb-sources\"><summary>Sources ({len(citations)})</summary><ul>{items}</ul></details>"


def render_products(products: list[dict]) -> str:
    cards = []
    for p in products:
        options = ", ".join(f"{_attr(k)}: {_attr(v)}" for k, v in (p.get("options") or {}).items())
        stock = "In stock" if p.get("available") else "Out of stock"
        sponsored = "<span class=\"sb-sponsored\">Sponsored</span> " if p.get("sponsored") else ""
        cards.append(f"<div class=\"sb-card\">{sponsored}<strong>{_attr(p.get('name', ''))}</strong>"
                     f"<div class=\"sb-options\">{options}</div>"
                     f"<div class=\"sb-price\">${float(p.get('price', 0)):.2f} · {stock}</div>"
                     f"<div class=\"sb-reason\">Why: {_attr(p.get('reason', ''))}</div>"
                     f"<div class=\"sb-id\">item {_attr(p.get('item_id', ''))}</div></div>")
    return f"<div class=\"sb-cards\">{''.join(cards)}</div>" if cards else ""


def render_reply(text: str, reply: dict | None) -> str:
    """One assistant message: the note about the input, the text, then its sources and products on demand."""
    reply = reply or {}
    parts = []
    if reply.get("notice"):
        parts.append(f"<em class=\"sb-notice\">Note: {_attr(reply['notice'])}</em>")
    parts.append(safe_text(text))
    for extra in (render_sources(reply.get("citations") or []), render_products(reply.get("products") or [])):
        if extra:
            parts.append(extra)
    return "\n\n".join(parts)


def message_of(turn) -> dict:
    """A saved turn as a chat message; staff replies are labelled so the shopper knows a person wrote them."""
    if turn.role == "user":
        return {"role": "user", "content": safe_text(turn.text)}
    if turn.role == "staff":
        who = _attr((turn.reply or {}).get("staff", "our team"))
        return {"role": "assistant", "content": f"**A person from our team ({who}) writes:**\n\n{safe_text(turn.text)}"}
    return {"role": "assistant", "content": render_reply(turn.text, turn.reply)}


class ShopperChat:
    """What the chat page does, with no web framework: every method takes and returns plain data."""

    def __init__(self, bot, config: UiConfig | None = None, tokens: SessionTokens | None = None):
        self.bot = bot
        self.config = config or UiConfig()
        self.tokens = tokens or SessionTokens.ephemeral(self.config.session_ttl_hours * 3600)

    def new_session(self) -> str:
        return self.tokens.issue().session_id

    def session(self, token: str | None) -> Session:
        """The conversation of a token this server issued (with a fresh token), else a new one."""
        return self.tokens.resume(token)

    def session_id(self, token: str | None) -> str | None:
        """The conversation of a good token, or None (nothing is created)."""
        return self.tokens.verify(token)

    def shown_turns(self, session_id: str) -> list:
        return [t for t in self.bot.transcript(session_id) if t.role in SHOWN_ROLES]

    def history(self, session_id: str) -> list[dict]:
        return [message_of(t) for t in self.shown_turns(session_id)]

    def last_turn_id(self, session_id: str) -> int:
        turns = self.shown_turns(session_id)
        return turns[-1].turn_id if turns else 0

    def respond(self, message: str, history: list[dict], session_id: str) -> Iterator[list[dict]]:
        """The chat as it grows: the shopper's message, the reply piece by piece, then the saved conversation."""
        text, notice = clean_input(message, self.config.max_message_chars)
        history = list(history or []) + [{"role": "user", "content": safe_text(text)}]
        partial = ""
        yield history
        for piece in self.bot.stream(text, session_id=session_id):
            if isinstance(piece, str):
                partial += piece
                yield history + [{"role": "assistant", "content": safe_text(partial)}]
        final = self.history(session_id)
        if notice and final and final[-1]["role"] == "assistant":
            final[-1] = {"role": "assistant",
                         "content": f"<em class=\"sb-notice\">Note: {_attr(notice)}</em>\n\n{final[-1]['content']}"}
        yield final

    def staff_update(self, session_id: str, seen_turn_id: int) -> list[dict] | None:
        """The whole chat again when a person from the shop wrote since `seen_turn_id`, else None."""
        turns = self.shown_turns(session_id)
        if any(t.role == "staff" and t.turn_id > seen_turn_id for t in turns):
            return [message_of(t) for t in turns]
        return None

    def feedback(self, session_id: str, index: int, liked: bool) -> str:
        turns = self.shown_turns(session_id)
        if not 0 <= index < len(turns) or turns[index].role == "user":
            return "That message cannot be rated."
        self.bot.feedback(session_id, turns[index].turn_id, bool(liked))
        return "Thank you, your rating is saved." if liked else "Thank you; we will use this to do better."

    def handover(self, session_id: str) -> list[dict]:
        self.bot.request_handover(session_id)
        return self.history(session_id)

    def customer_data(self, session_id: str) -> dict | None:
        return self.bot.customer_data(session_id)

    def set_personalisation(self, session_id: str, on: bool) -> str:
        self.bot.set_personalisation(session_id, bool(on))
        return ("Suggestions may now take your past orders into account." if on
                else "Suggestions will no longer use your past orders.")

    def forget(self, session_id: str) -> str:
        return self.bot.forget(session_id).text


CSS = """
.sb-cards {display:flex; flex-wrap:wrap; gap:8px; margin-top:6px}
.sb-card {border:1px solid #d0d7de; border-radius:8px; padding:8px 10px; min-width:180px; max-width:260px;
          background:#f8fafc; font-size:0.92em}
.sb-sponsored {background:#fde68a; color:#713f12; border-radius:4px; padding:0 5px; font-size:0.8em}
.sb-reason, .sb-id {color:#57606a; font-size:0.9em}
.sb-price {font-weight:600}
.sb-notice {color:#9a3412}
"""


def build_chat_app(bot, config: UiConfig | None = None, tokens: SessionTokens | None = None):
    """The shopper's page as a gr.Blocks, not launched. The browser state holds a session token, never an id."""
    import gradio as gr

    chat = ShopperChat(bot, config, tokens)
    with gr.Blocks(title="ShopBot — ask the shop") as app:
        gr.Markdown("## Ask the shop\nPrices, stock, orders and policy come from the shop's own data; open "
                    "**Sources** under a reply to see them.")
        session = gr.BrowserState(None, storage_key="shopbot_chat_token")  # the token, not the conversation id
        seen = gr.State(0)
        chatbot = gr.Chatbot(label="Conversation", show_label=False, height=600, elem_id="shopbot-chat",
                             latex_delimiters=[], feedback_options=("Like", "Dislike"), allow_tags=False)
        with gr.Row():
            box = gr.Textbox(placeholder="Ask about a product, an order or our policy…", show_label=False,
                             scale=5, elem_id="shopbot-input", max_length=chat.config.max_message_chars * 4)
            send = gr.Button("Send", variant="primary", scale=1, elem_id="shopbot-send")
        status = gr.Markdown("", elem_id="shopbot-status")
        person = gr.Button("Talk to a person", elem_id="shopbot-handover")
        with gr.Row(visible=False, elem_id="shopbot-privacy") as privacy:  # shown once the customer is identified
            mine = gr.Button("What do you know about me?", elem_id="shopbot-mydata")
            personal = gr.Checkbox(label="Use my past orders for suggestions", value=True,
                                   elem_id="shopbot-personalise")
            forget = gr.Button("Forget me", variant="stop", elem_id="shopbot-forget")
        data = gr.JSON(visible=False, label="What the assistant stores about you")

        def start(token):
            s = chat.session(token)  # a token that was not issued here (or expired) starts a new conversation
            identified = chat.customer_data(s.session_id) is not None
            return s.token, chat.history(s.session_id), chat.last_turn_id(s.session_id), gr.update(visible=identified)

        def ask(message, history, token):
            s = chat.session(token)  # no token yet when sent before the page finished loading
            history = history if not s.new else []
            for messages in chat.respond(message, history, s.session_id):
                yield messages, "", gr.skip(), gr.skip(), s.token
            identified = chat.customer_data(s.session_id) is not None
            yield gr.skip(), "", chat.last_turn_id(s.session_id), gr.update(visible=identified), s.token

        def poll(token, seen_id):
            session_id = chat.session_id(token)
            update = chat.staff_update(session_id, seen_id) if session_id else None
            if update is None:
                return gr.skip(), gr.skip()
            return update, chat.last_turn_id(session_id)

        def like(token, event: gr.LikeData):
            session_id = chat.session_id(token)
            if not session_id:
                return "That message cannot be rated."
            index = event.index[0] if isinstance(event.index, (list, tuple)) else event.index
            return chat.feedback(session_id, int(index), event.liked is True or event.liked == "Like")

        def show_data(token):
            session_id = chat.session_id(token)
            data = chat.customer_data(session_id) if session_id else None
            return gr.update(value=data or {"note": "You have not identified yourself."}, visible=True)

        def erase(token):
            session_id = chat.session_id(token)
            if not session_id:
                return "There is nothing stored for this conversation.", [], gr.update(visible=False), \
                    gr.update(value=None, visible=False)
            text = chat.forget(session_id)
            return text, chat.history(session_id), gr.update(visible=False), gr.update(value=None, visible=False)

        def hand_over(token):
            session_id = chat.session_id(token)
            return chat.handover(session_id) if session_id else gr.skip()

        def seen_now(token):
            session_id = chat.session_id(token)
            return chat.last_turn_id(session_id) if session_id else 0

        def personalise(token, on):
            session_id = chat.session_id(token)
            return chat.set_personalisation(session_id, on) if session_id else gr.skip()

        outputs = [chatbot, box, seen, privacy, session]
        limit = chat.config.max_concurrent
        app.load(start, session, [session, chatbot, seen, privacy])
        box.submit(ask, [box, chatbot, session], outputs, concurrency_limit=limit)
        send.click(ask, [box, chatbot, session], outputs, concurrency_limit=limit)
        chatbot.like(like, session, status)
        person.click(hand_over, session, chatbot).then(seen_now, session, seen)
        mine.click(show_data, session, data)
        personal.input(personalise, [session, personal], status)
        forget.click(erase, session, [status, chatbot, privacy, data])
        gr.Timer(chat.config.poll_s).tick(poll, [session, seen], [chatbot, seen], show_progress="hidden",
                                          queue=False)
    # Beyond this many waiting events the page says the queue is full at once instead of making people wait.
    app.queue(max_size=chat.config.max_concurrent * 16)
    return app

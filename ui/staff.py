"""The staff desk: open conversations, the hand-over queue, and drafted replies with their evidence.

`StaffDesk` holds the plain functions (rows for the tables, a draft as HTML in which each sentence lists its
evidence and unchecked claims are flagged, sending a reply into the customer's chat); `build_staff_app`
lays them out with Gradio without launching. `shopbot serve` mounts it at /staff behind the staff login; with
the login turned off (`--staff-auth off`, for development), the desk shows emails, street addresses and card
digits masked (`bot.privacy.mask_personal`), so personal data is shown only to signed-in staff.
"""

import html
from dataclasses import replace
from datetime import datetime, timezone

from bot.privacy import mask_personal
from ui.chat import SHOWN_ROLES, message_of

CONVERSATION_COLUMNS = ["session", "customer", "status", "turns", "last message", "updated (UTC)"]
QUEUE_COLUMNS = ["ticket", "session", "customer", "reason", "summary", "opened (UTC)"]


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M") if ts else ""


def _short(text: str, n: int = 80) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


def masked(value):
    """`value` with every string in it (nested in lists, tuples and dicts) passed through `mask_personal`."""
    if isinstance(value, str):
        return mask_personal(value)
    if isinstance(value, (list, tuple)):
        return type(value)(masked(v) for v in value)
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    return value


class StaffDesk:
    """`mask=True`: what the desk shows (rows, transcripts, drafts) has emails, addresses and card digits masked;
    for a desk that anyone who reaches the server may open (staff login off)."""

    def __init__(self, bot, mask: bool = False):
        self.bot = bot
        self.mask = mask

    def _shown(self, text: str) -> str:
        return mask_personal(text) if self.mask else text

    def conversation_rows(self) -> list[list]:
        return [[c.session_id, c.user_id or "", c.status, c.turns, _short(self._shown(c.last_message)),
                 _when(c.updated)] for c in self.bot.conversations() if c.status != "closed"]

    def queue_rows(self) -> list[list]:
        return [[t.ticket_id, t.session_id, t.user_id or "", t.reason, _short(self._shown(t.summary)),
                 _when(t.created)] for t in self.bot.handover_queue()]

    def sessions(self) -> list[str]:
        queued = [t.session_id for t in self.bot.handover_queue()]
        return list(dict.fromkeys(queued + [c.session_id for c in self.bot.conversations()]))

    def transcript(self, session_id: str) -> list[dict]:
        if not session_id:
            return []
        turns = [t for t in self.bot.transcript(session_id) if t.role in SHOWN_ROLES]
        if self.mask:  # before rendering, which escapes Markdown and would hide an email from the mask
            turns = [replace(t, text=mask_personal(t.text), reply=masked(t.reply)) for t in turns]
        return [message_of(t) for t in turns]

    def draft(self, session_id: str) -> tuple[str, str]:
        """(HTML showing every sentence with its evidence or a flag, the draft's text for staff to edit)."""
        if not session_id:
            return "<p>Select a conversation.</p>", ""
        draft = self.bot.draft(session_id)
        if self.mask:
            draft = replace(draft, text=mask_personal(draft.text), question=mask_personal(draft.question),
                            note=mask_personal(draft.note),
                            sentences=[replace(s, text=mask_personal(s.text), note=mask_personal(s.note),
                                               evidence=[replace(c, text=mask_personal(c.text)) for c in s.evidence])
                                       for s in draft.sentences],
                            facts=[replace(c, text=mask_personal(c.text)) for c in draft.facts])
        return render_draft(draft), draft.text

    def send(self, session_id: str, text: str, staff: str = "staff") -> str:
        text = (text or "").strip()
        if not session_id:
            return "Select a conversation first."
        if not text:
            return "The reply is empty; nothing was sent."
        turn_id = self.bot.staff_reply(session_id, text, staff=staff)
        return f"Sent to the customer (turn {turn_id})."


def render_draft(draft) -> str:
    rows = []
    for s in draft.sentences:
        evidence = "".join(f"<li><code>{html.escape(c.id)}</code> {html.escape(c.text)}</li>" for c in s.evidence)
        evidence = f"<ul class=\"sb-evidence\">{evidence}</ul>" if evidence else ""
        if s.flagged:
            note = html.escape(s.note or "a claim in this sentence could not be checked")
            flag = f"<div class=\"sb-flag\">⚠ Not checked: {note}</div>"
        else:
            flag = "" if s.evidence else "<div class=\"sb-plain\">No factual claim.</div>"
        css = "sb-sentence sb-flagged" if s.flagged else "sb-sentence"
        rows.append(f"<div class=\"{css}\"><div>{html.escape(s.text)}</div>{flag}{evidence}</div>")
    question = getattr(draft, "question", "")
    head = f"<p class=\"sb-question\">Answering: <q>{html.escape(question)}</q></p>" if question else ""
    note = getattr(draft, "note", "")
    head += f"<p class=\"sb-flag\">{html.escape(note)}</p>" if note else ""
    return "<div class=\"sb-draft\">" + head + "".join(rows) + "</div>"


CSS = """
.sb-sentence {border-left:4px solid #16a34a; padding:4px 10px; margin:6px 0; background:#f0fdf4}
.sb-flagged {border-left-color:#dc2626; background:#fef2f2}
.sb-flag {color:#b91c1c; font-weight:600; font-size:0.9em}
.sb-plain {color:#57606a; font-size:0.85em}
.sb-question {color:#334155; margin:2px 0}
.sb-evidence {margin:2px 0 0 0; font-size:0.85em; color:#334155}
"""


def build_staff_app(bot, staff_name=lambda request: "staff", mask: bool = False):
    """The staff desk as a gr.Blocks, not launched; `staff_name(request)` says who is sending a reply; `mask`:
    personal data shown masked (a desk without the staff login)."""
    import gradio as gr

    desk = StaffDesk(bot, mask=mask)
    with gr.Blocks(title="ShopBot — staff desk") as app:
        gr.Markdown("## Staff desk\nPick a conversation; check the drafted reply (each sentence shows the facts "
                    "behind it, red ones could not be checked), edit it and send it to the customer.")
        with gr.Row():
            with gr.Column(scale=3):
                queue = gr.Dataframe(headers=QUEUE_COLUMNS, label="Waiting for a person", interactive=False,
                                     elem_id="staff-queue")
                conversations = gr.Dataframe(headers=CONVERSATION_COLUMNS, label="Open conversations",
                                             interactive=False, elem_id="staff-conversations")
                refresh = gr.Button("Refresh")
            with gr.Column(scale=4):
                session = gr.Dropdown(label="Conversation", choices=[], allow_custom_value=True,
                                      elem_id="staff-session")
                transcript = gr.Chatbot(label="Transcript", show_label=False, height=300, latex_delimiters=[],
                                        feedback_options=None, allow_tags=False)
                evidence = gr.HTML(label="Draft with evidence", elem_id="staff-draft")
                reply = gr.Textbox(label="Reply to send (edit freely)", lines=4, elem_id="staff-reply")
                with gr.Row():
                    redraft = gr.Button("Draft again")
                    send = gr.Button("Send to customer", variant="primary", elem_id="staff-send")
                status = gr.Markdown("", elem_id="staff-status")

        def lists(current):
            sessions = desk.sessions()
            chosen = current if current in sessions else (sessions[0] if sessions else None)
            return desk.queue_rows(), desk.conversation_rows(), gr.update(choices=sessions, value=chosen)

        def open_conversation(session_id):
            draft_html, text = desk.draft(session_id)
            return desk.transcript(session_id), draft_html, text, ""

        def pick(rows, event: gr.SelectData):
            row = event.index[0] if isinstance(event.index, (list, tuple)) else event.index
            value = rows.iloc[row, 0] if hasattr(rows, "iloc") else rows[row][0]
            return str(value)

        def pick_ticket(rows, event: gr.SelectData):
            row = event.index[0] if isinstance(event.index, (list, tuple)) else event.index
            return str(rows.iloc[row, 1] if hasattr(rows, "iloc") else rows[row][1])

        def send_reply(session_id, text, request: gr.Request):
            message = desk.send(session_id, text, staff=staff_name(request))
            return message, desk.transcript(session_id)

        app.load(lists, session, [queue, conversations, session])
        refresh.click(lists, session, [queue, conversations, session])
        session.change(open_conversation, session, [transcript, evidence, reply, status])
        redraft.click(open_conversation, session, [transcript, evidence, reply, status])
        conversations.select(pick, conversations, session)
        queue.select(pick_ticket, queue, session)
        send.click(send_reply, [session, reply], [status, transcript])
    return app

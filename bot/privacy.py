"""What the shop knows about a customer, shown to them plainly, and "forget me".

`customer_data` gathers the account (payment methods masked), order summaries and what the assistant stored;
`render_customer_data` writes it as chat text, and `customer_facts` as facts for the claim checker and citations.
`forget_customer` erases what the assistant stored (gone from the files too); the shop's account and orders
stay, as its records of sales. `mask_personal` hides emails, street addresses and card digits in text that
staff-wide views and logs show. Reached through `Bot.customer_data`, `Bot.forget`; tests: tests/bot/test_privacy_*,
tests/security/test_security_pii.py.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from knowledge.errors import NotFound
from trustgen.types import Fact

from .memory import ConversationStore

KEPT_RECORDS_NOTE = ("Your account and your orders stay with the shop: they are its records of sales and "
                     "payments. Ask a person on our team if you want your account closed.")
MAX_STATE_VALUE_CHARS = 200  # a remembered value longer than this is shortened in the rendered text

# What `mask_personal` hides. Street words cover the demo shop's 500 addresses and common US/UK forms; a test
# runs every email and address of the demo shop through it.
_EMAIL = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+")
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")  # 13-19 digits, spaces or dashes between
_ENDING = re.compile(r"\b(ending|ends)( in| with)?( \*+| x+)? ?\d{4}\b", re.I)
_STREET = re.compile(
    r"\b\d{1,6}(?:-\d+)?\s+(?:[A-Za-z0-9.'-]+\s+){0,4}(?:street|st|avenue|ave|road|rd|drive|dr|lane|ln|way|"
    r"boulevard|blvd|court|ct|place|pl|circle|cir|terrace|ter|parkway|pkwy|highway|hwy|trail|trl|square|sq|"
    r"crescent|close|row|walk|alley|loop|broadway|plaza|highway)\b\.?", re.I)
_UNIT = re.compile(r"\b(?:suite|ste|apt|apartment|unit|flat|floor|room)\.?\s*#?\s*\w+\b", re.I)
_STATE_ZIP = re.compile(r"\b[A-Z]{2}\s+\d{5}(?:-\d{4})?\b")
_ZIP = re.compile(r"(\b(?:zip|postcode|postal code)(?: code)?(?: is)?:?\s*)\d{5}(?:-\d{4})?\b", re.I)


def mask_personal(text: str) -> str:
    """`text` with emails, street lines, unit numbers, state + zip, and card digits replaced by [email],
    [address], [card]; a "card ending in 1234" keeps the words and loses the digits. Never raises on a str."""
    if not text:
        return text
    out = _EMAIL.sub("[email]", text)
    out = _CARD.sub("[card]", out)
    out = _ENDING.sub(lambda m: m.group(0)[:-4] + "****", out)
    out = _STREET.sub("[address]", out)
    out = _UNIT.sub("[address]", out)
    out = _STATE_ZIP.sub("[address]", out)
    return _ZIP.sub(lambda m: m.group(1) + "[address]", out)


def customer_data(store, memory: ConversationStore, user_id: str) -> dict:
    """Everything the shop and the assistant hold about `user_id`, as plain JSON-ready values."""
    try:
        user = store.get_user(user_id)
    except NotFound:
        user = None
    profile = None if user is None else {
        "name": f"{user['name']['first_name']} {user['name']['last_name']}",
        "email": user["email"],
        "address": user["address"],
        "payment_methods": [_payment_summary(m) for m in user["payment_methods"].values()],
    }
    orders = [] if user is None else [_order_summary(o) for o in store.orders_of(user_id)]
    conversations, feedback = [], 0
    for session_id in memory.sessions_of(user_id):
        session = memory.find_session(session_id)
        if session is None:  # erased by another request meanwhile
            continue
        turns = memory.history(session_id)
        feedback += sum(1 for t in turns if t.helpful is not None)
        conversations.append({
            "session_id": session_id, "status": session.status, "personalise": session.personalise,
            "created": session.created, "updated": session.updated, "remembered": session.state,
            "turns": [{"role": t.role, "text": t.text, "created": t.created, "helpful": t.helpful} for t in turns],
        })
    tickets = [{"ticket_id": t.ticket_id, "session_id": t.session_id, "reason": t.reason, "summary": t.summary,
                "status": t.status, "created": t.created}
               for t in memory.tickets(status=None) if t.user_id == user_id]
    return {"user_id": user_id, "profile": profile, "orders": orders, "conversations": conversations,
            "tickets": tickets, "feedback": feedback}


def customer_facts(store, data: dict) -> list[Fact]:
    """`customer_data(...)` as facts for the claim checker and citations: the account, each order (with the full
    record from `store`, so item names are known as names), and what the assistant stored."""
    uid = data["user_id"]
    facts = []
    profile = data.get("profile")
    if profile:
        text = "\n".join(_profile_lines(profile))
        facts.append(Fact(f"customer:{uid}", "customer", text,
                          {"name": profile["name"], "email": profile["email"], "address": profile["address"],
                           "payment_methods": profile["payment_methods"],
                           "orders": [o["order_id"] for o in data.get("orders") or []]}))
    records = {o["order_id"]: o for o in store.orders_of(uid)} if data.get("orders") else {}
    for order in data.get("orders") or []:
        record = records.get(order["order_id"], {})
        facts.append(Fact(f"order:{order['order_id']}", "order", _order_line(order),
                          {**record, **order, "items": record.get("items", order["items"])}))
    memory_text = "\n".join(_memory_lines(data))
    facts.append(Fact(f"memory:{uid}", "customer", memory_text,
                      {"conversations": len(data.get("conversations") or []), "tickets": len(data.get("tickets") or []),
                       "feedback": data.get("feedback", 0)}))
    return facts


def forget_customer(memory: ConversationStore, user_id: str) -> dict[str, int]:
    """Erase the customer's conversations, turns, tickets, feedback and preferences; returns what was erased."""
    return memory.erase_user(user_id)


def forget_message(counts: dict[str, int]) -> str:
    """The reply after `forget_customer`: what was erased, and what the shop keeps and why."""
    erased = (f"I have erased what I stored about you: {_count(counts.get('sessions', 0), 'conversation')}, "
              f"{_count(counts.get('turns', 0), 'message')}, {_count(counts.get('tickets', 0), 'hand-over ticket')} "
              f"and {_count(counts.get('feedback', 0), 'rating')}.")
    return f"{erased} {KEPT_RECORDS_NOTE}"


def render_customer_data(data: dict) -> str:
    """`customer_data(...)` as plain text for the chat, in the order a customer would look for it."""
    profile = data.get("profile")
    lines = _profile_lines(profile) if profile else ["The shop has no account with your id."]
    orders = data.get("orders") or []
    lines += ["", f"Your orders ({len(orders)}):" if orders else "You have no orders with the shop."]
    lines += [f"- {_order_line(order)}" for order in orders]
    lines += ["", *_memory_lines(data), "",
              "You can ask me to forget you: I will erase the conversations, requests and ratings above. "
              + KEPT_RECORDS_NOTE]
    return "\n".join(lines)


def _profile_lines(profile: dict) -> list[str]:
    lines = ["Your account:", f"- Name: {profile['name']}", f"- Email: {profile['email']}",
             f"- Default address: {_address(profile['address'])}"]
    return lines + [f"- Payment method: {m['shown']}" for m in profile["payment_methods"]]


def _order_line(order: dict) -> str:
    return f"{order['order_id']} ({order['status']}): {', '.join(order['items'])}; total ${order['total']:.2f}"


def _memory_lines(data: dict) -> list[str]:
    conversations = data.get("conversations") or []
    lines = [f"What I have stored from our conversations ({len(conversations)}):" if conversations
             else "I have not stored any conversation with you."]
    for conv in conversations:
        users = sum(1 for t in conv["turns"] if t["role"] == "user")
        lines.append(f"- Conversation started {_when(conv['created'])}: {_count(len(conv['turns']), 'message')} "
                     f"({users} from you); personalised suggestions {'on' if conv['personalise'] else 'off'}.")
        remembered = {k: v for k, v in (conv.get("remembered") or {}).items() if v not in (None, "", [], {})}
        if remembered:
            lines.append("  Remembered for it: " + "; ".join(f"{k}: {_short(v)}" for k, v in remembered.items()))
    tickets = data.get("tickets") or []
    if tickets:
        lines += ["", f"Requests to talk to a person ({len(tickets)}):"]
        lines += [f"- {t['reason']} ({t['status']}, {_when(t['created'])})" for t in tickets]
    return lines + ["", f"Ratings you gave my replies: {data.get('feedback', 0)}."]


def _payment_summary(method: dict) -> dict:
    """A payment method as shown to its owner: never the full number (the shop stores only the last four)."""
    source = method.get("source", "")
    if source == "credit_card":
        shown = f"{str(method.get('brand', 'card')).title()} ending in {method.get('last_four', '????')}"
    elif source == "gift_card":
        shown = f"Gift card, balance ${float(method.get('balance', 0.0)):.2f}"
    else:
        shown = source.replace("_", " ").title() or "Unknown"
    out = {"id": method.get("id", ""), "source": source, "shown": shown}
    if "balance" in method:
        out["balance"] = method["balance"]
    return out


def _order_summary(order: dict) -> dict:
    return {"order_id": order["order_id"], "status": order["status"],
            "items": [item["name"] for item in order["items"]],
            "total": round(sum(float(item["price"]) for item in order["items"]), 2)}


def _address(address: dict) -> str:
    parts = [address.get(k, "") for k in ("address1", "address2", "city", "state", "zip", "country")]
    return ", ".join(p for p in parts if p)


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _short(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= MAX_STATE_VALUE_CHARS else text[:MAX_STATE_VALUE_CHARS - 3] + "..."


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"

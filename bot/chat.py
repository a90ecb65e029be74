"""`shopbot chat`: talk to the assistant in the terminal, one line per message.

Shows each reply with its citations, suggested products (reason, price, sponsored label) and any notice.
Type /quit to leave, /person for a person, /forget to erase what the assistant stored about you.
"""
from __future__ import annotations

import sys
import uuid
from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("--session", default=None, help="continue this conversation (default: a new one)")
    parser.add_argument("--no-model", action="store_true", help="send exact templates only (fast, no model)")
    parser.add_argument("--sources", action="store_true", help="show the facts each reply rests on")


def render(reply, sources: bool = False) -> str:
    lines = [reply.text]
    for p in reply.products:
        label = " [sponsored]" if p.sponsored else ""
        lines.append(f"  * {p.name} ({', '.join(f'{k}: {v}' for k, v in p.options.items())}) "
                     f"${p.price:,.2f}{label} - {p.reason}")
    if reply.notice:
        lines.append(f"  (note: {reply.notice})")
    if sources and reply.citations:
        lines += [f"  [{c.id}] {c.text[:120]}" for c in reply.citations]
    return "\n".join(lines)


def run(args) -> int:
    from .agent import Bot
    from .config import BotConfig
    data_dir = Path(args.data_dir) if getattr(args, "data_dir", None) else None
    config = BotConfig(use_model=not getattr(args, "no_model", False))
    bot = Bot.load(data_dir, config=config)
    session = getattr(args, "session", None) or f"cli-{uuid.uuid4().hex[:8]}"
    print(f"ShopBot (conversation {session}). /quit to leave, /person for a person, /forget to erase your data.")
    try:
        for line in sys.stdin if not sys.stdin.isatty() else iter(lambda: input("you> "), None):
            line = line.rstrip("\n")
            if line.strip() == "/quit":
                break
            if line.strip() == "/person":
                reply = bot.request_handover(session)
            elif line.strip() == "/forget":
                reply = bot.forget(session)
            else:
                reply = bot.respond(line, session_id=session)
            print("shop> " + render(reply, getattr(args, "sources", False)), flush=True)
    except (EOFError, KeyboardInterrupt):
        print()
    finally:
        bot.close()
    return 0

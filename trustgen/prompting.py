"""Build the chat messages for a grounded reply: system prompt, the facts one per line with their ids, history.

The wording lives in `trustgen/prompts/reply.yaml` so it can be reviewed without reading Python. This module
only formats; it does not tokenize or cut to length (`trustgen.generate` fits the prompt to the model's budget,
dropping the oldest history first and never the system prompt or the facts).
Used by the writer at answer time and by the training-set builder, so both see exactly the same prompt.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

import yaml

from .types import Fact, ReplyRequest

MAX_FACT_CHARS = 600  # one fact line; a long passage is cut so a single fact cannot fill the prompt
MAX_HISTORY_TURNS = 6  # recent turns kept; older ones add tokens (time) and rarely change the answer


@lru_cache(maxsize=None)
def prompt_wording(name: str = "reply") -> dict:
    """The wording file `trustgen/prompts/<name>.yaml` as a dict (cached)."""
    text = resources.files("trustgen").joinpath("prompts", f"{name}.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


SYSTEM_PROMPT: str = prompt_wording()["system"]


def fact_line(fact: Fact) -> str:
    text = " ".join(str(fact.text).split())
    if len(text) > MAX_FACT_CHARS:
        text = text[:MAX_FACT_CHARS].rsplit(" ", 1)[0] + " ..."
    return prompt_wording()["fact_line"].format(id=fact.id, text=text)


def facts_block(facts) -> str:
    wording = prompt_wording()
    lines = [fact_line(f) for f in facts] or [wording["no_facts"]]
    return "\n".join([wording["facts_header"], *lines])


def shown_facts(facts, must_state: tuple[str, ...] = ()) -> list:
    """The facts the model sees: not the hidden kinds, and, when the variants themselves are listed, not the
    counts of them (the model copied "Water Bottle variants with ...: 2" instead of answering). The claim check
    still gets every fact."""
    wording = prompt_wording()
    hidden = set(wording.get("hidden_kinds", ()))
    shown = [f for f in facts if f.kind not in hidden]
    prefixes = tuple(wording.get("hidden_beside_items", ()))
    if prefixes and "count" not in must_state and any(str(f.id).startswith("item:") for f in shown):
        shown = [f for f in shown if not str(f.id).startswith(prefixes)]
    return shown


def system_message(facts, must_state: tuple[str, ...] = ()) -> dict:
    wording = prompt_wording()
    content = f"{SYSTEM_PROMPT}\n\n{facts_block(shown_facts(facts, must_state))}"
    names = [wording["must_state_names"].get(k, k) for k in dict.fromkeys(must_state)]
    if names:
        what = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        content += "\n\n" + wording["must_state"].format(what=what)
    return {"role": "system", "content": content}


def build_messages(request: ReplyRequest) -> list[dict]:
    """Chat messages for the SmolLM2 chat template: system (instructions + facts), recent history, the message.

    The first message is always the system message and the last is always the customer's message; history
    turns with an unknown role or empty text are skipped.
    """
    messages = [system_message(request.facts, tuple(request.must_state))]
    for role, text in tuple(request.history)[-MAX_HISTORY_TURNS:]:
        if role in ("user", "assistant") and str(text).strip():
            messages.append({"role": role, "content": str(text).strip()})
    message = str(request.message or "").strip() or prompt_wording()["empty_message"]
    if request.must_state:  # said again beside the question, where the small model attends most
        message += "\n\n" + messages[0]["content"].rsplit("\n\n", 1)[-1]
    messages.append({"role": "user", "content": message})
    return messages

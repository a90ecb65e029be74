"""How many chat replies the model words and the claim check lets through as written, on fresh questions.

Plays each question of bench/questions.json (written apart from the code: catalog and policy questions in the
words of customers) as the first message of a new conversation with the assistant on a copy of the demo shop,
and records every reply the writer was asked to word with the model: sent as written, repaired, or replaced by
the template; plus the unsupported claims left in what was sent (the target is 0). Replies that are templates by
design (confirmations, hand-over) are counted apart. Not a latency bench: see bench/trust_latency.py.

    nice -n 10 .venv/bin/python bench/reply_quality.py [--limit 60] [--adapter none] [--out replies.json]
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

QUESTIONS = Path(__file__).with_name("questions.json")


class RecordingWriter:
    """Wraps the bot's writer; keeps each request and the checked reply it produced."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    @property
    def healthy(self):
        return getattr(self.inner, "healthy", True)

    def write(self, request):
        checked = self.inner.write(request)
        self.calls.append((request, checked))
        return checked

    def stream(self, request):
        from trustgen.writer import pieces
        yield from pieces(self.write(request).text)

    def __getattr__(self, name):  # anything else the bot asks of a writer
        return getattr(self.inner, name)


class RecordingGenerator:
    """Wraps the writer's generator; keeps the text the model wrote for each request (before the check)."""

    def __init__(self, inner):
        self.inner, self.texts = inner, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def generate(self, messages):
        text = self.inner.generate(messages)
        self.texts.append(text)
        return text

    def stream(self, messages):
        parts, source = [], self.inner.stream(messages)
        try:
            while True:
                try:
                    piece = next(source)
                except StopIteration as stop:
                    return stop.value
                parts.append(piece)
                yield piece
        finally:
            source.close()
            self.texts.append("".join(parts))


def outcome(request, checked) -> str:
    if not request.use_model:
        return "template by design"
    if checked.used_model and not checked.fell_back:
        return "repaired" if checked.repaired else "as written"
    return "template"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="questions to play (default all)")
    parser.add_argument("--adapter", default="default", help="'default' (the shop adapter), 'none' or a folder")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--no-model", action="store_true", help="template writer (checks the plumbing only)")
    parser.add_argument("--time-limit", type=float, default=None,
                        help="seconds per generation (default WriterConfig's); raise it on a busy machine, where the "
                             "default cuts replies that an idle one finishes")
    parser.add_argument("--out", help="write every question, model text and reply as JSON here")
    args = parser.parse_args(argv)

    import torch

    from bot import Bot
    from knowledge.paths import default_data_dir
    from trustgen.writer import TemplateWriter, WriterConfig, load_default_writer

    torch.set_num_threads(args.threads)
    questions = json.loads(QUESTIONS.read_text(encoding="utf-8"))
    questions = questions[:args.limit] if args.limit else questions
    data = Path(tempfile.mkdtemp(prefix="shopbot-replies-")) / "shop"
    shutil.copytree(default_data_dir(), data)
    config = WriterConfig(adapter_path=None if args.adapter == "none" else args.adapter)
    if args.time_limit:
        config = replace(config, time_limit_s=args.time_limit)
    if hasattr(config, "retry_after_s"):
        config = replace(config, retry_after_s=0.0)  # every question tries the model: this measures its replies
    inner = TemplateWriter() if args.no_model else load_default_writer(config=config)
    if getattr(inner, "generator", None) is not None:
        inner.generator = RecordingGenerator(inner.generator)
    writer = RecordingWriter(inner)
    bot = Bot.load(data_dir=data, writer=writer)
    bot.respond("How much is the Water Bottle?", session_id="bench-warm-up")  # loads the model; not measured
    rows = []
    for i, q in enumerate(questions):
        writer.calls.clear()
        drafts = getattr(inner.generator, "texts", []) if getattr(inner, "generator", None) is not None else []
        drafts.clear()
        t0 = time.perf_counter()
        reply = bot.respond(q["question"], session_id=f"bench-{i}")
        seconds = time.perf_counter() - t0
        outs = [outcome(r, c) for r, c in writer.calls]
        worded = [o for o in outs if o != "template by design"]
        rows.append({"question": q["question"], "kind": q.get("kind", ""), "seconds": round(seconds, 2),
                     "outcome": worded[-1] if worded else (outs[-1] if outs else "no writer call"),
                     "unsupported": reply.claims_unsupported, "reply": reply.text, "model_text": list(drafts),
                     "template": writer.calls[-1][0].template if writer.calls else ""})
        print(f"{rows[-1]['outcome']:<18} {seconds:5.1f} s  {q['question'][:60]!r}\n    {reply.text[:140]!r}")
    asked = [r for r in rows if r["outcome"] in ("as written", "repaired", "template")]
    count = {k: sum(r["outcome"] == k for r in rows) for k in
             ("as written", "repaired", "template", "template by design", "no writer call")}
    figures = {"questions": len(rows), "model_asked": len(asked), **count,
               "sent_as_written_share": round(count["as written"] / len(asked), 3) if asked else 0.0,
               "model_worded_share": round((count["as written"] + count["repaired"]) / len(asked), 3) if asked else 0.0,
               "unsupported_claims": sum(r["unsupported"] for r in rows),
               "median_seconds": statistics.median(r["seconds"] for r in rows) if rows else 0.0,
               "by_kind": {k: {o: sum(1 for r in rows if r["kind"] == k and r["outcome"] == o)
                               for o in ("as written", "repaired", "template")}
                           for k in sorted({r["kind"] for r in rows})}}
    print(json.dumps(figures, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps({"figures": figures, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

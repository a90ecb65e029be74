"""Whole turns through `Bot.stream`, per engine: turn latency and time to the first checked sentence, solo and with
two conversations at once, over the customer questions in bench/questions.json (written for this bench, not taken
from the FAQ, the tests or the training data).

Each engine gets its own bot on a fresh copy of the demo shop (`shopbot setup`'s data folder) and one warm-up turn.
Solo: every question once, one after another, each in a new conversation. Concurrent: two conversations at once,
each asking every question (the second starts half-way down the list), and each turn's time is compared with the
same question's solo time (on turns where the model generated both times). "Model asked": the bot let the model
word the reply; "model-worded": the model's checked reply was sent (else the template was).

    nice -n 10 .venv/bin/python bench/turn_latency.py --engines ct2,transformers --out runs/turn_latency.json
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

QUESTIONS = Path(__file__).with_name("questions.json")
_writes: dict[str, list] = {}  # message -> what the writer did for it (turns run in Bot.stream's worker threads)
_writes_lock = threading.Lock()


def quantile(values, q: float) -> float | None:
    values = sorted(values)
    if not values:
        return None
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]


def recording_writer(engine: str, threads: int, adapter: str = "default"):
    from trustgen.writer import GroundedWriter, ModelGenerator, WriterConfig

    class Recording(GroundedWriter):
        def write(self, request):
            reply = super().write(request)
            with _writes_lock:
                _writes.setdefault(" ".join(request.message.split()), []).append(
                    (reply.used_model, reply.fell_back, request.use_model))
            return reply

    # retry_after_s=0: a time-out under load must not switch the model off for the turns that follow (the app
    # waits a minute); every turn asks the model, so its latency is what is measured
    config = WriterConfig(engine=engine, threads=threads, retry_after_s=0.0,
                          adapter_path=None if adapter == "none" else adapter)
    return Recording(ModelGenerator(config), config)


def one_turn(bot, question: str, session: str) -> dict:
    started = time.perf_counter()
    first, reply = None, None
    for piece in bot.stream(question, session_id=session):
        if isinstance(piece, str):
            first = first if first is not None else time.perf_counter() - started
        else:
            reply = piece
    total = time.perf_counter() - started
    with _writes_lock:
        writes = _writes.pop(" ".join(question.split()), [])
    return {"total_s": total, "first_piece_s": first if first is not None else total,
            "model_worded": any(used for used, _, _ in writes), "model_asked": any(asked for _, _, asked in writes),
            "fell_back": any(f for _, f, _ in writes), "text": reply.text if reply else ""}


def run_engine(engine: str, questions: list[dict], threads: int, source: Path, adapter: str = "default") -> dict:
    from bot import Bot
    work = Path(tempfile.mkdtemp(prefix="turn-latency-"))
    shutil.copytree(source, work / "shop", ignore=shutil.ignore_patterns("*.db-shm", "*.db-wal", "sessions*"))
    bot = Bot.load(work / "shop", writer=recording_writer(engine, threads, adapter))
    try:
        one_turn(bot, "how much is the blue cotton t-shirt in size M?", "warm-up")  # loads every model once
        solo = [dict(one_turn(bot, q["question"], f"solo-{i}"), kind=q["kind"], i=i) for i, q in enumerate(questions)]
        concurrent: list[dict] = []
        half = len(questions) // 2

        def conversation(name: str, order: list[int]):
            for i in order:
                concurrent.append(dict(one_turn(bot, questions[i]["question"], f"{name}-{i}"), i=i, conv=name))

        orders = {"a": list(range(len(questions))), "b": list(range(half, len(questions))) + list(range(half))}
        workers = [threading.Thread(target=conversation, args=(n, o)) for n, o in orders.items()]
        started = time.perf_counter()
        [w.start() for w in workers]
        [w.join() for w in workers]
        wall = time.perf_counter() - started
        health = bot.health().get("model")
    finally:
        bot.close()
        shutil.rmtree(work, ignore_errors=True)
    return {"solo": solo, "concurrent": concurrent, "concurrent_wall_s": wall, "health": health}


def summary(result: dict) -> dict:
    solo, conc = result["solo"], result["concurrent"]
    worded = [r for r in solo if r["model_worded"]]
    asked = [r for r in solo if r["model_asked"]]
    solo_by_i = {r["i"]: r for r in solo}
    # Concurrency is judged on turns where the model generated, alone and with company (the same work).
    pairs = [(r, solo_by_i[r["i"]]) for r in conc if r["model_asked"] and solo_by_i[r["i"]]["model_asked"]]
    ratios = [c["total_s"] / s["total_s"] for c, s in pairs]
    out = {
        "turns": len(solo), "model_worded": len(worded), "model_asked": sum(r["model_asked"] for r in solo),
        "template_after_model": sum(r["model_asked"] and not r["model_worded"] for r in solo),
        "turn_p50_s": quantile([r["total_s"] for r in solo], 0.5),
        "turn_p95_s": quantile([r["total_s"] for r in solo], 0.95),
        "asked_turn_p50_s": quantile([r["total_s"] for r in asked], 0.5),
        "asked_turn_p95_s": quantile([r["total_s"] for r in asked], 0.95),
        "worded_turn_p50_s": quantile([r["total_s"] for r in worded], 0.5),
        "worded_turn_p95_s": quantile([r["total_s"] for r in worded], 0.95),
        "first_sentence_p50_s": quantile([r["first_piece_s"] for r in worded], 0.5),
        "first_sentence_p95_s": quantile([r["first_piece_s"] for r in worded], 0.95),
        "concurrent_pairs": len(pairs),
        "concurrent_asked_p50_s": quantile([c["total_s"] for c, _ in pairs], 0.5),
        "solo_same_turns_p50_s": quantile([s["total_s"] for _, s in pairs], 0.5),
        "concurrent_ratio_median": statistics.median(ratios) if ratios else None,
        "concurrent_ratio_p95": quantile(ratios, 0.95),
        "concurrent_wall_s": result["concurrent_wall_s"], "health": result["health"],
    }
    return out


def fmt(value, unit: str = " s") -> str:
    return "-" if value is None else f"{value:.2f}{unit}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="ct2,transformers", help="comma-separated: ct2, llama-cpp, transformers, openai")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions (default: all)")
    parser.add_argument("--threads", type=int, default=1, help="cores per generation")
    parser.add_argument("--data-dir", default=None, help="shop to copy (default: the setup's demo shop)")
    parser.add_argument("--adapter", default="default",
                        help="'default' (the shop adapter), 'none' or an adapter folder (an earlier one, to compare)")
    parser.add_argument("--out", default=None, help="also write every turn and the figures as JSON here")
    args = parser.parse_args(argv)

    from knowledge.paths import default_data_dir
    source = Path(args.data_dir) if args.data_dir else default_data_dir()
    if not (source / "shop.db").is_file():
        parser.error(f"no shop in {source}: run `shopbot setup` first")
    questions = json.loads(QUESTIONS.read_text(encoding="utf-8"))[:args.limit]
    results, figures = {}, {}
    for engine in [e.strip() for e in args.engines.split(",") if e.strip()]:
        results[engine] = run_engine(engine, questions, args.threads, source, args.adapter)
        figures[engine] = summary(results[engine])
        print(f"{engine}: done", flush=True)
    print(f"\n{len(questions)} questions from {QUESTIONS.name}; solo, then two conversations at once; "
          f"{args.threads} thread(s) per generation\n")
    print("| engine | turns: model asked / model-worded | all turns p50 / p95 | model asked p50 / p95 "
          "| model-worded p50 / p95 | first checked sentence p50 / p95 | two at once: p50 (solo p50, same turns) "
          "| per-turn ratio median / p95 |")
    print("|---|---|---|---|---|---|---|---|")
    for engine, f in figures.items():
        print(f"| {engine} | {f['model_asked']} / {f['model_worded']} of {f['turns']} "
              f"| {fmt(f['turn_p50_s'])} / {fmt(f['turn_p95_s'])} | {fmt(f['asked_turn_p50_s'])} / "
              f"{fmt(f['asked_turn_p95_s'])} | {fmt(f['worded_turn_p50_s'])} / {fmt(f['worded_turn_p95_s'])} "
              f"| {fmt(f['first_sentence_p50_s'])} / {fmt(f['first_sentence_p95_s'])} "
              f"| {fmt(f['concurrent_asked_p50_s'])} ({fmt(f['solo_same_turns_p50_s'])}) "
              f"| {fmt(f['concurrent_ratio_median'], 'x')} / {fmt(f['concurrent_ratio_p95'], 'x')} |")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"figures": figures, "turns": results}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`shopbot eval scenarios`: scripted customers play tau-bench retail tasks against the assistant, end to end.

Each run plays one task on a fresh copy of the demo shop (its own data dir). It passes when the shop's end state
equals the gold actions applied to another fresh copy (actions the store refuses change nothing, as in tau-bench)
and every expected output string appears in the assistant's replies. pass^1 is the mean success over all runs;
pass^k counts a task only if all k runs pass. The customer (bot/simulator.py) reads only the replies' text and
speaks `--style plain` (structured sentences, the same every run) or `--style casual` (reworded in every repeat).
Every reply is claim-checked against the facts it was built from; unsupported claims are counted.
Tasks: bot/data/tau_bench (MIT), all dev + a seeded train sample. Not a test of free conversation with people.
Run: `shopbot eval scenarios [--style casual] [--limit N] [--workers 2] [--out FILE]` (`python -m bot.evaluate`).
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from knowledge.errors import ActionError
from knowledge.store import Store
from .simulator import STYLES, Customer

MAX_TURNS = 60
TRAIN_SAMPLE = 100
REPEATS = 4
SEED = 0
MAX_WORKERS = 2  # the evaluation shares a small machine: at most two processes


@dataclass
class Run:
    task: str
    passed: bool
    turns: int
    unsupported: int
    checked: int
    why: str = ""
    transcript: list = field(default_factory=list)
    repeat: int = 0
    category: str = ""  # for a failed run: the first thing that went wrong, as the customer saw it


def load_tasks(name: str) -> list[dict]:
    return json.loads((resources.files("bot") / "data" / "tau_bench" / name).read_text(encoding="utf-8"))


def expected_state(pristine: Path, workdir: Path, task: dict) -> dict:
    path = workdir / "expected.db"
    shutil.copy(pristine, path)
    store = Store(path)
    try:
        for action in task["actions"]:
            kw = dict(action["kwargs"])
            try:
                if action["name"] in ("modify_pending_order_address", "modify_user_address"):
                    key = "order_id" if "order_id" in kw else "user_id"
                    ident = kw.pop(key)
                    getattr(store, action["name"])(ident, kw)
                else:
                    getattr(store, action["name"])(**kw)
            except ActionError:
                pass  # the tool refuses and nothing changes
        return store.export()
    finally:
        store.close()


def play(task: dict, pristine: Path, classifier, writer, keep_transcript=False, style: str = "plain",
         repeat: int = 0) -> Run:
    """One run of a task: the customer of `style` (reworded by `repeat`) against a bot on a fresh shop."""
    from .agent import Bot
    workdir = Path(tempfile.mkdtemp(prefix="shopbot-scenario-"))
    try:
        shutil.copy(pristine, workdir / "shop.db")
        bot = Bot.load(workdir, writer=writer, classifier=classifier)
        customer = Customer(task, bot.store, style=style, repeat=repeat)  # reads the account before any change
        replies, transcript, unsupported, checked = [], [], 0, 0
        message = customer.first_message()
        turns = 0
        while message is not None and turns < MAX_TURNS:
            reply = bot.respond(message, session_id="scenario")
            turns += 1
            replies.append(reply.text)
            unsupported += reply.claims_unsupported
            checked += reply.claims_checked
            said = message
            message = customer.answer(reply.text)  # the reply's words only, as a person reads them
            transcript.append({"customer": said, "assistant": reply.text, "heard": customer.heard[-1].kind})
        got = bot.store.export()
        bot.close()
        want = expected_state(pristine, workdir, task)
        outputs_ok = all(any(o.lower() in r.lower() for r in replies) for o in task.get("outputs", []))
        why = "" if got == want else _diff(want, got)
        if not outputs_ok:
            why += " missing output"
        passed = got == want and outputs_ok
        category = "" if passed else (customer.events[0] if customer.events else
                                      "end state differs, nothing seen in the dialogue" if got != want else
                                      "an expected output never said")
        return Run(task.get("id", ""), passed, turns, unsupported, checked, why.strip(),
                   transcript if keep_transcript or not passed else [], repeat, category)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _diff(want: dict, got: dict) -> str:
    out = []
    for table in ("orders", "users", "products"):
        for key in want[table]:
            if want[table][key] != got[table].get(key):
                out.append(f"{table[:-1]} {key}")
    return "state differs: " + ", ".join(out[:4])


SETS = ("dev", "train-sample")


def select(limit: int | None, train_sample: int, seed: int, only=SETS) -> dict[str, list[dict]]:
    dev = load_tasks("tasks_dev.json")
    train = load_tasks("tasks_train.json")
    for n, t in enumerate(dev):
        t["id"] = f"dev-{n}"
    for n, t in enumerate(train):
        t["id"] = f"train-{n}"
    sample = sorted(random.Random(seed).sample(range(len(train)), min(train_sample, len(train))))
    sets = {"dev": dev, "train-sample": [train[i] for i in sample]}
    sets = {k: v for k, v in sets.items() if k in only}
    if limit:
        sets = {k: v[:limit] for k, v in sets.items()}
    return sets


_WORKER: dict = {}


def _setup_worker(classifier=None, writer=None) -> None:
    """Load the shared, read-only parts once per process: the intent classifier and the writer."""
    import torch
    torch.set_num_threads(1)  # one short sentence at a time: extra threads only contend on a busy machine
    from .answers import default_writer
    from .intents import IntentClassifier
    _WORKER["classifier"] = classifier or IntentClassifier.load()
    _WORKER["writer"] = writer or _template_writer() or default_writer()


def _play_job(job) -> Run:
    task, pristine, style, repeat = job
    return play(task, Path(pristine), _WORKER["classifier"], _WORKER["writer"], style=style, repeat=repeat)


def evaluate(limit=None, repeats=REPEATS, train_sample=TRAIN_SAMPLE, seed=SEED, writer=None, classifier=None,
             progress=True, style: str = "plain", workers: int = 1, sets=SETS) -> dict:
    from .answers import PlainWriter
    if style not in STYLES:
        raise ValueError(f"unknown customer style {style!r}: choose one of {', '.join(STYLES)}")
    workers = max(1, min(MAX_WORKERS, workers))
    tmp = Path(tempfile.mkdtemp(prefix="shopbot-pristine-"))
    pristine = tmp / "shop.db"
    Store.create(pristine)[0].close()
    sets = select(limit, train_sample, seed, sets)
    report = {"style": style, "repeats": repeats, "seed": seed, "train_sample": train_sample, "sets": {},
              "failures": []}
    start = time.perf_counter()
    try:
        jobs = [(task, str(pristine), style, r) for tasks in sets.values() for task in tasks for r in range(repeats)]
        if workers == 1:
            _setup_worker(classifier, writer)
            results = map(_play_job, jobs)
        else:  # fresh interpreters (spawn): nothing of torch's thread pools is inherited
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor
            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_setup_worker)
            results = pool.map(_play_job, jobs, chunksize=repeats)
        by_task: dict[str, list[Run]] = {}
        for run in results:
            by_task.setdefault(run.task, []).append(run)
            if len(by_task[run.task]) == repeats and progress:
                runs = by_task[run.task]
                print(f"  {run.task}: {sum(r.passed for r in runs)}/{repeats}", flush=True)
        if workers > 1:
            pool.shutdown()
        report["claim_checker"] = not isinstance(_WORKER.get("writer"), PlainWriter) if workers == 1 else True
        for name, tasks in sets.items():
            runs_per_task = [by_task[t["id"]] for t in tasks]
            all_runs = [r for rs in runs_per_task for r in rs]
            report["failures"] += [{"task": r.task, "repeat": r.repeat, "why": r.why, "category": r.category,
                                    "transcript": r.transcript} for r in all_runs if not r.passed]
            report["sets"][name] = {
                "tasks": len(tasks),
                "pass^1": sum(r.passed for r in all_runs) / max(1, len(all_runs)),
                f"pass^{repeats}": sum(all(r.passed for r in rs) for rs in runs_per_task) / max(1, len(tasks)),
                "mean_turns": sum(r.turns for r in all_runs) / max(1, len(all_runs)),
                "claims_checked": sum(r.checked for r in all_runs),
                "unsupported_claims": sum(r.unsupported for r in all_runs),
            }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report["seconds"] = round(time.perf_counter() - start, 1)
    return report


def _template_writer():
    """The fast writer for evaluation: exact templates, claim-checked, no model."""
    try:
        from trustgen.writer import TemplateWriter
    except ImportError:
        return None
    return TemplateWriter()


def print_table(report: dict) -> None:
    k = report["repeats"]
    print(f"\n{'set':<14}{'tasks':>6}{'pass^1':>9}{f'pass^{k}':>9}{'turns':>8}{'claims':>8}{'unsupported':>13}")
    for name, s in report["sets"].items():
        print(f"{name:<14}{s['tasks']:>6}{s['pass^1']:>9.3f}{s[f'pass^{k}']:>9.3f}{s['mean_turns']:>8.1f}"
              f"{s['claims_checked']:>8}{s['unsupported_claims']:>13}")
    categories: dict[str, int] = {}
    for f in report["failures"]:
        categories[f["category"]] = categories.get(f["category"], 0) + 1
    if categories:
        print("failed runs by what went wrong first:")
        for name, n in sorted(categories.items(), key=lambda kv: -kv[1]):
            print(f"  {n:>4}  {name}")
    if not report["claim_checker"]:
        print("(claim checker not installed: claims not counted)")
    print(f"{report['seconds']} s; customer style {report['style']}, {k} runs per task, "
          f"train sample seed {report['seed']}")


def run(args) -> int:
    report = evaluate(limit=getattr(args, "limit", None), repeats=getattr(args, "repeats", REPEATS),
                      train_sample=getattr(args, "train_sample", TRAIN_SAMPLE), seed=getattr(args, "seed", SEED),
                      style=getattr(args, "style", "plain"), workers=getattr(args, "workers", 1),
                      sets=getattr(args, "sets", None) or SETS)
    print_table(report)
    if getattr(args, "out", None):
        Path(args.out).write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


def add_arguments(parser) -> None:
    parser.add_argument("--limit", type=int, default=None, help="at most this many tasks per set")
    parser.add_argument("--repeats", type=int, default=REPEATS, help="runs per task (pass^k uses k = this)")
    parser.add_argument("--train-sample", type=int, default=TRAIN_SAMPLE, help="train tasks sampled (seeded)")
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the train sample")
    parser.add_argument("--style", choices=STYLES, default="plain",
                        help="the customer's way of writing: plain sentences, or casual (reworded in each repeat)")
    parser.add_argument("--sets", nargs="+", choices=SETS, default=None, help="task sets to play (default: both)")
    parser.add_argument("--workers", type=int, default=1, help=f"processes (at most {MAX_WORKERS})")
    parser.add_argument("--out", default=None, help="also write the report, with failed runs' transcripts, as JSON")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())

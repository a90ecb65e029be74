"""Loopback load test of `shopbot serve`: many conversations at once, on SQLite and PostgreSQL, 1 and N workers.

For each backend and worker count it starts the real server (`shopbot serve --workers W`) on a fresh copy of the
demo shop, warms every worker up, then runs C concurrent conversations (an asyncio client, one task each) of
six product and policy questions, sent one after another with the session token each reply carries. Per
cell: answered per second (answered / wall time), p50 and p95 latency of answered requests, the share refused
(HTTP 429), 5xx and transport errors; then it reads every conversation's transcript back (a turn the client saw
answered but the server lost counts as lost) and checks /healthz. PostgreSQL cells use a fresh database on
$SHOPBOT_DATABASE_URL's server, dropped after. Replies: the template writer (--no-model) unless --model.

    nice .venv/bin/python bench/load.py                       # 16, 32, 64 conversations; 1 and 2 workers
    SHOPBOT_DATABASE_URL=postgresql://root@127.0.0.1/test .venv/bin/python bench/load.py --backends sqlite postgres
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

# Six questions per conversation, in wordings the intent data and the flows were not written against
# (product facts, catalog queries, the shop's policy); conversation i starts at question i mod len.
QUESTIONS = [
    "do you have the water bottle in a 1000ml size, and is it in stock?",
    "what's the cheapest t-shirt you sell right now?",
    "how long have I got to send back something that arrived?",
    "can I pay for an order with two different gift cards?",
    "any bluetooth speakers under 100 dollars?",
    "if an order has already shipped, can I still change the address on it?",
    "how much is the wireless earbuds with the longest battery?",
    "do exchanges cost anything?",
    "which office chairs come in black leather?",
    "what happens to my refund if I paid with paypal?",
    "show me hiking boots that are waterproof",
    "is there a mechanical keyboard with blue switches available?",
]
TURNS = 6
REQUEST_TIMEOUT_S = 120.0


@dataclass
class Cell:
    backend: str
    workers: int
    conversations: int
    limit: int  # the server's --max-concurrent (per worker)
    sent: int = 0
    answered: int = 0
    refused: int = 0
    server_errors: int = 0  # 5xx
    other_errors: int = 0  # other statuses, timeouts, connections dropped
    wall_s: float = 0.0
    latencies: list[float] = field(default_factory=list)
    lost_turns: int = 0
    healthy_after: bool = False

    def row(self) -> dict:
        lat = sorted(self.latencies)
        pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")  # noqa: E731
        return {"backend": self.backend, "workers": self.workers, "limit": self.limit,
                "conversations": self.conversations,
                "requests": self.sent, "answered": self.answered, "answered_per_s": self.answered / self.wall_s,
                "p50_s": statistics.median(lat) if lat else float("nan"), "p95_s": pct(0.95),
                "refused_share": self.refused / self.sent if self.sent else 0.0, "5xx": self.server_errors,
                "other_errors": self.other_errors, "lost_turns": self.lost_turns,
                "healthy_after": self.healthy_after, "wall_s": self.wall_s}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`shopbot serve` in a subprocess on a fresh data folder (and, for PostgreSQL, a fresh database)."""

    def __init__(self, backend: str, workers: int, limit: int, args, encoder: str = ""):
        self.backend, self.workers, self.limit, self.args, self.encoder = backend, workers, limit, args, encoder
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="shopbot-load-"))
        self.db_name = None

    def __enter__(self) -> "Server":
        source = Path(self.args.data_dir)
        if (source / "index").is_dir():  # the search index built by setup; the database is made fresh
            shutil.copytree(source / "index", self.dir / "index")
        env = {**os.environ, "SHOPBOT_DATA_DIR": str(self.dir), "SHOPBOT_SESSION_KEY": "load-test-key-" + "x" * 16}
        env.pop("SHOPBOT_DATABASE_URL", None)
        env.pop("SHOPBOT_ENCODER", None)
        if self.encoder:
            env["SHOPBOT_ENCODER"] = self.encoder
        if self.backend == "postgres":
            import psycopg
            server = self.args.postgres
            self.db_name = f"shopbot_load_{os.getpid()}_{self.workers}"
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}"')
                conn.execute(f'CREATE DATABASE "{self.db_name}"')
            env["SHOPBOT_DATABASE_URL"] = server.rsplit("/", 1)[0] + "/" + self.db_name
        cmd = [sys.executable, "-m", "ui.cli", "--data-dir", str(self.dir), "serve", "--host", "127.0.0.1",
               "--port", str(self.port), "--workers", str(self.workers),
               "--max-concurrent", str(self.limit)]
        if not self.args.model:
            cmd.append("--no-model")
        self.log = open(self.dir / "server.log", "w")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        return self

    def __exit__(self, *exc) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()
        if self.db_name:
            import psycopg
            with psycopg.connect(self.args.postgres, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        if not self.args.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def wait_healthy(client, server: Server, timeout_s: float = 180) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if server.proc.poll() is not None:
            raise RuntimeError(f"server exited: {(server.dir / 'server.log').read_text()[-2000:]}")
        try:
            r = await client.get(f"{server.url}/healthz", timeout=5)
            if r.status_code == 200:
                return True
        except Exception:  # not listening yet
            pass
        await asyncio.sleep(0.5)
    return False


async def ask(client, url: str, text: str, token: str | None, cell: Cell | None):
    headers = {"X-Session-Token": token} if token else {}
    start = time.monotonic()
    try:
        r = await client.post(f"{url}/v1/chat/completions", headers=headers, timeout=REQUEST_TIMEOUT_S,
                              json={"model": "shopbot", "messages": [{"role": "user", "content": text}]})
    except Exception:
        if cell:
            cell.other_errors += 1
        return None, token
    took = time.monotonic() - start
    if cell:
        if r.status_code == 200:
            cell.answered += 1
            cell.latencies.append(took)
        elif r.status_code == 429:
            cell.refused += 1
        elif r.status_code >= 500:
            cell.server_errors += 1
        else:
            cell.other_errors += 1
    if r.status_code != 200:
        return None, token
    body = r.json()
    return body["session_id"], r.headers.get("x-session-token") or body.get("session_token") or token


async def conversation(client, url: str, n: int, cell: Cell) -> tuple[str | None, str | None, int]:
    """Six questions in a row; returns (session id, last token, answered count)."""
    session_id = token = None
    answered = 0
    for turn in range(TURNS):
        cell.sent += 1
        sid, token = await ask(client, url, QUESTIONS[(n + turn) % len(QUESTIONS)], token, cell)
        if sid:
            session_id, answered = sid, answered + 1
    return session_id, token, answered


async def lost_turns(client, url: str, done) -> int:
    """Turns answered to the client but missing from the conversation's transcript on the server."""
    lost = 0
    for session_id, token, answered in done:
        if not session_id:
            continue
        r = await client.get(f"{url}/v1/sessions/{session_id}/messages", headers={"X-Session-Token": token},
                             timeout=30)
        messages = r.json().get("messages", []) if r.status_code == 200 else []
        kept = min(sum(m["role"] == "user" for m in messages), sum(m["role"] == "assistant" for m in messages))
        lost += max(0, answered - kept)
    return lost


async def run_server(backend: str, workers: int, limit: int, conversations_list: list[int], args,
                     encoder: str = "") -> list[Cell]:
    import httpx

    cells = []
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(limits=limits) as client:
        with Server(backend, workers, limit, args, encoder) as server:
            if not await wait_healthy(client, server):
                raise RuntimeError("server did not become healthy in time")
            # Warm-up (not measured): enough parallel requests that every worker loads its models.
            await asyncio.gather(*(ask(client, server.url, q, None, None) for q in QUESTIONS[:4 * workers]))
            for conversations in conversations_list:
                cell = Cell(backend + (f" ({encoder} encoder)" if encoder else ""), workers, conversations, limit)
                start = time.monotonic()
                done = await asyncio.gather(*(conversation(client, server.url, n, cell)
                                              for n in range(conversations)))
                cell.wall_s = time.monotonic() - start
                cell.lost_turns = await lost_turns(client, server.url, done)
                r = await client.get(f"{server.url}/healthz", timeout=30)
                cell.healthy_after = r.status_code == 200 and r.json().get("status") in ("ok", "degraded")
                cells.append(cell)
                print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v)
                                  for k, v in cell.row().items()}), flush=True)
    return cells


def table(cells: list[Cell]) -> str:
    lines = ["| backend | workers | limit | conversations | requests | answered/s | p50 s | p95 s | refused | 5xx | "
             "other errors | lost turns | healthy after |", "|" + "---|" * 13]
    for c in cells:
        r = c.row()
        lines.append(f"| {r['backend']} | {r['workers']} | {r['limit']} | {r['conversations']} | {r['requests']} | "
                     f"{r['answered_per_s']:.1f} | {r['p50_s']:.2f} | {r['p95_s']:.2f} | "
                     f"{r['refused_share']:.1%} | {r['5xx']} | {r['other_errors']} | {r['lost_turns']} | "
                     f"{'yes' if r['healthy_after'] else 'NO'} |")
    return "\n".join(lines)


def profile(args) -> int:
    """Where one process's time goes per message: CPU seconds per answer and the share spent encoding text."""
    import cProfile
    import pstats

    from bot import Bot
    from bot.config import BotConfig

    folder = Path(tempfile.mkdtemp(prefix="shopbot-profile-"))
    if (Path(args.data_dir) / "index").is_dir():
        shutil.copytree(Path(args.data_dir) / "index", folder / "index")
    bot = Bot.load(folder, config=BotConfig(use_model=False))
    bot.respond(QUESTIONS[0], "warm-up")
    n = args.profile
    profiler = cProfile.Profile()
    cpu, wall = time.process_time(), time.perf_counter()
    profiler.enable()
    for i in range(n):
        bot.respond(QUESTIONS[i % len(QUESTIONS)], f"p{i % 4}")
    profiler.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    stats = pstats.Stats(profiler).stats
    encode = sum(v[3] for k, v in stats.items() if k[2] == "encode" and "embeddings" in k[0])
    total = sum(v[3] for k, v in stats.items() if k[2] == "respond" and k[0].endswith("agent.py"))
    print(f"{n} answers in one process (templates, under cProfile): {cpu / n:.3f} s CPU and {wall / n:.3f} s wall "
          f"per answer; encoding text {encode / total:.0%} of Bot.respond's time")
    bot.close()
    shutil.rmtree(folder, ignore_errors=True)
    return 0


def main(argv=None) -> int:
    from knowledge.paths import default_data_dir

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backends", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    p.add_argument("--workers", nargs="+", type=int, default=[1, 2], help="worker counts to measure")
    p.add_argument("--conversations", nargs="+", type=int, default=[16, 32, 64],
                   help="concurrent conversations per cell, each of 6 questions")
    p.add_argument("--max-concurrent", type=int, default=32,
                   help="the server's chats answered at once per worker (its --max-concurrent)")
    p.add_argument("--baseline", action="store_true",
                   help="first measure the previous settings (1 process, --max-concurrent 4, SQLite, the PyTorch "
                        "encoder) at the smallest conversation count, for comparison in the same run")
    p.add_argument("--model", action="store_true", help="word replies with the language model (default: templates)")
    p.add_argument("--postgres", default=os.environ.get("SHOPBOT_DATABASE_URL",
                                                        "postgresql://postgres@127.0.0.1:5432/test"),
                   help="a PostgreSQL server URL where the bench may create and drop a database")
    p.add_argument("--data-dir", default=str(default_data_dir()), help="where setup built the search index")
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    p.add_argument("--keep", action="store_true", help="keep each server's data folder and log")
    p.add_argument("--profile", type=int, default=0, metavar="N",
                   help="instead of the load test, profile N answers in this process (CPU per answer, encoder share)")
    args = p.parse_args(argv)
    if args.profile:
        return profile(args)
    cells: list[Cell] = []
    if args.baseline:
        cells += asyncio.run(run_server("sqlite", 1, 4, [min(args.conversations)], args, encoder="torch"))
    for backend in args.backends:
        for workers in args.workers:
            cells += asyncio.run(run_server(backend, workers, args.max_concurrent, args.conversations, args))
    print(table(cells))
    if args.json:
        Path(args.json).write_text(json.dumps([c.row() for c in cells], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`shopbot serve --workers N`: N worker processes under uvicorn's supervisor, all state in the database.

The parent prepares what every worker must share before any starts: the schema (migrations run once), the
session-token key, the staff key; then uvicorn spawns N processes that each call `worker_app()`, load their
own bot (its reading models before it takes requests) and answer any message of any conversation, because
sessions, turns and tickets live in the database (SQLite in the data folder on one machine; PostgreSQL via
$SHOPBOT_DATABASE_URL for workers on several machines). It does not balance load across machines: put a
load balancer in front (docs/deploy.md).

    shopbot serve --workers 2 --max-concurrent 16
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import sys
from dataclasses import asdict, replace

WORKER_ENV = "SHOPBOT_SERVE_WORKER"  # the settings the parent hands to its workers (JSON)
WARM_UP = "Is the 1000ml water bottle in stock?"  # a catalog question: loads the reading models and the index


def serve_workers(args, config, workers: int) -> int:
    import uvicorn

    from bot.memory_pg import open_conversations
    from knowledge.paths import default_data_dir
    from knowledge.store import open_store
    from ui.sessions import load_key

    data_dir = str(getattr(args, "data_dir", None) or default_data_dir())
    open_store(data_dir).close()  # creates or migrates the shop once, before workers race to it
    open_conversations(data_dir).close()
    load_key(data_dir)  # the session-token key, made once: every worker must sign and verify with it
    staff_key = config.staff_key or (secrets.token_urlsafe(18) if config.staff_auth_required else "")
    if staff_key and not config.staff_key:
        print(f"Staff desk key for this run (set SHOPBOT_STAFF_KEY to choose one): {staff_key}", file=sys.stderr)
    os.environ[WORKER_ENV] = json.dumps({"data_dir": data_dir, "no_model": bool(getattr(args, "no_model", False)),
                                         "workers": workers, "config": asdict(replace(config, staff_key=staff_key))})
    print(f"ShopBot on http://{config.host}:{config.port}/ with {workers} workers "
          f"(each answers up to {config.max_concurrent} chats at once)", file=sys.stderr)
    uvicorn.run("ui.workers:worker_app", factory=True, host=config.host, port=config.port, workers=workers,
                log_level="info")
    return 0


def worker_app():
    """The app of one worker process, from the settings its parent put in the environment."""
    from bot import Bot
    from bot.config import BotConfig
    from ui.config import UiConfig
    from ui.server import create_app

    settings = json.loads(os.environ[WORKER_ENV])
    values = settings["config"]
    values["shop_origins"] = tuple(values.get("shop_origins") or ())
    values["integration_keys"] = tuple(tuple(pair) for pair in values.get("integration_keys") or ())
    config = UiConfig(**values)
    import torch
    # The cores shared out between the workers: N workers each using every core would thrash.
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // settings["workers"]))
    bot = Bot.load(data_dir=settings["data_dir"], config=BotConfig(use_model=False) if settings["no_model"] else None)
    try:  # load the reading models before this worker takes requests (nothing is saved, no action is taken)
        bot.preview(WARM_UP, session_id="worker-warm-up")
    except Exception:  # a worker that cannot answer yet still serves health checks, which say what is wrong
        logging.getLogger(__name__).exception("warm-up of a worker failed")
    return create_app(bot, config)

"""`shopbot setup`: everything the app needs before its first start, each step skipped when already done.

Steps run in order and each takes the data directory: convert the packaged model once (and, with the shop's
adapter merged, to CTranslate2 int8 for the fast engine), export the text encoder for ONNX Runtime, create the
demo shop's database, build its search index, prepare the assistant. Safe to run again; `--force` redoes the
model.
"""
from __future__ import annotations

import importlib
import time
from pathlib import Path

from knowledge.paths import default_data_dir

# "module:function(data_dir, force)", in order. Each is idempotent.
SETUP_STEPS = [
    "trustgen.convert:setup_step",
    "trustgen.convert:fast_setup_step",  # the shop adapter merged, CTranslate2 int8: the default engine
    "knowledge.onnx_minilm:setup_step",  # the text encoder for ONNX Runtime: what each turn embeds
    "bot.nlu.encoder:setup_step",  # the reader's adapted encoder, merged and exported
    "knowledge.store:setup_step",
    "knowledge.ingest:setup_step",
    "bot.agent:setup_step",
]


def add_arguments(parser) -> None:
    parser.add_argument("--force", action="store_true", help="redo steps that are already done")


def run(args) -> int:
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    for step in SETUP_STEPS:
        module_name, func = step.split(":")
        module = importlib.import_module(module_name)
        start = time.perf_counter()
        done = getattr(module, func)(data_dir, force=args.force)
        print(f"setup: {done} ({time.perf_counter() - start:.1f} s)", flush=True)
    print(f"setup: ready; the shop's state is in {data_dir}")
    return 0

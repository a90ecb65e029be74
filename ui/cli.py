"""`shopbot`: the command line. Each sub-command lives in the package it belongs to.

A command module exposes `add_arguments(parser)` and `run(args) -> int`, and is imported only when its
command runs (or for --help), so `shopbot --help` stays fast. Errors of ours that are safe to show become a
one-line message and exit status 2; anything else is a bug and is raised.

    shopbot --help
    shopbot setup                       # models, demo shop database, search index
    shopbot serve --host 127.0.0.1 --port 7860
"""
from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass

from knowledge.paths import default_data_dir


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    module: str  # module with add_arguments(parser) and run(args)


COMMANDS = [
    Command("setup", "prepare the models, the demo shop's database and its search index", "ui.setup"),
    Command("ingest", "build or update the search index from the shop's files", "knowledge.ingest"),
    Command("chat", "talk to the assistant in the terminal", "bot.chat"),
    Command("serve", "start the web app: chat page, staff desk, widget and HTTP API", "ui.server"),
    Command("train", "fine-tune the shop's language model (LoRA)", "trustgen.train"),
    Command("eval", "measure search, the model, intents or whole conversations", "ui.evaluate"),
    Command("copy", "write checked advertising copy for a product variant", "trustgen.copywriter"),
]


def _load(command: Command):
    try:
        return importlib.import_module(command.module)
    except ModuleNotFoundError as exc:
        if exc.name == command.module:  # the command itself is not built yet, not a broken dependency
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shopbot", description="ShopBot: a shop assistant whose every "
                                     "claim is checked against the shop's data.")
    parser.add_argument("--data-dir", default=None,
                        help=f"the shop's state (database, index, sessions); default {default_data_dir()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        module = _load(command)
        if module is not None:
            module.add_arguments(p)
        p.set_defaults(_command=command, _module=module)
    return parser


def _public_errors() -> tuple[type[BaseException], ...]:
    from knowledge.errors import KnowledgeError
    errors: list[type[BaseException]] = [KnowledgeError]
    for module, name in (("trustgen.errors", "TrustgenError"), ("bot.errors", "BotError")):
        try:
            errors.append(getattr(importlib.import_module(module), name))
        except (ModuleNotFoundError, AttributeError):
            pass
    return tuple(errors)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_command", None):
        parser.print_help()
        return 0
    if args._module is None:
        print(f"shopbot {args._command.name}: not available in this version yet.", file=sys.stderr)
        return 2
    try:
        return int(args._module.run(args) or 0)
    except _public_errors() as exc:
        print(f"shopbot {args._command.name}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

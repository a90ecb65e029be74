import subprocess
import sys

from ui.cli import COMMANDS, main


def test_help_lists_every_subcommand():
    out = subprocess.run([sys.executable, "-m", "ui.cli", "--help"], capture_output=True, text=True, check=True)
    for name in ("setup", "ingest", "chat", "serve", "train", "eval", "copy"):
        assert name in out.stdout
    assert {c.name for c in COMMANDS} >= {"setup", "ingest", "chat", "serve", "train", "eval", "copy"}


def test_bad_arguments_exit_with_usage(capsys):
    try:
        main(["eval", "no-such-target"])
    except SystemExit as exc:
        assert exc.code == 2
    assert "invalid choice" in capsys.readouterr().err

"""Imports go one way (ui -> bot -> trustgen -> knowledge), and the core pulls in no web or training code."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["knowledge", "trustgen", "bot", "ui"]  # each may import only those before it


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_imports_go_one_way():
    bad = []
    for rank, package in enumerate(LAYERS):
        for path in (ROOT / package).rglob("*.py"):
            for name in _imported_packages(path) & set(LAYERS[rank + 1:]):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert bad == []


def test_only_ui_imports_web_frameworks():
    bad = []
    for package in LAYERS[:-1]:
        for path in (ROOT / package).rglob("*.py"):
            for name in _imported_packages(path) & {"gradio", "fastapi", "uvicorn", "starlette"}:
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert bad == []


def test_importing_core_is_light():
    code = ("import sys, knowledge, knowledge.store, bot, trustgen; "
            "heavy = [m for m in ('gradio', 'fastapi', 'torch', 'transformers', 'peft', 'faiss') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == ""


DECIDERS = ["bot/flows.py", "bot/details.py", "bot/answers.py", "bot/recommend.py", "bot/catalog.py"]
TEXT_READERS = {"re", "regex", "slots", "understand", "nlu", "intents", "history"}


def _relative_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            names |= {(node.module or "").split(".")[0]} | {a.name for a in node.names if not node.module}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bot."):
            names.add(node.module.split(".")[1])
    return names


def test_only_the_reader_reads_message_text():
    """The flows and answers decide from the Reading: none of them imports a text parser or regular expressions."""
    bad = []
    for name in DECIDERS:
        path = ROOT / name
        found = (_imported_packages(path) | _relative_imports(path)) & TEXT_READERS
        bad += [f"{name} imports {n}" for n in sorted(found)]
    assert bad == []

"""Manifests of generated model folders: a content key and each file's size and SHA-256, so that a folder that is
stale (another key) or damaged (a file changed, cut short or missing) is known and rebuilt, never used.

Used by the converted language model (trustgen/convert.py) and the exported text encoder (onnx_minilm.py).
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

MANIFEST = "shopbot-manifest.json"


def digest(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def write_manifest(folder: Path, key: str, **extra) -> None:
    """Record `key`, `extra` and every file now in `folder` (the manifest itself aside)."""
    files = {p.name: {"bytes": p.stat().st_size, "sha256": digest(p)}
             for p in sorted(Path(folder).iterdir()) if p.name != MANIFEST and p.is_file()}
    (Path(folder) / MANIFEST).write_text(json.dumps({"key": key, **extra, "files": files}, indent=1),
                                         encoding="utf-8")


def folder_ok(folder: Path, key: str) -> bool:
    """The folder holds a complete build for `key`: its manifest names the key, and every file it lists is there
    with the recorded size and hash."""
    try:
        manifest = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
        return manifest.get("key") == key and all(
            (Path(folder) / name).stat().st_size == meta["bytes"] and digest(Path(folder) / name) == meta["sha256"]
            for name, meta in manifest["files"].items())
    except (OSError, ValueError, KeyError, TypeError):
        return False


def work_folder(target: Path, key: str, what: str, force: bool = False) -> Path | None:
    """None when `target` already holds the build for `key` (and `force` is off); else an empty folder beside it to
    build in, then rename over it, so a half-written build is never taken for one. A stale or damaged `target` is
    reported as `what` being rebuilt."""
    target = Path(target)
    if not force and folder_ok(target, key):
        return None
    if target.exists():
        log.warning("rebuilding %s: %s does not match its manifest", what, target)
    work = target.with_name(target.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    return work


def remove_older(target: Path, stem: str) -> None:
    """Remove the other builds named `stem` plus a key of the same length as `target`'s (earlier builds of the
    same inputs' kind, left by an older key)."""
    target = Path(target)
    for old in target.parent.glob(stem + "-*"):
        if old != target and old.is_dir() and len(old.name) == len(target.name):
            shutil.rmtree(old, ignore_errors=True)

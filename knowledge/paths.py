"""Where ShopBot keeps its state and its models.

Data (shop database, search index, sessions) lives in one data directory per shop; model folders live in a
cache shared by all shops. Both can be moved with environment variables, which the tests use to stay inside a
temporary directory. Nothing here creates files.
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path


def default_data_dir() -> Path:
    """The demo shop's data directory: $SHOPBOT_DATA_DIR, else ~/.local/share/shopbot/demo."""
    env = os.environ.get("SHOPBOT_DATA_DIR")
    return Path(env) if env else Path.home() / ".local" / "share" / "shopbot" / "demo"


def model_dir() -> Path:
    """The cache of converted model folders: $SHOPBOT_MODEL_DIR, else ~/.cache/shopbot/models."""
    env = os.environ.get("SHOPBOT_MODEL_DIR")
    return Path(env) if env else Path.home() / ".cache" / "shopbot" / "models"


def demo_shop_source() -> Path:
    """The packaged copy of the demo shop (tau-bench retail, MIT) and its FAQ."""
    return Path(str(resources.files("knowledge") / "data" / "demo_shop"))

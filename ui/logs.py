"""Logging for the server: every record's message and traceback pass through `bot.privacy.mask_personal`.

`install_masking()` wraps the log-record factory, so records from every logger (ours, uvicorn's access log,
libraries') are masked when they are made, before any handler or formatter sees them; installing twice is a
no-op. It does not choose handlers or levels: uvicorn's and the CLI's logging set-up stay as they are.
Called by `shopbot serve`; tests: tests/security/test_security_pii.py.
"""
from __future__ import annotations

import logging

from bot.privacy import mask_personal

_formatter = logging.Formatter()


def _masked(value):
    return mask_personal(value) if isinstance(value, str) else value


def _masked_factory(original):
    def factory(*args, **kwargs):
        record = original(*args, **kwargs)
        # The arguments keep their shape: formatters such as uvicorn's access log unpack them.
        if isinstance(record.msg, str):
            record.msg = mask_personal(record.msg)
        if isinstance(record.args, dict):
            record.args = {k: _masked(v) for k, v in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_masked(a) for a in record.args)
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_personal(_formatter.formatException(record.exc_info))
        return record
    factory.masks_personal_data = True
    return factory


def install_masking() -> None:
    """Mask emails, street addresses and card digits in every log record made from now on."""
    original = logging.getLogRecordFactory()
    if not getattr(original, "masks_personal_data", False):
        logging.setLogRecordFactory(_masked_factory(original))

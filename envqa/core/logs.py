"""Secrets never reach a log: credentials in URLs and messages are masked when a record is made.

The WeChat and WeCom APIs take their credentials in the query string (`?secret=…`,
`?corpsecret=…`, `?access_token=…`), and httpx logs every request URL, and an error's traceback
repeats it. Masking at record creation (a record factory, not a handler filter) covers every
logger and handler, including ones a library or uvicorn adds later.
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

SECRET_VALUE = re.compile(r"(?i)\b(secret|corpsecret|appsecret|access_token|api_key|apikey|token)=([^&\s\"'<>]+)")
MASK = r"\1=***"


def redact(text: str) -> str:
    return SECRET_VALUE.sub(MASK, text)


def install_redaction() -> None:
    """Mask credentials in every log record made from now on (idempotent)."""
    base = logging.getLogRecordFactory()
    if getattr(base, "redacting", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        message = record.getMessage()
        if SECRET_VALUE.search(message):
            record.msg, record.args = redact(message), ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip())
        return record

    factory.redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def show_product_logs() -> None:
    """The product's own INFO lines (channels enabled, index versions served) on stderr, as uvicorn
    shows its own: uvicorn configures only its loggers, so without this they would be dropped."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
    for name in ("assistant", "envqa", "index", "ingest"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)

"""Structured logs: JSON lines through structlog, request context bound by the edge."""

from __future__ import annotations

import logging
import sys
from typing import Any

import msgspec
import structlog


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]
    if json:
        # msgspec renders straight to bytes, several times faster than the stdlib json path
        encoder = msgspec.json.Encoder(enc_hook=str)
        renderer: Any = structlog.processors.JSONRenderer(serializer=lambda obj, **_: encoder.encode(obj))
        factory: Any = structlog.BytesLoggerFactory(file=sys.stdout.buffer)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
        factory = structlog.PrintLoggerFactory(file=sys.stdout)
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
    # libraries using stdlib logging go to stderr at the same level, without duplicating access logs
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    for noisy in ("uvicorn.access", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

"""Structured logs through structlog, request context bound by the edge.

One format per process for structlog and stdlib loggers alike: JSON lines, or console lines when
LOG_JSON is unset and stdout is a terminal (`make run` on a laptop), so `keel migrate` and `keel serve`
print the same way.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import msgspec
import structlog


def wants_json(json: bool | None) -> bool:
    """LOG_JSON when set; else JSON unless stdout is a terminal."""
    if json is not None:
        return json
    return not (sys.stdout.isatty() if hasattr(sys.stdout, "isatty") else False)


def configure_logging(level: str = "INFO", json: bool | None = None) -> None:
    json = wants_json(json)
    shared: list[Any] = [
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
    # libraries on stdlib logging (uvicorn, procrastinate, sqlalchemy, ...) write the same JSON lines to
    # stderr, with the request context when they log inside a request; this replaces any handler
    # installed before (Litestar's and uvicorn's own configs are turned off in create_app / `keel serve`)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False),
            ],
        )
    )
    handler.addFilter(_quiet_housekeeping)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _quiet_housekeeping(record: logging.LogRecord) -> bool:
    """procrastinate's INFO lines about periodic jobs (registered, deferred, started, ended: the stalled-job
    sweep alone is six lines a minute, forever) are left out; a periodic job is one that procrastinate
    passes its `timestamp`. Its warnings and errors, and every line of the jobs users start, stay."""
    if record.levelno > logging.INFO or not record.name.startswith("procrastinate"):
        return True
    if record.name == "procrastinate.periodic":
        return False
    job = getattr(record, "job", None)
    kwargs = job.get("task_kwargs") if isinstance(job, dict) else None
    return not (isinstance(kwargs, dict) and "timestamp" in kwargs)

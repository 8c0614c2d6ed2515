"""Structured logging with no PHI.

Code logs ids and codes, never names, bodies or numbers. As a safety net every string value
passes through a scrubber that removes card-like digit runs, dates, phone numbers and emails.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_DIGIT_RUN = re.compile(r"(?<![\w])\+?\d[\d\s().-]{6,}\d(?![\w])")
_DATE = re.compile(r"\b\d{1,4}[/-]\d{1,2}[/-]\d{1,4}\b")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
_SAFE_KEYS = frozenset(
    {"timestamp", "level", "logger", "event_id", "status_code", "duration_ms", "path", "method"}
)


def scrub(value: str) -> str:
    value = _EMAIL.sub("[email]", value)
    value = _DATE.sub("[date]", value)
    return _DIGIT_RUN.sub("[digits]", value)


def _scrub_processor(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, val in list(event_dict.items()):
        if key in _SAFE_KEYS:
            continue
        if isinstance(val, str):
            event_dict[key] = scrub(val)
    return event_dict


class _CurrentStderr:
    """Writes to whatever `sys.stderr` is now (test runners and CLIs swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "INFO", *, json: bool | None = None) -> None:
    """Configure structlog + stdlib logging once per process."""
    use_json = (not sys.stderr.isatty()) if json is None else json
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _scrub_processor,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper(), logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        # not cached: a later configure_logging (the CLI's WARNING, a test's JSON) must reach
        # module-level loggers already used; the lookup costs microseconds per event
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO), format="%(levelname)s %(name)s %(message)s"
    )
    # uvicorn's access log prints full URLs with query strings; keep it but it carries no bodies.
    for noisy in ("httpx", "httpcore", "twilio.http_client", "openai", "stripe"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)

"""Structured logs (one JSON object per line) with secrets removed before they are written.

Why a filter on the handler and not discipline at call sites: a share, an API key or a session token that
slips into ``extra=`` or into a dict argument once is in the log forever. :class:`RedactingFilter` looks at
every attribute a record carries (and inside dicts and lists) and replaces the value of any field whose name
marks it as secret with ``"[redacted]"``. Messages themselves are not parsed: log secrets' *names*, never
format them into the message.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import re
import sys
from collections.abc import Mapping
from typing import IO, Any

REDACTED = "[redacted]"

# Matched against field names, case-insensitively, as whole words separated by "_" or "-".
SECRET_NAME = re.compile(
    r"(^|[_-])(api[_-]?key|apikey|secret|secrets|password|passwd|token|tokens|share|shares|"
    r"private[_-]?key|key[_-]?material|session[_-]?key|master[_-]?secret|authorization|cookie|"
    r"signing[_-]?key|key[_-]?share|key[_-]?pem)($|[_-])", re.IGNORECASE)

# Attributes every LogRecord has; everything else came from ``extra=``. (uvicorn adds an ANSI-coloured
# duplicate of its message as ``color_message``: noise in a JSON log.)
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime",
                                                                               "color_message"}


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def redact(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` with every secret-named field's value replaced."""
    if depth > 20:
        return REDACTED
    if isinstance(value, Mapping):
        return {k: (REDACTED if isinstance(k, str) and is_secret_name(k) else redact(v, depth + 1))
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact(v, depth + 1) for v in value)
    return value


class RedactingFilter(logging.Filter):
    """Redacts secret-named ``extra`` fields and dict/list arguments in place; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name in list(vars(record)):
            if name in _STANDARD:
                continue
            if is_secret_name(name):
                setattr(record, name, REDACTED)
            else:
                setattr(record, name, redact(getattr(record, name)))
        if isinstance(record.args, Mapping):
            record.args = redact(record.args)
        elif isinstance(record.args, tuple):
            record.args = tuple(redact(a) for a in record.args)
        return True


class JSONFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", ...extra}``, one line, UTC ISO-8601 timestamps."""

    def __init__(self, service: str | None = None) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": _dt.datetime.fromtimestamp(record.created, _dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if self.service:
            doc["service"] = self.service
        for name, value in vars(record).items():
            if name not in _STANDARD and name not in doc:
                doc[name] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, ensure_ascii=False)


def configure_logging(level: str | int = "INFO", *, service: str | None = None,
                      stream: IO[str] | None = None) -> logging.Handler:
    """Route the root logger (and uvicorn's) to one JSON-lines handler with redaction; returns it.

    Idempotent: a handler installed by an earlier call is replaced, not duplicated.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JSONFormatter(service))
    handler.addFilter(RedactingFilter())
    handler.set_name("mpcstats-json")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "mpcstats-json"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    return handler

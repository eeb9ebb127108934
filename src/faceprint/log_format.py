"""How faceprint's log lines look: plain text, or one JSON object per line.

``faceprint serve --log-format json`` gives every line (faceprint's, uvicorn's, the audit log's) as
one JSON object: ``time``, ``level``, ``logger``, ``message``, and the fields a record carries in
its ``fields`` attribute (the audit log's ``action``, ``outcome``, ``key_id``...) as fields of
their own.

Example:
    >>> import logging
    >>> handler = logging.StreamHandler()
    >>> handler.setFormatter(formatter("json"))
"""

from __future__ import annotations

import copy
import json
import logging
from datetime import datetime, timezone
from typing import Any

FORMATS = ("text", "json")
"""The log formats: ``text`` (``LEVEL logger: message``) and ``json`` (one object per line)."""

TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"

_RESERVED = ("time", "level", "logger", "message")


def check_format(name: str) -> str:
    """A log format's name, checked.

    Args:
        name: ``text`` or ``json`` (any case).

    Returns:
        The name in lower case.

    Raises:
        ValueError: another name.
    """
    value = name.strip().lower()
    if value not in FORMATS:
        raise ValueError(f"log format {name!r} is not known: use one of {', '.join(FORMATS)}")
    return value


def iso_time(created: float) -> str:
    """A ``time.time()`` value as UTC ISO 8601 with milliseconds (``2026-01-31T12:00:00.123Z``)."""
    return datetime.fromtimestamp(created, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines and control characters are escaped).

    The object holds ``time`` (UTC ISO 8601), ``level``, ``logger`` and ``message``, then each
    item of the record's ``fields`` dict (``logger.info(..., extra={"fields": {...}})``), then
    ``exception`` with the traceback when the record has one.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON.

        Args:
            record: the log record.

        Returns:
            The JSON text, without a newline.
        """
        out: dict[str, Any] = {"time": iso_time(record.created), "level": record.levelname, "logger": record.name,
                               "message": record.getMessage()}
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update({k: v for k, v in fields.items() if k not in _RESERVED})
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        return json.dumps(out, default=str)


def formatter(name: str) -> logging.Formatter:
    """The formatter of a log format.

    Args:
        name: ``text`` or ``json``.

    Returns:
        ``JsonFormatter`` for ``json``, else a plain formatter of ``TEXT_FORMAT``.

    Raises:
        ValueError: an unknown format.
    """
    return JsonFormatter() if check_format(name) == "json" else logging.Formatter(TEXT_FORMAT)


def server_logging_config(name: str, level: int) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dict for a server process: uvicorn's own loggers and the
    root logger (faceprint's, the audit log's) in one format, on stderr (uvicorn's access lines on
    stdout, as uvicorn has them).

    Uvicorn applies it in every worker process it starts, so ``--workers N`` logs alike.

    Args:
        name: ``text`` or ``json``.
        level: the root logger's level (``logging.WARNING``; ``logging.DEBUG`` for ``--verbose``).

    Returns:
        The configuration.

    Raises:
        ValueError: an unknown format.
    """
    from uvicorn.config import LOGGING_CONFIG

    fmt = check_format(name)
    config = copy.deepcopy(LOGGING_CONFIG)
    if fmt == "json":
        config["formatters"] = {"default": {"()": "faceprint.log_format.JsonFormatter"},
                                "access": {"()": "faceprint.log_format.JsonFormatter"}}
    config["formatters"]["faceprint"] = ({"()": "faceprint.log_format.JsonFormatter"} if fmt == "json"
                                         else {"format": TEXT_FORMAT})
    config["handlers"]["faceprint"] = {"formatter": "faceprint", "class": "logging.StreamHandler",
                                       "stream": "ext://sys.stderr"}
    config["root"] = {"handlers": ["faceprint"], "level": logging.getLevelName(level)}
    # audit lines are INFO: they are written whatever the level of the rest
    config["loggers"]["faceprint.audit"] = {"level": "INFO"}
    return config

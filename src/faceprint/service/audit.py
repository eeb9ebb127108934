"""The audit log: one line per admin action and per refused key, on the ``faceprint.audit`` logger.

Written for every request that an admin key was checked for and that may change something (create,
rename or delete a subject, enrol, delete a face: any method but GET/HEAD/OPTIONS), and for every
401 (no valid key) and 403 (a scope that may not do this), whatever the route. A line holds the
time, the action, the outcome (the HTTP status), the key's id (never the key: for a refused key,
the id the presented key claims when it has the form of one), the client's address, the route as
its template (``DELETE /v1/subjects/{name}``) and the subject or face concerned::

    time=2026-01-31T12:00:00.123Z action=subject.delete outcome=200 key_id=3f9a1c2e client=10.0.0.7 route="DELETE /v1/subjects/{name}" subject="Ada Lovelace"

Values are quoted as JSON strings where they hold anything but plain characters, so a name with a
newline or a control character stays on its line. With ``--log-format json`` each field is a field
of the JSON object. The lines go to stderr with the rest of the log, or only to a file of their
own (``--audit-log PATH``, created 0600).

Routes and dependencies add what only they know (the key's id, a subject named in the body, the
faces an enrol added) with ``note(request, ...)``; ``observe.RequestObserver`` writes the line when
the answer has gone.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faceprint import log_format

LOGGER = "faceprint.audit"
SCOPE_KEY = "faceprint.audit"
"""Where a request's ``AuditRecord`` lives in its ASGI scope."""

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# (method, route template) -> action; anything else audited is "<method> <template>"
ACTIONS = {
    ("POST", "/v1/subjects"): "subject.create",
    ("PATCH", "/v1/subjects/{name}"): "subject.rename",
    ("DELETE", "/v1/subjects/{name}"): "subject.delete",
    ("POST", "/v1/subjects/{name}/faces"): "face.enrol",
    ("DELETE", "/v1/faces/{face_id}"): "face.delete",
    ("POST", "/v1/photos"): "photos.add",
    ("POST", "/v1/people/recluster"): "people.recluster",
    ("POST", "/v1/people/{person_id}/name"): "person.name",
    ("POST", "/v1/people/{person_id}/merge"): "person.merge",
    ("POST", "/v1/faces/move"): "face.move",
    ("POST", "/v1/faces/{face_id}/not-this-person"): "face.not_this_person",
}

_KEY_ID = re.compile(r"fpk_([0-9a-f]{8})_")
_PLAIN = re.compile(r"[A-Za-z0-9._:/@+-]+")


@dataclass
class AuditRecord:
    """What a request's handling learned for its audit line (``note`` fills it).

    Attributes:
        key_id: the id of the valid key the request came with; empty: none (yet).
        admin: an admin key was checked for this request (the route may change the gallery).
        fields: more fields of the line (``subject``, ``to``, ``faces_added``).
    """

    key_id: str = ""
    admin: bool = False
    fields: dict[str, Any] = field(default_factory=dict)


def note(request: Any, key_id: str | None = None, admin: bool | None = None, **fields: Any) -> None:
    """Add to the audit record of the request being answered (nothing when no observer made one:
    an app without ``RequestObserver``).

    Args:
        request: the Starlette/FastAPI request.
        key_id: the id of the request's valid key.
        admin: True when the route needs an admin key.
        **fields: more fields of the line (``subject="Ada"``, ``to="Ada L"``, ``faces_added=3``).
    """
    record = request.scope.get(SCOPE_KEY)
    if record is None:
        return
    if key_id is not None:
        record.key_id = key_id
    if admin is not None:
        record.admin = record.admin or admin
    record.fields.update(fields)


def quote(value: Any) -> str:
    """A field's value for a text line: as is when plain, else a JSON string with every control,
    format and line/paragraph separator character escaped (one line, whatever a name holds).

    Args:
        value: the value.

    Returns:
        The text.
    """
    text = str(value)
    if _PLAIN.fullmatch(text):
        return text
    quoted = json.dumps(text, ensure_ascii=False)
    return "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs") else c
                   for c in quoted)


def presented_key_id(headers: list[tuple[bytes, bytes]]) -> str:
    """The key id a refused request's key claims (``fpk_<id>_...``), never the key itself.

    Args:
        headers: the request's raw ASGI headers.

    Returns:
        The 8 hex digits, or an empty string when no key of that form was sent.
    """
    for name, value in headers:
        if name.lower() in (b"x-api-key", b"authorization"):
            match = _KEY_ID.search(value.decode("latin-1"))
            if match:
                return match.group(1)
    return ""


def create_file(path: str | Path) -> Path:
    """Create the audit file (mode 0600) when missing; an existing one keeps its mode and lines.

    Args:
        path: the file.

    Returns:
        Its absolute path.

    Raises:
        OSError: it cannot be created or opened for appending (its folder is missing or not writable).
    """
    target = Path(path).expanduser().absolute()
    os.close(os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
    return target


class AuditLog:
    """Writes the audit lines of one app.

    Args:
        path: a file of its own for the lines (created 0600, appended to); empty: the
            ``faceprint.audit`` logger, which goes wherever the rest of the log goes.
        fmt: ``text`` or ``json``, for the file (the logger's handlers have their own).

    Raises:
        ValueError: an unknown ``fmt``.
    """

    def __init__(self, path: str | Path = "", fmt: str = "text") -> None:
        self.path = Path(path).expanduser().absolute() if str(path) else None
        self.logger = logging.getLogger(LOGGER)
        if self.logger.level == logging.NOTSET:
            self.logger.setLevel(logging.INFO)  # audit lines are INFO: written at the default WARNING level too
        self._format = log_format.check_format(fmt)
        self._handler: logging.Handler | None = None
        self._lock = threading.Lock()

    def write(self, fields: dict[str, Any]) -> None:
        """Write one audit line.

        Args:
            fields: the line's fields, in order (``action``, ``outcome``, ``key_id``...).
        """
        text = " ".join(f"{k}={quote(v)}" for k, v in fields.items() if v not in (None, ""))
        if self.path is None:
            self.logger.info("%s", text, extra={"fields": fields})
            return
        record = self.logger.makeRecord(LOGGER, logging.INFO, __file__, 0, "%s", (text,), None,
                                        extra={"fields": fields})
        self._file_handler().handle(record)

    def _file_handler(self) -> logging.Handler:
        with self._lock:
            if self._handler is None:
                assert self.path is not None
                create_file(self.path)
                handler = logging.FileHandler(self.path, mode="a", encoding="utf-8")
                # a text line carries its own time; the file needs no level or logger name
                handler.setFormatter(log_format.formatter(self._format) if self._format == "json"
                                     else logging.Formatter("%(message)s"))
                self._handler = handler
            return self._handler

    def close(self) -> None:
        """Close the file (the next line opens it again)."""
        with self._lock:
            if self._handler is not None:
                self._handler.close()
                self._handler = None


def line_fields(method: str, route: str, status: int, client: str, record: AuditRecord,
                path_params: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> dict[str, Any] | None:
    """The fields of a request's audit line, or None when the request is not audited.

    Args:
        method: the HTTP method.
        route: the route's template (``/v1/subjects/{name}``), or ``unmatched``.
        status: the answer's status.
        client: the client's address.
        record: what the handling noted.
        path_params: the route's path parameters (``name``, ``face_id``).
        headers: the request's raw headers (for the id a refused key claims).

    Returns:
        ``time``, ``action``, ``outcome``, ``key_id``, ``client``, ``route``, then ``subject``,
        ``face_id`` and what the route noted; None for a request that is neither refused (401,
        403) nor an admin action.
    """
    refused = status in (401, 403)
    if not refused and not (record.admin and method not in READ_METHODS):
        return None
    action = ACTIONS.get((method, route)) or f"{method} {route}"
    if status == 401:
        action = "auth.refused"
    elif status == 403:
        action = "auth.forbidden"
    fields: dict[str, Any] = {"time": log_format.iso_time(time.time()), "action": action, "outcome": status,
                              "key_id": record.key_id or "-", "client": client or "-", "route": f"{method} {route}"}
    if status == 401:
        fields["presented_key_id"] = presented_key_id(headers)
    if "name" in path_params:
        fields["subject"] = path_params["name"]
    if "face_id" in path_params:
        fields["face_id"] = path_params["face_id"]
    if "person_id" in path_params:
        fields["person_id"] = path_params["person_id"]
    fields.update(record.fields)
    return fields

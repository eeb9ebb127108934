"""What a gallery accepts as a new subject's name and metadata (SQLite and Milvus alike; the
CLI, the library and the service all go through it). Names stored before a rule existed stay
usable: the rules apply when a subject is made or renamed."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from faceprint.errors import BadName
from faceprint.gallery.people_types import is_unnamed_label

METADATA_MAX_BYTES = 64 * 1024
METADATA_MAX_DEPTH = 32


def check_name(name: str) -> str:
    """``name`` trimmed; BadName (a GalleryError) says why it cannot be a subject's name: empty, "unknown"
    (what identify answers for strangers), "." or ".." (a URL path resolves them away, so the
    service could not address the subject), or a control character or line break (a name is one
    line of text)."""
    name = str(name).strip()
    if not name:
        raise BadName("a subject name cannot be empty")
    if name.lower() == "unknown":
        raise BadName("'unknown' is what identify says for strangers; choose another name")
    if name in (".", ".."):
        raise BadName(f"{name!r} cannot be a name: it cannot be sent in a URL path; choose another name")
    if _has_control(name):
        raise BadName(f"{name!r} cannot be a name: it holds a control character or a line break "
                           "(a name is one line of text)")
    return name


def check_person_name(name: str) -> str:
    """``check_name``, and not of the form of an unnamed person's label (``person 17``): the name a
    user gives a person or a subject (naming, renaming). Enrolling and importing take such names
    as ``check_name`` does, so that galleries and exports made before the form was reserved stay
    usable (an unnamed person never takes a label a subject has).

    Args:
        name: the new name.

    Returns:
        ``name``, trimmed.

    Raises:
        BadName: the name is refused.
    """
    name = check_name(name)
    if is_unnamed_label(name):
        raise BadName(f"{name!r} has the form of an unnamed person's label (person <id>); choose another name")
    return name


def check_lookup_name(name: str) -> str:
    """``name`` as given, when it can name a stored subject; BadName when it holds a control
    character or a line break, which no subject's name can (``check_name`` refuses them). Every
    backend refuses such a look-up before asking its store: a filter expression (Milvus) gets
    no chance to choke on it, and the caller gets a 400, not a 503 or a 404.

    Args:
        name: a subject name to look up.

    Returns:
        ``name``, unchanged.

    Raises:
        BadName: ``name`` holds a control character or a line break.
    """
    name = str(name)
    if _has_control(name):
        raise BadName(f"{name!r} cannot be a subject's name: it holds a control character or a line break "
                      "(a name is one line of text)")
    return name


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in text)


def check_metadata(metadata: dict[str, Any] | None) -> dict[str, Any]:
    """``metadata`` (``{}`` for None) when it is plain JSON of at most ``METADATA_MAX_BYTES``,
    nested at most ``METADATA_MAX_DEPTH`` deep; BadName otherwise. Every listing of subjects
    carries it: nesting deeper than the JSON encoder allows would break every listing, and a large
    one would make each listing large."""
    metadata = metadata or {}
    if not isinstance(metadata, dict):
        raise BadName(f"metadata must be a JSON object, not {type(metadata).__name__}")
    stack: list[tuple[Any, int]] = [(metadata, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > METADATA_MAX_DEPTH:
                raise BadName(f"metadata is nested more than {METADATA_MAX_DEPTH} levels deep; flatten it")
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    try:
        size = len(json.dumps(metadata, allow_nan=False, ensure_ascii=False).encode("utf-8"))
    except (TypeError, ValueError) as exc:
        raise BadName(f"metadata must be plain JSON (no NaN, Infinity or other objects): {exc}") from None
    if size > METADATA_MAX_BYTES:
        raise BadName(f"metadata is {size:,} bytes as JSON; keep it under {METADATA_MAX_BYTES:,} (store a "
                           "reference to larger records instead)")
    return metadata

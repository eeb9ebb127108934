"""JSON as other programs read it: NaN and infinities (faceprint's "not measured") become null,
numpy numbers plain numbers. Python's json writes NaN, which jq, browsers and strict parsers reject."""

from __future__ import annotations

import json
import math
from typing import Any


def finite(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float (in dicts, lists and tuples) replaced by None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def dumps(obj: Any, indent: int | None = 2) -> str:
    """Strict JSON text of ``obj`` (numpy scalars as numbers, non-finite floats as null)."""
    return json.dumps(finite(json.loads(json.dumps(obj, default=_plain))), indent=indent, allow_nan=False)


def _plain(value: Any) -> Any:
    """numpy scalars and arrays, and anything else float() takes."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return float(value)

"""Which verification threshold a model uses: the user's own (saved by `faceprint calibrate
--save`) when there is one, else the registry's, calibrated on LFW View 1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from faceprint import registry, settings


def thresholds_file() -> Path:
    return settings.home_dir() / "thresholds.json"


def save_threshold(model: str, entry: dict[str, Any]) -> Path:
    """Store a user threshold that verify/identify use for ``model`` from now on."""
    path = thresholds_file()
    table = json.loads(path.read_text()) if path.exists() else {}
    table[model] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(table, indent=2) + "\n")
    return path


def saved_threshold(model: str) -> float | None:
    path = thresholds_file()
    if not path.exists():
        return None
    try:
        entry = json.loads(path.read_text()).get(model)
    except (OSError, ValueError):
        return None
    return float(entry["threshold"]) if entry else None


def threshold_for(model: str) -> float:
    """Euclidean threshold between unit embeddings under which ``model`` calls two faces the same."""
    user = saved_threshold(model)
    return user if user is not None else registry.embedder_spec(model).threshold

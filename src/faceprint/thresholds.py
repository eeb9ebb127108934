"""Which verification threshold a model uses: the user's own (saved by `faceprint calibrate
--save`) when there is one, else the registry's, calibrated on LFW View 1."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from faceprint import registry, settings

log = logging.getLogger(__name__)


def thresholds_file() -> Path:
    return settings.home_dir() / "thresholds.json"


def save_threshold(model: str, entry: dict[str, Any]) -> Path:
    """Store a user threshold that verify/identify use for ``model`` from now on (for a model file,
    until the file or its sidecar is rewritten: ``registry.model_file_stamp``)."""
    path = thresholds_file()
    table = json.loads(path.read_text()) if path.exists() else {}
    stamp = registry.model_file_stamp(model)
    table[model] = entry if stamp is None else {**entry, "model_stamp": list(stamp)}
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
    if not entry:
        return None
    stamp = registry.model_file_stamp(model)
    if "model_stamp" in entry and stamp is not None and tuple(entry["model_stamp"]) != stamp:
        log.warning("%s: rewritten since its threshold was calibrated; using the sidecar's until "
                    "`faceprint calibrate --save` is run again", model)
        return None
    return float(entry["threshold"])


def threshold_for(model: str) -> float:
    """Euclidean threshold between unit embeddings under which ``model`` calls two faces the same."""
    user = saved_threshold(model)
    return user if user is not None else registry.embedder_spec(model).threshold

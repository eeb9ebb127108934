"""Where faceprint finds data and keeps its files; every location can be overridden by env vars."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_MAX_PIXELS = 50_000_000


def home_dir() -> Path:
    """faceprint's own folder (models installed by a command, caches): $FACEPRINT_HOME or ~/.faceprint."""
    return Path(os.environ.get("FACEPRINT_HOME", Path.home() / ".faceprint")).expanduser()


def model_dir() -> Path:
    """Where models installed by `faceprint models install` live: $FACEPRINT_MODEL_DIR or
    $FACEPRINT_HOME/models."""
    env = os.environ.get("FACEPRINT_MODEL_DIR")
    return Path(env).expanduser() if env else home_dir() / "models"


def cache_dir() -> Path:
    return home_dir() / "cache"


def data_dir() -> Path | None:
    """Shared face data (LFW, ...): $FACEPRINT_DATA, else ../shared/data beside the checkout."""
    env = os.environ.get("FACEPRINT_DATA")
    if env:
        return Path(env).expanduser()
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent.parent / "shared" / "data"
        if (parent / "pyproject.toml").exists() and candidate.is_dir():
            return candidate
    return None


DEFAULT_GALLERY = "faceprint-gallery.db"


def default_gallery_path() -> Path:
    """The gallery `faceprint gallery`, `identify`, `video` and `serve` use when none is given:
    $FACEPRINT_GALLERY, else ./faceprint-gallery.db."""
    return Path(os.environ.get("FACEPRINT_GALLERY", DEFAULT_GALLERY)).expanduser()


def max_pixels() -> int:
    """Largest image (in pixels) faceprint will decode: $FACEPRINT_MAX_PIXELS or 50 Mpx.

    Raises:
        BadInput: the variable is not a positive whole number.
    """
    value = os.environ.get("FACEPRINT_MAX_PIXELS", "").strip()
    if not value:
        return DEFAULT_MAX_PIXELS
    try:
        pixels = int(value)  # takes 1_000_000 as Python writes it; not "_5" or "5_"
    except ValueError:
        pixels = 0
    if pixels < 1:
        from faceprint.errors import BadInput

        raise BadInput(f"FACEPRINT_MAX_PIXELS={value!r}: give a positive whole number of pixels "
                       f"(e.g. {DEFAULT_MAX_PIXELS}), or unset it")
    return pixels

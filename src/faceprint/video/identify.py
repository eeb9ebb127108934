"""Name tracks against a ``faceprint.Gallery``: the ``identify`` callable ``track_video`` votes with."""

from __future__ import annotations

from typing import Any

import numpy as np

from faceprint.errors import BadInput
from faceprint.quality import NAMING_FLOOR
from faceprint.video.vote import IdentifyVectors


def gallery_identifier(gallery: Any, threshold: float | None = None,
                       fpir: float | None = None,
                       min_quality: float | None = None) -> tuple[IdentifyVectors, float, float]:
    """The nearest enrolled person of each vector in ``gallery``, the threshold to vote with, and
    the quality floor under which a face votes "unknown".

    Args:
        gallery: an open ``faceprint.Gallery``; the video must be embedded with its pipeline
            (``gallery.config``), which ``track_video(gallery=...)`` does.
        threshold: the identification threshold; by default the gallery's own
            (``Gallery.threshold(fpir)``: calibrated on it, or the model's default for its size).
        fpir: false positive identification rate for the default threshold (see ``Gallery.threshold``).
        min_quality: the quality floor; by default the gallery's (``Gallery.quality_floor()``, the
            floor under which ``Gallery.identify`` answers "unknown"), else ``NAMING_FLOOR``.

    Returns:
        ``(identify, threshold, floor)``.

    Raises:
        BadInput: both ``threshold`` and ``fpir`` were given.
    """
    if threshold is not None and fpir is not None:
        raise BadInput("give a threshold or an FPIR to derive one from, not both")
    limit = float(gallery.threshold(fpir)) if threshold is None else float(threshold)
    if min_quality is not None:
        floor = float(min_quality)
    elif hasattr(gallery, "quality_floor"):
        floor = float(gallery.quality_floor())
    else:
        floor = NAMING_FLOOR

    def identify(vectors: np.ndarray) -> list[tuple[str | None, float]]:
        found = gallery.identify_vectors(vectors, top_k=1, signature=gallery.signature)
        return [(c[0].subject, float(c[0].distance)) if c else (None, float("inf")) for c in found]

    return identify, limit, floor

"""Name a track by a vote of its frames, weighted by how sure each frame is.

Each detection frame votes for its nearest enrolled person when within the threshold, else for
"unknown"; a poor face (``faceprint.quality.is_poor`` under the floor) always votes "unknown", so a
name needs at least one frame that is not poor. A frame's weight is its face's quality (1 when not scored) times how clearly its
distance falls on its side of the threshold: a name vote at distance ``d`` weighs
``1 - d / threshold`` (a frame at the threshold barely counts), an "unknown" vote
``(d - threshold) / threshold`` (both at least ``MIN_WEIGHT`` and at most 1). The name with the
most weight wins only with more than half of the track's weight (``confidence``); otherwise the
track is "unknown": a wrong name is worse than no name.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from faceprint.quality import NAMING_FLOOR, is_poor

UNKNOWN = "unknown"
MIN_WEIGHT = 0.05
MIN_CONFIDENCE = 0.5  # share of the weight a name must exceed to name a track

# rows of unit vectors -> for each, the nearest enrolled person and the distance (None, inf: empty gallery)
IdentifyVectors = Callable[[np.ndarray], list[tuple[str | None, float]]]


@dataclass(frozen=True)
class Vote:
    """A track's name.

    Attributes:
        name: the person with most weight when it holds more than half of it, else ``"unknown"``.
        distance: median distance of the frames that voted for ``name`` (for ``"unknown"``: median
            distance to the nearest enrolled face over all frames; inf with an empty gallery).
        votes: frames per name (``"unknown"`` included).
        frames: frames that voted.
        weights: summed weight per name.
        confidence: the share of the weight that went to ``name`` (0-1).
    """

    name: str
    distance: float
    votes: dict[str, int]
    frames: int
    weights: dict[str, float] = field(default_factory=dict)
    confidence: float = 0.0

    def to_dict(self) -> dict:
        distance = round(self.distance, 4) if np.isfinite(self.distance) else None
        return {"name": self.name, "distance": distance, "votes": dict(self.votes), "frames": self.frames,
                "confidence": round(self.confidence, 3),
                "weights": {k: round(v, 3) for k, v in self.weights.items()}}


def frame_label(name: str | None, distance: float, threshold: float, quality: float | None = None,
                floor: float = NAMING_FLOOR) -> str:
    """What one frame votes for: its nearest person within the threshold, else "unknown"; a face of
    quality under ``floor`` votes "unknown" (as ``Gallery.identify`` answers for it)."""
    if name is None or distance > threshold or is_poor(quality, floor):
        return UNKNOWN
    return name


def frame_weight(label: str, distance: float, threshold: float, quality: float | None = None) -> float:
    """How much one frame's vote counts (see the module's docstring)."""
    if not np.isfinite(distance) or threshold <= 0:
        margin = 1.0
    elif label == UNKNOWN:
        margin = (distance - threshold) / threshold
    else:
        margin = 1.0 - distance / threshold
    q = 1.0 if quality is None else float(np.clip(quality, 0.0, 1.0))
    return float(np.clip(margin, MIN_WEIGHT, 1.0)) * max(q, MIN_WEIGHT)


def vote(matches: Sequence[tuple[str | None, float]], threshold: float,
         qualities: Sequence[float | None] | None = None, floor: float = NAMING_FLOOR) -> Vote:
    """Weighted vote over a track's frames; a tie goes to the name with the smaller median
    distance, and "unknown" loses a tie with a name.

    Args:
        matches: (nearest person or None, distance) per detection frame.
        threshold: a frame votes for its nearest person only at a distance <= this.
        qualities: each frame's face quality (None or absent: not scored).
        floor: a face of quality under this votes "unknown" (``faceprint.quality.is_poor``).

    Returns:
        The ``Vote``.

    Example:
        >>> vote([("ann", 0.2), ("ann", 0.25), ("bob", 0.38)], threshold=0.4).name
        'ann'
    """
    if not matches:
        return Vote(UNKNOWN, float("inf"), {}, 0)
    qualities = list(qualities) if qualities is not None else [None] * len(matches)
    labels = [frame_label(name, d, threshold, q, floor) for (name, d), q in zip(matches, qualities)]
    counts = Counter(labels)
    weights: dict[str, float] = {}
    for lab, (_, d), q in zip(labels, matches, qualities):
        weights[lab] = weights.get(lab, 0.0) + frame_weight(lab, d, threshold, q)
    medians = {name: float(np.median([d for (_, d), lab in zip(matches, labels) if lab == name])) for name in counts}
    winner = min(counts, key=lambda n: (-weights[n], n == UNKNOWN, medians[n]))
    total = sum(weights.values())
    confidence = weights[winner] / total if total > 0 else 0.0
    if winner != UNKNOWN and confidence <= MIN_CONFIDENCE:
        winner = UNKNOWN
        confidence = weights.get(UNKNOWN, 0.0) / total if total > 0 else 0.0
    distance = medians.get(winner, float("nan"))
    if winner == UNKNOWN:
        distance = float(np.median([d for _, d in matches]))
    ordered = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    ordered_weights = dict(sorted(weights.items(), key=lambda kv: -kv[1]))
    return Vote(winner, distance, ordered, len(matches), ordered_weights, confidence)

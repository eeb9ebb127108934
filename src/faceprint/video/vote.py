"""Name a track by a vote of its frames: each detection frame votes for its nearest enrolled
person when within the threshold, else for "unknown"."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

UNKNOWN = "unknown"

# rows of unit vectors -> for each, the nearest enrolled person and the distance (None, inf: empty gallery)
IdentifyVectors = Callable[[np.ndarray], list[tuple[str | None, float]]]


@dataclass(frozen=True)
class Vote:
    """A track's name.

    Attributes:
        name: the person with most votes, or ``"unknown"``.
        distance: median distance of the frames that voted for ``name`` (for ``"unknown"``: median
            distance to the nearest enrolled face over all frames; inf with an empty gallery).
        votes: frames per name (``"unknown"`` included).
        frames: frames that voted.
    """

    name: str
    distance: float
    votes: dict[str, int]
    frames: int

    def to_dict(self) -> dict:
        distance = round(self.distance, 4) if np.isfinite(self.distance) else None
        return {"name": self.name, "distance": distance, "votes": dict(self.votes), "frames": self.frames}


def vote(matches: Sequence[tuple[str | None, float]], threshold: float) -> Vote:
    """Plurality vote over a track's frames; ties go to the name with the smaller median distance,
    and "unknown" loses a tie with a name.

    Args:
        matches: (nearest person or None, distance) per detection frame.
        threshold: a frame votes for its nearest person only at a distance <= this.

    Example:
        >>> vote([("ann", 0.3), ("ann", 0.35), ("bob", 0.41)], threshold=0.4).name
        'ann'
    """
    if not matches:
        return Vote(UNKNOWN, float("inf"), {}, 0)
    labels = [name if name is not None and d <= threshold else UNKNOWN for name, d in matches]
    counts = Counter(labels)
    medians = {name: float(np.median([d for (_, d), lab in zip(matches, labels) if lab == name])) for name in counts}
    winner = min(counts, key=lambda n: (-counts[n], n == UNKNOWN, medians[n]))
    distance = medians[winner]
    if winner == UNKNOWN:
        distance = float(np.median([d for _, d in matches]))
    ordered = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return Vote(winner, distance, ordered, len(matches))

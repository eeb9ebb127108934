"""Enrol and poor photos: the gallery's saved floor (``min_quality`` in its meta), the rule of one
enrol call (``QualityRule``), and the note or refusal a poor photo gets, with its score and the cue
that makes it poor (``faceprint.quality``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from faceprint import quality
from faceprint.errors import BadInput
from faceprint.gallery.store import Store

MIN_QUALITY_KEY = "min_quality"  # the gallery's meta entry: the quality below which enrol refuses a photo
POOR = "poor quality"  # how a poor photo's problem or note begins


def stored_min_quality(store: Store) -> float | None:
    """The gallery's saved enrol floor (``QualityRule``), or None: poor photos are only warned about.

    Args:
        store: the gallery's store.

    Returns:
        The floor in [0, 1], or None when none is saved.
    """
    value = store.meta(MIN_QUALITY_KEY)
    return None if value in (None, "") else float(value)


def save_min_quality(store: Store, value: float | None) -> None:
    """Save (or with None, clear) the gallery's enrol floor.

    Args:
        store: the gallery's store.
        value: photos whose quality is below this are refused by every later enrol that does not
            override it; None: warn only.

    Raises:
        BadInput: a value outside [0, 1].
    """
    store.set_meta(MIN_QUALITY_KEY, "" if value is None else str(float(_floor(value))))


def _floor(value: float) -> float:
    if not 0.0 <= float(value) <= 1.0:
        raise BadInput(f"min_quality must be between 0 and 1, not {value} (quality scores run from 0 to 1)")
    return float(value)


@dataclass(frozen=True)
class QualityRule:
    """What an enrol does with poor photos: refuse those below ``refuse_below`` (None: refuse none)
    and enrol, with a note, those below ``warn_below``."""

    refuse_below: float | None = None
    warn_below: float = quality.POOR_QUALITY

    @classmethod
    def of(cls, store: Store | None, min_quality: float | None = None, allow_poor: bool = False) -> "QualityRule":
        """The rule of one enrol call.

        Args:
            store: the gallery's store (its saved ``min_quality``); None for none saved.
            min_quality: this call's floor, instead of the saved one.
            allow_poor: refuse nothing for quality (poor photos are still noted).

        Returns:
            The rule.

        Raises:
            BadInput: ``min_quality`` outside [0, 1].
        """
        floor = _floor(min_quality) if min_quality is not None else (stored_min_quality(store) if store else None)
        return cls(None if allow_poor else floor)

    def verdict(self, score: float | None) -> str | None:
        """Either "refuse", "warn" or None (a good photo, or one not scored)."""
        if self.refuse_below is not None and quality.is_poor(score, self.refuse_below):
            return "refuse"
        return "warn" if quality.is_poor(score, self.warn_below) else None


def passes(rule: QualityRule, face: Any, data: Any, label: str, pipeline: Any, tally: Any) -> bool:
    """Whether a face goes in by the quality rule; a poor one is noted (or refused) with its score
    and weakest cue.

    Args:
        rule: the enrol call's rule.
        face: the photo's ``Embedding`` (its quality, else its detection's).
        data: the photo as read (decoded again only for a poor face's reason).
        label: the photo's name in the report.
        pipeline: the gallery's pipeline (its model picks the quality fit).
        tally: the enrol's ``Enrolment``: problems and notes are added to it.

    Returns:
        False when the photo is refused.
    """
    score = face.quality if face.quality is not None else face.detection.quality
    verdict = rule.verdict(score)
    if verdict is None:
        return True
    why = _weakest(face.detection, data, pipeline)
    if verdict == "refuse":
        tally.problems[label] = (f"{POOR} {score:.2f} < {rule.refuse_below:.2f} ({why}); not enrolled "
                                 "(a larger, sharper, frontal photo; or --allow-poor / --min-quality to keep it)")
        return False
    tally.notes.append(f"{label}: {POOR} {score:.2f} ({why}); enrolled, but a larger, sharper, frontal photo "
                       "identifies more reliably")
    return True


def _weakest(detection: Any, data: Any, pipeline: Any) -> str:
    """The cue that makes a face poor, in words (the photo is decoded again: poor photos are few)."""
    from faceprint.pipeline.sources import decode

    try:
        image = decode(data)
    except Exception:  # noqa: BLE001 (decoded once already; without it the cues lack sharpness only)
        image = None
    cues = quality.detection_cues(detection, image)
    return quality.weakest_cue(cues, getattr(getattr(pipeline, "config", None), "model", None)) or "unclear face"

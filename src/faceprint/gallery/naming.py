"""Naming faces against a gallery: the nearest subjects of each vector, the threshold and quality
floor a gallery names with, and the decision "this person" or ``"unknown"`` (with its reason).

A face whose quality (``Detection.quality``, ``faceprint.quality``) lies below the gallery's floor
is answered ``"unknown"`` whatever its distance: small, blurred or turned faces take names as
readily as good ones otherwise. A face with no score is judged by its distance alone."""

from __future__ import annotations

import json
import logging
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from faceprint import thresholds
from faceprint.errors import BadInput, GalleryMismatch
from faceprint.gallery.store import Store
from faceprint.gallery.types import Candidate, Identification
from faceprint.types import Detection

log = logging.getLogger(__name__)

QUALITY_FLOOR_META = "identify_min_quality"


def check_signature(given: str | None, own: str) -> None:
    """Refuse vectors of another pipeline than the gallery's.

    Args:
        given: the vectors' pipeline signature (None: not known, not checked).
        own: the gallery's.

    Raises:
        GalleryMismatch: the two differ.
    """
    if given is not None and given != own:
        raise GalleryMismatch(f"vectors of {given} searched in a gallery of {own}: refused, they are not comparable")


def nearest_subjects(searcher: Any, store: Store, vectors: np.ndarray, top_k: int) -> list[list[Candidate]]:
    """Top-k subjects of each vector, nearest first, each scored by its nearest face.

    Args:
        searcher: the gallery's ``Searcher``.
        store: the gallery's store (for the faces' subject names).
        vectors: (Q, dim) or (dim,) vectors.
        top_k: subjects per vector.

    Returns:
        One list of candidates per vector (shorter where the gallery has fewer subjects).

    Raises:
        GalleryMismatch: vectors of another dimension than the gallery's.
    """
    q = np.atleast_2d(np.asarray(vectors, np.float32))
    if q.size == 0:
        return [[] for _ in range(len(q))]
    total = len(searcher)
    if total and q.shape[1] != searcher.dim:
        raise GalleryMismatch(f"{q.shape[1]}-d vectors searched in a gallery of {searcher.dim}-d vectors")
    if total == 0:
        return [[] for _ in range(len(q))]
    fetch = min(total, max(4 * top_k, 16))
    while True:
        ids, dists = searcher.search(q, fetch)
        names = store.face_subjects(ids[ids >= 0].tolist())
        out = [_top_subjects(ids[r], dists[r], names, top_k) for r in range(len(q))]
        if not any(len(c) < top_k for c in out) or fetch >= total:
            return out
        fetch = min(total, fetch * 4)  # a few subjects own all the nearest faces: look further


def gallery_threshold(store: Store, model: str, faces: int, fpir: float | None) -> tuple[float, str]:
    """The threshold a gallery names faces with, and where it comes from, in words.

    Args:
        store: the gallery's store (where a calibrated threshold is saved).
        model: the gallery's model.
        faces: faces in the gallery now.
        fpir: a false positive identification rate for the model's default threshold; None takes
            the saved calibrated threshold when there is one, else the default at FPIR 1 %.

    Returns:
        ``(threshold, source)``; the default counts each enrolled person's faces
        (``thresholds.chances``); a saved threshold calibrated at less than half or more than
        twice ``faces`` is still used, and its source says it is stale.

    Raises:
        BadInput: ``fpir`` outside (0, 1).
    """
    if fpir is not None:
        thresholds.check_fpir(fpir)  # before the saved threshold is looked at: a bad rate is refused either way
    saved = store.meta("ident_threshold")
    if fpir is None and saved:
        entry = json.loads(saved)
        then = int(entry.get("gallery_faces") or 0)
        if then and not then / 2 <= faces <= then * 2:  # a stranger's chances grow with the gallery
            log.warning("%s: the saved threshold was calibrated at %d faces and the gallery holds %d; "
                        "run `faceprint calibrate --gallery` again", store.path, then, faces)
            return float(entry["threshold"]), f"calibrated on this gallery at {then} faces (now {faces}: stale)"
        return float(entry["threshold"]), "calibrated on this gallery"
    faces, fpir = max(faces, 1), thresholds.DEFAULT_FPIR if fpir is None else fpir
    counts = faces_per_person(store)  # several photos a person: fewer chances
    key = (model, faces, fpir)
    threshold = counts.thresholds.get(key)
    if threshold is None:  # once per gallery state and rate: a million people are summed once
        threshold = thresholds.identification_threshold(model, faces, fpir, counts.faces or None)
        if len(counts.thresholds) >= 16:  # rates are the caller's choice: keep a few
            counts.thresholds.clear()
        counts.thresholds[key] = threshold
    return threshold, f"default for {faces} faces of {len(counts.faces)} people at FPIR {fpir:g}"


def check_floor(floor: float) -> float:
    """Check a quality floor (0 names every face, 1 none).

    Args:
        floor: the quality under which a face is answered ``"unknown"``.

    Returns:
        ``floor`` as a float.

    Raises:
        BadInput: ``floor`` does not lie between 0 and 1 (NaN included).
    """
    if not 0.0 <= floor <= 1.0:  # NaN fails too
        raise BadInput(f"a quality floor must lie between 0 and 1 (e.g. 0.35), not {floor:g}")
    return float(floor)


def quality_floor(store: Store, floor: float | None = None) -> float:
    """The quality under which a gallery answers ``"unknown"``; given ``floor``, set it first.

    Args:
        store: the gallery's store (where the setting is kept).
        floor: a new floor to keep with the gallery, or None to only read it.

    Returns:
        The gallery's floor: the one set, else ``faceprint.quality.NAMING_FLOOR``.

    Raises:
        BadInput: ``floor`` outside [0, 1].
    """
    from faceprint.quality import NAMING_FLOOR

    if floor is not None:
        store.set_meta(QUALITY_FLOOR_META, repr(check_floor(floor)))
    saved = store.meta(QUALITY_FLOOR_META)
    return NAMING_FLOOR if saved is None else float(saved)


@dataclass
class PeopleCounts:
    """The faces of each subject that has any, at one state of a store, and the default thresholds
    worked out from them (by model, faces and FPIR)."""

    generation: Any
    faces: list[int]
    thresholds: dict[tuple[str, int, float], float] = field(default_factory=dict)


_PEOPLE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def faces_per_person(store: Store) -> PeopleCounts:
    """The faces of each subject that has any, read again only when the store has changed.

    Args:
        store: the gallery's store.

    Returns:
        One count per subject with faces (``faces``; [] for an empty gallery), with a cache of the
        thresholds worked out from them.
    """
    generation = store.generation()
    known = _PEOPLE.get(store)
    if known is None or known.generation != generation:
        known = PeopleCounts(generation, [s.faces for s in store.subjects() if s.faces])
        try:
            _PEOPLE[store] = known
        except TypeError:  # a store that cannot be weakly referenced: counted every time
            pass
    return known


def decide(detection: Detection, candidates: list[Candidate], threshold: float,
           min_quality: float | None = None) -> Identification:
    """Name a face after its first candidate when within the threshold, else ``"unknown"`` with the reason.

    Args:
        detection: the face (its ``quality``, when scored, is held against ``min_quality``).
        candidates: its nearest subjects, nearest first.
        threshold: the distance under which it is named.
        min_quality: the quality under which the face is answered ``"unknown"`` whatever its
            distance; None: no floor.

    Returns:
        The identification; ``reason`` says why a face is ``"unknown"``.
    """
    from faceprint.quality import is_poor

    best = candidates[0] if candidates else None
    distance = None if best is None else best.distance
    if min_quality is not None and is_poor(detection.quality, min_quality):
        reason = f"poor quality {detection.quality:.2f} < {min_quality:.2f}"
    elif best is None:
        reason = "the gallery is empty"
    elif best.distance > threshold:
        reason = f"no match within threshold ({best.distance:.3f} > {threshold:.3f})"
    else:
        reason = None
    return Identification(detection=detection, name="unknown" if reason else best.subject, distance=distance,
                          candidates=candidates, threshold=float(threshold), reason=reason)


def _top_subjects(ids: np.ndarray, dists: np.ndarray, names: dict[int, str], k: int) -> list[Candidate]:
    out: list[Candidate] = []
    seen: set[str] = set()
    for fid, d in zip(ids, dists):
        name = names.get(int(fid))
        if fid < 0 or name is None or name in seen:
            continue
        seen.add(name)
        out.append(Candidate(subject=name, distance=float(d), face_id=int(fid)))
        if len(out) == k:
            break
    return out


def embed_photo(pipeline: Any, image: Any) -> tuple[list[Detection], np.ndarray]:
    """Every face of a photo, embedded with a gallery's pipeline.

    Args:
        pipeline: the gallery's ``Pipeline``.
        image: a path, encoded bytes or an array.

    Returns:
        ``(detections, vectors)``, row for row (an empty list and array when there is no face); each
        detection's ``quality`` is its embedding's score where the pipeline gave one.

    Raises:
        BadImage: the photo cannot be read.
    """
    from dataclasses import replace

    from faceprint.images import load_image

    rgb = load_image(image)
    embeddings = pipeline.embed(rgb, pipeline.detect(rgb))
    vectors = np.stack([e.vector for e in embeddings]) if embeddings else np.zeros((0, 0), np.float32)
    # the embedding's score (chip and network cues too) replaces the detector's own on the face
    return [e.detection if e.quality is None else replace(e.detection, quality=e.quality)
            for e in embeddings], vectors

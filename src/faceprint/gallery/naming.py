"""Naming faces against a gallery: the nearest subjects of each vector, the threshold a gallery
names with, and the decision "this person" or ``"unknown"``."""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np

from faceprint import thresholds
from faceprint.errors import GalleryMismatch
from faceprint.gallery.store import Store
from faceprint.gallery.types import Candidate, Identification
from faceprint.types import Detection

log = logging.getLogger(__name__)


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
        ``(threshold, source)``; a saved threshold calibrated at less than half or more than
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
    return thresholds.identification_threshold(model, faces, fpir), f"default for {faces} faces at FPIR {fpir:g}"


def decide(detection: Detection, candidates: list[Candidate], threshold: float) -> Identification:
    """Name a face after its first candidate when within the threshold, else ``"unknown"``.

    Args:
        detection: the face.
        candidates: its nearest subjects, nearest first.
        threshold: the distance under which it is named.

    Returns:
        The identification.
    """
    best = candidates[0] if candidates else None
    named = best is not None and best.distance <= threshold
    return Identification(detection=detection, name=best.subject if named else "unknown",
                          distance=None if best is None else best.distance, candidates=candidates,
                          threshold=float(threshold))


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
        ``(detections, vectors)``, row for row (an empty list and array when there is no face).

    Raises:
        BadImage: the photo cannot be read.
    """
    from faceprint.images import load_image

    rgb = load_image(image)
    embeddings = pipeline.embed(rgb, pipeline.detect(rgb))
    vectors = np.stack([e.vector for e in embeddings]) if embeddings else np.zeros((0, 0), np.float32)
    return [e.detection for e in embeddings], vectors

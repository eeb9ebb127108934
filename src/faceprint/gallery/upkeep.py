"""Checking a gallery: the store's own integrity, one pipeline signature, sound vectors, the people
rules (each face's person exists, "not this person" links hold and point at faces and people
that exist, no person holds two faces of one photo), and an index that holds exactly the store's
faces (a stale one is brought up to date, and said so)."""

from __future__ import annotations

from typing import Any

import numpy as np

from faceprint.gallery.store import Store
from faceprint.gallery.types import CheckReport


def check_gallery(store: Store, searcher: Any, signature: str, dim: int | None, sample: int = 1000) -> CheckReport:
    """Store and index consistency.

    Args:
        store: the gallery's store.
        searcher: its ``Searcher``.
        signature: the gallery's pipeline signature.
        dim: the gallery's vector dimension (None before the first face).
        sample: stored faces whose vectors are compared with the index's.

    Returns:
        ``ok`` with no ``problems``, and what was ``repaired``.
    """
    problems = list(store.integrity())
    for sig, count in store.signatures().items():
        if sig != signature:
            problems.append(f"{count} faces were embedded with {sig}, not the gallery's {signature}")
    bad = 0
    for ids, vectors in store.vectors():
        if dim is not None and vectors.shape[1] != dim:
            problems.append(f"{len(ids)} faces have {vectors.shape[1]}-d vectors, the gallery {dim}-d")
            continue
        norms = np.linalg.norm(vectors, axis=1)
        bad += int(np.sum(~np.isfinite(norms) | (np.abs(norms - 1.0) > 1e-3)))
    if bad:
        problems.append(f"{bad} stored vectors are not unit length")
    people = getattr(store, "people_store", None)
    if people is not None:
        problems += people().problems()
    index_problems, repaired, faces = searcher.check(sample)
    problems += index_problems
    return CheckReport(ok=not problems, problems=problems, faces=faces, subjects=len(store.subjects()),
                       index=searcher.describe(), repaired=repaired)

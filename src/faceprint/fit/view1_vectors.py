"""LFW View 1 people as unit vectors for any model, cached: the fitters' many-people training set.

View 1 names the people of ``pairsDevTrain.txt`` and ``pairsDevTest.txt`` (3,095 people, 1,732 of them
with one photo): a mix of people with one photo and people with many, as users' galleries are. It is
fitting data; ``pairs.txt`` (View 2) is never read here, though LFW's views share people and many of
these photos also appear in View 2's pairs. The photos go through the model's own pipeline
(detect, align, embed), so a fused model's vectors are what ``identify`` would see.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def view1_vectors(data: Path, model: str, cache: Path, per_person: int = 20,
                  workers: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors and people of LFW View 1's photos (at most ``per_person`` each), cached.

    Args:
        data: the shared data folder (holding ``lfw/`` with its pairs files).
        model: the embedding model.
        cache: the folder the vectors are kept in (``lfw-view1-<model>-<per_person>.npz``).
        per_person: photos kept per person (the first, sorted by name; a few people have hundreds).
        workers: processes embedding the photos the first time.

    Returns:
        ``(vectors, people)``, one row per photo in which the pipeline found a face.
    """
    path = cache / f"lfw-view1-{model}-{per_person}.npz"
    if path.exists():
        saved = np.load(path)
        return saved["vectors"], saved["people"]
    from faceprint.fit.embedding import embed_labelled
    from faceprint.fit.identification import view1_people
    from faceprint.pipeline.pipeline import Pipeline, PipelineConfig

    items = view1_people(data / "lfw", per_person=per_person)
    found, problems = embed_labelled(Pipeline(PipelineConfig(model=model)), items, workers, progress=True)
    log.info("LFW View 1 / %s: %d photos embedded, %d without a face", model, len(found), len(problems))
    vectors = np.stack([v for v, _ in found]).astype(np.float32)
    people = np.array([n for _, n in found])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, vectors=vectors, people=people)
    return vectors, people

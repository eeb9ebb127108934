"""Held-out face vectors for ``bench_identification.py``: CelebA chips, ORL and five_celebrity photos,
and the LFW people in neither View 1 nor View 2, embedded once per model and cached on disk.

CelebA chips: ``faceprint.fit.celeba_chips`` (aligned already). The other sets are photos: the
model's own pipeline detects, aligns and embeds them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def _cached(path: Path, make) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if path.exists():
        d = np.load(path)
        return d["vectors"], d["names"], d["files"]
    vectors, names, files = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, vectors=vectors, names=names, files=files)
    return vectors, names, files


def lfw_outside_protocols(lfw: Path) -> list[tuple[Path, str]]:
    """Photos of the LFW people named in no pairs file (neither View 1 nor View 2)."""
    from faceprint.eval.protocols import read_lfw_pairs

    named: set[str] = set()
    for name in ("pairs.txt", "pairsDevTrain.txt", "pairsDevTest.txt"):
        for pair in read_lfw_pairs(lfw / name):
            named.update({Path(pair.first).parent.name, Path(pair.second).parent.name})
    return [(p, f"lfw_{d.name}") for d in sorted(lfw.iterdir()) if d.is_dir() and d.name not in named
            for p in sorted(d.glob("*.jpg"))]


def evaluation_sets(data: Path) -> dict[str, list[tuple[Path, str]]]:
    """``(path, person)`` of the evaluation-only sets: LFW View 2 (every photo of ``pairs.txt``) and
    cfp_dev's frontal and profile photos. Only for measuring what a default does on them."""
    from faceprint.eval.protocols import read_lfw_pairs

    lfw = data / "lfw"
    view2 = sorted({Path(p) for pair in read_lfw_pairs(lfw / "pairs.txt") for p in (pair.first, pair.second)})
    cfp = data / "cfp_dev"
    sets = {"lfw_view2": [(p if p.is_absolute() else lfw / p, p.parent.name) for p in view2]}
    for pose in ("frontal", "profile"):
        sets[f"cfp_dev_{pose}"] = [(p, f"cfp_{d.name}") for d in sorted(cfp.iterdir()) if (d / pose).is_dir()
                                   for p in sorted((d / pose).glob("*.jpg"))]
    return sets


def photo_sets(data: Path) -> dict[str, list[tuple[Path, str]]]:
    """``(path, person)`` of each photo set that the pipeline embeds from photos."""
    orl = [(p, f"orl_{d.name}") for d in sorted((data / "orl").iterdir()) if d.is_dir()
           for p in sorted(d.glob("*.pgm"))]
    five = [(p, f"five_{d.name}") for split in ("train", "val")
            for d in sorted((data / "five_celebrity" / split).iterdir()) if d.is_dir()
            for p in sorted(d.iterdir()) if p.is_file()]
    return {"orl": orl, "five_celebrity": five, "lfw_outside_protocols": lfw_outside_protocols(data / "lfw")}


def photos(items: list[tuple[Path, str]], model: str, cache: Path, label: str,
           workers: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit vectors, people and paths of the photos in which ``model``'s pipeline finds a face."""

    def make() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from faceprint.fit.embedding import embed_labelled
        from faceprint.pipeline.pipeline import Pipeline, PipelineConfig

        pipeline = Pipeline(PipelineConfig(model=model))
        found, problems = embed_labelled(pipeline, items, workers, progress=True)
        log.info("%s/%s: %d embedded, %d without a face", label, model, len(found), len(problems))
        names = np.array([n for _, n in found])
        return np.stack([v for v, _ in found]).astype(np.float32), names, names

    return _cached(cache / f"{label}-{model}.npz", make)


def load(data: Path, model: str, cache: Path, workers: int = 1) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every held-out set for ``model``: ``{set: (vectors, people)}``."""
    from faceprint.fit.celeba_chips import celeba_chips

    out = {"celeba": celeba_chips(data, model, cache)[:2]}
    for label, items in photo_sets(data).items():
        out[label] = photos(items, model, cache, label, workers)[:2]
    return out

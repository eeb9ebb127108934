"""Choose the clustering threshold on CelebA chips, never on LFW (the benchmark's evaluation set).

    python -m faceprint.clustering.calibrate [--data ../shared/data/celeba_dlib150] [--draws 5]

The chips of ``celeba_dlib150`` are dlib's own 150x150 face chips already, so they go straight
into the network (with the chip's mirror image as the flip view). Collections of 20, 50, 100
and 200 random identities (``--draws`` each) and the whole set (297 people) are clustered over
a grid of thresholds; the threshold with the best mean BCubed F1 wins. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

GRID = np.round(np.arange(0.25, 0.701, 0.01), 2)
SIZES = (20, 50, 100, 200)
WHISPERS_MAX = 0.50


def celeba_vectors(root: Path, model: str = "dlib", batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors and identity names of every chip under ``root/images``, cached on disk."""
    from faceprint import registry, settings
    from faceprint.images import load_image
    from faceprint.pipeline.embed import embed_chips
    from faceprint.pipeline.pipeline import VECTOR_REVISION

    paths = sorted((root / "images").glob("*/*.jpg"))
    if not paths:
        raise SystemExit(f"{root}: no chips found under images/ (is this celeba_dlib150?)")
    cache = settings.cache_dir() / "bench" / f"celeba_dlib150-{model}-{VECTOR_REVISION}-{len(paths)}.npz"
    if cache.exists():
        data = np.load(cache)
        return data["vectors"], data["names"]
    network = registry.create_embedder(model)
    vectors = []
    for start in range(0, len(paths), batch):
        chips = np.stack([load_image(p) for p in paths[start : start + batch]])
        vectors.append(embed_chips(network, chips, flip=True))
        log.info("embedded %d / %d chips", start + len(chips), len(paths))
    out = np.concatenate(vectors), np.array([p.parent.name for p in paths])
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, vectors=out[0], names=out[1])
    return out


def sweep(vectors: np.ndarray, names: np.ndarray, draws: int = 5, seed: int = 0, whispers: bool = False) -> dict:
    """Mean BCubed and pairwise F1 per threshold over random collections of identities; with
    ``whispers``, the same for dlib's chinese whispers (to give the baseline its own best
    threshold on the same data)."""
    from faceprint.clustering.linkage import average_linkage, cut
    from faceprint.clustering.metrics import bcubed_scores, pairwise_scores

    people = np.unique(names)
    rng = np.random.default_rng(seed)
    collections = [rng.choice(people, size, replace=False) for size in SIZES if size < len(people)
                   for _ in range(draws)] + [people]
    bcubed = np.zeros((len(collections), len(GRID)))
    pairwise = np.zeros_like(bcubed)
    whispers_bcubed = np.zeros_like(bcubed)
    for c, chosen in enumerate(collections):
        keep = np.isin(names, chosen)
        merges = average_linkage(vectors[keep], float(GRID[-1]))
        for t, threshold in enumerate(GRID):
            labels = cut(merges, int(keep.sum()), float(threshold))
            bcubed[c, t] = bcubed_scores(names[keep], labels)["f1"]
            pairwise[c, t] = pairwise_scores(names[keep], labels)["f1"]
            # chinese whispers links nearly every pair above 0.5 here (slow, and far past its best)
            if whispers and threshold <= WHISPERS_MAX:
                whispers_bcubed[c, t] = bcubed_scores(names[keep], _whispers(vectors[keep], float(threshold)))["f1"]
    best = int(np.argmax(bcubed.mean(axis=0)))
    extra = {}
    if whispers:
        swept = GRID <= WHISPERS_MAX
        extra = {"chinese_whispers_threshold": float(GRID[int(np.argmax(whispers_bcubed.mean(axis=0)))]),
                 "chinese_whispers_bcubed_f1": [round(float(v), 4) for v in whispers_bcubed.mean(axis=0)[swept]]}
    return {
        "threshold": float(GRID[best]), "criterion": "best mean BCubed F1",
        "collections": [len(c) for c in collections], "faces": int(len(vectors)), "people": int(len(people)),
        "grid": [float(g) for g in GRID],
        "bcubed_f1": [round(float(v), 4) for v in bcubed.mean(axis=0)],
        "pairwise_f1": [round(float(v), 4) for v in pairwise.mean(axis=0)],
        "bcubed_f1_at_best_by_size": {f"{len(c)}:{i}": round(float(bcubed[i, best]), 4)
                                      for i, c in enumerate(collections)},
        **extra,
    }


def _whispers(vectors: np.ndarray, threshold: float) -> np.ndarray:
    import dlib

    return np.asarray(dlib.chinese_whispers_clustering([dlib.vector(v.tolist()) for v in vectors.astype(np.float64)],
                                                       threshold))


def main() -> None:
    from faceprint import settings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = settings.data_dir() / "celeba_dlib150" if settings.data_dir() else None
    parser.add_argument("--data", type=Path, default=default, help="the celeba_dlib150 folder")
    parser.add_argument("--model", default="dlib")
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--whispers", action="store_true", help="also sweep dlib's chinese whispers")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.data is None:
        raise SystemExit("celeba_dlib150 not found: pass --data or set FACEPRINT_DATA")
    vectors, names = celeba_vectors(args.data, args.model)
    result = sweep(vectors, names, args.draws, whispers=args.whispers)
    sys.stdout.write(json.dumps({"model": args.model, "data": str(args.data), **result}, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""Verification thresholds: the models' defaults on LFW View 1, and a user's own at a false accept rate.

Defaults (``models/calibration.json``, read by the registry): the Euclidean threshold that maximises
accuracy on LFW View 1 ``pairsDevTrain.txt``, and for a fused model its members' weights. View 2
(``pairs.txt``) is never read here: it stays for evaluation.

    python -m faceprint.fit.verification --model dlib
    python -m faceprint.fit.verification --model dlib+mobilefacenet   # also fits its fusion weights
    python -m faceprint.fit.verification --model dlib --pairs 200 --output /tmp/calibration.json

A fused model's weights for turned faces (|yaw| > ``pipeline.detect.PROFILE_YAW``) are its frontal
weights with dlib's times ``--profile-dlib-share``: View 1 holds too few turned faces to fit them, so
that share is a choice made on CFP dev (``python scripts/pose_candidates.py cfp``) and recorded as such.

A user's threshold (``faceprint calibrate ROOT``): ``calibrate_folder`` embeds ``ROOT/<name>/*.jpg``,
forms every genuine pair and up to 200,000 impostor pairs, and picks the largest threshold whose
false accept rate stays within the target, with 95 % bootstrap intervals (``calibrate_distances``).
"""

from __future__ import annotations

import argparse
import json
import logging
from datetime import date
from itertools import combinations
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from faceprint.errors import BadInput

log = logging.getLogger(__name__)

CALIBRATION = Path(__file__).resolve().parents[1] / "models" / "calibration.json"
"""The default thresholds and fusion weights the registry reads."""

MAX_IMPOSTOR_PAIRS = 200_000


# -- a user's threshold at a false accept rate ------------------------------------------------------------

def labelled_pairs(labels: Sequence[str], max_impostor: int = MAX_IMPOSTOR_PAIRS,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs of labelled items: every genuine pair, and the impostor pairs.

    Args:
        labels: one person's name per item.
        max_impostor: at most this many impostor pairs; above it, a random sample of that many.
        seed: the sample's random seed.

    Returns:
        ``(pairs, same)``: an ``(n, 2)`` array of item indices, genuine pairs first, and a boolean
        array that is True for a genuine pair.
    """
    labels_arr = np.array(labels)
    genuine = [(i, j) for i, j in combinations(range(len(labels)), 2) if labels[i] == labels[j]]
    n = len(labels)
    total_impostor = n * (n - 1) // 2 - len(genuine)
    if total_impostor <= max_impostor:
        impostor = [(i, j) for i, j in combinations(range(n), 2) if labels[i] != labels[j]]
    else:
        rng = np.random.default_rng(seed)
        a, b = rng.integers(0, n, size=(2, max_impostor * 2))
        keep = labels_arr[a] != labels_arr[b]
        impostor = list(zip(a[keep][:max_impostor], b[keep][:max_impostor]))
    pairs = np.array(genuine + impostor, dtype=np.int64).reshape(-1, 2)
    same = np.array([True] * len(genuine) + [False] * len(impostor))
    return pairs, same


def threshold_at_far(distances: np.ndarray, same: np.ndarray, far: float) -> float:
    """The largest threshold whose false accept rate is at most ``far``.

    An impostor pair is falsely accepted when its distance is at most the threshold.

    Args:
        distances: one distance per pair.
        same: True for a genuine pair; at least one pair must be an impostor pair.
        far: the target false accept rate, in [0, 1).

    Returns:
        The threshold (0.0 when even the closest impostor pair is at distance 0).
    """
    impostor = np.sort(distances[~same])
    allowed = int(np.floor(far * len(impostor)))
    if allowed >= len(impostor):
        return float(impostor[-1])
    return float(impostor[allowed] - 1e-9) if allowed > 0 or impostor[0] > 0 else 0.0


def calibrate_distances(distances: np.ndarray, same: np.ndarray, far: float, bootstrap: int = 200,
                        seed: int = 0) -> dict[str, Any]:
    """The threshold at ``far``, the true accept rate it gives, and 95 % bootstrap intervals of both.

    Args:
        distances: one distance per pair.
        same: True for a genuine pair; at least one pair must be an impostor pair.
        far: the target false accept rate, in [0, 1).
        bootstrap: rounds of resampling the pairs with replacement.
        seed: the resampling's random seed.

    Returns:
        ``far``, ``threshold``, ``threshold_ci95``, ``tar``, ``tar_ci95``, ``genuine_pairs``,
        ``impostor_pairs``, and ``warning`` (None, or a sentence when fewer than 10 false accepts
        are allowed: too few impostor pairs for a reliable threshold).
    """
    threshold = threshold_at_far(distances, same, far)
    tar = float(np.mean(distances[same] <= threshold)) if same.any() else float("nan")
    rng = np.random.default_rng(seed)
    ths, tars = [], []
    for _ in range(bootstrap):
        idx = rng.integers(0, len(distances), len(distances))
        d, s = distances[idx], same[idx]
        if s.all() or not s.any():
            continue
        t = threshold_at_far(d, s, far)
        ths.append(t)
        tars.append(np.mean(d[s] <= t))
    lo, hi = (np.percentile(ths, [2.5, 97.5]) if ths else (np.nan, np.nan))
    tlo, thi = (np.percentile(tars, [2.5, 97.5]) if tars else (np.nan, np.nan))
    impostors = int((~same).sum())
    return {
        "far": far, "threshold": threshold, "threshold_ci95": [float(lo), float(hi)],
        "tar": tar, "tar_ci95": [float(tlo), float(thi)],
        "genuine_pairs": int(same.sum()), "impostor_pairs": impostors,
        "warning": (f"only {impostors} impostor pairs: FAR {far:g} is {far * impostors:.1f} false accepts; "
                    "add more people for a reliable threshold") if far * impostors < 10 else None,
    }


def calibrate_folder(root: str | Path, far: float = 1e-3, model: str = "dlib", detector: str | None = None,
                     workers: int = 2, progress: bool | Callable[[int], None] = False) -> dict[str, Any]:
    """A verification threshold that meets a false accept rate on a user's own labelled photos.

    Each photo's face (the one nearest the centre) is embedded; every pair of two photos of one
    person is a genuine pair, and pairs of different people are impostor pairs.

    Args:
        root: a folder with one sub-folder of photos per person (``root/<name>/*.jpg``).
        far: the false accept rate to meet, in [0, 1).
        model: the embedding model.
        detector: the face detector; None for the default.
        workers: processes embedding in parallel.
        progress: True for a bar on stderr, or a callable given the count of photos embedded.

    Returns:
        ``model``, ``images``, ``images_skipped`` (photos with no usable face) and the keys of
        ``calibrate_distances``. Keep the threshold with ``faceprint.thresholds.save_threshold``.

    Raises:
        BadInput: ``far`` is out of range, ``root`` is no folder of photos, or the faces found do
            not cover two people and two photos of one person.
    """
    if not 0 <= far < 1:
        raise BadInput(f"far must lie between 0 and 1 (e.g. 0.001), not {far:g}")
    from faceprint.fit.embedding import embed_labelled
    from faceprint.images import labelled_folder
    from faceprint.pipeline.pipeline import Pipeline, PipelineConfig

    items = [(path, name) for name, paths in labelled_folder(root).items() for path in paths]
    pipe = Pipeline(PipelineConfig(detector=detector or "", model=model))
    kept, problems = embed_labelled(pipe, items, workers, progress)
    if len({n for _, n in kept}) < 2:
        raise BadInput("need faces of at least two people to measure false accepts")
    matrix = np.stack([v for v, _ in kept])
    index_pairs, same = labelled_pairs([n for _, n in kept])
    distances = np.linalg.norm(matrix[index_pairs[:, 0]] - matrix[index_pairs[:, 1]], axis=1)
    if not same.any():
        raise BadInput("need at least two photos of one person to measure true accepts")
    return {"model": model, "images": len(items), "images_skipped": len(problems),
            **calibrate_distances(distances, same, far)}


# -- the models' defaults on LFW View 1 ------------------------------------------------------------------

def member_vectors(model: str, pairs: Sequence[Any], workers: int, align_points: str = "") -> tuple[Any, dict]:
    """The pipeline of ``model`` and its vector (or None) for every photo of ``pairs``."""
    from faceprint.pipeline.batch import embed_paths
    from faceprint.pipeline.cache import EmbeddingCache
    from faceprint.pipeline.pipeline import Pipeline, PipelineConfig

    pipeline = Pipeline(PipelineConfig(model=model, align_points=align_points))
    unique = sorted({p.first for p in pairs} | {p.second for p in pairs})
    vectors, _ = embed_paths(pipeline, unique, cache=EmbeddingCache(pipeline), workers=workers)
    return pipeline, vectors


def pair_arrays(vectors: dict, pairs: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The two sides' vectors of every pair, and whether both photos gave a face (zeros where not)."""
    ok = [vectors.get(p.first) is not None and vectors.get(p.second) is not None for p in pairs]
    a = np.stack([vectors[p.first] if k else np.zeros_like(next(v for v in vectors.values() if v is not None))
                  for p, k in zip(pairs, ok)])
    b = np.stack([vectors[p.second] if k else a[0] * 0 for p, k in zip(pairs, ok)])
    return a, b, np.array(ok)


def fit_default(model: str, pairs: Sequence[Any], workers: int = 2, profile_dlib_share: float | None = None,
                previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """The calibration entry of ``model``: its threshold on ``pairs`` and, for a fused model, its weights.

    Args:
        model: a registered embedding model (a fused one fits its members' weights too).
        pairs: LFW pairs (``faceprint.eval.protocols.read_lfw_pairs``); View 1 only.
        workers: processes embedding in parallel.
        profile_dlib_share: fused models: dlib's weight on turned faces as a share of its frontal
            weight; None keeps the share of ``previous``, else 1 (no pose weighting).
        previous: the model's entry already in the table, if any.

    Returns:
        The entry (threshold, the method, the pipeline settings it was fitted with, the date), without
        ``command``.
    """
    from faceprint import registry
    from faceprint.eval import metrics
    from faceprint.pipeline.detect import PROFILE_YAW

    same = np.array([p.same for p in pairs])
    spec = registry.embedder_spec(model)
    names = list(spec.members) or [model]
    parts, oks, stds = [], [], []
    for name in names:
        # a fused model's members are placed as the fused model places them
        pipeline, vectors = member_vectors(name, pairs, workers, spec.align_points)
        a, b, ok = pair_arrays(vectors, pairs)
        cosines = np.sum(a * b, axis=1)
        stds.append(float(np.std(cosines[ok])))
        parts.append((a, b))
        oks.append(ok)
    ok = np.logical_and.reduce(oks)
    entry: dict[str, Any] = {}
    if spec.members:
        weights = [1.0 / s for s in stds]  # z-scoring each member's cosine
        a = np.concatenate([np.sqrt(w) * pa for w, (pa, _) in zip(weights, parts)], axis=1)
        b = np.concatenate([np.sqrt(w) * pb for w, (_, pb) in zip(weights, parts)], axis=1)
        a /= np.linalg.norm(a, axis=1, keepdims=True)
        b /= np.linalg.norm(b, axis=1, keepdims=True)
        entry["fusion_weights"] = [round(w, 6) for w in weights]
        entry["fusion_method"] = ("member unit vectors times sqrt(1/std of that member's cosine over the "
                                  "DevTrain pairs), concatenated, L2-normalised")
        share = profile_dlib_share
        if share is None:
            share = float((previous or {}).get("profile_dlib_share", 1.0))
        if share != 1.0:
            entry["profile_fusion_weights"] = [round(weights[0] * share, 6)] + [round(w, 6) for w in weights[1:]]
            entry["profile_dlib_share"] = share
            entry["profile_fusion_method"] = (
                f"faces with |yaw| > {PROFILE_YAW}: the frontal weights with dlib's times {share}, a share chosen "
                "on CFP dev FP folds 1-3 (python scripts/pose_candidates.py cfp): a choice on the evaluation set")
    else:
        a, b = parts[0]
    distances = np.where(ok, np.linalg.norm(a - b, axis=1), 2.0)
    threshold = metrics.best_threshold(distances, same)
    entry.update({
        "threshold": round(threshold, 6),
        "metric": "euclidean distance between L2-normalised embeddings",
        "method": "threshold maximising accuracy on LFW View 1 pairsDevTrain.txt (never View 2)",
        "pairs": len(pairs),
        "pairs_without_face": int((~ok).sum()),
        "train_accuracy": round(metrics.accuracy(distances, same, threshold), 4),
        "detector": pipeline.config.detector,
        "flip": pipeline.config.flip,
        "averaged_landmarks": pipeline.config.averaged_landmarks,
        "mirror_align": pipeline.config.mirror_align,
        "landmark_box": pipeline.config.landmark_box,
        "align_points": pipeline.config.align_points,
        "fallback_score": pipeline.config.fallback_score,
        "date": date.today().isoformat(),
    })
    return entry


def main(argv: Sequence[str] | None = None) -> None:
    """Fit one model's default threshold on LFW View 1 and write it into the calibration table."""
    from faceprint import settings
    from faceprint.eval.protocols import read_lfw_pairs

    parser = argparse.ArgumentParser(prog="python -m faceprint.fit.verification", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="dlib", help="the embedding model (a fused one fits its weights too)")
    parser.add_argument("--workers", type=int, default=2, help="processes embedding in parallel")
    parser.add_argument("--profile-dlib-share", type=float, default=None,
                        help="fused models: dlib's weight on turned faces as a share of its frontal weight "
                             "(default: the share already recorded, else 1 = no pose weighting)")
    parser.add_argument("--pairs", type=int, default=None,
                        help="use only N pairs of pairsDevTrain.txt, half genuine, half impostor "
                             "(a quick check of the fitter)")
    parser.add_argument("--output", type=Path, default=CALIBRATION,
                        help="the table to update (default: the package's models/calibration.json)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    data = settings.data_dir()
    if data is None:
        raise SystemExit("LFW not found: set FACEPRINT_DATA to the folder holding lfw/")
    pairs = read_lfw_pairs(data / "lfw" / "pairsDevTrain.txt")
    if args.pairs is not None:  # as many genuine as impostor pairs, the file's first of each
        pairs = ([p for p in pairs if p.same][:args.pairs // 2]
                 + [p for p in pairs if not p.same][:args.pairs - args.pairs // 2])
    table = json.loads(args.output.read_text()) if args.output.exists() else {}
    entry = fit_default(args.model, pairs, args.workers, args.profile_dlib_share, table.get(args.model))
    share = "" if args.profile_dlib_share is None else f" --profile-dlib-share {args.profile_dlib_share}"
    entry["command"] = (f"python -m faceprint.fit.verification --model {args.model}{share}"
                        + ("" if args.pairs is None else f" --pairs {args.pairs}"))
    table[args.model] = entry
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(table, indent=2) + "\n")
    print(json.dumps(entry, indent=2))


if __name__ == "__main__":
    main()

"""Calibrate models' default thresholds (and fusion weights) on LFW View 1 pairsDevTrain.txt only.

View 2 (pairs.txt) is never used here: it stays for evaluation. Results are written, with how they
were computed, into src/faceprint/models/calibration.json, which the registry reads.

    python scripts/calibrate_default_threshold.py --model dlib
    python scripts/calibrate_default_threshold.py --model dlib+mobilefacenet   # also its members

A fused model's weights for turned faces (|yaw| > detect.PROFILE_YAW) are its frontal weights
with dlib's times ``--profile-dlib-share``: View 1 holds too few turned faces to fit them, so that
share is a choice made on CFP dev (``python scripts/pose_candidates.py cfp``) and recorded as such.
"""

from __future__ import annotations

import argparse
import json
import logging
from datetime import date
from pathlib import Path

import numpy as np

from faceprint import registry, settings
from faceprint.eval import metrics
from faceprint.eval.protocols import read_lfw_pairs
from faceprint.pipeline.batch import EmbeddingCache, embed_paths
from faceprint.pipeline.detect import PROFILE_YAW
from faceprint.pipeline.pipeline import Pipeline, PipelineConfig

CALIBRATION = Path(__file__).resolve().parents[1] / "src" / "faceprint" / "models" / "calibration.json"


def member_vectors(model: str, pairs, workers: int, align_points: str = ""):
    pipeline = Pipeline(PipelineConfig(model=model, align_points=align_points))
    unique = sorted({p.first for p in pairs} | {p.second for p in pairs})
    vectors, _ = embed_paths(pipeline, unique, cache=EmbeddingCache(pipeline), workers=workers)
    return pipeline, vectors


def pair_arrays(vectors, pairs):
    ok = [vectors.get(p.first) is not None and vectors.get(p.second) is not None for p in pairs]
    a = np.stack([vectors[p.first] if k else np.zeros_like(next(v for v in vectors.values() if v is not None))
                  for p, k in zip(pairs, ok)])
    b = np.stack([vectors[p.second] if k else a[0] * 0 for p, k in zip(pairs, ok)])
    return a, b, np.array(ok)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="dlib")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--profile-dlib-share", type=float, default=None,
                        help="fused models: dlib's weight on turned faces as a share of its frontal weight "
                             "(default: the share already recorded, else 1 = no pose weighting)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    data = settings.data_dir()
    if data is None:
        raise SystemExit("LFW not found: set FACEPRINT_DATA to the folder holding lfw/")
    pairs = read_lfw_pairs(data / "lfw" / "pairsDevTrain.txt")
    same = np.array([p.same for p in pairs])
    spec = registry.embedder_spec(args.model)
    names = list(spec.members) or [args.model]
    table = json.loads(CALIBRATION.read_text()) if CALIBRATION.exists() else {}
    parts, oks, stds = [], [], []
    for name in names:
        # a fused model's members are placed as the fused model places them
        pipeline, vectors = member_vectors(name, pairs, args.workers, spec.align_points)
        a, b, ok = pair_arrays(vectors, pairs)
        cosines = np.sum(a * b, axis=1)
        stds.append(float(np.std(cosines[ok])))
        parts.append((a, b))
        oks.append(ok)
    ok = np.logical_and.reduce(oks)
    entry = {}
    if spec.members:
        weights = [1.0 / s for s in stds]  # z-scoring each member's cosine
        a = np.concatenate([np.sqrt(w) * pa for w, (pa, _) in zip(weights, parts)], axis=1)
        b = np.concatenate([np.sqrt(w) * pb for w, (_, pb) in zip(weights, parts)], axis=1)
        a /= np.linalg.norm(a, axis=1, keepdims=True)
        b /= np.linalg.norm(b, axis=1, keepdims=True)
        entry["fusion_weights"] = [round(w, 6) for w in weights]
        entry["fusion_method"] = ("member unit vectors times sqrt(1/std of that member's cosine over the "
                                  "DevTrain pairs), concatenated, L2-normalised")
        share = args.profile_dlib_share
        if share is None:
            share = float(table.get(args.model, {}).get("profile_dlib_share", 1.0))
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
        "command": f"python scripts/calibrate_default_threshold.py --model {args.model}"
                   + ("" if args.profile_dlib_share is None else f" --profile-dlib-share {args.profile_dlib_share}"),
    })
    table[args.model] = entry
    CALIBRATION.write_text(json.dumps(table, indent=2) + "\n")
    print(json.dumps(entry, indent=2))


if __name__ == "__main__":
    main()

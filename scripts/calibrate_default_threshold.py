"""Calibrate a model's default verification threshold on LFW View 1 pairsDevTrain.txt only.

View 2 (pairs.txt) is never used here: it stays for evaluation. The result is written, with how it
was computed, into src/faceprint/models/calibration.json, which the registry reads.

    python scripts/calibrate_default_threshold.py --model dlib
"""

from __future__ import annotations

import argparse
import json
import logging
from datetime import date
from pathlib import Path

from faceprint import settings
from faceprint.eval import metrics
from faceprint.eval.protocols import read_lfw_pairs
from faceprint.eval.verification import score_pairs
from faceprint.pipeline.pipeline import Pipeline, PipelineConfig

CALIBRATION = Path(__file__).resolve().parents[1] / "src" / "faceprint" / "models" / "calibration.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="dlib")
    parser.add_argument("--detector", default="")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    data = settings.data_dir()
    if data is None:
        raise SystemExit("LFW not found: set FACEPRINT_DATA to the folder holding lfw/")
    pipeline = Pipeline(PipelineConfig(detector=args.detector, model=args.model))
    pairs = read_lfw_pairs(data / "lfw" / "pairsDevTrain.txt")
    scores = score_pairs(pipeline, pairs)
    threshold = metrics.best_threshold(scores.distances, scores.same)
    entry = {
        "threshold": round(threshold, 6),
        "metric": "euclidean distance between L2-normalised embeddings",
        "method": "threshold maximising accuracy on LFW View 1 pairsDevTrain.txt (never View 2)",
        "pairs": len(pairs),
        "pairs_without_face": scores.missing,
        "train_accuracy": round(metrics.accuracy(scores.distances, scores.same, threshold), 4),
        "detector": pipeline.config.detector,
        "flip": pipeline.config.flip,
        "date": date.today().isoformat(),
        "command": f"python scripts/calibrate_default_threshold.py --model {args.model}",
    }
    table = json.loads(CALIBRATION.read_text()) if CALIBRATION.exists() else {}
    table[args.model] = entry
    CALIBRATION.write_text(json.dumps(table, indent=2) + "\n")
    print(json.dumps(entry, indent=2))


if __name__ == "__main__":
    main()

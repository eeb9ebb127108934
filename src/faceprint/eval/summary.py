"""Turn pair distances into the numbers a verification report shows."""

from __future__ import annotations

from typing import Any

import numpy as np

from faceprint.eval import metrics
from faceprint.eval.verification import PairScores

HOW = ("accuracy: for each fold, the threshold maximising accuracy on the other folds is applied to it "
       "(mean +- std over folds); ROC AUC, EER and TAR@FAR: one ROC over all pairs pooled, TAR taken at "
       "the largest threshold whose false accept rate is <= FAR; pairs with an image where no face was "
       "found count as 'different'.")


def summarize(scores: PairScores) -> dict[str, Any]:
    folds = metrics.kfold_accuracy(scores.distances, scores.same, scores.folds)
    curve = metrics.roc(scores.distances, scores.same)
    tar2, th2 = metrics.tar_at_far(scores.distances, scores.same, 1e-2)
    tar3, th3 = metrics.tar_at_far(scores.distances, scores.same, 1e-3)
    return {
        "pairs": int(len(scores.distances)),
        "matched_pairs": int(scores.same.sum()),
        "folds": int(len(np.unique(scores.folds))),
        "accuracy_mean": folds.mean,
        "accuracy_std": folds.std,
        "fold_accuracies": [round(float(a), 4) for a in folds.accuracies],
        "fold_thresholds": [round(float(t), 4) for t in folds.thresholds],
        "roc_auc": metrics.auc(curve),
        "eer": metrics.eer(scores.distances, scores.same),
        "tar_at_far_1e-2": tar2,
        "threshold_at_far_1e-2": th2,
        "tar_at_far_1e-3": tar3,
        "threshold_at_far_1e-3": th3,
        "pairs_without_face": scores.missing,
        "images_with_problems": len(scores.problems),
        "how": HOW,
    }


def fold_correct(scores: PairScores) -> np.ndarray:
    """Per pair: was the protocol's decision right? (for McNemar between two runs)."""
    folds = metrics.kfold_accuracy(scores.distances, scores.same, scores.folds)
    return folds.predictions == scores.same

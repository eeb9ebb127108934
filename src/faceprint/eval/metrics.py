"""Verification metrics on distances (smaller = more alike) and same/different labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def best_threshold(distances: np.ndarray, same: np.ndarray) -> float:
    """The threshold (decide same when distance <= t) that maximises accuracy.

    Candidates are midpoints between consecutive sorted distances; ties in accuracy go to the
    middle of the best run, so the choice does not lean on one extreme pair.
    """
    d = np.asarray(distances, np.float64)
    y = np.asarray(same, bool)
    order = np.argsort(d, kind="mergesort")
    ds, ys = d[order], y[order]
    # accuracy when the first k sorted pairs are called "same", k = 0..n
    correct = np.concatenate([[np.sum(~ys)], np.sum(~ys) + np.cumsum(np.where(ys, 1, -1))])
    valid = np.ones(len(ds) + 1, bool)
    valid[1:-1] = ds[1:] > ds[:-1]  # cannot split between equal distances
    correct = np.where(valid, correct, -1)
    best = np.flatnonzero(correct == correct.max())
    k = int(best[len(best) // 2])
    if k == 0:
        return float(ds[0] - 1e-6)
    if k == len(ds):
        return float(ds[-1] + 1e-6)
    return float((ds[k - 1] + ds[k]) / 2.0)


def accuracy(distances: np.ndarray, same: np.ndarray, threshold: float) -> float:
    return float(np.mean((np.asarray(distances) <= threshold) == np.asarray(same, bool)))


@dataclass(frozen=True)
class Roc:
    far: np.ndarray  # false accept rate at each threshold
    tar: np.ndarray  # true accept rate
    thresholds: np.ndarray


def roc(distances: np.ndarray, same: np.ndarray) -> Roc:
    """ROC over every distinct threshold (accept when distance <= t)."""
    d = np.asarray(distances, np.float64)
    y = np.asarray(same, bool)
    thresholds = np.concatenate([[-np.inf], np.unique(d)])
    order = np.sort(d[y]), np.sort(d[~y])
    tar = np.searchsorted(order[0], thresholds, side="right") / max(y.sum(), 1)
    far = np.searchsorted(order[1], thresholds, side="right") / max((~y).sum(), 1)
    return Roc(far, tar, thresholds)


def auc(curve: Roc) -> float:
    return float(np.trapezoid(curve.tar, curve.far))


def tar_at_far(distances: np.ndarray, same: np.ndarray, far: float) -> tuple[float, float]:
    """(TAR, threshold) at the largest threshold whose false accept rate is <= ``far``."""
    curve = roc(distances, same)
    ok = np.flatnonzero(curve.far <= far)
    i = ok[-1]
    return float(curve.tar[i]), float(curve.thresholds[i])


def eer(distances: np.ndarray, same: np.ndarray) -> float:
    """Equal error rate: where the false accept and false reject rates cross."""
    curve = roc(distances, same)
    frr = 1.0 - curve.tar
    i = int(np.argmin(np.abs(curve.far - frr)))
    return float((curve.far[i] + frr[i]) / 2.0)


@dataclass(frozen=True)
class FoldResult:
    accuracies: np.ndarray
    thresholds: np.ndarray
    predictions: np.ndarray  # per pair, decided with its fold's threshold

    @property
    def mean(self) -> float:
        return float(self.accuracies.mean())

    @property
    def std(self) -> float:
        return float(self.accuracies.std())


def kfold_accuracy(distances: np.ndarray, same: np.ndarray, folds: np.ndarray) -> FoldResult:
    """The LFW protocol: each fold is scored with the threshold that maximises accuracy on the
    other folds, never on itself."""
    d, y, f = np.asarray(distances), np.asarray(same, bool), np.asarray(folds)
    fold_ids = np.unique(f)
    accs, ths = [], []
    predictions = np.zeros(len(d), bool)
    for k in fold_ids:
        test = f == k
        t = best_threshold(d[~test], y[~test]) if (~test).any() else best_threshold(d, y)
        predictions[test] = d[test] <= t
        accs.append(accuracy(d[test], y[test], t))
        ths.append(t)
    return FoldResult(np.array(accs), np.array(ths), predictions)


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> tuple[int, int, float]:
    """Exact McNemar test on paired outcomes: (only A right, only B right, two-sided p)."""
    from math import comb

    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    n01, n10 = int(np.sum(a & ~b)), int(np.sum(~a & b))
    n = n01 + n10
    if n == 0:
        return n01, n10, 1.0
    tail = sum(comb(n, i) for i in range(0, min(n01, n10) + 1)) / 2 ** n
    return n01, n10, float(min(1.0, 2 * tail))

"""Cross-validation on the training photos: choose a classifier's setting, measure its accuracy,
and fit the temperature that turns its scores into calibrated probabilities.

Folds are by photo and stratified by person, and a person's photos are never all held out at
once: every person is in every fold's training part, so the out-of-fold scores are comparable
across folds, and people with a single photo only ever train.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from faceprint.classify.estimators import NEEDS_SKLEARN, make
from faceprint.errors import FaceprintError

log = logging.getLogger(__name__)

N_FOLDS = 5
MIN_HELD_OUT = 10  # fewer held-out photos than this: too few to choose or calibrate anything


@dataclass
class CrossValidation:
    """What cross-validation found for one kind of classifier.

    Attributes:
        value: the chosen setting (C or k).
        accuracy: out-of-fold accuracy at that setting.
        temperature: divides the scores before the softmax (fitted on out-of-fold scores).
        log_loss: out-of-fold mean negative log-likelihood with that temperature.
        folds, held_out: how many folds, and photos scored out of fold.
        max_probability: (right + 1) / (held_out + 2), Laplace's rule on the out-of-fold answers: no
            probability is reported above what that many right answers can support.
        table: setting -> out-of-fold accuracy, for every setting tried.
    """

    value: float
    accuracy: float
    temperature: float
    log_loss: float
    folds: int
    held_out: int
    max_probability: float = 1.0
    table: dict[str, float] = field(default_factory=dict)


def fold_ids(targets: np.ndarray, n_folds: int = N_FOLDS, seed: int = 0) -> np.ndarray:
    """Fold of each photo, -1 for photos that always train (a person's only photo).

    Each person's photos are shuffled and dealt round-robin over the folds, so with two or more
    photos at least one of them trains in every fold.
    """
    rng = np.random.default_rng(seed)
    ids = np.full(len(targets), -1, np.int64)
    for offset, person in enumerate(np.unique(targets)):
        members = rng.permutation(np.flatnonzero(targets == person))
        if len(members) >= 2:
            # consecutive folds from a rotating start: with fewer photos than folds each fold
            # holds out at most one, and small classes do not all pile into fold 0
            ids[members] = (offset + np.arange(len(members))) % n_folds
    return ids


def out_of_fold_scores(kind: str, value: float, vectors: np.ndarray, targets: np.ndarray, n_classes: int,
                       folds: np.ndarray) -> np.ndarray:
    """(N, n_classes) scores of each held-out photo from a fit without its fold (NaN rows for
    photos that always train)."""
    out = np.full((len(targets), n_classes), np.nan)
    for fold in np.unique(folds[folds >= 0]):
        test = folds == fold
        estimator = make(kind, value).fit(vectors[~test], targets[~test], n_classes)
        out[test] = estimator.scores(vectors[test])
    return out


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = np.asarray(scores, np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def log_softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = np.asarray(scores, np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def fit_temperature(scores: np.ndarray, targets: np.ndarray) -> tuple[float, float]:
    """The temperature minimising the cross-entropy against smoothed targets, and the plain
    negative log-likelihood at that temperature.

    The targets keep 1 - eps on the true person and spread eps = 1 / (photos + 2) over everyone
    (Laplace's rule): without it, out-of-fold scores without a single mistake drive the temperature
    to 0 and every answer, right or wrong, to probability 1.
    """
    try:
        from scipy.optimize import minimize_scalar
    except ImportError:  # scipy comes with scikit-learn
        raise FaceprintError(NEEDS_SKLEARN) from None

    rows = np.arange(len(targets))
    eps = 1.0 / (len(targets) + 2)

    def smoothed(log_t: float) -> float:
        logp = log_softmax(scores, float(np.exp(log_t)))
        return float(-((1 - eps) * logp[rows, targets] + eps * logp.mean(axis=1)).mean())

    best = minimize_scalar(smoothed, bounds=(-7.0, 5.0), method="bounded", options={"xatol": 1e-3})
    temperature = float(np.exp(best.x))
    return temperature, float(-log_softmax(scores, temperature)[rows, targets].mean())


def cross_validate(kind: str, grid: list[float], vectors: np.ndarray, targets: np.ndarray,
                   n_classes: int, n_folds: int = N_FOLDS, seed: int = 0) -> CrossValidation | None:
    """Try every setting in ``grid``; keep the most accurate (ties: the lowest log-loss after
    temperature scaling). None when fewer than ``MIN_HELD_OUT`` photos can be held out."""
    folds = fold_ids(targets, n_folds, seed)
    held = folds >= 0
    if held.sum() < MIN_HELD_OUT:
        return None
    truth = targets[held]
    best: CrossValidation | None = None
    table = {}
    for value in grid:
        scores = out_of_fold_scores(kind, value, vectors, targets, n_classes, folds)[held]
        accuracy = float((scores.argmax(axis=1) == truth).mean())
        table[_key(value)] = round(accuracy, 4)
        temperature, loss = fit_temperature(scores, truth)
        log.debug("%s %s=%s: out-of-fold accuracy %.4f, log-loss %.4f (T=%.3g)", kind, "C/k", value, accuracy,
                  loss, temperature)
        if best is None or (accuracy, -loss) > (best.accuracy, -best.log_loss):
            right = int(round(accuracy * len(truth)))
            best = CrossValidation(value, accuracy, temperature, loss, int(folds.max()) + 1, len(truth),
                                   (right + 1) / (len(truth) + 2))
    assert best is not None
    best.table = table
    return best


def _key(value: float) -> str:
    return f"{value:g}"

"""The classifiers on embeddings, behind one small interface: fit, then a score per class.

The answer is the best score: the SVM's one-vs-one votes (scikit-learn's one-vs-rest shape),
logistic regression's logits, and for kNN the log of the smoothed share of the k nearest training
faces that each person holds. For logreg and kNN the scores also make a calibrated probability
(``softmax(scores / temperature)``, see ``calibrate``). The SVM has none: its votes hardly differ
between a sure answer and a close call (the winner usually takes all n - 1 of its contests), so
calibrated the same way they gave wrong answers about the probability of right ones.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Protocol

import numpy as np

from faceprint.errors import BadInput, FaceprintError

CLASSIFIERS = ("svm", "logreg", "knn")
PARAMETER = {"svm": "C", "logreg": "C", "knn": "k"}  # the one setting each kind tunes
CALIBRATED = ("logreg", "knn")  # kinds whose scores make a probability
NEEDS_SKLEARN = "classifiers need scikit-learn: pip install 'faceprint[classify]'"


class Estimator(Protocol):
    def fit(self, vectors: np.ndarray, targets: np.ndarray, n_classes: int) -> "Estimator": ...

    def scores(self, vectors: np.ndarray) -> np.ndarray: ...


def single_threaded() -> AbstractContextManager:
    """BLAS/OpenMP limited to one thread: these fits are tiny, and on a loaded machine the threads'
    hand-offs made a logistic regression of a few hundred faces take seconds instead of
    milliseconds."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a scikit-learn dependency
        return nullcontext()
    return threadpool_limits(1)


def check_kind(kind: str) -> str:
    """``kind`` if it names a classifier, else BadInput saying which do."""
    if kind not in CLASSIFIERS:
        raise BadInput(f"classifier must be one of {', '.join(CLASSIFIERS)}, not {kind!r}")
    return kind


def make(kind: str, value: float) -> Estimator:
    """A fresh estimator of ``kind`` with its setting (C for svm/logreg, k for knn)."""
    check_kind(kind)
    if kind == "knn":
        return NearestNeighbours(int(value))
    return _Sklearn(kind, float(value))


class _Sklearn:
    """A linear SVM or a logistic regression from scikit-learn (imported on first use)."""

    def __init__(self, kind: str, c: float) -> None:
        self.kind, self.c = kind, c
        self._estimator = None
        self._n_classes = 0

    def fit(self, vectors: np.ndarray, targets: np.ndarray, n_classes: int) -> "_Sklearn":
        try:
            from sklearn.linear_model import LogisticRegression
            from sklearn.svm import SVC
        except ImportError:
            raise FaceprintError(NEEDS_SKLEARN) from None
        if self.kind == "svm":
            self._estimator = SVC(kernel="linear", C=self.c, decision_function_shape="ovr")
        else:
            # tol 1e-3: fewer lbfgs iterations than the default 1e-4; `bench_classify.py --select`
            # shows the accuracy it reaches
            self._estimator = LogisticRegression(C=self.c, max_iter=5000, tol=1e-3)
        self._estimator.fit(np.asarray(vectors, np.float64), targets)
        self._n_classes = n_classes
        return self

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """(N, n_classes) scores; classes absent from the fit score -inf."""
        assert self._estimator is not None, "fit first"
        raw = self._estimator.decision_function(np.asarray(vectors, np.float64))
        seen = self._estimator.classes_
        if raw.ndim == 1:  # two classes: one signed value for the second
            raw = np.stack([-raw / 2.0, raw / 2.0], axis=1)
        out = np.full((len(raw), self._n_classes), -np.inf)
        out[:, seen] = raw
        return out


class NearestNeighbours:
    """k nearest training faces (exact, ``match.nearest``); ties go to the person whose face is
    nearest."""

    SMOOTHING = 0.1  # pseudo-votes per person, so no person's probability is exactly zero

    def __init__(self, k: int) -> None:
        if k < 1:
            raise BadInput(f"k must be at least 1, not {k}")
        self.k = k
        self._vectors = np.zeros((0, 0), np.float32)
        self._targets = np.zeros(0, np.int64)
        self._n_classes = 0

    def fit(self, vectors: np.ndarray, targets: np.ndarray, n_classes: int) -> "NearestNeighbours":
        self._vectors = np.asarray(vectors, np.float32)
        self._targets = np.asarray(targets, np.int64)
        self._n_classes = n_classes
        return self

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        from faceprint.pipeline.match import nearest

        indices, distances = nearest(vectors, self._vectors, self.k)
        k = indices.shape[1]
        votes = np.zeros((len(indices), self._n_classes))
        rows = np.repeat(np.arange(len(indices)), k)
        np.add.at(votes, (rows, self._targets[indices].ravel()), 1.0)
        # a tie-break worth less than a vote: the nearest face's person (distances are <= 2)
        first = self._targets[indices[:, 0]]
        tie = np.zeros_like(votes)
        tie[np.arange(len(indices)), first] = 1e-3 * (2.0 - distances[:, 0])
        share = (votes + self.SMOOTHING) / (k + self.SMOOTHING * self._n_classes)
        return np.log(share) + tie

"""A classifier (SVM, logistic regression or kNN) over a frozen embedder's vectors.

A face is called "unknown" when even its nearest training face is farther than the embedder's
verification threshold, whatever the classifier says: a closed-set classifier always answers
one of its classes, so this keeps strangers from being named.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from faceprint.errors import BadInput, FaceprintError

CLASSIFIERS = ("svm", "logreg", "knn")
FORMAT = "faceprint-classifier-1"


def _make(kind: str, n_train: int):
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.neighbors import KNeighborsClassifier
        from sklearn.svm import SVC
    except ImportError:
        raise FaceprintError("classifiers need scikit-learn: pip install 'faceprint[classify]'") from None
    if kind == "svm":
        return SVC(kernel="linear", C=1.0)  # no probabilities: sklearn deprecates SVC(probability=True)
    if kind == "logreg":
        return LogisticRegression(C=10.0, max_iter=2000)
    if kind == "knn":
        return KNeighborsClassifier(n_neighbors=min(3, n_train), metric="euclidean")
    raise BadInput(f"classifier must be one of {', '.join(CLASSIFIERS)}, not {kind!r}")


@dataclass
class FaceClassifier:
    """A fitted classifier plus what is needed to use it on new photos."""

    kind: str
    model: str  # embedder name
    threshold: float  # unknown beyond this distance from every training face
    classes: list[str]
    estimator: Any
    train_vectors: np.ndarray
    train_labels: list[str]
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fit(cls, vectors: np.ndarray, labels: list[str], kind: str, model: str, threshold: float) -> "FaceClassifier":
        if len(set(labels)) < 2:
            raise BadInput("need photos of at least two people to train a classifier")
        estimator = _make(kind, len(labels))
        estimator.fit(vectors, labels)
        return cls(kind, model, threshold, sorted(set(labels)), estimator, np.asarray(vectors, np.float32),
                   list(labels))

    def predict(self, vectors: np.ndarray) -> list[dict[str, Any]]:
        """Per vector: name (or "unknown"), the classifier's confidence, nearest training distance."""
        vectors = np.atleast_2d(vectors)
        names = self.estimator.predict(vectors)
        if hasattr(self.estimator, "predict_proba"):
            confidence = self.estimator.predict_proba(vectors).max(axis=1)
        else:
            confidence = np.full(len(vectors), np.nan)
        nearest = np.linalg.norm(vectors[:, None, :] - self.train_vectors[None], axis=-1).min(axis=1)
        out = []
        for name, conf, dist in zip(names, confidence, nearest):
            known = dist <= self.threshold
            out.append({"name": str(name) if known else "unknown", "classifier_says": str(name),
                        "confidence": None if np.isnan(conf) else round(float(conf), 4),
                        "nearest_distance": round(float(dist), 4)})
        return out

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            pickle.dump({"format": FORMAT, "classifier": self}, handle)

    @staticmethod
    def load(path: Path) -> "FaceClassifier":
        """Load a classifier saved by ``save`` (a pickle: only load files you made yourself)."""
        if not Path(path).is_file():
            raise BadInput(f"{path}: no such classifier file (make one with `faceprint classify fit`)")
        with open(path, "rb") as handle:
            try:
                blob = pickle.load(handle)
            except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not ours"
                raise BadInput(f"{path}: not a faceprint classifier ({exc})") from None
        if not isinstance(blob, dict) or blob.get("format") != FORMAT:
            raise BadInput(f"{path}: not a faceprint classifier")
        return blob["classifier"]

"""A classifier (SVM, logistic regression or kNN) over a frozen embedder's vectors.

Its setting (C, or k) is chosen by cross-validation on the training photos when there are enough
of them, and for logreg and kNN the same out-of-fold scores fit a temperature that makes
``softmax(scores / T)`` a calibrated probability (an SVM has none: see ``estimators``).

A face is called "unknown" when even its nearest training face is farther than the embedder's
verification threshold, or when its probability is below ``min_probability``: a closed-set
classifier always answers one of its classes, so this keeps strangers from being named.

Saved as one ``.npz`` (training vectors, labels and a JSON header, no pickle) and re-fitted on
load: about a second for 2,000 faces of 126 people on a loaded 2-core machine, 0.07 s for 410
faces of 40 (``bench/bench_classify.py``).
"""

from __future__ import annotations

import json
import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from faceprint.classify.calibrate import CrossValidation, cross_validate, softmax
from faceprint.classify.estimators import (CALIBRATED, CLASSIFIERS, PARAMETER, Estimator, check_kind, make,
                                           single_threaded)
from faceprint.errors import BadInput

log = logging.getLogger(__name__)

FORMAT = "faceprint-classifier-2"
# logreg: the most accurate on the CelebA selection half (validation 0.977 at the C its
# cross-validation chose; svm 0.973, knn 0.973), and its probability is calibrated; knn fits fastest.
DEFAULT_CLASSIFIER = "logreg"
# Settings tried by cross-validation, and the setting used when there are too few photos to
# cross-validate. Chosen on non-LFW data only: `python bench/bench_classify.py --select` (CelebA
# chips of 126 people, ORL, five_celebrity). On CelebA, validation accuracy is flat from C=10 to
# C=10000 for both linear models (0.972-0.978) and falls at C=1 (svm 0.914, logreg 0.823: the old
# default's C=1 regularises unit vectors far too hard once there are many people); k from 1 to 15
# gives 0.971-0.975. ORL and five_celebrity are 100 % for every C >= 1 and every k.
GRIDS: dict[str, list[float]] = {
    "svm": [1.0, 10.0, 100.0, 1000.0],
    "logreg": [1.0, 10.0, 100.0, 1000.0],
    "knn": [1, 3, 5, 7, 9],
}
FALLBACK: dict[str, float] = {"svm": 10.0, "logreg": 100.0, "knn": 1}


@dataclass(eq=False)  # holds arrays: compare the fields you mean
class FaceClassifier:
    """A fitted classifier plus what is needed to use it on new photos.

    Attributes:
        kind: ``svm``, ``logreg`` or ``knn``.
        model: the embedder's name; ``signature``: the pipeline settings that shaped the vectors.
        threshold: a face farther than this from every training face is "unknown".
        value: the classifier's setting (C, or k).
        temperature: scores / temperature -> softmax is the probability; None when there were too
            few photos to calibrate (then there is no probability).
        info: how the setting was chosen, and the cross-validated accuracy.
        max_probability: the most any probability is allowed to say (see ``CrossValidation``).
    """

    kind: str
    model: str
    threshold: float
    classes: list[str]
    value: float
    temperature: float | None
    train_vectors: np.ndarray
    train_labels: list[str]
    signature: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    max_probability: float = 1.0
    _estimator: Estimator | None = field(default=None, repr=False)

    @classmethod
    def fit(cls, vectors: np.ndarray, labels: Sequence[str], kind: str = DEFAULT_CLASSIFIER, model: str = "dlib",
            threshold: float = 0.6, signature: str = "", value: float | None = None) -> "FaceClassifier":
        """Fit on unit vectors and their names.

        Args:
            kind: ``svm``, ``logreg`` or ``knn``.
            value: C (svm, logreg) or k (knn); None chooses it by cross-validation from ``GRIDS``
                (``FALLBACK`` when there are too few photos).
        """
        check_kind(kind)
        vectors = np.asarray(vectors, np.float32)
        labels = [str(name) for name in labels]
        if vectors.ndim != 2 or len(vectors) != len(labels):
            raise BadInput(f"need one vector per label: {vectors.shape} vectors, {len(labels)} labels")
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise BadInput("need photos of at least two people to train a classifier")
        if value is not None and (value <= 0 or (kind == "knn" and int(value) != value)):
            raise BadInput(f"{PARAMETER[kind]} must be a positive {'whole ' if kind == 'knn' else ''}number, "
                           f"not {value}")
        targets = np.searchsorted(classes, labels)
        grid = [value] if value is not None else GRIDS[kind]
        with single_threaded():
            cv = cross_validate(kind, grid, vectors, targets, len(classes))
        info: dict[str, Any] = {}
        temperature, ceiling = None, 1.0
        if cv is None:
            chosen = value if value is not None else FALLBACK[kind]
            info["setting_chosen_by"] = "given" if value is not None else "default (too few photos to cross-validate)"
            info["cross_validation"] = None
            info["probability"] = "none: too few photos to calibrate one"
        else:
            chosen = cv.value
            info["setting_chosen_by"] = "given" if value is not None else f"{cv.folds}-fold cross-validation"
            info["cross_validation"] = _cv_summary(cv, kind)
            if kind in CALIBRATED:
                temperature, ceiling = cv.temperature, cv.max_probability
                info["probability"] = (f"calibrated on the cross-validation folds: softmax(scores / "
                                       f"{temperature:.4g}), at most {ceiling:.4g}")
            else:
                info["probability"] = "none: an SVM's votes make no useful probability (use -c logreg or knn)"
        clf = cls(kind, model, float(threshold), classes, float(chosen), temperature, vectors, labels, signature, info,
                  ceiling)
        clf._refit()
        return clf

    def _refit(self) -> None:
        targets = np.searchsorted(self.classes, self.train_labels)
        with single_threaded():
            self._estimator = make(self.kind, self.value).fit(self.train_vectors, targets, len(self.classes))

    @property
    def settings(self) -> dict[str, float]:
        return {PARAMETER[self.kind]: int(self.value) if self.kind == "knn" else self.value}

    def _scores(self, vectors: np.ndarray) -> np.ndarray:
        assert self._estimator is not None
        with single_threaded():
            return self._estimator.scores(np.atleast_2d(np.asarray(vectors, np.float32)))

    def predict(self, vectors: np.ndarray, min_probability: float = 0.0) -> list[dict[str, Any]]:
        """Per vector: name (or "unknown"), what the classifier says, its probability (None when
        uncalibrated) and the distance to the nearest training face."""
        from faceprint.pipeline.match import nearest

        vectors = np.atleast_2d(np.asarray(vectors, np.float32))
        if len(vectors) == 0:
            return []
        scores = self._scores(vectors)
        said = scores.argmax(axis=1)
        probs = None if self.temperature is None else np.minimum(
            softmax(scores, self.temperature)[np.arange(len(said)), said], self.max_probability)
        _, distances = nearest(vectors, self.train_vectors, 1)
        out = []
        for i, (index, dist) in enumerate(zip(said, distances[:, 0])):
            name = self.classes[int(index)]
            p = None if probs is None else float(probs[i])
            known = dist <= self.threshold and (p is None or p >= min_probability)
            out.append({"name": name if known else "unknown", "classifier_says": name,
                        "probability": None if p is None else round(p, 4),
                        "nearest_distance": round(float(dist), 4)})
        return out

    def save(self, path: Path) -> None:
        """Write one ``.npz``: vectors, labels and a JSON header (never a pickle)."""
        header = {"format": FORMAT, "kind": self.kind, "model": self.model, "signature": self.signature,
                  "threshold": self.threshold, "classes": self.classes, "value": self.value,
                  "temperature": self.temperature, "max_probability": self.max_probability, "info": self.info}
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:  # a handle: np.savez would append .npz to a name
            np.savez(handle, header=np.array(json.dumps(header)), vectors=self.train_vectors,
                     labels=np.array(self.train_labels, dtype=str))

    @staticmethod
    def load(path: Path) -> "FaceClassifier":
        """Load a classifier saved by ``save`` and re-fit it (no code in the file is run)."""
        path = Path(path)
        if not path.is_file():
            raise BadInput(f"{path}: no such classifier file (make one with `faceprint classify fit`)")
        with open(path, "rb") as handle:
            magic = handle.read(2)
        if magic[:1] == b"\x80":
            raise BadInput(f"{path}: an old pickled classifier; faceprint no longer loads pickles (loading one "
                           "runs code): re-create it with `faceprint classify fit`")
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(str(data["header"]))
                vectors = np.asarray(data["vectors"], np.float32)
                labels = [str(x) for x in data["labels"]]
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                raise ValueError("unknown format")
            clf = FaceClassifier(header["kind"], header["model"], float(header["threshold"]),
                                 list(header["classes"]), float(header["value"]),
                                 None if header["temperature"] is None else float(header["temperature"]), vectors,
                                 labels, header.get("signature", ""), header.get("info", {}),
                                 float(header.get("max_probability", 1.0)))
            if vectors.ndim != 2 or len(vectors) != len(labels) or sorted(set(labels)) != clf.classes \
                    or clf.kind not in CLASSIFIERS:
                raise ValueError("inconsistent contents")
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
            raise BadInput(f"{path}: not a faceprint classifier ({exc})") from None
        clf._refit()
        return clf


def _cv_summary(cv: CrossValidation, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {"accuracy": round(cv.accuracy, 4), "folds": cv.folds, "held_out_images": cv.held_out}
    if kind in CALIBRATED:
        out["log_loss"] = round(cv.log_loss, 4)
    out[f"accuracy_by_{PARAMETER[kind]}"] = cv.table
    return out

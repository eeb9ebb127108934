"""Transfer learning: classifiers on dlib embeddings of the five_celebrity photos (train vs val)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn")

from faceprint.classify.model import FaceClassifier  # noqa: E402
from faceprint.errors import BadInput  # noqa: E402


@pytest.mark.parametrize("kind", ["svm", "logreg", "knn"])
def test_fit_and_validate_five_celebrity(tmp_path, data_dir, kind):
    env = dict(os.environ, FACEPRINT_HOME=str(tmp_path / "home"))
    out = subprocess.run([sys.executable, "-m", "faceprint.cli.main", "classify", "fit",
                          str(data_dir / "five_celebrity" / "train"), "--validate",
                          str(data_dir / "five_celebrity" / "val"), "-c", kind, "-o", str(tmp_path / "c.pkl"),
                          "--workers", "1"], capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["people"] == 5 and doc["train_images"] == 93
    assert doc["validation"]["images"] == 25 and doc["validation"]["accuracy"] >= 0.92


def test_stranger_is_unknown_and_bad_files_refused(tmp_path):
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(2, 8))
    vectors = np.concatenate([c + 0.01 * rng.normal(size=(5, 8)) for c in centres])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    clf = FaceClassifier.fit(vectors, ["ann"] * 5 + ["bob"] * 5, "logreg", "dlib", threshold=0.3)
    stranger = -centres[0] / np.linalg.norm(centres[0])
    ann, who = clf.predict(np.stack([vectors[0], stranger]))
    assert ann["name"] == "ann" and who["name"] == "unknown"
    clf.save(tmp_path / "c.pkl")
    assert FaceClassifier.load(tmp_path / "c.pkl").classes == ["ann", "bob"]
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle")
    with pytest.raises(BadInput, match="not a faceprint classifier"):
        FaceClassifier.load(tmp_path / "junk.pkl")
    with pytest.raises(BadInput, match="two people"):
        FaceClassifier.fit(vectors[:5], ["ann"] * 5, "svm", "dlib", 0.3)

"""Transfer learning: classifiers on dlib embeddings of real faces (five_celebrity train vs val, and
LFW people split by photo as a many-people fixture), their cross-validation, probabilities and files."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")

from faceprint.classify.calibrate import cross_validate, fold_ids  # noqa: E402
from faceprint.classify.estimators import NearestNeighbours  # noqa: E402
from faceprint.classify.model import DEFAULT_CLASSIFIER, FaceClassifier  # noqa: E402
from faceprint.errors import BadInput  # noqa: E402


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, FACEPRINT_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "faceprint.cli.main", "classify", *args],
                          capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """One FACEPRINT_HOME for the CLI runs here, so the photos are embedded once (cached)."""
    return tmp_path_factory.mktemp("home")


def test_fit_validate_predict_five_celebrity(tmp_path, home, data_dir):
    five = data_dir / "five_celebrity"
    out = _cli(home, "fit", str(five / "train"), "--validate", str(five / "val"), "-o", str(tmp_path / "c.npz"),
               "--workers", "1")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["classifier"] == DEFAULT_CLASSIFIER and doc["people"] == 5 and doc["train_images"] == 93
    assert doc["setting_chosen_by"] == "5-fold cross-validation"
    assert doc["cross_validation"]["accuracy"] >= 0.9 and doc["cross_validation"]["held_out_images"] == 93
    assert doc["validation"]["images"] == 25 and doc["validation"]["accuracy"] >= 0.92
    assert 0.7 <= doc["validation"]["mean_probability"] <= 1.0
    assert (tmp_path / "c.npz").read_bytes()[:2] == b"PK"  # a zip of arrays, not a pickle

    photo = sorted((five / "val" / "madonna").iterdir())[0]
    out = _cli(home, "predict", str(photo), "-c", str(tmp_path / "c.npz"))
    assert out.returncode == 0, out.stderr
    face = json.loads(out.stdout)["faces"][0]
    assert face["name"] == face["classifier_says"] == "madonna" and face["probability"] > 0.5

    out = _cli(home, "fit", str(five / "train"), "-c", "knn", "--k", "3", "-o", str(tmp_path / "k.npz"),
               "--workers", "1")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["settings"] == {"k": 3} and doc["setting_chosen_by"] == "given"
    assert doc["cross_validation"]["accuracy"] >= 0.9  # still measured, for the setting given

    out = _cli(home, "fit", str(five / "train"), "-c", "knn", "--C", "10", "-o", str(tmp_path / "x.npz"))
    assert out.returncode == 1 and "--C goes with svm or logreg" in out.stderr and "Traceback" not in out.stderr


@pytest.fixture(scope="module")
def lfw_people(lfw):
    """35 LFW people with >= 10 photos, their first 12 photos, every third one held out (a test
    fixture: nothing in faceprint is tuned on LFW)."""
    import faceprint

    folders = sorted(p for p in lfw.iterdir() if p.is_dir() and len(list(p.glob("*.jpg"))) >= 10)
    folders = folders[:: len(folders) // 35][:35]
    items = [(photo, folder.name) for folder in folders for photo in sorted(folder.glob("*.jpg"))[:12]]
    results = faceprint.embed_many([p for p, _ in items], workers=1)
    split: dict[str, tuple[list, list]] = {"train": ([], []), "val": ([], [])}
    for i, (result, (_, name)) in enumerate(zip(results, items)):
        if result.ok:
            part = split["val" if i % 3 == 2 else "train"]
            part[0].append(result.nearest_center().vector)
            part[1].append(name)
    return np.stack(split["train"][0]), split["train"][1], np.stack(split["val"][0]), split["val"][1]


@pytest.mark.slow
def test_default_holds_for_many_people(lfw_people):
    from sklearn.svm import SVC

    xt, yt, xv, yv = lfw_people
    assert len(set(yt)) == 35 and len(yv) >= 120
    old = float(np.mean(SVC(kernel="linear", C=1.0).fit(xt, yt).predict(xv) == np.array(yv)))
    clf = FaceClassifier.fit(xt, yt)
    predictions = clf.predict(xv)
    right = np.array([p["classifier_says"] == t for p, t in zip(predictions, yv)])
    assert right.mean() >= 0.93 and right.mean() >= old + 0.1, (right.mean(), old)
    cv = clf.info["cross_validation"]
    assert cv["held_out_images"] == len(yt) and abs(cv["accuracy"] - right.mean()) < 0.1
    # calibrated: the mean probability is near the accuracy, and right answers are surer than wrong ones
    probs = np.array([p["probability"] for p in predictions])
    assert abs(probs.mean() - right.mean()) < 0.08, (probs.mean(), right.mean())
    if (~right).any():
        assert probs[right].mean() > probs[~right].mean()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["svm", "knn"])
def test_other_kinds_hold_for_many_people(lfw_people, kind):
    xt, yt, xv, yv = lfw_people
    clf = FaceClassifier.fit(xt, yt, kind)
    said = [p["classifier_says"] for p in clf.predict(xv)]
    assert np.mean([s == t for s, t in zip(said, yv)]) >= 0.9
    assert clf.info["setting_chosen_by"] == "5-fold cross-validation"
    assert (clf.temperature is None) == (kind == "svm")  # an SVM says plainly it has no probability
    assert (clf.predict(xv[:1])[0]["probability"] is None) == (kind == "svm")


def _blobs(people: int = 3, per: int = 6, seed: int = 0) -> tuple[np.ndarray, list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(people, 16))
    vectors = np.concatenate([c + 0.15 * rng.normal(size=(per, 16)) for c in centres])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, [f"p{i}" for i in range(people) for _ in range(per)], centres


def test_saved_without_pickle_and_refitted_on_load(tmp_path):
    vectors, labels, centres = _blobs()
    for kind in ("svm", "logreg", "knn"):
        clf = FaceClassifier.fit(vectors, labels, kind, "dlib", threshold=0.9, signature="dlib:abc")
        clf.save(tmp_path / "c.pkl")  # whatever the suffix, the file is an .npz, written where asked
        again = FaceClassifier.load(tmp_path / "c.pkl")
        assert (again.kind, again.value, again.temperature, again.signature) == (kind, clf.value, clf.temperature,
                                                                                  "dlib:abc")
        assert again.predict(vectors) == clf.predict(vectors)
        with np.load(tmp_path / "c.pkl", allow_pickle=False) as data:  # nothing in it needs pickle
            assert json.loads(str(data["header"]))["format"] == "faceprint-classifier-2"

    (tmp_path / "old.pkl").write_bytes(pickle.dumps({"format": "faceprint-classifier-1"}))
    with pytest.raises(BadInput, match="old pickled classifier.*classify fit"):
        FaceClassifier.load(tmp_path / "old.pkl")
    (tmp_path / "junk.npz").write_bytes(b"not a classifier")
    with pytest.raises(BadInput, match="not a faceprint classifier"):
        FaceClassifier.load(tmp_path / "junk.npz")
    with pytest.raises(BadInput, match="no such classifier file"):
        FaceClassifier.load(tmp_path / "absent.npz")


def test_stranger_is_unknown_by_distance_or_probability():
    vectors, labels, centres = _blobs()
    clf = FaceClassifier.fit(vectors, labels, "logreg", "dlib", threshold=0.8)
    units = centres / np.linalg.norm(centres, axis=1, keepdims=True)
    stranger = -units[0]
    between = (units[0] + units[1]) / np.linalg.norm(units[0] + units[1])  # as near p0 as p1
    known, far, mixed = clf.predict(np.stack([vectors[0], stranger, between]), min_probability=0.9)
    assert known["name"] == "p0" and known["probability"] >= 0.9
    assert far["name"] == "unknown" and far["nearest_distance"] > 0.8
    assert mixed["classifier_says"] in ("p0", "p1") and mixed["probability"] < 0.9 and mixed["name"] == "unknown"


def test_too_few_photos_means_default_setting_and_no_probability():
    vectors, labels, _ = _blobs(people=2, per=3)
    clf = FaceClassifier.fit(vectors, labels)  # 6 photos: fewer than 10 to hold out
    assert clf.temperature is None and clf.info["cross_validation"] is None
    assert clf.info["setting_chosen_by"].startswith("default")
    assert clf.predict(vectors[:1])[0]["probability"] is None
    with pytest.raises(BadInput, match="two people"):
        FaceClassifier.fit(vectors[:3], labels[:3])
    with pytest.raises(BadInput, match="classifier must be one of"):
        FaceClassifier.fit(vectors, labels, "forest")
    with pytest.raises(BadInput, match="k must be a positive whole number"):
        FaceClassifier.fit(vectors, labels, "knn", value=2.5)


def test_folds_keep_every_person_in_training():
    targets = np.array([0] * 2 + [1] * 4 + [2] * 11 + [3])
    ids = fold_ids(targets)
    assert ids[targets == 3].tolist() == [-1]  # a single photo always trains
    for fold in range(5):
        for person in range(3):
            assert np.sum((targets == person) & (ids != fold)) >= 1
    assert sorted(np.bincount(ids[targets == 2])) == [2, 2, 2, 2, 3]
    assert cross_validate("knn", [1], np.eye(4)[targets % 4][:4], targets[:4], 4) is None  # too few held out


def test_knn_votes_with_the_shared_nearest_search():
    vectors, labels, _ = _blobs(people=3, per=5, seed=1)
    targets = np.searchsorted(sorted(set(labels)), labels)
    knn = NearestNeighbours(3).fit(vectors, targets, 3)
    queries = vectors[[0, 7, 14]] + 0.01
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    distances = np.linalg.norm(queries[:, None] - vectors[None], axis=-1)
    expected = [np.bincount(targets[np.argsort(d)[:3]], minlength=3).argmax() for d in distances]
    assert knn.scores(queries).argmax(axis=1).tolist() == expected == [0, 1, 2]


def test_predict_refuses_other_pipelines_and_missing_probability(tmp_path, astronaut):
    vectors, labels, _ = _blobs(people=2, per=8)
    vectors = np.pad(vectors, ((0, 0), (0, 112)))  # 128-d, still unit length
    FaceClassifier.fit(vectors, labels, "logreg", "dlib", 0.5, signature="dlib:000000000000").save(tmp_path / "a.npz")
    out = _cli(tmp_path, "predict", str(astronaut), "-c", str(tmp_path / "a.npz"))
    assert out.returncode == 1 and "other pipeline settings" in out.stderr and "Traceback" not in out.stderr
    FaceClassifier.fit(vectors, labels, "svm", "dlib", 0.5).save(tmp_path / "s.npz")
    out = _cli(tmp_path, "predict", str(astronaut), "-c", str(tmp_path / "s.npz"), "--min-probability", "0.5")
    assert out.returncode == 1 and "no probability" in out.stderr and "Traceback" not in out.stderr


def test_unknown_classifier_fails_before_embedding(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from faceprint.cli import classify_cmd
    from faceprint.cli.main import app

    def embedding_is_not_reached(*args, **kwargs):
        raise AssertionError("embedded before checking --classifier")

    monkeypatch.setattr(classify_cmd, "_labelled_vectors", embedding_is_not_reached)
    run = CliRunner().invoke(app, ["classify", "fit", str(tmp_path), "-c", "forest"])
    assert run.exit_code == 1 and "classifier must be one of svm, logreg, knn" in run.output

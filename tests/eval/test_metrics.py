"""Metrics and fold logic on constructed cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from faceprint.eval import metrics
from faceprint.eval.identification import identification_metrics
from faceprint.fit.verification import calibrate_distances, labelled_pairs, threshold_at_far


def test_perfect_separation():
    d = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    y = np.array([1, 1, 1, 0, 0, 0], bool)
    t = metrics.best_threshold(d, y)
    assert 0.3 < t < 0.7 and metrics.accuracy(d, y, t) == 1.0
    assert metrics.auc(metrics.roc(d, y)) == pytest.approx(1.0)
    assert metrics.eer(d, y) == 0.0
    assert metrics.tar_at_far(d, y, 0.0)[0] == 1.0


def test_all_wrong_way_round():
    d = np.array([0.7, 0.8, 0.9, 0.1, 0.2, 0.3])
    y = np.array([1, 1, 1, 0, 0, 0], bool)
    assert metrics.auc(metrics.roc(d, y)) == pytest.approx(0.0)
    assert metrics.tar_at_far(d, y, 0.0)[0] == 0.0
    # best a threshold can do is call everything one class
    assert metrics.accuracy(d, y, metrics.best_threshold(d, y)) == 0.5


def test_ties_cannot_be_split():
    d = np.array([0.5, 0.5, 0.5, 0.5])
    y = np.array([1, 0, 1, 0], bool)
    t = metrics.best_threshold(d, y)
    assert metrics.accuracy(d, y, t) == 0.5


def test_known_roc():
    d = np.array([0.1, 0.4, 0.35, 0.8])
    y = np.array([1, 0, 1, 0], bool)
    curve = metrics.roc(d, y)
    points = set(zip(curve.far.round(3), curve.tar.round(3)))
    assert points == {(0.0, 0.0), (0.0, 0.5), (0.0, 1.0), (0.5, 1.0), (1.0, 1.0)}
    assert metrics.auc(curve) == pytest.approx(1.0)
    assert metrics.tar_at_far(d, y, 0.4) == (1.0, 0.35)


def test_fold_threshold_never_chosen_on_its_own_fold():
    rng = np.random.default_rng(1)
    d = np.concatenate([rng.normal(0.4, 0.1, 300), rng.normal(0.9, 0.1, 300)])
    y = np.concatenate([np.ones(300, bool), np.zeros(300, bool)])
    folds = np.arange(600) % 10
    # poison fold 3: its pairs alone would want a very different threshold
    d[folds == 3] += 5.0
    result = metrics.kfold_accuracy(d, y, folds)
    others = [t for k, t in enumerate(result.thresholds) if k != 3]
    assert result.thresholds[3] == pytest.approx(metrics.best_threshold(d[folds != 3], y[folds != 3]))
    assert result.accuracies[3] == pytest.approx(0.5)  # fold 3 judged by the others' threshold
    assert all(t < 2 for t in others)  # fold 3 does pull the others' thresholds, never its own


def test_mcnemar():
    a = np.array([True] * 20 + [False] * 0 + [True] * 80)
    b = np.array([False] * 20 + [True] * 80)
    only_a, only_b, p = metrics.mcnemar(a, b)
    assert (only_a, only_b) == (20, 0) and p < 1e-5
    assert metrics.mcnemar(a, a)[2] == 1.0


def test_calibration_threshold_meets_far():
    rng = np.random.default_rng(0)
    genuine, impostor = rng.normal(0.4, 0.1, 2000), rng.normal(1.0, 0.1, 20000)
    d = np.concatenate([genuine, impostor])
    y = np.concatenate([np.ones(2000, bool), np.zeros(20000, bool)])
    t = threshold_at_far(d, y, 1e-3)
    assert np.mean(impostor <= t) <= 1e-3
    result = calibrate_distances(d, y, 1e-3, bootstrap=50)
    lo, hi = result["threshold_ci95"]
    assert lo <= result["threshold"] <= hi and result["tar"] > 0.99 and result["warning"] is None


def test_labelled_pairs():
    pairs, same = labelled_pairs(["a", "a", "b", "b", "b"])
    assert same.sum() == 1 + 3 and (~same).sum() == 6


def test_identification_known_answers():
    e = np.eye(4)
    gallery, labels = e[:3], ["ann", "bob", "cid"]
    known = np.array([e[0] * 0.9 + e[1] * 0.1, e[2]])
    known /= np.linalg.norm(known, axis=1, keepdims=True)
    unknown = e[3:4]
    r = identification_metrics(gallery, labels, known, ["ann", "bob"], unknown, fpir=0.0)
    assert r["rank1"] == 0.5  # the second probe is really cid's photo, labelled bob
    assert r["rank5"] == 1.0
    assert r["dir_at_fpir_0"] == 0.5 and r["open_set_threshold"] < np.sqrt(2)


@pytest.mark.parametrize("far", [-0.1, 1.0, 2.0])
def test_calibrate_folder_refuses_a_far_out_of_range_before_reading_photos(tmp_path, far):
    from faceprint.errors import BadInput
    from faceprint.fit.verification import calibrate_folder

    with pytest.raises(BadInput, match="far"):
        calibrate_folder(tmp_path / "absent", far)

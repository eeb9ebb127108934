"""The threshold a gallery names faces with: the model's default curve (the stored quantile table)
for the gallery's size, or a threshold calibrated on the gallery, which says when it is stale."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from faceprint import thresholds as ident


@pytest.mark.parametrize("model", ["dlib", "dlib+mobilefacenet", "mobilefacenet"])
def test_quantile_follows_the_stored_table_inside_its_range(model: str) -> None:
    entry = ident._fitted_entry(ident.IDENTIFICATION_TABLE, model)
    grid_p = entry["quantiles"]["p"]
    grid_t = entry["quantiles"]["t"]
    for p, t in zip(grid_p, grid_t):  # at the grid points: the stored empirical quantiles
        assert ident.quantile(entry, p) == pytest.approx(t, abs=1e-9), p
    ps = sorted(grid_p)
    fine = np.clip(np.exp(np.linspace(math.log(ps[0]), math.log(ps[-1]), 400)), ps[0], ps[-1])
    values = [ident.quantile(entry, float(p)) for p in fine]
    assert all(a <= b + 1e-12 for a, b in zip(values, values[1:]))  # monotone between them
    lo, hi = sorted(grid_t)[0], sorted(grid_t)[-1]
    assert all(lo - 1e-9 <= v <= hi + 1e-9 for v in values)
    # below the grid: the probit tail, still below the smallest empirical quantile
    assert ident.quantile(entry, ps[0] / 10) < min(grid_t)


def test_a_calibrated_threshold_says_when_the_gallery_has_outgrown_it(tmp_path: Path) -> None:
    from faceprint.gallery import Gallery

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with Gallery(tmp_path / "g.db") as g:
        g.add_vectors([f"p{i}" for i in range(10)], vectors[:10])
        g.save_threshold({"threshold": 0.3, "gallery_faces": 10})
        assert g.threshold_and_source() == (0.3, "calibrated on this gallery")
        g.add_vectors([f"q{i}" for i in range(30)], vectors[10:])
        threshold, source = g.threshold_and_source()
        assert threshold == 0.3 and "stale" in source and "10 faces" in source


def test_the_default_counts_each_persons_own_faces(tmp_path: Path) -> None:
    from faceprint.gallery import Gallery

    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(40, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    names = [f"one{i}" for i in range(8)] + ["many_a"] * 16 + ["many_b"] * 16  # 8 x 1 photo, 2 x 16
    with Gallery(tmp_path / "g.db") as g:
        g.add_vectors(names, vectors)
        threshold, source = g.threshold_and_source()
        assert threshold == pytest.approx(ident.identification_threshold("dlib", 40, 0.01, [1] * 8 + [16, 16]))
        assert threshold > ident.identification_threshold("dlib", 40, 0.01, 10)  # an even spread: more chances
        assert "40 faces of 10 people" in source
        extra = rng.normal(size=(1, 128)).astype(np.float32)
        g.add_vectors(["one0"], extra / np.linalg.norm(extra))  # the counts are read again after a change
        assert g.threshold_and_source()[0] == pytest.approx(
            ident.identification_threshold("dlib", 41, 0.01, [2] + [1] * 7 + [16, 16]))

"""Choose a threshold for a target false accept rate from a user's labelled photos."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np



def labelled_pairs(labels: list[str], max_impostor: int = 200_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j) and same flags: every genuine pair, and impostor pairs (all, or a
    random sample of ``max_impostor``)."""
    labels_arr = np.array(labels)
    genuine = [(i, j) for i, j in combinations(range(len(labels)), 2) if labels[i] == labels[j]]
    n = len(labels)
    total_impostor = n * (n - 1) // 2 - len(genuine)
    if total_impostor <= max_impostor:
        impostor = [(i, j) for i, j in combinations(range(n), 2) if labels[i] != labels[j]]
    else:
        rng = np.random.default_rng(seed)
        a, b = rng.integers(0, n, size=(2, max_impostor * 2))
        keep = labels_arr[a] != labels_arr[b]
        impostor = list(zip(a[keep][:max_impostor], b[keep][:max_impostor]))
    pairs = np.array(genuine + impostor, dtype=np.int64).reshape(-1, 2)
    same = np.array([True] * len(genuine) + [False] * len(impostor))
    return pairs, same


def threshold_at_far(distances: np.ndarray, same: np.ndarray, far: float) -> float:
    """Largest threshold whose false accept rate (impostor distance <= t) is at most ``far``."""
    impostor = np.sort(distances[~same])
    allowed = int(np.floor(far * len(impostor)))
    if allowed >= len(impostor):
        return float(impostor[-1])
    return float(impostor[allowed] - 1e-9) if allowed > 0 or impostor[0] > 0 else 0.0


def calibrate(distances: np.ndarray, same: np.ndarray, far: float, bootstrap: int = 200,
              seed: int = 0) -> dict[str, Any]:
    """Threshold at ``far`` with its TAR, and a 95 % bootstrap interval (pairs resampled)."""
    threshold = threshold_at_far(distances, same, far)
    tar = float(np.mean(distances[same] <= threshold)) if same.any() else float("nan")
    rng = np.random.default_rng(seed)
    ths, tars = [], []
    for _ in range(bootstrap):
        idx = rng.integers(0, len(distances), len(distances))
        d, s = distances[idx], same[idx]
        if s.all() or not s.any():
            continue
        t = threshold_at_far(d, s, far)
        ths.append(t)
        tars.append(np.mean(d[s] <= t))
    lo, hi = (np.percentile(ths, [2.5, 97.5]) if ths else (np.nan, np.nan))
    tlo, thi = (np.percentile(tars, [2.5, 97.5]) if tars else (np.nan, np.nan))
    impostors = int((~same).sum())
    return {
        "far": far, "threshold": threshold, "threshold_ci95": [float(lo), float(hi)],
        "tar": tar, "tar_ci95": [float(tlo), float(thi)],
        "genuine_pairs": int(same.sum()), "impostor_pairs": impostors,
        "warning": (f"only {impostors} impostor pairs: FAR {far:g} is {far * impostors:.1f} false accepts; "
                    "add more people for a reliable threshold") if far * impostors < 10 else None,
    }

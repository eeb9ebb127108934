"""How well a clustering matches the true people: pairwise and BCubed precision/recall/F1.

Both work from the contingency table of (true person, cluster) counts, so they take O(N) time.
Give every unclustered face a label of its own (``singletons``) before scoring: a face left
alone is a cluster of one, right for a person seen once, a miss otherwise.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def singletons(labels: Sequence[int]) -> np.ndarray:
    """Labels with each -1 (unclustered) replaced by a fresh label of its own."""
    out = np.asarray(labels, np.int64).copy()
    loose = out < 0
    out[loose] = out.max(initial=-1) + 1 + np.arange(int(loose.sum()))
    return out


def _contingency(truth: Sequence, predicted: Sequence[int]) -> tuple[np.ndarray, ...]:
    """The (person, cluster) table, sparse: each non-empty cell's count and the sizes of its person
    and of its cluster; then every person's size and every cluster's size."""
    _, t = np.unique(np.asarray(truth), return_inverse=True)
    _, p = np.unique(singletons(predicted), return_inverse=True)
    (ct, cp), counts = np.unique(np.stack([t, p]), axis=1, return_counts=True)
    t_sizes, p_sizes = np.bincount(t).astype(np.float64), np.bincount(p).astype(np.float64)
    return counts.astype(np.float64), t_sizes[ct], p_sizes[cp], t_sizes, p_sizes


def pairwise_scores(truth: Sequence, predicted: Sequence[int]) -> dict[str, float]:
    """Precision, recall and F1 over pairs of faces: a pair counts as found when both faces share
    a cluster, and as true when they are one person."""
    if len(truth) == 0:
        return {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    n_ij, _, _, t_sizes, p_sizes = _contingency(truth, predicted)
    both = float((n_ij * (n_ij - 1) / 2).sum())
    true_pairs = float((t_sizes * (t_sizes - 1) / 2).sum())
    found_pairs = float((p_sizes * (p_sizes - 1) / 2).sum())
    precision = both / found_pairs if found_pairs else 1.0
    recall = both / true_pairs if true_pairs else 1.0
    return {"precision": precision, "recall": recall, "f1": _f1(precision, recall)}


def bcubed_scores(truth: Sequence, predicted: Sequence[int]) -> dict[str, float]:
    """BCubed precision, recall and F1 (Bagga and Baldwin 1998; Amigo et al. 2009): for each face,
    the share of its cluster that is its person, and the share of its person in its cluster,
    averaged over faces."""
    if len(truth) == 0:
        return {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    n_ij, n_true, n_pred, _, _ = _contingency(truth, predicted)
    n = float(n_ij.sum())
    precision = float((n_ij ** 2 / n_pred).sum() / n)
    recall = float((n_ij ** 2 / n_true).sum() / n)
    return {"precision": precision, "recall": recall, "f1": _f1(precision, recall)}


def bcubed_items(truth: Sequence, predicted: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Each face's BCubed precision and recall (their means are ``bcubed_scores``): for
    bootstrapping over people, where the clustering stays fixed."""
    _, t = np.unique(np.asarray(truth), return_inverse=True)
    _, p = np.unique(singletons(predicted), return_inverse=True)
    pair = t.astype(np.int64) * (p.max(initial=0) + 1) + p
    _, cell, cell_counts = np.unique(pair, return_inverse=True, return_counts=True)
    together = cell_counts[cell].astype(np.float64)
    return together / np.bincount(p)[p], together / np.bincount(t)[t]


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0

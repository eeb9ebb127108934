"""P x K identity sampling for triplet batches."""

from __future__ import annotations

from collections import defaultdict
from typing import Iterator, Sequence

import numpy as np


class PKSampler:
    """Each batch holds ``p`` identities with ``k`` images each (drawn with replacement when an
    identity has fewer than k). Identities with a single image cannot give positives and are
    left out. ``len`` is the number of batches per epoch (every usable image about once)."""

    def __init__(self, labels: Sequence[int], p: int, k: int, seed: int = 0) -> None:
        by_label: dict[int, list[int]] = defaultdict(list)
        for index, label in enumerate(labels):
            by_label[int(label)].append(index)
        self.groups = {label: idx for label, idx in by_label.items() if len(idx) >= 2}
        if len(self.groups) < p:
            raise ValueError(f"P x K sampling needs {p} identities with 2+ images; found {len(self.groups)}")
        self.p, self.k = p, k
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return max(1, sum(len(v) for v in self.groups.values()) // (self.p * self.k))

    def __iter__(self) -> Iterator[list[int]]:
        labels = list(self.groups)
        for _ in range(len(self)):
            chosen = self.rng.choice(labels, size=self.p, replace=False)
            batch: list[int] = []
            for label in chosen:
                pool = self.groups[label]
                batch.extend(self.rng.choice(pool, size=self.k, replace=len(pool) < self.k).tolist())
            yield batch

"""Identification on a labelled folder tree (root/<person>/*.jpg): closed-set CMC, open-set DIR."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from faceprint.errors import BadInput


@dataclass(frozen=True)
class Split:
    gallery: list[tuple[Path, str]]
    known_probes: list[tuple[Path, str]]
    unknown_probes: list[tuple[Path, str]]


def split(people: dict[str, list[Path]], gallery_per_person: int = 1, unknown_fraction: float = 0.2,
          seed: int = 0) -> Split:
    """Enrol the first ``gallery_per_person`` images of each known person; their other images are
    known probes. A random ``unknown_fraction`` of the people with too few images... or drawn at
    random, are never enrolled: all their images are unknown probes (they must be rejected)."""
    if not 0 <= unknown_fraction < 1:
        raise BadInput(f"unknown_fraction must lie in [0, 1) (the share of people left out of the gallery), "
                       f"not {unknown_fraction:g}")
    if gallery_per_person < 1:
        raise BadInput(f"gallery_per_person must be at least 1, not {gallery_per_person}")
    rng = np.random.default_rng(seed)
    names = sorted(people)
    n_unknown = int(round(len(names) * unknown_fraction))
    unknown = set(rng.choice(names, size=n_unknown, replace=False)) if n_unknown else set()
    gallery, known, strangers = [], [], []
    for name in names:
        images = people[name]
        if name in unknown:
            strangers += [(p, name) for p in images]
        else:
            gallery += [(p, name) for p in images[:gallery_per_person]]
            known += [(p, name) for p in images[gallery_per_person:]]
    return Split(gallery, known, strangers)


def identification_metrics(gallery: np.ndarray, gallery_labels: list[str], known: np.ndarray,
                           known_labels: list[str], unknown: np.ndarray, fpir: float = 1e-2,
                           ranks: tuple[int, ...] = (1, 5)) -> dict[str, Any]:
    """CMC at ``ranks`` over known probes, and DIR at the given FPIR.

    Each probe is scored against each identity by its smallest distance to that identity's
    gallery vectors. DIR@FPIR: the threshold lets through a fraction ``fpir`` of unknown probes
    (their best distance <= threshold); DIR is the fraction of known probes whose rank-1 identity
    is right and within that threshold.
    """
    if not 0.0 <= fpir < 1.0:  # 0 is a measurement here (DIR with no stranger let through); NaN fails too
        raise BadInput(f"fpir must lie in [0, 1) (e.g. 0.01), not {fpir:g}")
    identities = sorted(set(gallery_labels))
    index = {name: i for i, name in enumerate(identities)}
    g_ids = np.array([index[n] for n in gallery_labels])

    def identity_distances(probes: np.ndarray) -> np.ndarray:
        d = np.linalg.norm(probes[:, None, :] - gallery[None, :, :], axis=-1)
        out = np.full((len(probes), len(identities)), np.inf)
        for k in range(len(identities)):
            out[:, k] = d[:, g_ids == k].min(axis=1)
        return out

    result: dict[str, Any] = {"identities": len(identities), "gallery_images": len(gallery_labels),
                              "known_probes": len(known_labels), "unknown_probes": int(len(unknown))}
    if len(known_labels):
        dk = identity_distances(known)
        truth = np.array([index.get(n, -1) for n in known_labels])
        order = np.argsort(dk, axis=1)
        rank_of_truth = np.array([np.flatnonzero(order[i] == truth[i])[0] + 1 if truth[i] >= 0 else np.inf
                                  for i in range(len(truth))])
        max_rank = min(len(identities), 20)
        result["cmc"] = [float(np.mean(rank_of_truth <= r)) for r in range(1, max_rank + 1)]
        for r in ranks:
            result[f"rank{r}"] = float(np.mean(rank_of_truth <= r))
        if len(unknown):
            best_unknown = np.sort(identity_distances(unknown).min(axis=1))
            allowed = int(np.floor(fpir * len(best_unknown)))
            threshold = best_unknown[allowed] - 1e-9 if allowed < len(best_unknown) else np.inf
            top = dk[np.arange(len(truth)), order[:, 0]]
            result[f"dir_at_fpir_{fpir:g}"] = float(np.mean((order[:, 0] == truth) & (top <= threshold)))
            result["open_set_threshold"] = float(threshold)
    return result

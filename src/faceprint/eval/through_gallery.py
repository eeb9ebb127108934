"""Identification figures measured through a persistent gallery: the same split as in memory, searched
through the gallery's own index (``faceprint eval ident --through-gallery``), so that the two can
be compared figure by figure."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from faceprint.errors import GalleryError
from faceprint.thresholds import check_fpir, threshold_at_fpir

if TYPE_CHECKING:
    from faceprint.gallery import Gallery


def gallery_metrics(gallery: Gallery, known: np.ndarray, known_labels: list[str], unknown: np.ndarray,
                    fpir: float = 1e-2, ranks: tuple[int, ...] = (1, 5)) -> dict[str, Any]:
    """CMC, rank-k and DIR at an FPIR of probes searched through a gallery's own index.

    The same keys and rules as ``faceprint.eval.identification.identification_metrics`` on the
    same split, so that the two can be compared.

    Args:
        gallery: the gallery searched.
        known: vectors of probes of enrolled people, one row each.
        known_labels: the subject of each known probe.
        unknown: vectors of strangers' probes.
        fpir: the false positive identification rate of the open-set threshold.
        ranks: the ranks k reported as ``rank{k}``.

    Returns:
        ``identities``, ``gallery_images``, ``known_probes``, ``unknown_probes``; with known probes
        also ``cmc`` and ``rank{k}``; with strangers too ``dir_at_fpir_{fpir}`` and
        ``open_set_threshold``.

    Raises:
        BadInput: ``fpir`` does not lie strictly between 0 and 1.
    """
    check_fpir(fpir)
    identities = sorted({s.name for s in gallery.subjects() if s.faces})
    result: dict[str, Any] = {"identities": len(identities), "gallery_images": len(gallery),
                              "known_probes": len(known_labels), "unknown_probes": int(len(unknown))}
    if not len(known_labels):
        return result
    max_rank = min(len(identities), 20)
    found = gallery.identify_vectors(known, top_k=max(max_rank, max(ranks)))
    rank_of_truth = np.array([next((i + 1 for i, c in enumerate(cands) if c.subject == truth), np.inf)
                              for cands, truth in zip(found, known_labels)])
    result["cmc"] = [float(np.mean(rank_of_truth <= r)) for r in range(1, max_rank + 1)]
    for r in ranks:
        result[f"rank{r}"] = float(np.mean(rank_of_truth <= r))
    if len(unknown):
        best_unknown = np.array([c[0].distance if c else np.inf for c in gallery.identify_vectors(unknown, top_k=1)])
        threshold = threshold_at_fpir(best_unknown, fpir)
        top = np.array([c[0].distance if c else np.inf for c in found])
        result[f"dir_at_fpir_{fpir:g}"] = float(np.mean((rank_of_truth == 1) & (top <= threshold)))
        result["open_set_threshold"] = float(threshold)
    return result


def gallery_split_metrics(path: str | Path, pipeline: Any, gallery_vectors: np.ndarray, gallery_labels: list[str],
                          known: np.ndarray, known_labels: list[str], unknown: np.ndarray, fpir: float,
                          in_memory: dict[str, Any] | None = None) -> dict[str, Any]:
    """Enrol a split's gallery vectors into a new gallery and measure identification through it.

    Args:
        path: where to create the evaluation gallery; it must not exist yet.
        pipeline: the pipeline that made the vectors (its settings and signature go with them).
        gallery_vectors: the vectors to enrol, one row each.
        gallery_labels: the subject of each enrolled vector.
        known: vectors of probes of enrolled people.
        known_labels: the subject of each known probe.
        unknown: vectors of strangers' probes.
        fpir: the false positive identification rate of the open-set threshold.
        in_memory: the in-memory figures of the same split
            (``faceprint.eval.identification.identification_metrics``), to compare with.

    Returns:
        The keys of ``gallery_metrics``, plus ``index`` (how the
        gallery searched), ``gallery`` (its path) and, given ``in_memory``, ``same_as_in_memory``.

    Raises:
        GalleryError: ``path`` exists already.
        BadInput: ``fpir`` does not lie strictly between 0 and 1.
    """
    from faceprint.gallery import Gallery

    if Path(path).exists():
        raise GalleryError(f"{path} exists already: give a new path for the evaluation gallery")
    config = pipeline.config
    options = {k: v for k, v in asdict(config).items() if k != "model"}
    with Gallery(path, model=config.model, **options) as g:
        g.add_vectors(list(gallery_labels), gallery_vectors, signature=pipeline.signature(),
                      keys=[f"eval-{i}" for i in range(len(gallery_labels))])
        out = gallery_metrics(g, known, known_labels, unknown, fpir)
        out["index"] = g.index_description()
    if in_memory is not None:
        keys = [k for k in out if k.startswith(("rank", "dir_at_fpir", "open_set_threshold"))]
        # distances are float32 here (2 - 2 a.b) and float64 in memory: they agree to ~1e-6
        out["same_as_in_memory"] = all(abs(out[k] - in_memory.get(k, np.nan)) <= 1e-5 for k in keys)
    out["gallery"] = str(path)
    return out

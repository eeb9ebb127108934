"""Open-set identification thresholds: keep strangers out at a stated FPIR for the gallery's size.

A verification threshold is the wrong default for search: a stranger compared with N enrolled
faces gets N chances to fall under it. The false positive identification rate of a threshold t on a
gallery of N faces is modelled as

    FPIR(t, N) = 1 - (1 - p(t)) ** N,   so   t(N, fpir) = q(1 - (1 - fpir) ** (1 / N))

where p(t) is the share of impostor pairs (two different people) closer than t and q its inverse.
q is fitted per model on data that is not LFW View 2 (LFW View 1 people and CelebA identities;
``python -m faceprint.gallery.fit_thresholds``): empirical quantiles where there are enough
impostor pairs, and below that a straight line in probit space fitted to the lowest impostor
distances (the lower tail of the impostor distribution is close to Gaussian there). The fitted
table, with how it was made and how well the model predicted FPIR on held-out strangers, lives
in ``ident_thresholds.json``. Users calibrate on their own gallery with ``faceprint calibrate
--gallery``.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np

from faceprint.errors import BadInput

DEFAULT_FPIR = 0.01
TABLE = Path(__file__).with_name("ident_thresholds.json")


@lru_cache(maxsize=1)
def _table() -> dict[str, Any]:
    return json.loads(TABLE.read_text()) if TABLE.exists() else {}


def check_fpir(fpir: float) -> float:
    """``fpir`` itself; BadInput unless it lies strictly between 0 and 1 (a false positive
    identification rate: 0 names nobody, 1 everybody)."""
    if not 0.0 < fpir < 1.0:  # NaN fails too
        raise BadInput(f"FPIR must lie strictly between 0 and 1 (e.g. 0.01), not {fpir:g}")
    return fpir


def per_pair_rate(faces: int, fpir: float) -> float:
    """The impostor-pair false accept rate p that gives ``fpir`` over ``faces`` independent chances."""
    check_fpir(fpir)
    return -math.expm1(math.log1p(-fpir) / max(int(faces), 1))


def quantile(model_entry: dict[str, Any], p: float) -> float:
    """Impostor distance below which a share ``p`` of impostor pairs falls (fitted curve).

    Inside the stored grid's range: the empirical quantiles, interpolated in log p (the grid is
    stored from large p down; it is sorted here). Above the grid: its largest quantile. Below it:
    the probit-linear tail.
    """
    from statistics import NormalDist

    grid_p = np.asarray(model_entry["quantiles"]["p"], float)
    grid_t = np.asarray(model_entry["quantiles"]["t"], float)
    order = np.argsort(grid_p)
    grid_p, grid_t = grid_p[order], grid_t[order]
    if p >= grid_p[0]:
        return float(np.interp(math.log(p), np.log(grid_p), grid_t))
    tail = model_entry["tail"]  # t = a + b * probit(p), fitted on the lowest impostor distances
    return float(tail["a"] + tail["b"] * NormalDist().inv_cdf(p))


def default_threshold(model: str, faces: int, fpir: float = DEFAULT_FPIR) -> float:
    """The default identification threshold for a gallery of ``faces`` faces of ``model``.

    Falls back to the model's verification threshold only for models with no fitted entry (a
    user's own ONNX file), which is the case ``faceprint calibrate --gallery`` is for.
    """
    t = impostor_quantile(model, per_pair_rate(faces, fpir))
    if t is None:
        from faceprint.thresholds import threshold_for

        return threshold_for(model) if not model.endswith(".onnx") else 0.6
    return t


def impostor_quantile(model: str, p: float) -> float | None:
    """The distance below which a share ``p`` of impostor pairs of ``model`` falls (the fitted
    curve of ``ident_thresholds.json``); None for a model with no fitted entry."""
    entry = _model_entry(model)
    return None if entry is None else quantile(entry, p)


def _model_entry(model: str) -> dict[str, Any] | None:
    return _table().get("models", {}).get(model)


def describe(model: str) -> dict[str, Any] | None:
    """How the default table for ``model`` was fitted (None when it has none)."""
    entry = _model_entry(model)
    return None if entry is None else {k: v for k, v in entry.items() if k not in ("quantiles",)}


def threshold_at_fpir(best_unknown: np.ndarray, fpir: float) -> float:
    """Largest threshold that names at most a share ``fpir`` of the strangers (their best distance
    to the gallery <= threshold names them) -- the same rule as ``eval.identification``."""
    best = np.sort(np.asarray(best_unknown, float))
    allowed = int(np.floor(fpir * len(best)))
    return float(best[allowed] - 1e-9) if allowed < len(best) else float("inf")


def gallery_metrics(gallery, known: np.ndarray, known_labels: list[str], unknown: np.ndarray,
                    fpir: float = 1e-2, ranks: tuple[int, ...] = (1, 5)) -> dict[str, Any]:
    """CMC, rank-k and DIR@FPIR of probes searched through a gallery's own index: the same keys and
    rules as ``faceprint.eval.identification.identification_metrics`` on the same split."""
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


def leave_one_subject_out(gallery) -> np.ndarray:
    """Each enrolled face searched as a stranger: its distance to the nearest face of another subject."""
    out = []
    names = gallery._store.face_subjects  # noqa: SLF001 (same package)
    for ids, vectors in gallery._store.vectors():  # noqa: SLF001
        owners = names(ids.tolist())
        for fid, cands in zip(ids, gallery.identify_vectors(vectors, top_k=2)):
            other = next((c.distance for c in cands if c.subject != owners.get(int(fid))), None)
            if other is not None:
                out.append(other)
    return np.array(out, float)


def calibrate_gallery(gallery, known: np.ndarray, known_labels: list[str], strangers: np.ndarray,
                      fpir: float = DEFAULT_FPIR, self_strangers: bool = True, bootstrap: int = 200,
                      seed: int = 0) -> dict[str, Any]:
    """The threshold that names at most ``fpir`` of strangers searched against this gallery, and
    the DIR it gives on probes of enrolled people (rank-1 right and within the threshold).

    Strangers are the given vectors plus, with ``self_strangers``, every enrolled face searched
    against the other subjects (leave one subject out). 95 % bootstrap intervals resample strangers.
    """
    check_fpir(fpir)
    best = [np.array([c[0].distance if c else np.inf for c in gallery.identify_vectors(strangers, top_k=1)])
            if len(strangers) else np.zeros(0)]
    if self_strangers:
        best.append(leave_one_subject_out(gallery))
    best_unknown = np.concatenate(best)
    if not len(best_unknown):
        raise BadInput("no strangers to calibrate on: give photos of people not in the gallery, "
                       "or enrol at least two subjects")
    threshold = threshold_at_fpir(best_unknown, fpir)
    dir_value, top, right = float("nan"), np.zeros(0), np.zeros(0, bool)
    if len(known_labels):
        found = gallery.identify_vectors(known, top_k=1)
        right = np.array([bool(c) and c[0].subject == t for c, t in zip(found, known_labels)])
        top = np.array([c[0].distance if c else np.inf for c in found])
        dir_value = float(np.mean(right & (top <= threshold)))
    rng = np.random.default_rng(seed)
    ths, dirs = [], []
    for _ in range(bootstrap):
        t = threshold_at_fpir(best_unknown[rng.integers(0, len(best_unknown), len(best_unknown))], fpir)
        ths.append(t)
        if len(top):
            pick = rng.integers(0, len(top), len(top))
            dirs.append(np.mean(right[pick] & (top[pick] <= t)))
    default = default_threshold(gallery.model, max(len(gallery), 1), fpir)
    out = {"fpir": fpir, "threshold": threshold, "threshold_ci95": [float(v) for v in np.percentile(ths, [2.5, 97.5])],
           "dir": dir_value, "dir_ci95": [float(v) for v in np.percentile(dirs, [2.5, 97.5])] if dirs else None,
           "strangers": int(len(best_unknown)), "strangers_given": int(len(strangers)),
           "known_probes": int(len(known_labels)), "gallery_faces": len(gallery),
           "default_threshold": default,
           "default_fpir_measured": float(np.mean(best_unknown <= default)),
           "default_dir": float(np.mean(right & (top <= default))) if len(top) else None}
    if fpir * len(best_unknown) < 10:
        out["warning"] = (f"only {len(best_unknown)} strangers: FPIR {fpir:g} is {fpir * len(best_unknown):.1f} "
                          "false identifications; add photos of more people not in the gallery")
    return out


def calibrate_folder(gallery, root: Path, fpir: float = DEFAULT_FPIR, workers: int = 1,
                     progress: bool | Callable[[int], None] = False) -> dict[str, Any]:
    """``calibrate_gallery`` on a folder of probes, ``root/<name>/*.jpg``: folders named like an
    enrolled subject are that person's probes (photos enrolled already are left out), the other
    folders strangers; every enrolled face is also searched as a stranger against the other
    subjects (leave one subject out). ``progress``: True for a bar on stderr, or a callable given
    the count of photos embedded."""
    check_fpir(fpir)  # before any photo is embedded
    from faceprint.eval.identification import labelled_images
    from faceprint.gallery.gallery import _digest
    from faceprint.pipeline.batch import EmbeddingCache, embed_paths
    from faceprint.progress import progress_callbacks

    root = Path(root)
    if not root.is_dir():
        raise BadInput(f"{root}: not a folder")
    enrolled = {s.name for s in gallery.subjects()}
    items = [(p, n) for n, paths in labelled_images(root).items() for p in paths]
    digests = {p: _digest(p)[0] for p, _ in items}
    already = gallery._store.known_sha256(list(digests.values()))
    items = [(p, n) for p, n in items if digests[p] not in already]
    pipe = gallery._pipeline()
    tick, finish = progress_callbacks(progress, len(items), "embedding")
    try:
        vectors, problems = embed_paths(pipe, [p for p, _ in items], cache=EmbeddingCache(pipe), progress=tick,
                                        workers=workers)
    finally:
        finish()
    found = [(vectors[p], n) for p, n in items if vectors.get(p) is not None]
    dim = gallery.dim or (len(found[0][0]) if found else 128)

    def stack(rows: list[np.ndarray]) -> np.ndarray:
        return np.stack(rows) if rows else np.zeros((0, dim), np.float32)

    known = [(v, n) for v, n in found if n in enrolled]
    result = calibrate_gallery(gallery, stack([v for v, _ in known]), [n for _, n in known],
                               stack([v for v, n in found if n not in enrolled]), fpir)
    return {"gallery": str(gallery.path), "model": gallery.model, "images": len(items),
            "images_skipped": len(problems), "photos_already_enrolled": len(digests) - len(items), **result}

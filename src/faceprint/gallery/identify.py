"""Identification calibration on a gallery: the threshold that keeps strangers out at a stated FPIR
on this gallery, and the DIR it gives (the maths is ``faceprint.thresholds``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from faceprint.errors import BadInput
from faceprint.thresholds import DEFAULT_FPIR, check_fpir, identification_threshold, threshold_at_fpir


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
    default = identification_threshold(gallery.model, max(len(gallery), 1), fpir)
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

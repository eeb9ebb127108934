"""One gallery's identification threshold (``faceprint calibrate ROOT --gallery G``).

``calibrate_folder`` finds the threshold that names at most a stated share of strangers (FPIR)
searched against that gallery, and the DIR it gives (``calibrate_gallery``). It decides as
``Gallery.identify`` does: a face below the gallery's quality floor is never named (a stranger below
it cannot be named falsely, a probe below it is not named right), so the saved threshold and the
floor it was calibrated with hold together at run time. It works through the gallery's public
methods only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from faceprint.errors import BadInput
from faceprint.thresholds import (
    DEFAULT_FPIR,
    check_fpir,
    identification_threshold,
    threshold_at_fpir,
)

if TYPE_CHECKING:
    from faceprint.gallery import Gallery


def leave_one_subject_out(gallery: Gallery, min_quality: float | None = None) -> np.ndarray:
    """Each enrolled face searched as a stranger: its distance to the nearest face of another subject.

    Args:
        gallery: the gallery; its faces are read in chunks.
        min_quality: faces whose stored quality is below this count as never named (infinite
            distance), as identify treats them; None: no floor.

    Returns:
        One distance per enrolled face that has a face of another subject to compare with.
    """
    from faceprint.quality import is_poor

    poor = set()
    if min_quality is not None:
        poor = {f.id for f in gallery.faces() if is_poor(getattr(f, "quality", None), min_quality)}
    out = []
    for ids, vectors in gallery.face_vectors(50_000):
        owners = gallery.face_subjects(ids.tolist())
        for fid, cands in zip(ids, gallery.identify_vectors(vectors, top_k=2)):
            other = next((c.distance for c in cands if c.subject != owners.get(int(fid))), None)
            if other is not None:
                out.append(np.inf if int(fid) in poor else other)
    return np.array(out, float)


def _below(quality: np.ndarray | None, count: int, floor: float | None) -> np.ndarray:
    """Which of ``count`` faces lie below the quality floor (None scores: not below)."""
    from faceprint.quality import is_poor

    if quality is None or floor is None:
        return np.zeros(count, bool)
    return np.array([is_poor(None if q is None or np.isnan(q) else float(q), floor) for q in quality], bool)


def calibrate_gallery(gallery: Gallery, known: np.ndarray, known_labels: list[str], strangers: np.ndarray,
                      fpir: float = DEFAULT_FPIR, self_strangers: bool = True, bootstrap: int = 200,
                      seed: int = 0, known_quality: np.ndarray | None = None,
                      stranger_quality: np.ndarray | None = None,
                      min_quality: float | None = None) -> dict[str, Any]:
    """The threshold that names at most ``fpir`` of strangers searched against this gallery, and its DIR.

    DIR (detection and identification rate): the share of probes of enrolled people whose nearest
    subject is right and within the threshold. Strangers are the given vectors plus, with
    ``self_strangers``, every enrolled face searched against the other subjects (leave one subject
    out). As in ``Gallery.identify``, a face below the quality floor is never named. The 95 %
    bootstrap intervals resample strangers (and probes for the DIR).

    Args:
        gallery: the gallery to calibrate.
        known: vectors of probes of enrolled people (not enrolled themselves), one row each.
        known_labels: the subject of each known probe.
        strangers: vectors of people not in the gallery.
        fpir: the false positive identification rate to meet, strictly between 0 and 1.
        self_strangers: also count each enrolled face as a stranger to the other subjects.
        bootstrap: rounds of resampling.
        seed: the resampling's random seed.
        known_quality: the quality of each known probe (NaN or None: not scored).
        stranger_quality: the quality of each stranger.
        min_quality: the floor below which a face is never named; None: the gallery's own
            (``Gallery.quality_floor``).

    Returns:
        ``fpir``, ``threshold``, ``threshold_ci95``, ``dir``, ``dir_ci95``, ``strangers`` (counted
        in all), ``strangers_given``, ``known_probes``, ``gallery_faces``, ``min_quality`` and
        ``below_quality_floor`` (probes and strangers under it), and the default threshold's
        figures on the same data (``default_threshold``, ``default_fpir_measured``,
        ``default_dir``); ``warning`` when fewer than 10 false identifications are allowed.
        Keep the threshold with ``Gallery.save_threshold``.

    Raises:
        BadInput: ``fpir`` or ``min_quality`` is out of range, or there is no stranger to calibrate on.
    """
    from faceprint.gallery.naming import check_floor

    check_fpir(fpir)
    floor = gallery.quality_floor() if min_quality is None else check_floor(min_quality)
    poor_strangers = _below(stranger_quality, len(strangers), floor)
    poor_known = _below(known_quality, len(known_labels), floor)
    best = [np.array([np.inf if poor or not c else c[0].distance
                      for c, poor in zip(gallery.identify_vectors(strangers, top_k=1), poor_strangers)])
            if len(strangers) else np.zeros(0)]
    if self_strangers:
        best.append(leave_one_subject_out(gallery, floor))
    best_unknown = np.concatenate(best)
    if not len(best_unknown):
        raise BadInput("no strangers to calibrate on: give photos of people not in the gallery, "
                       "or enrol at least two subjects")
    threshold = threshold_at_fpir(best_unknown, fpir)
    dir_value, top, right = float("nan"), np.zeros(0), np.zeros(0, bool)
    if len(known_labels):
        found = gallery.identify_vectors(known, top_k=1)
        right = np.array([bool(c) and c[0].subject == t for c, t in zip(found, known_labels)]) & ~poor_known
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
    people = [s.faces for s in gallery.subjects() if s.faces] or None  # as Gallery.threshold counts them
    default = identification_threshold(gallery.model, max(len(gallery), 1), fpir, subjects=people)
    out = {"fpir": fpir, "threshold": threshold, "threshold_ci95": [float(v) for v in np.percentile(ths, [2.5, 97.5])],
           "dir": dir_value, "dir_ci95": [float(v) for v in np.percentile(dirs, [2.5, 97.5])] if dirs else None,
           "strangers": int(len(best_unknown)), "strangers_given": int(len(strangers)),
           "known_probes": int(len(known_labels)), "gallery_faces": len(gallery), "min_quality": floor,
           "below_quality_floor": {"known_probes": int(poor_known.sum()), "strangers": int(poor_strangers.sum())},
           "default_threshold": default,
           "default_fpir_measured": float(np.mean(best_unknown <= default)),
           "default_dir": float(np.mean(right & (top <= default))) if len(top) else None}
    if fpir * len(best_unknown) < 10:
        out["warning"] = (f"only {len(best_unknown)} strangers: FPIR {fpir:g} is {fpir * len(best_unknown):.1f} "
                          "false identifications; add photos of more people not in the gallery")
    return out


def calibrate_folder(gallery: Gallery, root: str | Path, fpir: float = DEFAULT_FPIR, workers: int = 1,
                     progress: bool | Callable[[int], None] = False,
                     min_quality: float | None = None) -> dict[str, Any]:
    """``calibrate_gallery`` on a folder of probes, ``root/<name>/*.jpg``.

    Folders named like an enrolled subject hold that person's probes (photos enrolled already are
    left out); the other folders are strangers. Every enrolled face is also searched as a stranger
    against the other subjects (leave one subject out).

    Args:
        gallery: the gallery to calibrate; its own pipeline embeds the probes.
        root: a folder with one sub-folder of photos per person.
        fpir: the false positive identification rate to meet, strictly between 0 and 1.
        workers: processes embedding in parallel.
        progress: True for a bar on stderr, or a callable given the count of photos embedded.
        min_quality: the quality floor to calibrate with (None: the gallery's own).

    Returns:
        ``gallery``, ``model``, ``images`` (probes embedded), ``images_skipped`` (no usable face),
        ``photos_already_enrolled`` and the keys of ``calibrate_gallery``.

    Raises:
        BadInput: ``fpir`` is out of range (checked before any photo is embedded), ``root`` is no
            folder of photos, or there is no stranger to calibrate on.
    """
    check_fpir(fpir)  # before any photo is embedded
    from faceprint.gallery.naming import check_floor
    from faceprint.images import labelled_folder
    from faceprint.pipeline.batch import embed_sources
    from faceprint.pipeline.sources import read_source
    from faceprint.progress import progress_callbacks

    if min_quality is not None:
        check_floor(min_quality)

    enrolled = {s.name for s in gallery.subjects()}
    items = [(p, n) for n, paths in labelled_folder(root).items() for p in paths]
    digests = {p: read_source(p)[1] for p, _ in items}
    already = gallery.known_photos(list(digests.values()))
    items = [(p, n) for p, n in items if digests[p] not in already]
    tick, finish = progress_callbacks(progress, len(items), "embedding")
    try:  # each photo's face nearest the centre, with its quality score
        faces = embed_sources(gallery.pipeline, [p for p, _ in items], progress=tick, workers=workers, nearest_only=True)
    finally:
        finish()
    found = [(r.faces[0].vector, r.faces[0].quality, n) for r, (_, n) in zip(faces, items) if r.faces]
    problems = len(items) - len(found)
    dim = gallery.dim or (len(found[0][0]) if found else 128)

    def stack(rows: list[np.ndarray]) -> np.ndarray:
        return np.stack(rows) if rows else np.zeros((0, dim), np.float32)

    def scores(rows: list) -> np.ndarray:
        return np.array([np.nan if q is None else q for _, q, _ in rows], float)

    known = [f for f in found if f[2] in enrolled]
    others = [f for f in found if f[2] not in enrolled]
    result = calibrate_gallery(gallery, stack([v for v, _, _ in known]), [n for _, _, n in known],
                               stack([v for v, _, _ in others]), fpir, known_quality=scores(known),
                               stranger_quality=scores(others), min_quality=min_quality)
    return {"gallery": str(gallery.path), "model": gallery.model, "images": len(items),
            "images_skipped": problems, "photos_already_enrolled": len(digests) - len(items), **result}

"""Identification thresholds: the default impostor-distance curves, and the calibration of one gallery.

Default curves (``ident_thresholds.json``, read by ``faceprint.thresholds``; never fitted on LFW
View 2). Fit: every impostor pair among the photos of the people named in LFW View 1
(``pairsDevTrain.txt`` and ``pairsDevTest.txt``), optionally with some CelebA identities
(``celeba_dlib150``). Check: galleries built from the other CelebA identities, probed by CelebA
strangers, at the fitted thresholds: measured FPIR against the target, and DIR of enrolled people's
other photos.

    python -m faceprint.fit.identification --model dlib --lfw-step 1 --lfw-per-person 2 \\
        --celeba-people 250 --celeba-per-person 6
    python -m faceprint.fit.identification --model dlib --lfw-step 40 --celeba-people 30 \\
        --output /tmp/ident_thresholds.json      # a quick check of the fitter

One gallery (``faceprint calibrate ROOT --gallery G``): ``faceprint.fit.gallery_calibration``
(``calibrate_gallery``, ``calibrate_folder``, re-exported here).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from datetime import date
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from faceprint import settings
from faceprint.fit.gallery_calibration import (
    calibrate_folder,
    calibrate_gallery,
    leave_one_subject_out,
)
from faceprint.thresholds import (
    DEFAULT_FPIR,
    IDENTIFICATION_TABLE,
    per_pair_rate,
    quantile,
)

log = logging.getLogger(__name__)

__all__ = ["calibrate_folder", "calibrate_gallery", "leave_one_subject_out", "fit_curve", "check_curve", "main"]

P_GRID = [10.0 ** e for e in np.arange(-1, -8.01, -0.25)]


# -- the default curves ---------------------------------------------------------------------------------

def view1_people(lfw: Path, per_person: int = 6, step: int = 1) -> list[tuple[Path, str]]:
    """Photos of the people named in LFW View 1 (``pairsDevTrain.txt`` and ``pairsDevTest.txt``).

    Args:
        lfw: the LFW folder (one sub-folder per person, and the pairs files).
        per_person: at most this many photos of each person (the first, sorted by name).
        step: every ``step``-th name, sorted.

    Returns:
        ``(path, name)`` per photo.
    """
    from faceprint.eval.protocols import read_lfw_pairs

    names = set()
    for name in ("pairsDevTrain.txt", "pairsDevTest.txt"):
        for pair in read_lfw_pairs(lfw / name):
            names.update({Path(pair.first).parent.name, Path(pair.second).parent.name})
    return [(p, n) for n in sorted(names)[::step] for p in sorted((lfw / n).glob("*.jpg"))[:per_person]]


def celeba_people(root: Path, per_person: int = 8, people: int | None = None) -> list[tuple[Path, str]]:
    """CelebA identities with at least ``per_person`` chips: the first ``people`` of them."""
    folders = [f for f in sorted(p for p in (root / "images").iterdir() if p.is_dir())
               if len(list(f.glob("*.jpg"))) >= per_person][:people]
    return [(p, f.name) for f in folders for p in sorted(f.glob("*.jpg"))[:per_person]]


def embed(items: list[tuple[Path, str]], model: str, workers: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors (float32) and names of the photos in which ``model``'s pipeline finds a face."""
    from faceprint.fit.embedding import embed_labelled
    from faceprint.pipeline.pipeline import Pipeline, PipelineConfig

    keep, _ = embed_labelled(Pipeline(PipelineConfig(model=model)), items, workers)
    return np.stack([v for v, _ in keep]).astype(np.float32), np.array([n for _, n in keep])


def impostor_distances(vectors: np.ndarray, labels: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Every impostor pair's distance (i < j, different people)."""
    _, codes = np.unique(labels, return_inverse=True)
    out = []
    for start in range(0, len(vectors), chunk):
        block = vectors[start:start + chunk]
        d = np.sqrt(np.maximum(2.0 - 2.0 * block @ vectors.T, 0.0))
        rows = np.arange(start, start + len(block))[:, None]
        mask = (np.arange(len(vectors))[None, :] > rows) & (codes[start:start + len(block), None] != codes[None, :])
        out.append(d[mask].astype(np.float32))
    return np.concatenate(out)


def fit_curve(impostor: np.ndarray) -> dict[str, Any]:
    """The impostor-distance curve ``faceprint.thresholds.quantile`` reads.

    Args:
        impostor: the distances of impostor pairs (two different people).

    Returns:
        ``quantiles`` (empirical, on ``P_GRID`` down to 20 pairs' worth), ``tail`` (``t = a + b *
        probit(p)``, least squares over the lowest 1e-3 of pairs, at least 200) and
        ``impostor_pairs``.
    """
    from statistics import NormalDist

    s = np.sort(impostor.astype(np.float64))
    n = len(s)
    grid = [p for p in P_GRID if p * n >= 20]
    t = [float(s[int(math.floor(p * n))]) for p in grid]
    # tail: t = a + b * probit(p), least squares over the lowest 1e-3 of pairs (at least 200)
    k = max(200, int(1e-3 * n))
    ranks = np.arange(1, k + 1)
    z = np.array([NormalDist().inv_cdf((r - 0.5) / n) for r in ranks])
    b, a = np.polyfit(z, s[:k], 1)
    return {"quantiles": {"p": grid, "t": [round(v, 6) for v in t]},
            "tail": {"a": round(float(a), 6), "b": round(float(b), 6), "fitted_on_lowest_pairs": int(k)},
            "impostor_pairs": int(n)}


def check_curve(entry: dict[str, Any], vectors: np.ndarray, labels: np.ndarray, sizes: Sequence[int] = (2, 4),
                fpir: float = DEFAULT_FPIR, rounds: int = 50, seed: int = 0) -> list[dict[str, Any]]:
    """How well a fitted curve keeps strangers out on held-out people.

    Galleries of the first ``m`` photos (``m`` in ``sizes``) of 20 and of half the people, drawn at
    random ``rounds`` times; their other photos are probes, everyone else's photos strangers.

    Args:
        entry: a model's entry (``model`` and the keys of ``fit_curve``).
        vectors: unit vectors of people not in the fit, one row each.
        labels: the person of each vector (at least 20 people).
        sizes: photos enrolled per person.
        fpir: the target false positive identification rate.
        rounds: random galleries per row.
        seed: the draws' random seed.

    Returns:
        One row per gallery shape: the median threshold, target and measured FPIR, DIR, and the
        FPIR the verification threshold would give.
    """
    from faceprint.thresholds import threshold_for

    rng = np.random.default_rng(seed)
    people = np.unique(labels)
    verification = threshold_for(entry.get("model", "dlib"))
    rows = []
    for per_person in sizes:
        for enrolled_people in sorted({20, len(people) // 2}):
            measured, dirs, thresholds, faces_n, at_verification = [], [], [], [], []
            for _ in range(rounds):
                chosen = set(rng.choice(people, enrolled_people, replace=False))
                g_idx, k_idx, u_idx = [], [], []
                for person in people:
                    idx = np.flatnonzero(labels == person)
                    if person in chosen:
                        g_idx += idx[:per_person].tolist()
                        k_idx += idx[per_person:].tolist()
                    else:
                        u_idx += idx.tolist()
                g, gl = vectors[g_idx], labels[g_idx]
                t = quantile(entry, per_pair_rate(len(g_idx), fpir))
                du = np.sqrt(np.maximum(2 - 2 * vectors[u_idx] @ g.T, 0)).min(axis=1)
                dk = np.sqrt(np.maximum(2 - 2 * vectors[k_idx] @ g.T, 0))
                best = dk.argmin(axis=1)
                right = (gl[best] == labels[k_idx]) & (dk[np.arange(len(k_idx)), best] <= t)
                measured.append(float(np.mean(du <= t)))
                at_verification.append(float(np.mean(du <= verification)))
                dirs.append(float(np.mean(right)) if len(k_idx) else float("nan"))
                thresholds.append(t)
                faces_n.append(len(g_idx))
            rows.append({"people": enrolled_people, "photos_each": per_person, "gallery_faces": int(np.median(faces_n)),
                         "threshold": round(float(np.median(thresholds)), 4), "target_fpir": fpir,
                         "measured_fpir": round(float(np.mean(measured)), 4), "dir": round(float(np.nanmean(dirs)), 4),
                         "strangers": len(u_idx), "rounds": rounds, "verification_threshold": round(verification, 4),
                         "fpir_at_verification_threshold": round(float(np.mean(at_verification)), 4)})
            log.info("%s", rows[-1])
    return rows


def label_noise(vectors: np.ndarray, labels: np.ndarray, below: float = 0.30) -> dict[str, Any]:
    """Pairs of different identities whose closest photos are nearer than ``below`` (likely one person
    under two labels), and the share of impostor pairs under 0.33."""
    ids, codes = np.unique(labels, return_inverse=True)
    d = np.sqrt(np.maximum(2.0 - 2.0 * vectors @ vectors.T, 0.0))
    other = codes[:, None] != codes[None, :]
    close: dict[tuple[str, str], float] = {}
    for i, j in zip(*np.nonzero(other & (d < below))):
        if i < j:
            key = tuple(sorted((str(ids[codes[i]]), str(ids[codes[j]]))))
            close[key] = min(close.get(key, 9.0), float(d[i, j]))
    upper = np.triu(other, 1)
    return {"identity_pairs_closer_than": below, "count": len(close),
            "closest": [[a, b, round(v, 3)] for (a, b), v in sorted(close.items(), key=lambda kv: kv[1])[:5]],
            "impostor_share_below_0.33": float(np.mean(d[upper] < 0.33))}


def main(argv: Sequence[str] | None = None) -> None:
    """Fit one model's impostor-distance curve, check it on held-out CelebA people, write the table."""
    parser = argparse.ArgumentParser(prog="python -m faceprint.fit.identification", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="dlib", help="the embedding model")
    parser.add_argument("--workers", type=int, default=1, help="processes embedding in parallel")
    parser.add_argument("--lfw-step", type=int, default=3, help="every n-th View 1 name")
    parser.add_argument("--lfw-per-person", type=int, default=1, help="photos per View 1 person")
    parser.add_argument("--celeba-people", type=int, default=80, help="CelebA identities used (fit and check)")
    parser.add_argument("--celeba-per-person", type=int, default=5,
                        help="photos per CelebA identity (identities with fewer are skipped)")
    parser.add_argument("--celeba-fit-people", type=int, default=0,
                        help="the first N CelebA identities join the fit; the others are the check")
    parser.add_argument("--output", type=Path, default=IDENTIFICATION_TABLE,
                        help="the table to update (default: the package's ident_thresholds.json)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    data = settings.data_dir()
    if data is None:
        raise SystemExit("shared data not found: set FACEPRINT_DATA to the folder holding lfw/ and celeba_dlib150/")
    fit_v, fit_l = embed(view1_people(data / "lfw", args.lfw_per_person, args.lfw_step), args.model, args.workers)
    celeba = celeba_people(data / "celeba_dlib150", args.celeba_per_person, args.celeba_people)
    names = sorted({n for _, n in celeba})
    fit_names = set(names[:args.celeba_fit_people])  # the rest stay out of the fit: the check's strangers and people
    lfw_count, lfw_people = len(fit_v), len(set(fit_l))
    if fit_names:
        cv, cl = embed([(p, n) for p, n in celeba if n in fit_names], args.model, args.workers)
        fit_v, fit_l = np.concatenate([fit_v, cv]), np.concatenate([fit_l, cl])
    impostor = impostor_distances(fit_v, fit_l)
    entry = {"model": args.model, **fit_curve(impostor)}
    which = "every name" if args.lfw_step == 1 else f"one name in {args.lfw_step}"
    entry.update(fitted_on=f"LFW View 1 people ({which} of pairsDevTrain + pairsDevTest, "
                           f"<= {args.lfw_per_person} photos each): {lfw_count} photos of {lfw_people} people; never View 2"
                           + (f"; and CelebA (celeba_dlib150): {len(fit_v) - lfw_count} photos of the first "
                              f"{len(fit_names)} identities" if fit_names else ""),
                 date=str(date.today()), command=" ".join(["python -m faceprint.fit.identification",
                                                                *(sys.argv[1:] if argv is None else argv)]))
    check_v, check_l = embed([(p, n) for p, n in celeba if n not in fit_names], args.model, args.workers)
    entry["fit_impostor_share_below_0.33"] = float(np.mean(impostor < 0.33))
    entry["check"] = {"data": f"CelebA (celeba_dlib150): {len(check_v)} photos of {len(set(check_l))} identities "
                              "not in the fit", "label_noise": label_noise(check_v, check_l),
                      "rows": check_curve(entry, check_v, check_l)}
    table = json.loads(args.output.read_text()) if args.output.exists() else {}
    table.setdefault("models", {})[args.model] = entry
    table["method"] = ("threshold(C, fpir) = q(1 - (1 - fpir)^(1/C)), C = sum over enrolled people of faces^b "
                       "(faces_exponent); q = impostor-pair distance quantile, empirical, probit-linear tail below; "
                       "see faceprint/thresholds.py")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(table, indent=1) + "\n")
    print(json.dumps({k: v for k, v in entry.items() if k != "quantiles"}, indent=1))


if __name__ == "__main__":
    main()

"""Cohort score normalisation for identify, measured against the default (not used by the package).

A probe's best distance d1 is divided by the mean distance to its ``--k`` nearest faces of other
enrolled people (the gallery is the cohort): in a population whose faces all lie close together
(ORL's lab photos) a stranger's d1 is small but so is that mean, so the ratio stays near 1.

Two rules are compared with the package's default on the same draws (a probe with no other person in
the gallery to compare with is judged by the default's distance alone):

* ``ratio``: name when the ratio is under a threshold that names 1 % of strangers on training
  galleries of that size (CelebA training people and LFW View 1 people, drawn within each source;
  ``faceprint.fit.ident_exponent.training_sets``), interpolated in log gallery size;
* ``gate``: the default's distance threshold, and the ratio under the threshold that names
  ``--gate`` of training strangers (a loose second condition).

Held-out galleries as in ``bench_identification.py`` (median of ``--repeats`` draws), and ORL on its
own (one photo each of 20 of its 40 people; the other 20 people's photos are the strangers).

    python bench/bench_ident_cohort.py --model dlib
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

log = logging.getLogger("bench_ident_cohort")


def scores(vectors: np.ndarray, labels: np.ndarray, gallery: np.ndarray, probes: np.ndarray,
           k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each probe's best distance, the person it belongs to, and the ratio of that distance to the
    mean distance to the ``k`` nearest faces of other people (NaN when there are none)."""
    d = np.sqrt(np.maximum(2.0 - 2.0 * vectors[probes] @ vectors[gallery].T, 0.0))
    owners = labels[gallery]
    order = np.argsort(d, axis=1)
    best = d[np.arange(len(probes)), order[:, 0]]
    who = owners[order[:, 0]]
    ratio = np.full(len(probes), np.nan)
    for i in range(len(probes)):
        others = order[i][owners[order[i]] != who[i]][:k]
        if len(others):
            ratio[i] = best[i] / d[i, others].mean()
    return best, who, ratio


def ratio_thresholds(sets: dict[str, tuple[np.ndarray, np.ndarray]], k: int, fpir: float,
                     sizes: tuple[int, ...] = (20, 40, 100, 200, 400, 800, 2000)) -> tuple[list[float], list[float]]:
    """(log gallery size, the ratio naming ``fpir`` of training strangers) over training galleries."""
    from faceprint.fit.ident_exponent import ENROL_COUNTS, draw_gallery
    from faceprint.thresholds import threshold_at_fpir

    pooled: dict[int, list[np.ndarray]] = {}
    for vectors, labels in sets.values():
        rng = np.random.default_rng(1)
        for size in sizes:
            for _ in range(4):
                for enrol in ENROL_COUNTS:
                    cut = draw_gallery(labels, size, enrol, rng)
                    if cut is None:
                        continue
                    g, _, u = cut
                    ratio = scores(vectors, labels, g, u, k)[2]
                    pooled.setdefault(len(g), []).append(ratio[~np.isnan(ratio)])
    xs = sorted(pooled)
    return [float(np.log(x)) for x in xs], [threshold_at_fpir(np.concatenate(pooled[x]), fpir) for x in xs]


def compare(vectors: np.ndarray, labels: np.ndarray, draws: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
            model: str, k: int, strict: tuple[list[float], list[float]], loose: tuple[list[float], list[float]]
            ) -> np.ndarray:
    """Median over draws of [FPIR, DIR] for the default, ``ratio`` and ``gate``."""
    from faceprint.thresholds import identification_threshold

    rows = []
    for g, kn, u in draws:
        counts = np.unique(labels[g], return_counts=True)[1]
        t = identification_threshold(model, len(g), 0.01, counts)
        rho = float(np.interp(np.log(len(g)), *strict))
        gate = float(np.interp(np.log(len(g)), *loose))
        du, _, ru = scores(vectors, labels, g, u, k)
        dk, who, rk = scores(vectors, labels, g, kn, k)
        right = who == labels[kn]
        # no other person to compare with (a one-person gallery): the distance rule alone
        ratio_u, ratio_k = np.where(np.isnan(ru), du <= t, ru <= rho), np.where(np.isnan(rk), dk <= t, rk <= rho)
        gate_u, gate_k = np.isnan(ru) | (ru <= gate), np.isnan(rk) | (rk <= gate)
        share = lambda a: float(np.mean(a)) if len(a) else np.nan  # noqa: E731
        rows.append([share(du <= t), share(right & (dk <= t)), share(ratio_u), share(right & ratio_k),
                     share((du <= t) & gate_u), share(right & (dk <= t) & gate_k)])
    return np.nanmedian(np.array(rows), axis=0)


def main() -> None:
    import bench_identification
    import ident_data

    from faceprint import settings
    from faceprint.fit.celeba_chips import same_person_labels
    from faceprint.fit.ident_exponent import draw_gallery, training_sets

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="dlib", help="the embedding model")
    parser.add_argument("--k", type=int, default=5, help="nearest faces of other people in the cohort")
    parser.add_argument("--gate", type=float, default=0.1, help="share of training strangers the gate lets through")
    parser.add_argument("--repeats", type=int, default=20, help="random galleries per row")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "faceprint-bench-ident",
                        help="where bench_identification.py keeps the held-out vectors (the training people's "
                             "are the fitter's, in the faceprint cache)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    data = settings.data_dir()
    if data is None:
        sys.exit("shared data not found: set FACEPRINT_DATA to the folder holding celeba_dlib150/, orl/, lfw/ ...")
    people = ident_data.load(data, args.model, args.cache_dir)
    merged = same_person_labels(data, args.cache_dir)
    vectors, labels = people["celeba"]
    people["celeba"] = (vectors, np.array([merged.get(str(n), str(n)) for n in labels]))
    _, (hv, hl) = bench_identification.split(people)
    sets = training_sets(data, args.model, settings.cache_dir() / "bench")
    strict = ratio_thresholds(sets, args.k, 0.01)
    loose = ratio_thresholds(sets, args.k, args.gate)
    print(f"{args.model}: cohort of the {args.k} nearest faces of other people; median of {args.repeats} draws\n")
    print("| gallery | default: FPIR, DIR | ratio: FPIR, DIR | default + gate: FPIR, DIR |")
    print("|---|---:|---:|---:|")
    for size in (40, 200, 1000, 5000):
        for enrol in ("1", "3", "all"):
            draws = [cut for r in range(args.repeats)
                     if (cut := draw_gallery(hl, size, enrol, np.random.default_rng([0, r, size]))) is not None]
            if draws:
                m = compare(hv, hl, draws, args.model, args.k, strict, loose)
                print(f"| held-out, {size} x {enrol} | {100 * m[0]:.2f} %, {100 * m[1]:.1f} % | {100 * m[2]:.2f} %, "
                      f"{100 * m[3]:.1f} % | {100 * m[4]:.2f} %, {100 * m[5]:.1f} % |")
    ov, ol = people["orl"]
    draws = []
    for r in range(args.repeats):
        rng = np.random.default_rng([1, r])
        chosen = rng.permutation(np.unique(ol))[:20]
        g = np.array([rng.choice(np.flatnonzero(ol == n)) for n in chosen])
        inside = np.isin(ol, chosen)
        draws.append((g, np.setdiff1d(np.flatnonzero(inside), g), np.flatnonzero(~inside)))
    m = compare(ov, ol, draws, args.model, args.k, strict, loose)
    print(f"| ORL alone, 20 x 1 | {100 * m[0]:.2f} %, {100 * m[1]:.1f} % | {100 * m[2]:.2f} %, {100 * m[3]:.1f} % "
          f"| {100 * m[4]:.2f} %, {100 * m[5]:.1f} % |")


if __name__ == "__main__":
    main()

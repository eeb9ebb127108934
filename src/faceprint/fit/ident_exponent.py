"""How many independent chances a stranger gets in a gallery: the exponent b of
``C = sum_i n_i ** b`` (n_i faces of person i; ``faceprint.thresholds.chances``), per model.

A stranger near one photo of a person tends to be near that person's other photos too, so a person
enrolled with 5 photos gives fewer than 5 chances. b is chosen so that the model's default threshold
meets its target FPIR (1 % and 10 %) on random galleries of training people: the CelebA training
identities (a quarter, ``faceprint.fit.celeba_chips.training_people``) and the people of LFW View 1
(``faceprint.fit.view1_vectors``; many with one photo, some with many, as in users' galleries).
Galleries of 20 to 2,000 faces enrol 1, 3 or all but one photo of each person and are probed by
the training people not enrolled. The other CelebA identities, ORL, five_celebrity and LFW people
outside every pairs file are the check (``bench/bench_identification.py``). ``pairs.txt`` (View 2) is
never read; LFW's views share people, so many View 1 photos also appear in View 2's pairs.

    python -m faceprint.fit.ident_exponent --model dlib
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import date
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from faceprint.thresholds import IDENTIFICATION_TABLE, per_pair_rate, quantile

log = logging.getLogger(__name__)

ENROL_COUNTS = ("1", "3", "all")
EXPONENTS = np.round(np.arange(0.0, 1.0001, 0.05), 2)
MIN_STRANGERS = 300


def draw_gallery(labels: np.ndarray, faces: int, enrol: str, rng: np.random.Generator,
                 min_strangers: int = MIN_STRANGERS) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Indices of a random gallery of ``faces`` faces, its people's other photos, and the strangers.

    Args:
        labels: the person of each vector.
        faces: faces to enrol.
        enrol: photos enrolled per person: ``"1"``, ``"3"`` (people with more photos only) or
            ``"all"`` (all but one where a person has two or more).
        rng: the random draw.
        min_strangers: None is returned when fewer stranger photos than this are left.

    Returns:
        ``(gallery, probes, strangers)`` index arrays, or None when the size cannot be reached.
    """
    order = rng.permutation(np.unique(labels))
    gallery: list[int] = []
    probes: list[int] = []
    enrolled = []
    for person in order:
        idx = rng.permutation(np.flatnonzero(labels == person))
        if enrol == "all":
            take = len(idx) - 1 if len(idx) > 1 else 1
        elif len(idx) < int(enrol) + 1:
            continue
        else:
            take = int(enrol)
        take = min(take, faces - len(gallery))
        gallery += idx[:take].tolist()
        probes += idx[take:].tolist()
        enrolled.append(person)
        if len(gallery) >= faces:
            break
    strangers = np.flatnonzero(~np.isin(labels, enrolled))
    if len(gallery) < faces or len(strangers) < min_strangers:
        return None
    return np.array(gallery), np.array(probes, int), strangers


def training_galleries(vectors: np.ndarray, labels: np.ndarray, seed: int = 0, rounds: int = 6,
                       sizes: Sequence[int] = (20, 40, 100, 200, 400, 800, 2000)) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(faces of each enrolled person, each stranger's nearest distance)`` of random galleries of these people."""
    rng = np.random.default_rng(seed)
    out = []
    for size in sizes:
        for _ in range(rounds):
            for enrol in ENROL_COUNTS:
                cut = draw_gallery(labels, size, enrol, rng)
                if cut is None:
                    continue
                g, _, u = cut
                d = np.sqrt(np.maximum(2.0 - 2.0 * vectors[u] @ vectors[g].T, 0.0)).min(axis=1)
                out.append((np.unique(labels[g], return_counts=True)[1], d))
    return out


def fit_exponent(entry: dict[str, Any], galleries: list[tuple[np.ndarray, np.ndarray]],
                 targets: Sequence[float] = (0.01, 0.1)) -> tuple[float, list[dict[str, Any]]]:
    """The exponent whose thresholds give the targets as the median FPIR over these galleries.

    Only galleries where someone has several faces count (b changes nothing otherwise); the loss is
    the squared log error of the median measured FPIR, summed over the targets: the promise is
    about a typical gallery, which is what ``bench/bench_identification.py`` reports.

    Args:
        entry: the model's fitted curve (``quantiles`` and ``tail``).
        galleries: from ``training_galleries``.
        targets: the FPIRs to meet.

    Returns:
        ``(b, sweep)``: the best exponent and, per exponent tried, its loss and median measured FPIR
        per target.
    """
    several = [(counts.astype(float), best) for counts, best in galleries if counts.max() > 1]
    sweep = []
    for b in EXPONENTS:
        medians = {}
        for f in targets:
            medians[f] = float(np.median([np.mean(best <= quantile(entry, per_pair_rate(np.sum(counts ** b), f)))
                                          for counts, best in several]))
        loss = sum((np.log(m + f / 10) - np.log(f + f / 10)) ** 2 for f, m in medians.items())
        sweep.append({"b": float(b), "loss": round(float(loss), 5),
                      **{f"median_fpir_at_{f:g}": round(m, 4) for f, m in medians.items()}})
    best = min(sweep, key=lambda row: row["loss"])
    return best["b"], sweep


def training_sets(data: Path, model: str, cache: Path, workers: int = 1) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The training people's vectors and names, per source: CelebA training identities (aligned
    chips) and LFW View 1 people (photos through the pipeline).

    Galleries are drawn within one source: a stranger from another kind of image (a chip against
    detected photos) is farther from everyone than a real stranger, and would make any threshold look safe.
    """
    from faceprint.fit.celeba_chips import celeba_chips, same_person_labels, training_people
    from faceprint.fit.view1_vectors import view1_vectors

    vectors, names, _ = celeba_chips(data, model, cache)
    merged = same_person_labels(data, cache)  # one person under two numbers is no stranger to himself
    names = np.array([merged.get(str(n), str(n)) for n in names])
    train = training_people(names)
    return {"celeba": (vectors[train], names[train]), "lfw_view1": view1_vectors(data, model, cache, workers=workers)}


def main(argv: Sequence[str] | None = None) -> None:
    """Fit one model's exponent on the training people (CelebA, LFW View 1) and write it into the table."""
    from faceprint import settings

    parser = argparse.ArgumentParser(prog="python -m faceprint.fit.ident_exponent", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="dlib", help="the embedding model (dlib, mobilefacenet, dlib+mobilefacenet)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="where the training vectors are kept (default: the faceprint cache)")
    parser.add_argument("--workers", type=int, default=1, help="processes embedding LFW View 1 the first time")
    parser.add_argument("--output", type=Path, default=IDENTIFICATION_TABLE,
                        help="the table to update (default: the package's ident_thresholds.json)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    data = settings.data_dir()
    if data is None:
        raise SystemExit("shared data not found: set FACEPRINT_DATA to the folder holding celeba_dlib150/ and lfw/")
    table = json.loads(args.output.read_text())
    entry = table["models"].get(args.model)
    if entry is None:
        raise SystemExit(f"{args.model}: no fitted curve in {args.output}: run faceprint.fit.identification first")
    cache = args.cache_dir or settings.cache_dir() / "bench"
    sets = training_sets(data, args.model, cache, args.workers)
    b, sweep = fit_exponent(entry, [g for v, n in sets.values() for g in training_galleries(v, n)])
    (cv, cn), (lv, ln) = sets["celeba"], sets["lfw_view1"]
    entry["faces_exponent"] = b
    entry["faces_exponent_fit"] = {
        "data": f"{len(cv)} CelebA chips of {len(np.unique(cn))} training identities (CelebA number % 4 == 0) "
                f"and {len(lv)} photos of the {len(np.unique(ln))} LFW View 1 people (<= 20 each), galleries "
                "drawn within each; pairs.txt (View 2) never read, though many View 1 photos are in it",
        "chances": "sum over enrolled people of faces ** b",
        "date": str(date.today()),
        "command": " ".join(["python -m faceprint.fit.ident_exponent", *(sys.argv[1:] if argv is None else argv)]),
        "sweep": sweep}
    args.output.write_text(json.dumps(table, indent=1) + "\n")
    print(json.dumps({"model": args.model, "faces_exponent": b,
                      "best": min(sweep, key=lambda row: row["loss"])}, indent=1))


if __name__ == "__main__":
    main()

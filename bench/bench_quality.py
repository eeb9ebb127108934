"""Error-versus-discard curves (EDC) of the face quality score, per model, against single cues.

For each set of pairs the threshold is fixed at FMR 1e-3 (and 1e-2) on all impostor comparisons;
then the lowest-quality 0, 5, 10, 20 and 30 % of the genuine pairs (a pair's quality is the lower
of its two faces') are discarded and the false non-match rate of what is left is printed, with the
share of the false non-matches that the 10 % discard removed. Each quality measure is ranked the
same way: the fitted score, the detection-only score, and single cues (size, yaw, pitch, detector
score, sharpness, descriptor norm, mirror agreement), so the fitted score shows what it adds;
the last row, the "oracle", discards the pairs by their own comparison score: no quality measure
can remove more false non-matches (at most the discarded share divided by the FNMR).

Sets: ``cfp_dev`` frontal-profile (FP) and frontal-frontal (FF) pairs (the genuine pairs of
``pairs_fp.csv`` / ``pairs_ff.csv``; impostors: every frontal photo against every other person's
profile, or frontal, photo), and the CelebA identities the fit did not see (``celeba_dlib150``,
held-out half by person, each photo clean and once degraded as in the fit; genuine pairs: two
different photos of a person; impostors: every cross-person pair). cfp_dev and these CelebA
people are evaluation only: the score was fitted on the other CelebA half.

    python bench/bench_quality.py                              # every model, every set
    python bench/bench_quality.py --models dlib --sets cfp_fp  # one
    python bench/bench_quality.py --weights /tmp/candidate.json

Face records (vectors and cues) are cached under the faceprint cache folder; ``--fresh`` redoes them.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from pathlib import Path

import numpy as np

from faceprint import quality, settings
from faceprint.fit import quality as fit

DISCARDS = (0.0, 0.05, 0.10, 0.20, 0.30)
FMRS = (1e-3, 1e-2)
SETS = ("cfp_fp", "cfp_ff", "celeba_heldout")
SINGLE = {  # single cues, oriented so that higher is better
    "size only": ("size", 1.0), "yaw only": ("yaw", -1.0), "pitch only": ("pitch", -1.0),
    "detector score only": ("score", 1.0), "sharpness only": ("sharpness", 1.0),
    "descriptor norm only": ("norm", 1.0), "mirror agreement only": ("mirror", 1.0),
}


def _records(name: str, loaders: list, model: str, models: list[str], fresh: bool) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors and the cue matrix (``quality.ALL_CUES`` columns) of a set's photos, cached
    (every model of the run embedded at once, so each photo is decoded and detected once)."""
    records = fit.cached_records(name, len(loaders), models, lambda: [load() for load in loaders], fresh)
    vectors, cues = records[model]
    return vectors, fit.cue_matrix(cues, quality.ALL_CUES)


def _loader(path: Path, kind: str = "clean"):
    from faceprint.images import load_image

    return lambda: fit.degrade(load_image(path), kind)


def cfp_set(root: Path, kind: str) -> tuple[list, np.ndarray, np.ndarray, np.ndarray]:
    """cfp_dev photos, genuine pairs (indices) and, for impostors, the mask of pairs to score."""
    files = sorted(str(p.relative_to(root)) for p in root.glob("*/*/*.jpg"))
    index = {f: i for i, f in enumerate(files)}
    with open(root / f"pairs_{kind}.csv", newline="") as handle:
        genuine = np.array([(index[r["img1"]], index[r["img2"]]) for r in csv.DictReader(handle) if r["same"] == "1"])
    person = np.array([f.split("/")[0] for f in files])
    view = np.array([f.split("/")[1] for f in files])
    second = "profile" if kind == "fp" else "frontal"
    impostor = (person[:, None] != person[None, :]) & (view[:, None] == "frontal") & (view[None, :] == second)
    return [_loader(root / f) for f in files], genuine, impostor, person


def celeba_set(root: Path, per_identity: int, seed: int = 0) -> tuple[list, np.ndarray, np.ndarray, np.ndarray]:
    """The held-out CelebA people: each photo clean and degraded once, as in the fit."""
    paths = fit.celeba_split(root, held_out=True, per_identity=per_identity)
    rng = np.random.default_rng(seed)
    kinds = ["clean"] * len(paths) + [fit.DEGRADATIONS[i] for i in rng.integers(0, len(fit.DEGRADATIONS), len(paths))]
    photo = np.concatenate([np.arange(len(paths))] * 2)
    person = np.array([paths[i].parent.name for i in photo])
    same = person[:, None] == person[None, :]
    upper = np.triu(np.ones_like(same), 1)
    genuine = np.argwhere(same & upper & (photo[:, None] != photo[None, :]))
    impostor = ~same & upper
    return [_loader(paths[i], k) for i, k in zip(photo, kinds)], genuine, impostor, person


def edc(genuine_scores: np.ndarray, pair_quality: np.ndarray, threshold: float) -> list[float]:
    """FNMR (%) at ``threshold`` after discarding each share of ``DISCARDS`` of lowest-quality pairs."""
    order = np.argsort(pair_quality, kind="stable")
    out = []
    for share in DISCARDS:
        kept = order[int(round(share * len(order))):]
        out.append(100.0 * float(np.mean(genuine_scores[kept] < threshold)) if len(kept) else float("nan"))
    return out


def measures(cues: np.ndarray, model: str, weights: dict | None) -> dict[str, np.ndarray]:
    """Each face's value under each quality measure (higher is better; NaN cues rank lowest)."""
    names = quality.ALL_CUES
    dicts = [{n: float(v) for n, v in zip(names, row) if not np.isnan(v)} for row in cues]
    out = {"fitted score": np.array([quality.score(d, model, weights) if d else -1.0 for d in dicts]),
           "detection-only score": np.array([quality.score({k: v for k, v in d.items() if k in quality.DETECTION_CUES},
                                                           None, weights) if d else -1.0 for d in dicts])}
    for label, (cue, sign) in SINGLE.items():
        column = cues[:, names.index(cue)] * sign
        out[label] = np.where(np.isnan(column), -np.inf, column)
    return out


def run_set(name: str, data: Path, model: str, args) -> list[dict]:
    if name.startswith("cfp"):
        loaders, genuine, impostor, _ = cfp_set(data / "cfp_dev", name[4:])
    else:
        loaders, genuine, impostor, _ = celeba_set(data / "celeba_dlib150", args.per_identity)
    key = "cfp" if name.startswith("cfp") else "celeba-heldout"
    vectors, cues = _records(key, loaders, model, args.models, args.fresh and key not in args.fresh_done)
    args.fresh_done.add(key)
    found = ~np.isnan(vectors[:, 0])
    filled = np.nan_to_num(vectors)
    sims = filled @ filled.T
    # a photo where no face was found is a failure to acquire, not a comparison: left out
    impostor_scores = sims[impostor & found[:, None] & found[None, :]]
    unfound = int(np.sum(~(found[genuine[:, 0]] & found[genuine[:, 1]])))
    genuine = genuine[found[genuine[:, 0]] & found[genuine[:, 1]]]
    genuine_scores = sims[genuine[:, 0], genuine[:, 1]]
    rows = []
    ranked = [(label, np.minimum(values[genuine[:, 0]], values[genuine[:, 1]]))
              for label, values in measures(cues, model, args.weights).items()]
    # the best any measure could do: the pairs that fail first discarded first
    ranked.append(("oracle (the pair's own score)", genuine_scores))
    for label, pair_quality in ranked:
        row = {"set": name, "model": model, "measure": label, "genuine": len(genuine),
               "impostors": int(impostor_scores.size), "genuine_without_face": unfound}
        for fmr in FMRS:
            threshold = fit.threshold_at(impostor_scores, fmr)
            curve = edc(genuine_scores, pair_quality, threshold)
            row[f"fnmr@{fmr:g}"] = [round(v, 2) for v in curve]
            kept = np.argsort(pair_quality, kind="stable")[int(round(0.10 * len(pair_quality))):]
            before = int(np.sum(genuine_scores < threshold))
            after = int(np.sum(genuine_scores[kept] < threshold))
            row[f"fnm_removed_10%@{fmr:g}"] = round(100.0 * (before - after) / max(before, 1), 1)
            if label == "fitted score":  # what the default floor sets apart
                poor = pair_quality < quality.POOR_QUALITY
                row[f"poor@{fmr:g}"] = {
                    "share_of_pairs": round(100.0 * float(poor.mean()), 1),
                    "fnmr_poor": round(100.0 * float(np.mean(genuine_scores[poor] < threshold)), 1) if poor.any() else None,
                    "fnmr_rest": round(100.0 * float(np.mean(genuine_scores[~poor] < threshold)), 1)}
        rows.append(row)
    return rows


def print_table(rows: list[dict]) -> None:
    for (name, model) in dict.fromkeys((r["set"], r["model"]) for r in rows):
        part = [r for r in rows if r["set"] == name and r["model"] == model]
        print(f"\n### {name}, {model} ({part[0]['genuine']} genuine pairs, {part[0]['impostors']} impostor pairs; "
              f"{part[0]['genuine_without_face']} genuine pairs left out: no face found)\n")
        header = " | ".join(f"{int(d * 100)} %" for d in DISCARDS)
        print(f"| measure | FNMR @ FMR 1e-3, discarding {header} | FNMs removed by 10 % | "
              f"FNMR @ FMR 1e-2, discarding {header} | FNMs removed by 10 % |")
        print("|---|" + "---|" * (2 * len(DISCARDS) + 2))
        for r in part:
            low, high = r["fnmr@0.001"], r["fnmr@0.01"]
            print(f"| {r['measure']} | " + " | ".join(f"{v:.2f}" for v in low)
                  + f" | {r['fnm_removed_10%@0.001']:.1f} % | " + " | ".join(f"{v:.2f}" for v in high)
                  + f" | {r['fnm_removed_10%@0.01']:.1f} % |")
        poor = part[0].get("poor@0.001")
        if poor:
            print(f"\nBelow POOR_QUALITY ({quality.POOR_QUALITY}): {poor['share_of_pairs']} % of genuine pairs; "
                  f"FNMR at FMR 1e-3 {poor['fnmr_poor']} % for them, {poor['fnmr_rest']} % for the rest.")


def overhead(model: str, count: int = 60, rounds: int = 5) -> None:
    """What scoring adds to the pipeline: per LFW image, the pipeline's time (find faces, align,
    embed with scores) and, interleaved, the quality work it does inside (the cues at detection and
    again for the chips, the scores); the median ratio over rounds is printed."""
    import statistics
    import time

    sys.path.insert(0, str(Path(__file__).parent))
    from _common import lfw_sample

    from faceprint.images import load_image
    from faceprint.pipeline.pipeline import PipelineConfig, get_pipeline

    pipe = get_pipeline(PipelineConfig(model=model))
    images = [load_image(p) for p in lfw_sample(count)]
    pipe.warm()
    ratios = []
    for _ in range(rounds):
        whole = extra = 0.0
        for image in images:
            start = time.perf_counter()
            found, _ = pipe.find_faces(image)
            pipe.embed_chips_scored([pipe.prepare_chips(image, found)])
            whole += time.perf_counter() - start
            start = time.perf_counter()
            for d in found:
                quality.detection_quality(d, image)
                quality.score(quality.detection_cues(d, image), model)
            extra += time.perf_counter() - start
        ratios.append(extra / whole)
    print(f"{model}: the quality work is {100 * statistics.median(ratios):.1f} % of the pipeline's time per image "
          f"(rounds {100 * min(ratios):.1f}-{100 * max(ratios):.1f} %; {count} LFW images, {rounds} rounds)")


def main() -> int:
    from faceprint.fit.quality import MODELS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated models")
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated sets of {', '.join(SETS)}")
    parser.add_argument("--per-identity", type=int, default=6, help="held-out CelebA photos per person (default 6)")
    parser.add_argument("--weights", type=Path, default=None, help="a candidate quality_weights.json")
    parser.add_argument("--fresh", action="store_true", help="embed again instead of reading the cache")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    parser.add_argument("--overhead", action="store_true",
                        help="instead, measure what scoring adds to the pipeline's time (LFW images)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)  # embedding progress
    data = settings.data_dir()
    if data is None or not (data / "cfp_dev").is_dir():
        sys.exit("cfp_dev not found: set FACEPRINT_DATA to the folder holding cfp_dev/ and celeba_dlib150/")
    args.weights = json.loads(args.weights.read_text()) if args.weights else None
    if args.overhead:
        for model in [m.strip() for m in args.models.split(",") if m.strip()]:
            overhead(model)
        return 0
    rows = []
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    args.fresh_done = set()
    for model in args.models:
        for name in [s.strip() for s in args.sets.split(",") if s.strip()]:
            if name not in SETS:
                sys.exit(f"unknown set {name!r}: choose from {', '.join(SETS)}")
            rows.extend(run_set(name, data, model, args))
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

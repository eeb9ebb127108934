"""Does identification keep its promise? Measured FPIR and DIR against the target FPIR, per model and
gallery size, on people no threshold was fitted on.

Training people: a quarter of the CelebA identities (``faceprint.fit.celeba_chips.training_people``), the
only people the bench's own rules are fitted on; the package's exponent is fitted on them and on LFW View 1
people (``faceprint.fit.ident_exponent``), its impostor curve on LFW View 1 people.
Held-out people: the other CelebA identities, ORL, five_celebrity and the LFW people named in no
pairs file (never View 2). Each repeat draws, from the held-out people, galleries of ``--sizes``
faces enrolling each chosen person with 1, 3 or all but one of their photos (``--enrol``); the
photos they did not enrol are probes of enrolled people, everyone else's photos are strangers. Per
rule, size and target FPIR it prints the share of strangers named (FPIR) and of enrolled people's
probes named right (DIR): the median over repeats and its range.

Rules (all name a face after its nearest enrolled face, as ``Gallery.identify``):

* ``faces``: ``1 - (1 - p(t)) ** N`` with N faces, p the shipped impostor curve (LFW View 1):
  every face counted as a chance (b = 1);
* ``package``: the package's default now (``thresholds.identification_threshold`` given the
  faces of each enrolled person: C = sum_i n_i ** b chances);
* ``previous``: the previous release's default, C = S ** (1 - b) * N ** b with only the count of
  people S and b fitted on CelebA training people alone (0.9 for dlib, 0.95 for the others);
* ``subjects``: the shipped curve with N people instead of N faces (b = 0);
* ``pairs-celeba``: N faces, p fitted on the training people's impostor pairs;
* ``sized``: thresholds measured on training galleries of several sizes, interpolated in log N.

    python bench/bench_identification.py                       # every installed model
    python bench/bench_identification.py --models dlib --repeats 3 --sizes 40,200
    python bench/bench_identification.py --models dlib --floor-share   # faces below the quality floor
    python bench/bench_identification.py --templates                   # one template per person vs nearest face
    python bench/bench_identification.py --evaluation-sets             # the default on LFW View 2 and cfp_dev

Vectors are cached under ``--cache-dir`` (default: a folder in the system's temporary folder);
the first run embeds about 7,500 photos per model.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

log = logging.getLogger("bench_identification")

TARGETS = (0.001, 0.01, 0.1)


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between unit vectors, (len(a), len(b))."""
    return np.sqrt(np.maximum(2.0 - 2.0 * a @ b.T, 0.0))


def split(people: dict[str, tuple[np.ndarray, np.ndarray]]) -> tuple[tuple[np.ndarray, np.ndarray],
                                                                     tuple[np.ndarray, np.ndarray]]:
    """Training people (a quarter of the CelebA identities) and held-out people (the rest, and every other set)."""
    from faceprint.fit.celeba_chips import training_people

    cv, cl = people["celeba"]
    fit = training_people(cl)
    held_v = [cv[~fit]] + [v for k, (v, _) in people.items() if k != "celeba"]
    held_l = [cl[~fit]] + [lab for k, (_, lab) in people.items() if k != "celeba"]
    return (cv[fit], cl[fit]), (np.concatenate(held_v), np.concatenate(held_l))


# -- the rules: each gives the threshold for (faces of each enrolled person, fpir) -----------------------

Rule = Callable[[np.ndarray, float], float]


def curve_rule(model: str, exponent: float | None) -> Rule:
    """The package's default (``exponent`` None: C = sum_i n_i ** b with its own b), or the shipped
    curve with C = S ** (1 - b) * N ** b chances for a given b."""
    from faceprint import thresholds

    if exponent is None:
        return lambda counts, fpir: thresholds.identification_threshold(model, int(counts.sum()), fpir, counts)
    entry = thresholds._fitted_entry(thresholds.IDENTIFICATION_TABLE, model)
    return lambda counts, fpir: thresholds.quantile(
        entry, thresholds.per_pair_rate(len(counts) ** (1 - exponent) * counts.sum() ** exponent, fpir))


PREVIOUS_EXPONENT = {"dlib": 0.9, "mobilefacenet": 0.95, "dlib+mobilefacenet": 0.95}


def previous_rule(model: str) -> Rule:
    """The previous release's default: S ** (1 - b) * N ** b chances with its b (``PREVIOUS_EXPONENT``)."""
    from faceprint import thresholds

    entry = thresholds._fitted_entry(thresholds.IDENTIFICATION_TABLE, model)
    b = PREVIOUS_EXPONENT[model]
    return lambda counts, fpir: thresholds.quantile(
        entry, thresholds.per_pair_rate(len(counts) ** (1 - b) * counts.sum() ** b, fpir))


def pairs_rule(vectors: np.ndarray, labels: np.ndarray) -> Rule:
    """``1 - (1 - p(t)) ** N`` with p fitted on the training people's impostor pairs."""
    from faceprint.fit.identification import fit_curve, impostor_distances
    from faceprint.thresholds import per_pair_rate, quantile

    entry = fit_curve(impostor_distances(vectors, labels))
    return lambda counts, fpir: quantile(entry, per_pair_rate(counts.sum(), fpir))


def sized_rule(vectors: np.ndarray, labels: np.ndarray) -> Rule:
    """Thresholds measured on training galleries, interpolated in log faces (flat beyond the ends)."""
    from faceprint.fit.ident_exponent import training_galleries
    from faceprint.thresholds import threshold_at_fpir

    pooled: dict[int, list[np.ndarray]] = {}
    for counts, best in training_galleries(vectors, labels, seed=1, rounds=4, sizes=(20, 40, 100, 200, 400, 800)):
        pooled.setdefault(int(counts.sum()), []).append(best)
    table = {f: [(np.log(n), threshold_at_fpir(np.concatenate(b), f)) for n, b in sorted(pooled.items())]
             for f in TARGETS}

    def rule(counts: np.ndarray, fpir: float) -> float:
        x, y = zip(*table[min(table, key=lambda f: abs(np.log(f) - np.log(fpir)))])
        return float(np.interp(np.log(max(counts.sum(), 1)), x, y))

    return rule


# -- measuring ------------------------------------------------------------------------------------------

def measure(rules: dict[str, Rule], vectors: np.ndarray, labels: np.ndarray, faces: int, enrol: str,
            rng: np.random.Generator) -> dict[str, dict[float, tuple[float, float, int, int]]] | None:
    """FPIR and DIR of each rule on one random gallery of held-out people:
    ``{rule: {fpir: (measured fpir, dir, people enrolled, stranger photos)}}``."""
    from faceprint.fit.ident_exponent import draw_gallery

    cut = draw_gallery(labels, faces, enrol, rng)
    if cut is None:
        return None
    g, k, u = cut
    gv, gl = vectors[g], labels[g]
    counts = np.unique(gl, return_counts=True)[1]
    subjects = len(counts)
    best_u = distances(vectors[u], gv).min(axis=1)
    dk = distances(vectors[k], gv) if len(k) else np.zeros((0, len(g)))
    nearest = dk.argmin(axis=1) if len(k) else np.zeros(0, int)
    right = gl[nearest] == labels[k]
    best_k = dk[np.arange(len(k)), nearest] if len(k) else np.zeros(0)
    out: dict[str, dict[float, tuple[float, float, int, int]]] = {}
    for name, rule in rules.items():
        out[name] = {}
        for f in TARGETS:
            t = rule(counts, f)
            out[name][f] = (float(np.mean(best_u <= t)),
                            float(np.mean(right & (best_k <= t))) if len(k) else float("nan"), subjects,
                            len(u))
    return out


def run(model: str, people: dict[str, tuple[np.ndarray, np.ndarray]], sizes: list[int], enrols: list[str],
        repeats: int, seed: int) -> list[dict[str, Any]]:
    (fv, fl), (hv, hl) = split(people)
    rules = {"faces": curve_rule(model, 1.0), "package": curve_rule(model, None),
             "previous": previous_rule(model), "subjects": curve_rule(model, 0.0),
             "pairs-celeba": pairs_rule(fv, fl), "sized": sized_rule(fv, fl)}
    rows: dict[tuple[str, int, str, float], list[tuple[float, float, int, int]]] = {}
    for r in range(repeats):
        rng = np.random.default_rng([seed, r])
        for size in sizes:
            for enrol in enrols:
                got = measure(rules, hv, hl, size, enrol, rng)
                if got is None:
                    log.info("%s: %d faces enrolling %s each: not reachable with the held-out people", model, size, enrol)
                    continue
                for name, by_f in got.items():
                    for f, pair in by_f.items():
                        rows.setdefault((name, size, enrol, f), []).append(pair)
        log.info("%s: repeat %d / %d done", model, r + 1, repeats)
    out = []
    for (name, size, enrol, f), pairs in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][3], kv[0][1], kv[0][2])):
        fp, dr, people_n, strangers_n = np.array(pairs).T
        out.append({"model": model, "rule": name, "faces": size, "enrol": enrol, "target": f, "repeats": len(pairs),
                    "people": int(np.median(people_n)), "strangers": int(np.median(strangers_n)),
                    "fpir": float(np.median(fp)), "fpir_range": [float(fp.min()), float(fp.max())],
                    "fpir_median_ci95": median_interval(fp, seed),
                    "dir": float(np.nanmedian(dr)), "dir_range": [float(np.nanmin(dr)), float(np.nanmax(dr))]})
    return out


def median_interval(values: np.ndarray, seed: int, rounds: int = 2000) -> list[float]:
    """A 95 % bootstrap interval of the median of ``values`` (the draws): how far the median itself may be off."""
    rng = np.random.default_rng(seed)
    medians = np.median(values[rng.integers(0, len(values), (rounds, len(values)))], axis=1)
    return [float(v) for v in np.percentile(medians, [2.5, 97.5])]


def print_band(rows: list[dict[str, Any]], rule: str = "package", target: float = 0.01,
               band: tuple[float, float] = (0.005, 0.015)) -> None:
    """Per model: how many gallery shapes have ``rule``'s median FPIR inside ``band`` at ``target``,
    and each shape's median with its bootstrap interval."""
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model and r["rule"] == rule and r["target"] == target]
        inside = sum(band[0] <= r["fpir"] <= band[1] for r in mine)
        cells = ", ".join(f"{r['faces']}x{r['enrol']} {100 * r['fpir']:.2f} ({100 * r['fpir_median_ci95'][0]:.2f}-"
                          f"{100 * r['fpir_median_ci95'][1]:.2f})" for r in mine)
        print(f"{model}: {inside} of {len(mine)} medians within {100 * band[0]:g}-{100 * band[1]:g} % at a "
              f"{100 * target:g} % target; median (its 95 % interval): {cells}")


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'model':<20} {'rule':<15} {'target':>6} {'faces':>6} {'enrol':>5} {'FPIR %':>7} {'range':>13} "
          f"{'DIR %':>6} {'range':>13}")
    for r in rows:
        print(f"{r['model']:<20} {r['rule']:<15} {100 * r['target']:>6g} {r['faces']:>6} {r['enrol']:>5} "
              f"{100 * r['fpir']:>7.2f} {100 * r['fpir_range'][0]:>6.2f}-{100 * r['fpir_range'][1]:<6.2f} "
              f"{100 * r['dir']:>6.1f} {100 * r['dir_range'][0]:>6.1f}-{100 * r['dir_range'][1]:<6.1f}")


def print_markdown(rows: list[dict[str, Any]], rule: str = "package", baselines: tuple[str, ...] = ("previous", "faces")) -> None:
    """Per model: FPIR (median, range over repeats) and DIR of ``rule`` at each target, and each
    baseline's at 1 %, one row per gallery size and enrolment."""
    index = {(r["model"], r["rule"], r["faces"], r["enrol"], r["target"]): r for r in rows}
    for model in dict.fromkeys(r["model"] for r in rows):
        print(f"\n**{model}**\n")
        print("| faces | photos each | people | strangers | FPIR at 0.1 % | DIR | FPIR at 1 % | DIR | FPIR at 10 % | DIR | "
              + " | ".join(f"`{b}`: FPIR at 1 % | DIR" for b in baselines) + " |")
        print("|" + "---:|" * (10 + 2 * len(baselines)))
        cells = sorted({(r["faces"], r["enrol"]) for r in rows if r["model"] == model},
                       key=lambda c: (c[0], {"1": 0, "3": 1, "all": 2}.get(c[1], 3)))
        for faces, enrol in cells:
            first = index[(model, rule, faces, enrol, 0.01)]
            out = [f"{faces:,}", "all but one" if enrol == "all" else enrol, f"{first['people']:,}",
                   f"{first['strangers']:,}"]
            for name, targets in ((rule, TARGETS), *((b, (0.01,)) for b in baselines)):
                for f in targets:
                    r = index.get((model, name, faces, enrol, f))
                    if r is None:
                        out += ["", ""]
                        continue
                    lo, hi = r["fpir_range"]
                    out += [f"{100 * r['fpir']:.2f} ({100 * lo:.2f}-{100 * hi:.2f})", f"{100 * r['dir']:.1f}"]
            print("| " + " | ".join(out) + " |")


def templates(model: str, people: dict[str, tuple[np.ndarray, np.ndarray]], sizes: list[int], enrols: list[str],
              repeats: int, seed: int, fpir: float = 0.01) -> None:
    """Print DIR when each enrolled person is one template (the normalised mean of their vectors)
    against DIR of nearest-face search, both at the threshold that names exactly ``fpir`` of the
    draw's strangers (an oracle threshold: what each search could reach), and the FPIR templates
    get from the shipped curve with one chance per person."""
    from faceprint.fit.ident_exponent import draw_gallery
    from faceprint.thresholds import (
        IDENTIFICATION_TABLE,
        _fitted_entry,
        per_pair_rate,
        quantile,
        threshold_at_fpir,
    )

    entry = _fitted_entry(IDENTIFICATION_TABLE, model)
    _, (hv, hl) = split(people)
    cells: dict[tuple[int, str], list[tuple[float, float, float]]] = {}
    for r in range(repeats):
        rng = np.random.default_rng([seed, r])
        for size in sizes:
            for enrol in enrols:
                cut = draw_gallery(hl, size, enrol, rng)
                if cut is None or not len(cut[1]):
                    continue
                g, k, u = cut
                ids, owner = np.unique(hl[g], return_inverse=True)
                means = np.zeros((len(ids), hv.shape[1]))
                np.add.at(means, owner, hv[g])
                means /= np.linalg.norm(means, axis=1, keepdims=True)
                out = []
                for gallery, names in ((means, ids), (hv[g], hl[g])):
                    best_u = distances(hv[u], gallery).min(axis=1)
                    dk = distances(hv[k], gallery)
                    right = names[dk.argmin(axis=1)] == hl[k]
                    out.append(float(np.mean(right & (dk.min(axis=1) <= threshold_at_fpir(best_u, fpir)))))
                    if gallery is means:
                        curve = quantile(entry, per_pair_rate(len(ids), fpir))
                        shipped_fpir = float(np.mean(best_u <= curve))
                cells.setdefault((size, enrol), []).append((out[0], out[1], shipped_fpir))
    print(f"\n{model}: DIR at exactly {fpir:g} FPIR (median of {repeats} draws)")
    print("| faces | photos each | templates | nearest face | templates' FPIR on the shipped curve |")
    print("|---:|---:|---:|---:|---:|")
    for (size, enrol), rows in sorted(cells.items(), key=lambda kv: (kv[0][0], {"1": 0, "3": 1}.get(kv[0][1], 2))):
        t, f, shipped = np.median(np.array(rows), axis=0)
        print(f"| {size:,} | {'all but one' if enrol == 'all' else enrol} | {100 * t:.1f} | {100 * f:.1f} "
              f"| {100 * shipped:.2f} % |")


def floor_share(data: Path, model: str, cache: Path) -> None:
    """Print the share of each photo set's faces (nearest the centre) below identify's quality
    floor: the held-out sets, then the evaluation-only ones (LFW View 2, cfp_dev frontal and
    profile), where identify would answer "unknown". What the floor trades there:
    ``bench/bench_quality_floor.py``."""
    import ident_data
    from bench_quality_floor import embedded

    from faceprint.quality import NAMING_FLOOR

    for label, items in (ident_data.photo_sets(data) | ident_data.evaluation_sets(data)).items():
        scores = embedded(items, model, cache, label)["quality"]
        scores = scores[~np.isnan(scores)]
        print(f"{model} {label}: {len(scores)} faces, {100 * np.mean(scores < NAMING_FLOOR):.1f} % below the "
              f"quality floor {NAMING_FLOOR:g} (median quality {np.median(scores):.2f})")


def evaluation_sets_effect(data: Path, model: str, cache: Path, repeats: int, seed: int) -> None:
    """Print what the default's rule does on the evaluation-only sets, against the previous release's
    and one chance per face: galleries drawn within LFW View 2's photos and within cfp_dev's frontal
    photos (enrolling 1, 3 or all but one photo each), the rest of the set as strangers. Nothing is
    fitted on them; this is the effect of a changed default on the test sets."""
    import ident_data
    from bench_quality_floor import embedded

    rules = {"package": curve_rule(model, None), "previous": previous_rule(model), "faces": curve_rule(model, 1.0)}
    sets = ident_data.evaluation_sets(data)
    print(f"\n{model}: FPIR / DIR at a 1 % target on the evaluation sets (median of {repeats} draws)\n")
    print("| set | faces | photos each | " + " | ".join(f"`{name}`" for name in rules) + " |")
    print("|---|---:|---:|" + "---:|" * len(rules))
    for label, sizes in (("lfw_view2", (40, 200, 1000)), ("cfp_dev_frontal", (40, 200))):
        found = embedded(sets[label], model, cache, label)
        for size in sizes:
            for enrol in ("1", "3", "all"):
                cells: dict[str, list[tuple[float, float]]] = {}
                for r in range(repeats):
                    got = measure(rules, found["vectors"], found["people"], size, enrol, np.random.default_rng([seed, r]))
                    for name, by_f in (got or {}).items():
                        cells.setdefault(name, []).append(by_f[0.01][:2])
                if cells:
                    out = [f"{100 * np.median([c[0] for c in v]):.2f} % / {100 * np.nanmedian([c[1] for c in v]):.1f} %"
                           for v in cells.values()]
                    print(f"| {label} | {size:,} | {'all but one' if enrol == 'all' else enrol} | " + " | ".join(out) + " |")


def installed_models() -> list[str]:
    from faceprint.errors import FaceprintError
    from faceprint.models import mobilefacenet

    try:
        mobilefacenet.installed_model_path()
    except FaceprintError:
        return ["dlib"]
    return ["dlib", "mobilefacenet", "dlib+mobilefacenet"]


def main() -> None:
    import ident_data

    from faceprint import settings
    from faceprint.fit.celeba_chips import same_person_labels

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="", help="comma-separated models (default: every installed one)")
    parser.add_argument("--sizes", default="40,200,1000,5000", help="gallery sizes in faces")
    parser.add_argument("--enrol", default="1,3,all", help="photos enrolled per person: 1, 3, all (but one)")
    parser.add_argument("--repeats", type=int, default=30, help="random galleries (and strangers) per size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "faceprint-bench-ident",
                        help="where embedded vectors are kept between runs")
    parser.add_argument("--workers", type=int, default=1, help="processes embedding photos")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--markdown", action="store_true", help="also print one table per model (for the docs)")
    parser.add_argument("--templates", action="store_true",
                        help="only compare one template per person with nearest-face search (DIR at exactly 1 %% FPIR)")
    parser.add_argument("--floor-share", action="store_true",
                        help="only print the share of each photo set's faces below the quality floor")
    parser.add_argument("--evaluation-sets", action="store_true",
                        help="only print what the default's rule does on LFW View 2 and cfp_dev (never fitted on)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    data = settings.data_dir()
    if data is None:
        sys.exit("shared data not found: set FACEPRINT_DATA to the folder holding celeba_dlib150/, orl/, lfw/ ...")
    models = [m for m in args.models.split(",") if m] or installed_models()
    if args.floor_share:
        for model in models:
            floor_share(data, model, args.cache_dir)
        return
    if args.evaluation_sets:
        for model in models:
            evaluation_sets_effect(data, model, args.cache_dir, args.repeats, args.seed)
        return
    rows = []
    sizes = [int(s) for s in args.sizes.split(",")]
    for model in models:
        people = ident_data.load(data, model, args.cache_dir, args.workers)
        merged = same_person_labels(data, args.cache_dir)
        vectors, labels = people["celeba"]
        people["celeba"] = (vectors, np.array([merged.get(str(n), str(n)) for n in labels]))
        log.info("CelebA identities merged as one person (both networks match nearly every photo pair): %s", merged)
        if args.templates:
            templates(model, people, sizes, args.enrol.split(","), args.repeats, args.seed)
            continue
        rows += run(model, people, sizes, args.enrol.split(","), args.repeats, args.seed)
    if not rows:
        return
    print_table(rows)
    print_band(rows)
    if args.markdown:
        print_markdown(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()

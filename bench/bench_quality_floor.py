"""What identify's quality floor trades: the names it loses against the wrong names it prevents.

For each photo set, random galleries enrol one photo of half of the people with two photos or more;
their other photos are probes, every photo of the other half is a stranger. Each gallery is searched
at the package's default threshold (1 % FPIR) twice: with the quality floor (faces below it answer
"unknown", as ``Gallery.identify`` does) and without. Printed per set, as medians over the draws:

* below: the share of probes / strangers whose face scores under the floor;
* of the probes below the floor, the share that would have been named right without it (the names
  the floor loses) and named as somebody else (the wrong names it prevents);
* of the strangers below the floor, the share that would have been named (false names prevented);
* FPIR and DIR with the floor and without it.

Sets: ORL, five_celebrity and the LFW people in no pairs file (held out from every fit), and the
evaluation-only sets the docs quote (LFW View 2's photos; cfp_dev with frontal enrolments probed by
frontal and by profile photos). Nothing is fitted here.

    python bench/bench_quality_floor.py --draws 40        # dlib at identify's floor
    python bench/bench_quality_floor.py --model mobilefacenet --floor 0.25
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

log = logging.getLogger("bench_quality_floor")


def embedded(items: list[tuple[Path, str]], model: str, cache: Path, label: str) -> dict[str, np.ndarray]:
    """Vectors, qualities and people of the photos where the model's pipeline finds a face, cached."""
    path = cache / f"floor-{label}-{model}.npz"
    if path.exists():
        return dict(np.load(path))
    from faceprint.pipeline.batch import embed_sources
    from faceprint.pipeline.pipeline import Pipeline, PipelineConfig
    from faceprint.progress import progress_callbacks

    tick, finish = progress_callbacks(True, len(items), label)
    try:
        found = embed_sources(Pipeline(PipelineConfig(model=model)), [p for p, _ in items], nearest_only=True,
                              progress=tick)
    finally:
        finish()
    keep = [(r.faces[0], person) for r, (_, person) in zip(found, items) if r.faces]
    out = {"vectors": np.stack([e.vector for e, _ in keep]).astype(np.float32),
           "quality": np.array([np.nan if e.quality is None else e.quality for e, _ in keep]),
           "people": np.array([person for _, person in keep])}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    return out


def draw(people: np.ndarray, enrollable: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One gallery: a random enrollable photo of half the people with two photos or more; the
    probes (their other photos) and the strangers (every photo of everyone else)."""
    names, counts = np.unique(people, return_counts=True)
    several = [n for n, c in zip(names, counts) if c >= 2 and enrollable[people == n].any()]
    chosen = set(rng.permutation(several)[:len(several) // 2].tolist())
    gallery = np.array([rng.choice(np.flatnonzero((people == n) & enrollable)) for n in sorted(chosen)])
    enrolled = np.isin(people, list(chosen))
    probes = np.setdiff1d(np.flatnonzero(enrolled), gallery)
    return gallery, probes, np.flatnonzero(~enrolled)


def trade(data: dict[str, np.ndarray], model: str, floor: float, draws: int, seed: int,
          enrollable: np.ndarray | None = None, probe_mask: np.ndarray | None = None) -> dict[str, float]:
    """Medians over ``draws`` galleries of what the floor changes (see the module's docstring)."""
    from faceprint.thresholds import identification_threshold

    v, q, people = data["vectors"], data["quality"], data["people"]
    enrollable = np.ones(len(v), bool) if enrollable is None else enrollable
    rows = []
    for r in range(draws):
        g, k, u = draw(people, enrollable, np.random.default_rng([seed, r]))
        if probe_mask is not None:
            k, u = k[probe_mask[k]], u[probe_mask[u]]
        t = identification_threshold(model, len(g), 0.01, [1] * len(g))
        dk = np.sqrt(np.maximum(2.0 - 2.0 * v[k] @ v[g].T, 0.0))
        du = np.sqrt(np.maximum(2.0 - 2.0 * v[u] @ v[g].T, 0.0)).min(axis=1)
        named_k = dk.min(axis=1) <= t
        right = named_k & (people[g][dk.argmin(axis=1)] == people[k])
        wrong = named_k & ~right
        poor_k, poor_u = q[k] < floor, q[u] < floor
        named_u = du <= t
        share = lambda a, m: float(np.mean(a[m])) if m.any() else np.nan  # noqa: E731
        rows.append([np.mean(poor_k), np.mean(poor_u), share(right, poor_k), share(wrong, poor_k), share(named_u, poor_u),
                     np.mean(named_u), np.mean(named_u & ~poor_u), np.mean(right), np.mean(right & ~poor_k),
                     int(np.sum(right & poor_k)), int(np.sum(wrong & poor_k)), int(np.sum(named_u & poor_u)),
                     len(k), len(u)])
    keys = ["probes_below", "strangers_below", "poor_probes_named_right", "poor_probes_named_wrong",
            "poor_strangers_named", "fpir_without", "fpir_with", "dir_without", "dir_with",
            "names_lost", "wrong_names_prevented", "false_names_prevented", "probes", "strangers"]
    return dict(zip(keys, np.nanmedian(np.array(rows, float), axis=0)))


def main() -> None:
    import ident_data

    from faceprint import settings
    from faceprint.quality import NAMING_FLOOR

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="dlib", help="the embedding model")
    parser.add_argument("--floor", type=float, default=NAMING_FLOOR, help="the quality floor (default: identify's)")
    parser.add_argument("--draws", type=int, default=40, help="random galleries per set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "faceprint-bench-ident",
                        help="where embedded vectors and qualities are kept between runs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    root = settings.data_dir()
    if root is None:
        sys.exit("shared data not found: set FACEPRINT_DATA to the folder holding orl/, lfw/, cfp_dev/ ...")
    sets = ident_data.photo_sets(root) | ident_data.evaluation_sets(root)
    cases: list[tuple[str, dict[str, np.ndarray], np.ndarray | None, np.ndarray | None]] = []
    for label in ("orl", "five_celebrity", "lfw_outside_protocols", "lfw_view2"):
        cases.append((label, embedded(sets[label], args.model, args.cache_dir, label), None, None))
    frontal = embedded(sets["cfp_dev_frontal"], args.model, args.cache_dir, "cfp_dev_frontal")
    profile = embedded(sets["cfp_dev_profile"], args.model, args.cache_dir, "cfp_dev_profile")
    cfp = {key: np.concatenate([frontal[key], profile[key]]) for key in frontal}
    is_frontal = np.arange(len(cfp["people"])) < len(frontal["people"])
    cases.append(("cfp_dev, frontal probes", cfp, is_frontal, is_frontal))
    cases.append(("cfp_dev, profile probes", cfp, is_frontal, ~is_frontal))
    print(f"{args.model}, quality floor {args.floor:g}, default threshold at 1 % FPIR, median of {args.draws} draws\n")
    print("| set | probes / strangers | below the floor: probes, strangers | poor probes named right / wrong "
          "without the floor | poor strangers named without it | FPIR without → with | DIR without → with |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, data, enrollable, probe_mask in cases:
        r = trade(data, args.model, args.floor, args.draws, args.seed, enrollable, probe_mask)
        pct = {k: "–" if np.isnan(v) else f"{100 * v:.{2 if k.startswith('fpir') else 1}f} %"
               for k, v in r.items()}
        print(f"| {label} | {r['probes']:.0f} / {r['strangers']:.0f} | {pct['probes_below']}, {pct['strangers_below']} "
              f"| {pct['poor_probes_named_right']} / {pct['poor_probes_named_wrong']} | {pct['poor_strangers_named']} "
              f"| {pct['fpir_without']} → {pct['fpir_with']} | {pct['dir_without']} → {pct['dir_with']} |")

if __name__ == "__main__":
    main()

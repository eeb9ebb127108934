"""The clustering threshold: the average-linkage cut per model, chosen on CelebA chips, never on LFW;
and how far it falls for collections of many people (``--many-people``: CelebA and LFW View 1).

LFW is the clustering benchmark's evaluation set (``bench/bench_cluster.py``), so the cut is chosen
on other people: the chips of ``celeba_dlib150`` are dlib's own 150x150 face chips already, so they
go straight into the network (with the chip's mirror image as the flip view). Collections of 20,
50, 100 and 200 random identities (``--draws`` each) and the whole set (297 people) are clustered
over a grid of thresholds; the threshold with the best mean BCubed F1 wins. It is written, with how
it was chosen, into ``cluster_thresholds.json``, which ``faceprint.thresholds.cluster_threshold``
reads; the whole sweep is printed as JSON.

    python -m faceprint.fit.clustering --model dlib [--data ../shared/data/celeba_dlib150] [--draws 5]
    python -m faceprint.fit.clustering --whispers       # also sweep dlib's chinese whispers
    python -m faceprint.fit.clustering --people 40 --draws 1 --output /tmp/cluster_thresholds.json
    python -m faceprint.fit.clustering --many-people    # the cut for collections of many people

``--many-people`` fits ``faceprint.clustering.adaptive_cut``: the best cut falls as a collection
holds more people. CelebA has 297 identities, too few for that, so this fit also uses the people of
LFW View 1 (``pairsDevTrain.txt``, ``pairsDevTest.txt``: the protocol's development view, never
the View 2 folds), every photo of them, every face clustered and the face nearest each photo's
centre scored. For each collection it records the number of clusters found at the model's cut and
the cut with the best BCubed F1; the entry ``many_people`` keeps those points. The LFW-wide
benchmark (``bench/bench_cluster_lfw_all.py``) holds these people too: its figure is not a
held-out one, and docs/clustering.md says so.
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

from faceprint.thresholds import CLUSTER_TABLE

log = logging.getLogger(__name__)

GRID = np.round(np.arange(0.25, 0.701, 0.01), 2)
SIZES = (20, 50, 100, 200)
WHISPERS_MAX = 0.50


def celeba_vectors(root: Path, model: str = "dlib", batch: int = 64,
                   people: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors and identity names of the chips under ``root/images``, cached on disk.

    Args:
        root: the ``celeba_dlib150`` folder.
        model: the embedding model.
        batch: chips embedded at once.
        people: only the first this many identities (sorted by name); None for all.

    Returns:
        ``(vectors, names)``: one unit vector and one identity name per chip.

    Raises:
        SystemExit: no chip under ``root/images``.
    """
    from faceprint import registry, settings
    from faceprint.images import load_image
    from faceprint.pipeline.embed import embed_chips
    from faceprint.pipeline.pipeline import VECTOR_REVISION

    folders = sorted(p for p in (root / "images").glob("*") if p.is_dir())[:people]
    paths = sorted(p for folder in folders for p in folder.glob("*.jpg"))
    if not paths:
        raise SystemExit(f"{root}: no chips found under images/ (is this celeba_dlib150?)")
    cache = settings.cache_dir() / "bench" / f"celeba_dlib150-{model}-{VECTOR_REVISION}-{len(paths)}.npz"
    if cache.exists():
        data = np.load(cache)
        return data["vectors"], data["names"]
    network = registry.create_embedder(model)
    vectors = []
    for start in range(0, len(paths), batch):
        chips = np.stack([load_image(p) for p in paths[start : start + batch]])
        vectors.append(embed_chips(network, chips, flip=True))
        log.info("embedded %d / %d chips", start + len(chips), len(paths))
    out = np.concatenate(vectors), np.array([p.parent.name for p in paths])
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, vectors=out[0], names=out[1])
    return out


def sweep(vectors: np.ndarray, names: np.ndarray, draws: int = 5, seed: int = 0,
          whispers: bool = False) -> dict[str, Any]:
    """Mean BCubed and pairwise F1 per threshold of ``GRID`` over random collections of identities.

    Args:
        vectors: unit vectors, one row per face.
        names: the identity of each face.
        draws: random collections of each size in ``SIZES`` (sizes below the number of people),
            plus one collection of everyone.
        seed: the draws' random seed.
        whispers: also sweep dlib's chinese whispers (up to ``WHISPERS_MAX``), to give that
            baseline its own best threshold on the same data.

    Returns:
        ``threshold`` (the best mean BCubed F1), ``criterion``, ``collections`` (their sizes),
        ``faces``, ``people``, ``grid``, ``bcubed_f1`` and ``pairwise_f1`` per threshold, and
        ``bcubed_f1_at_best_by_size``; with ``whispers`` also ``chinese_whispers_threshold`` and
        ``chinese_whispers_bcubed_f1``.
    """
    from faceprint.clustering.linkage import average_linkage, cut
    from faceprint.clustering.metrics import bcubed_scores, pairwise_scores

    people = np.unique(names)
    rng = np.random.default_rng(seed)
    collections = [rng.choice(people, size, replace=False) for size in SIZES if size < len(people)
                   for _ in range(draws)] + [people]
    bcubed = np.zeros((len(collections), len(GRID)))
    pairwise = np.zeros_like(bcubed)
    whispers_bcubed = np.zeros_like(bcubed)
    for c, chosen in enumerate(collections):
        keep = np.isin(names, chosen)
        merges = average_linkage(vectors[keep], float(GRID[-1]))
        for t, threshold in enumerate(GRID):
            labels = cut(merges, int(keep.sum()), float(threshold))
            bcubed[c, t] = bcubed_scores(names[keep], labels)["f1"]
            pairwise[c, t] = pairwise_scores(names[keep], labels)["f1"]
            # chinese whispers links nearly every pair above 0.5 here (slow, and far past its best)
            if whispers and threshold <= WHISPERS_MAX:
                whispers_bcubed[c, t] = bcubed_scores(names[keep], _whispers(vectors[keep], float(threshold)))["f1"]
    best = int(np.argmax(bcubed.mean(axis=0)))
    extra = {}
    if whispers:
        swept = GRID <= WHISPERS_MAX
        extra = {"chinese_whispers_threshold": float(GRID[int(np.argmax(whispers_bcubed.mean(axis=0)))]),
                 "chinese_whispers_bcubed_f1": [round(float(v), 4) for v in whispers_bcubed.mean(axis=0)[swept]]}
    return {
        "threshold": float(GRID[best]), "criterion": "best mean BCubed F1",
        "collections": [len(c) for c in collections], "faces": int(len(vectors)), "people": int(len(people)),
        "grid": [float(g) for g in GRID],
        "bcubed_f1": [round(float(v), 4) for v in bcubed.mean(axis=0)],
        "pairwise_f1": [round(float(v), 4) for v in pairwise.mean(axis=0)],
        "bcubed_f1_at_best_by_size": {f"{len(c)}:{i}": round(float(bcubed[i, best]), 4)
                                      for i, c in enumerate(collections)},
        **extra,
    }


MANY_GRID = np.round(np.arange(0.30, 0.3901, 0.005), 3)


def view1_collections(lfw: Path, model: str = "dlib", workers: int = 1) -> dict[str, dict[str, np.ndarray]]:
    """Every face of every photo of the LFW View 1 people: DevTest's, DevTrain's, and both.

    Returns:
        Per collection name, ``vectors``, ``photo`` (a photo number per face) and ``label`` (the
        person for the face nearest each photo's centre, "" for the other faces).
    """
    from faceprint.api import embed_many
    from faceprint.eval.protocols import read_lfw_pairs
    from faceprint.fit.embedding import every_face

    people: dict[str, set[str]] = {}
    for name in ("pairsDevTest.txt", "pairsDevTrain.txt"):
        people[name] = set()
        for pair in read_lfw_pairs(lfw / name):
            people[name].update({Path(pair.first).parent.name, Path(pair.second).parent.name})
    everyone = sorted(people["pairsDevTest.txt"] | people["pairsDevTrain.txt"])
    paths = [p for n in everyone for p in sorted((lfw / n).glob("*.jpg"))]
    faces = every_face(embed_many(paths, model=model, workers=workers, progress=True), [p.parent.name for p in paths])
    v, ph, lab = faces["vectors"], faces["photo"], faces["label"]
    who = np.array([paths[i].parent.name for i in ph])
    out = {}
    for name, chosen in (("LFW View 1 DevTest people", people["pairsDevTest.txt"]),
                         ("LFW View 1 DevTrain people", people["pairsDevTrain.txt"]),
                         ("LFW View 1 people", set(everyone))):
        keep = np.isin(who, sorted(chosen))
        out[name] = {"vectors": v[keep], "photo": ph[keep], "label": lab[keep]}
    return out


def many_people(collections: dict[str, dict[str, np.ndarray]], threshold: float) -> dict[str, Any]:
    """For each collection: clusters found at ``threshold`` and the cut (of ``MANY_GRID``) with the
    best BCubed F1 on its labelled faces; and the points of the ``many_people`` entry.

    Args:
        collections: per name, ``vectors``, ``photo`` and ``label`` ("" for faces not scored).
        threshold: the model's cut (the fitted ``threshold``).

    Returns:
        ``collections`` (per name: faces, people, clusters, best cut, its F1 and the F1 at
        ``threshold``) and ``clusters`` / ``threshold``: the points, sorted by clusters, the cuts
        made non-increasing.
    """
    from faceprint.clustering.api import _tokens
    from faceprint.clustering.graph import graph_average_linkage
    from faceprint.clustering.linkage import cut
    from faceprint.clustering.metrics import bcubed_scores
    from faceprint.clustering.neighbours import knn_edges

    rows = []
    report = {}
    for name, data in collections.items():
        vectors, n = data["vectors"], len(data["vectors"])
        labels, merges = graph_average_linkage(vectors, threshold, knn_edges(vectors, threshold),
                                               _tokens(data["photo"], np.zeros((0, 2), int), np.arange(n), n))
        scored = data["label"] != ""
        f1 = {float(t): bcubed_scores(data["label"][scored], cut(merges, n, float(t))[scored])["f1"]
              for t in MANY_GRID if t <= threshold}
        best = max(f1, key=f1.get)
        clusters = len(np.unique(labels))
        rows.append((clusters, best))
        report[name] = {"faces": n, "people": len(set(data["label"][scored])), "clusters": clusters,
                        "best_cut": best, "bcubed_f1": round(f1[best], 4),
                        "bcubed_f1_at_threshold": round(f1[max(f1)], 4)}
        log.info("%s: %s", name, report[name])
    rows.sort()
    cuts = np.minimum.accumulate([c for _, c in rows]).tolist()
    return {"collections": report, "clusters": [k for k, _ in rows], "threshold": [round(c, 3) for c in cuts]}


def table_entry(result: dict[str, Any], command: str) -> dict[str, Any]:
    """The entry ``cluster_thresholds.json`` keeps for a model: the threshold and how it was chosen.

    Args:
        result: what ``sweep`` returned.
        command: the command that reproduces it.

    Returns:
        ``threshold``, ``metric``, ``fitted_on`` (a sentence), ``bcubed_f1`` at the threshold,
        ``collections``, ``faces``, ``people``, ``chinese_whispers_threshold`` when swept, ``date``
        and ``command``.
    """
    best = result["bcubed_f1"][result["grid"].index(result["threshold"])]
    sizes = result["collections"]
    return {
        "threshold": result["threshold"],
        "metric": "average-linkage cut, Euclidean distance between L2-normalised embeddings",
        "fitted_on": (f"CelebA chips (celeba_dlib150), never LFW: the {result['criterion']} ({best:.3f}) over "
                      f"{len(sizes)} random collections of {min(sizes)}-{max(sizes)} people "
                      f"({result['faces']:,} faces)"),
        "bcubed_f1": best, "collections": len(sizes), "faces": result["faces"], "people": result["people"],
        **({"chinese_whispers_threshold": result["chinese_whispers_threshold"]}
           if "chinese_whispers_threshold" in result else {}),
        "date": date.today().isoformat(), "command": command,
    }


def _whispers(vectors: np.ndarray, threshold: float) -> np.ndarray:
    import dlib

    return np.asarray(dlib.chinese_whispers_clustering([dlib.vector(v.tolist()) for v in vectors.astype(np.float64)],
                                                       threshold))


def main(argv: Sequence[str] | None = None) -> None:
    """Sweep the thresholds on CelebA chips, write the best into the table, print the sweep."""
    from faceprint import settings

    parser = argparse.ArgumentParser(prog="python -m faceprint.fit.clustering", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    default = settings.data_dir() / "celeba_dlib150" if settings.data_dir() else None
    parser.add_argument("--data", type=Path, default=default, help="the celeba_dlib150 folder")
    parser.add_argument("--model", default="dlib", help="the embedding model")
    parser.add_argument("--draws", type=int, default=5, help="random collections of each size")
    parser.add_argument("--people", type=int, default=None,
                        help="use only the first N identities (a quick check of the fitter)")
    parser.add_argument("--whispers", action="store_true", help="also sweep dlib's chinese whispers")
    parser.add_argument("--many-people", action="store_true",
                        help="fit the lower cut for collections of many people (CelebA and LFW View 1)")
    parser.add_argument("--workers", type=int, default=1, help="processes embedding LFW photos")
    parser.add_argument("--output", type=Path, default=CLUSTER_TABLE,
                        help="the table to update (default: the package's cluster_thresholds.json)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.data is None:
        raise SystemExit("celeba_dlib150 not found: pass --data or set FACEPRINT_DATA")
    vectors, names = celeba_vectors(args.data, args.model, people=args.people)
    command = " ".join(["python -m faceprint.fit.clustering", *(sys.argv[1:] if argv is None else argv)])
    table = json.loads(args.output.read_text()) if args.output.exists() else {}
    if args.many_people:
        entry = table.get("models", {}).get(args.model)
        if entry is None:
            raise SystemExit(f"no fitted cut for {args.model} in {args.output}: run without --many-people first")
        lfw = args.data.parent / "lfw"
        collections = {"CelebA chips (all 297 people)": {"vectors": vectors, "photo": np.arange(len(vectors)),
                                                         "label": names}}
        collections.update(view1_collections(lfw, args.model, args.workers))
        result = many_people(collections, float(entry["threshold"]))
        entry["many_people"] = {
            "clusters": result["clusters"], "threshold": result["threshold"],
            "fitted_on": ("CelebA chips (297 people) and every photo of the LFW View 1 people (DevTest, DevTrain, "
                          "both), never the View 2 folds: per collection, clusters found at the cut and the cut "
                          "with the best BCubed F1"),
            "collections": result["collections"], "date": date.today().isoformat(), "command": command}
        args.output.write_text(json.dumps(table, indent=1) + "\n")
        sys.stdout.write(json.dumps({"model": args.model, **result}, indent=1) + "\n")
        return
    result = sweep(vectors, names, args.draws, whispers=args.whispers)
    before = table.setdefault("models", {}).get(args.model, {})
    table["models"][args.model] = table_entry(result, command)
    if "many_people" in before:  # fitted on its own (--many-people): kept
        table["models"][args.model]["many_people"] = before["many_people"]
    table["method"] = ("the average-linkage cut with the best mean BCubed F1 over random collections of CelebA "
                       "identities; see faceprint/fit/clustering.py")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(table, indent=1) + "\n")
    sys.stdout.write(json.dumps({"model": args.model, "data": str(args.data), **result}, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""Clustering a photo collection into people: faceprint.cluster against dlib's chinese whispers.

Data: every LFW person with at least 10 photos (158 people, 4,324 photos). Every face of every
photo is embedded once (faceprint's default pipeline, cached on disk by pipeline signature) and
both methods cluster the same vectors, all faces included (LFW photos have people in the
background). Scores count the labelled face of each photo (the one nearest the centre); the
other faces take part in the clustering but have no ground truth.

Methods, interleaved in one run, median time of ``--repeat`` runs:
  * ``dlib.chinese_whispers_clustering(descriptors, 0.5)`` as dlib's face_clustering.py runs it;
  * the same at faceprint's verification threshold, and at its own best threshold on CelebA
    (to tell the threshold from the method);
  * exact average linkage on the full distance matrix (``method="exact"``);
  * ``faceprint.cluster``'s default: average linkage on the neighbour graph, faces of one photo
    never merged, the cut lowered for collections of many people (``adaptive_cut``).

Run: ``nice python bench/bench_cluster.py [--repeat 5] [--workers 2]``; ``--scale 3`` instead times
faceprint.cluster on the faces once, twice and three times over. All of LFW in one call:
``bench_cluster_lfw_all.py``; a million faces: ``bench_cluster_million.py``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

log = logging.getLogger("bench_cluster")

# chinese whispers' own best threshold on the CelebA calibration collections, so the baseline is
# tuned as fairly as faceprint's method: `python -m faceprint.fit.clustering --whispers`
WHISPERS_THRESHOLD = 0.34


def lfw_people(min_photos: int = 10) -> dict[str, list[Path]]:
    """LFW people with at least ``min_photos`` photos, sorted."""
    from faceprint import settings

    data = settings.data_dir()
    if data is None or not (data / "lfw").is_dir():
        sys.exit("LFW not found: set FACEPRINT_DATA to the folder holding lfw/")
    people = {}
    for folder in sorted(p for p in (data / "lfw").iterdir() if p.is_dir()):
        photos = sorted(folder.glob("*.jpg"))
        if len(photos) >= min_photos:
            people[folder.name] = photos
    return people


def embedded_faces(min_photos: int = 10, workers: int = 2) -> dict[str, np.ndarray]:
    """Every face of every photo of the benchmark's people, embedded once and cached.

    Returns arrays, one row per face: ``vectors``, ``photo`` (index into ``paths``), ``label``
    (the person's name for the face nearest the photo's centre, "" for the other faces),
    ``boxes``; and ``paths`` / ``problems`` per photo.
    """
    import faceprint
    from faceprint import settings
    from faceprint.api import _pipeline
    from faceprint.fit.embedding import every_face

    signature = _pipeline(None, "dlib").signature().replace(":", "-")
    cache = settings.cache_dir() / "bench" / f"cluster-lfw{min_photos}-{signature}.npz"
    if cache.exists():
        data = np.load(cache)
        return {k: data[k] for k in data.files}
    people = lfw_people(min_photos)
    paths = [p for photos in people.values() for p in photos]
    names = [name for name, photos in people.items() for _ in photos]
    start = time.perf_counter()
    results = faceprint.embed_many(paths, workers=workers, progress=True)
    log.info("embedded %d photos in %.0f s", len(paths), time.perf_counter() - start)
    out = {**every_face(results, names), "paths": np.array([str(p) for p in paths]),
           "problems": np.array([r.problem or "" for r in results]), "signature": np.array(results[0].signature)}
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--min-photos", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--embed-only", action="store_true")
    parser.add_argument("--vectors", type=Path, help="an .npz this script cached before (another pipeline's)")
    parser.add_argument("--scale", type=int, default=0, help="also time faceprint.cluster on 1..N copies")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.vectors is not None:
        faces = {k: v for k, v in np.load(args.vectors).items()}
    else:
        faces = embedded_faces(args.min_photos, args.workers)
    print(f"{len(faces['paths'])} photos, {len(faces['vectors'])} faces, "
          f"pipeline {faces.get('signature', 'not recorded')}")
    if args.embed_only:
        return
    if args.scale:
        scaling(faces, args.scale, 3)
        return
    rows = compare(faces, args.repeat)
    people = len(set(faces["label"]) - {""})
    print(f"\nLFW people with >= {args.min_photos} photos: {people} people, {len(faces['paths'])} photos, "
          f"{int((faces['label'] != '').sum())} labelled faces (the one nearest each photo's centre), "
          f"{len(faces['vectors'])} faces clustered; seconds: median of {args.repeat} interleaved runs\n")
    print("| method | pairwise P | pairwise R | pairwise F1 | BCubed P | BCubed R | BCubed F1 "
          "| clusters (>= 2 labelled faces) vs people | labelled faces alone | photos with 2 faces in a cluster "
          "| seconds | time vs anchor |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    anchor = rows[0]["seconds"]
    for r in rows:
        print(f"| {r['method']} | {r['pairwise']['precision']:.4f} | {r['pairwise']['recall']:.4f} "
              f"| {r['pairwise']['f1']:.4f} | {r['bcubed']['precision']:.4f} | {r['bcubed']['recall']:.4f} "
              f"| **{r['bcubed']['f1']:.4f}** | {r['clusters']} vs {people} | {r['alone']} | {r['violations']} "
              f"| {r['seconds']:.3f} | {r['seconds'] / anchor:.2f}x |")
    print(f"\nBCubed F1 of faceprint.cluster minus each method's, 95 % interval from {BOOTSTRAP} bootstrap "
          "draws of the people (each face's BCubed precision and recall kept as clustered):")
    ours = rows[-1]
    for r in rows[:-1]:
        low, high = bootstrap_difference(faces, ours["items"], r["items"])
        print(f"  vs {r['method']}: {ours['bcubed']['f1'] - r['bcubed']['f1']:+.4f} [{low:+.4f}, {high:+.4f}]")


BOOTSTRAP = 1000


def scaling(faces: dict[str, np.ndarray], copies: int, repeat: int) -> None:
    """Seconds of faceprint.cluster on the collection 1..``copies`` times over (each copy's vectors
    moved by a little noise and renormalised, its photos new photos): how time grows with N."""
    from faceprint.clustering import cluster_vectors, default_threshold
    from faceprint.errors import BadInput

    rng = np.random.default_rng(0)
    vectors, photo = faces["vectors"], faces["photo"]
    print("\n| faces | seconds (median) |\n|---|---|")
    for k in range(1, copies + 1):
        parts = [vectors] + [vectors + rng.normal(scale=0.01, size=vectors.shape).astype(np.float32)
                             for _ in range(k - 1)]
        many = np.concatenate(parts)
        many /= np.linalg.norm(many, axis=1, keepdims=True)
        photos = np.concatenate([photo + i * (photo.max() + 1) for i in range(k)])
        times = []
        try:
            for _ in range(repeat):
                start = time.perf_counter()
                cluster_vectors(many, default_threshold("dlib"), photos)
                times.append(time.perf_counter() - start)
        except BadInput as exc:  # over the in-memory limit: say so and stop growing
            print(f"| {len(many)} | refused: {exc} |")
            return
        print(f"| {len(many)} | {np.median(times):.2f} |")


def bootstrap_difference(faces: dict[str, np.ndarray], ours: tuple, theirs: tuple,
                         seed: int = 0) -> tuple[float, float]:
    """2.5 and 97.5 percentiles of the BCubed F1 difference over people drawn with replacement."""
    names = faces["label"][faces["label"] != ""]
    people, person = np.unique(names, return_inverse=True)
    members = [np.flatnonzero(person == k) for k in range(len(people))]
    rng = np.random.default_rng(seed)

    def f1(precision: np.ndarray, recall: np.ndarray) -> float:
        p, r = precision.mean(), recall.mean()
        return 2 * p * r / (p + r)

    out = []
    for _ in range(BOOTSTRAP):
        idx = np.concatenate([members[k] for k in rng.integers(0, len(people), len(people))])
        out.append(f1(ours[0][idx], ours[1][idx]) - f1(theirs[0][idx], theirs[1][idx]))
    return float(np.percentile(out, 2.5)), float(np.percentile(out, 97.5))


def chinese_whispers(vectors: np.ndarray, threshold: float) -> np.ndarray:
    """dlib's face_clustering.py: every descriptor a dlib.vector, then chinese_whispers_clustering."""
    import dlib

    descriptors = [dlib.vector(v.astype(np.float64).tolist()) for v in vectors]
    return np.asarray(dlib.chinese_whispers_clustering(descriptors, threshold), np.int64)


def compare(faces: dict[str, np.ndarray], repeat: int) -> list[dict]:
    """Every method on the same vectors, interleaved ``repeat`` times; scores of the first run
    (each method is deterministic), median seconds."""
    from faceprint.clustering import cluster_vectors, default_threshold
    from faceprint.clustering.api import adaptive_cut
    from faceprint.thresholds import threshold_for

    vectors, photo = faces["vectors"], faces["photo"]
    ours = default_threshold("dlib")
    verify = threshold_for("dlib")
    methods = {
        "dlib chinese_whispers_clustering at 0.5 (dlib's example; anchor)": lambda: chinese_whispers(vectors, 0.5),
        f"dlib chinese_whispers_clustering at {verify:.2f} (faceprint's verification threshold)":
            lambda: chinese_whispers(vectors, verify),
        f"dlib chinese_whispers_clustering at {WHISPERS_THRESHOLD:.2f} (its best on CelebA)":
            lambda: chinese_whispers(vectors, WHISPERS_THRESHOLD),
        f"faceprint.cluster without the same-photo rule, {ours:.2f}": lambda: cluster_vectors(vectors, ours, None, 1),
        f"exact average linkage (full matrix, method='exact'), same-photo rule, {ours:.2f}":
            lambda: cluster_vectors(vectors, ours, photo, 1, method="exact"),
        f"average linkage on the neighbour graph (method='graph'), same-photo rule, {ours:.2f}":
            lambda: cluster_vectors(vectors, ours, photo, 1, method="graph"),
        f"**faceprint.cluster** (method='auto': exact up to 6,000 faces, same-photo rule, {ours:.2f}, "
        "re-cut for many people)": lambda: cluster_vectors(vectors, ours, photo, 1, adapt=adaptive_cut("dlib")),
    }
    return interleaved(faces, methods, repeat)


def interleaved(faces: dict[str, np.ndarray], methods: dict, repeat: int) -> list[dict]:
    """Run each method ``repeat`` times, interleaved; the scores of the first round, median seconds."""
    times: dict[str, list[float]] = {name: [] for name in methods}
    labels: dict[str, np.ndarray] = {}
    for _ in range(repeat):
        for name, run in methods.items():
            start = time.perf_counter()
            out = run()
            times[name].append(time.perf_counter() - start)
            labels.setdefault(name, out)
    return [{"method": name, "seconds": float(np.median(times[name])), **score(faces, labels[name])}
            for name in methods]


def score(faces: dict[str, np.ndarray], labels: np.ndarray) -> dict:
    """Scores over the labelled faces; the same-photo rule checked over all faces."""
    from faceprint.clustering.metrics import bcubed_items, bcubed_scores, pairwise_scores

    known = faces["label"] != ""
    truth, predicted = faces["label"][known], labels[known]
    _, counts = np.unique(predicted[predicted >= 0], return_counts=True)
    cells, together = np.unique(np.stack([labels, faces["photo"]]), axis=1, return_counts=True)
    broken = np.unique(cells[1][(together > 1) & (cells[0] >= 0)])  # photos with 2 faces in one cluster
    return {"pairwise": pairwise_scores(truth, predicted), "bcubed": bcubed_scores(truth, predicted),
            "clusters": int((counts >= 2).sum()), "alone": int(counts[counts == 1].sum() + (predicted < 0).sum()),
            "violations": int(len(broken)), "items": bcubed_items(truth, predicted)}


if __name__ == "__main__":
    main()

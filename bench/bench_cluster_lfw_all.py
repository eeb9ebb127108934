"""Every face of all 13,233 LFW photos in one clustering call: faceprint.cluster_vectors against
dlib's chinese whispers on the same vectors.

Every face of every photo is embedded once (faceprint's default pipeline) and cached on disk
(``--cache``, default ``<faceprint cache>/bench``), a chunk of photos at a time so that a stopped
run resumes. Scores count the labelled face of each photo (the one nearest the centre), every
unclustered face a cluster of its own; the other faces take part in the clustering but have no
ground truth. Times are the clustering alone (faceprint: neighbour graph + clustering; chinese
whispers: dlib's call on dlib vectors, as dlib's face_clustering.py runs it), interleaved
``--repeat`` rounds, medians.

Run: ``nice -n 10 python bench/bench_cluster_lfw_all.py [--repeat 3] [--workers 2] [--cache DIR]``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

log = logging.getLogger("bench_cluster_lfw_all")

CHUNK = 1000  # photos embedded and saved at a time


def lfw_photos() -> list[Path]:
    """Every LFW photo, sorted by person then file."""
    from faceprint import settings

    data = settings.data_dir()
    if data is None or not (data / "lfw").is_dir():
        sys.exit("LFW not found: set FACEPRINT_DATA to the folder holding lfw/")
    return sorted((data / "lfw").glob("*/*.jpg"))


def cache_path(cache: Path | None) -> Path:
    """The .npz holding every LFW face's vector for faceprint's default pipeline."""
    from faceprint import settings
    from faceprint.api import _pipeline

    signature = _pipeline(None, "dlib").signature().replace(":", "-")
    folder = cache if cache is not None else settings.cache_dir() / "bench"
    return folder / f"cluster-lfwall-{signature}.npz"


def embedded_faces(cache: Path | None = None, workers: int = 2) -> dict[str, np.ndarray]:
    """Every face of every LFW photo, embedded once and cached (see ``bench_cluster.embedded_faces``
    for the arrays: ``vectors``, ``photo``, ``label``, ``boxes``, ``paths``, ``problems``,
    ``signature``)."""
    import faceprint
    from faceprint.fit.embedding import every_face

    target = cache_path(cache)
    if target.exists():
        data = np.load(target)
        return {k: data[k] for k in data.files}
    paths = lfw_photos()
    target.parent.mkdir(parents=True, exist_ok=True)
    vectors, photo, label, boxes, problems = [], [], [], [], []
    signature = ""
    start = time.perf_counter()
    for first in range(0, len(paths), CHUNK):
        part = target.with_name(f"{target.stem}.part{first // CHUNK:03d}.npz")
        if not part.exists():
            results = faceprint.embed_many(paths[first : first + CHUNK], workers=workers)
            rows = every_face(results, [p.parent.name for p in paths[first : first + CHUNK]], first)
            np.savez(part, **rows, problems=np.array([r.problem or "" for r in results]),
                     signature=np.array(next((r.signature for r in results if r.ok), "")))
            log.info("%d / %d photos embedded, %.0f s", min(first + CHUNK, len(paths)), len(paths),
                     time.perf_counter() - start)
        data = np.load(part)
        vectors.append(data["vectors"])
        photo.append(data["photo"])
        label.append(data["label"])
        boxes.append(data["boxes"])
        problems.append(data["problems"])
        signature = signature or str(data["signature"])
    out = {"vectors": np.concatenate(vectors), "photo": np.concatenate(photo), "label": np.concatenate(label),
           "boxes": np.concatenate(boxes), "paths": np.array([str(p) for p in paths]),
           "problems": np.concatenate(problems), "signature": np.array(signature)}
    np.savez(target, **out)
    for first in range(0, len(paths), CHUNK):
        target.with_name(f"{target.stem}.part{first // CHUNK:03d}.npz").unlink(missing_ok=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="processes embedding photos")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds timed")
    parser.add_argument("--cache", type=Path, help="folder for the embedded vectors")
    parser.add_argument("--embed-only", action="store_true")
    parser.add_argument("--neighbours", type=int, nargs="*", default=[],
                        help="instead: the default method with each of these k (neighbours per face)")
    parser.add_argument("--cuts", type=float, nargs="*", default=[],
                        help="instead: BCubed F1 at each of these fixed cuts (no re-cut), to see how much "
                             "the default's cut matters")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    faces = embedded_faces(args.cache, args.workers)
    print(f"{len(faces['paths'])} photos, {len(faces['vectors'])} faces, pipeline {faces['signature']}")
    if args.embed_only:
        return
    if args.neighbours:
        by_k(faces, args.neighbours)
        return
    if args.cuts:
        by_cut(faces, args.cuts)
        return
    rows = compare(faces, args.repeat)
    labelled = int((faces["label"] != "").sum())
    print(f"\nall of LFW: {len(set(faces['label']) - {''})} people, {len(faces['paths'])} photos, {labelled} labelled "
          f"faces (the one nearest each photo's centre), {len(faces['vectors'])} faces clustered in one call; seconds: "
          f"median of {args.repeat} interleaved rounds (a shared machine: compare the ratios)\n")
    print("| method | BCubed P | BCubed R | BCubed F1 | pairwise F1 | clusters (>= 2 labelled faces) "
          "| photos with 2 faces in a cluster | seconds | time vs chinese whispers |")
    print("|---|---|---|---|---|---|---|---|---|")
    anchor = rows[0]["seconds"]
    for r in rows:
        print(f"| {r['method']} | {r['bcubed']['precision']:.4f} | {r['bcubed']['recall']:.4f} "
              f"| **{r['bcubed']['f1']:.4f}** | {r['pairwise']['f1']:.4f} | {r['clusters']} | {r['violations']} "
              f"| {r['seconds']:.2f} | {r['seconds'] / anchor:.2f}x |")
    from bench_cluster import BOOTSTRAP, bootstrap_difference

    ours = rows[-1]
    low, high = bootstrap_difference(faces, ours["items"], rows[0]["items"])
    print(f"\nBCubed F1 of the default minus chinese whispers': {ours['bcubed']['f1'] - rows[0]['bcubed']['f1']:+.4f} "
          f"(95 % interval from {BOOTSTRAP} bootstrap draws of the people: [{low:+.4f}, {high:+.4f}])")


def by_cut(faces: dict[str, np.ndarray], cuts: list[float]) -> None:
    """BCubed F1 and clusters of the graph method at each fixed cut, beside chinese whispers'."""
    from bench_cluster import WHISPERS_THRESHOLD, chinese_whispers, score

    from faceprint.clustering import cluster_vectors

    whispers = score(faces, chinese_whispers(faces["vectors"], WHISPERS_THRESHOLD))["bcubed"]["f1"]
    print(f"\nchinese whispers at {WHISPERS_THRESHOLD}: BCubed F1 {whispers:.4f}\n")
    print("| cut | BCubed F1 | clusters | minus chinese whispers |")
    print("|---|---|---|---|")
    for cut in cuts:
        labels = cluster_vectors(faces["vectors"], cut, faces["photo"], 1)
        f1 = score(faces, labels)["bcubed"]["f1"]
        print(f"| {cut} | {f1:.4f} | {len(np.unique(labels))} | {f1 - whispers:+.4f} |")


def by_k(faces: dict[str, np.ndarray], ks: list[int]) -> None:
    """BCubed F1, clusters and seconds of the default method with each number of neighbours."""
    from bench_cluster import score

    from faceprint.clustering import cluster_vectors, default_threshold, neighbours
    from faceprint.clustering.api import adaptive_cut
    from faceprint.clustering.metrics import pairwise_scores

    print("\n| k (neighbours per face) | BCubed F1 | clusters | pairwise agreement with the largest k | seconds |")
    print("|---|---|---|---|---|")
    runs = []
    for k in ks:
        neighbours.K_NEIGHBOURS = k
        start = time.perf_counter()
        labels = cluster_vectors(faces["vectors"], default_threshold("dlib"), faces["photo"], 1,
                                 adapt=adaptive_cut("dlib"))
        runs.append((k, labels, time.perf_counter() - start))
    reference = max(runs)[1]
    for k, labels, seconds in runs:
        print(f"| {k} | {score(faces, labels)['bcubed']['f1']:.4f} | {len(np.unique(labels))} "
              f"| {pairwise_scores(reference, labels)['f1']:.4f} | {seconds:.1f} |")


def compare(faces: dict[str, np.ndarray], repeat: int) -> list[dict]:
    """Chinese whispers at its best CelebA threshold and faceprint on the same vectors,
    interleaved ``repeat`` times; scores of the first round, median seconds."""
    from bench_cluster import WHISPERS_THRESHOLD, chinese_whispers, interleaved

    from faceprint.clustering import cluster_vectors, default_threshold
    from faceprint.clustering.api import adaptive_cut

    vectors, photo = faces["vectors"], faces["photo"]
    cut = default_threshold("dlib")
    methods = {
        f"dlib chinese_whispers_clustering at {WHISPERS_THRESHOLD} (its best on CelebA)":
            lambda: chinese_whispers(vectors, WHISPERS_THRESHOLD),
        f"faceprint.cluster_vectors at {cut} (no re-cut for many people)": lambda: cluster_vectors(vectors, cut, photo, 1),
        f"**faceprint.cluster_vectors** as faceprint.cluster runs it ({cut}, re-cut for many people)":
            lambda: cluster_vectors(vectors, cut, photo, 1, adapt=adaptive_cut("dlib")),
    }
    return interleaved(faces, methods, repeat)


if __name__ == "__main__":
    main()

"""Clustering a million faces: time per stage, peak memory, and BCubed on the known truth.

Faces: every face of all LFW photos (embedded once, cached by ``bench_cluster_lfw_all.py``), plus
synthetic people up to ``--faces``. A synthetic person is a centre near a real LFW face (the face
moved ``CENTRE_SHIFT`` away in a random direction, so people sit where real faces do), with 1 +
Geometric(``1 / MEAN_PHOTOS``) faces, each ``MEMBER_SHIFT`` from the centre (so two faces of one
synthetic person lie about 0.3 apart, as two photos of one real person do with dlib's vectors).
Each synthetic face is a photo of its own.

Stages, timed one after the other in one process (the machine is shared: absolute seconds
depend on its load): the neighbour graph (faiss HNSW above ``neighbours.ANN_MIN_FACES`` faces when
installed, else exact numpy), the merging (``graph.graph_average_linkage``), and the re-cut for
many people (``adaptive_cut``): the same calls ``cluster_vectors`` makes. Peak memory is the
process's maximum resident set size (vectors included).

Run: ``nice -n 10 python bench/bench_cluster_million.py [--faces 1000000] [--cache DIR]``.
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

CENTRE_SHIFT = 0.5  # a synthetic person's centre from the real face it starts at (Euclidean)
MEMBER_SHIFT = 0.22  # a synthetic face from its person's centre
MEAN_PHOTOS = 5


def peak_gb() -> float:
    """The process's peak resident set size so far, in GB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def shifted(vectors: np.ndarray, distance: float, rng: np.random.Generator) -> np.ndarray:
    """Each unit vector moved about ``distance`` (Euclidean) in a random direction, renormalised."""
    noise = rng.standard_normal(vectors.shape).astype(np.float32) * (distance / np.sqrt(vectors.shape[1]))
    out = vectors + noise
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def collection(faces: int, seed: int = 0, cache: Path | None = None) -> dict[str, np.ndarray]:
    """``faces`` unit vectors: all LFW faces, then synthetic people; ``truth`` (person id, -1 for
    unlabelled LFW faces), ``photo`` and ``synthetic`` (a mask) per face."""
    from bench_cluster_lfw_all import embedded_faces

    lfw = embedded_faces(cache)
    rng = np.random.default_rng(seed)
    real = lfw["vectors"].astype(np.float32)
    names, real_truth = np.unique(lfw["label"], return_inverse=True)
    real_truth = np.where(lfw["label"] == "", -1, real_truth)
    need = max(0, faces - len(real))
    sizes = 1 + rng.geometric(1.0 / MEAN_PHOTOS, size=need // MEAN_PHOTOS + 16)
    sizes = sizes[: np.searchsorted(np.cumsum(sizes), need) + 1]
    sizes[-1] -= sizes.sum() - need
    centres = shifted(real[rng.integers(0, len(real), len(sizes))], CENTRE_SHIFT, rng)
    person = np.repeat(np.arange(len(sizes)), sizes)
    synthetic = np.empty((need, real.shape[1]), np.float32)
    for start in range(0, need, 100_000):
        synthetic[start:start + 100_000] = shifted(centres[person[start:start + 100_000]], MEMBER_SHIFT, rng)
    vectors = np.concatenate([real, synthetic])[:faces]
    truth = np.concatenate([real_truth, len(names) + person])[:faces]
    photo = np.concatenate([lfw["photo"], lfw["photo"].max() + 1 + np.arange(need)])[:faces]
    mask = np.r_[np.zeros(len(real), bool), np.ones(need, bool)][:faces]
    return {"vectors": vectors, "truth": truth, "photo": photo, "synthetic": mask}


def main() -> None:
    from faceprint.clustering import default_threshold
    from faceprint.clustering.api import _tokens, adaptive_cut
    from faceprint.clustering.graph import graph_average_linkage
    from faceprint.clustering.linkage import cut
    from faceprint.clustering.metrics import bcubed_scores
    from faceprint.clustering.neighbours import ANN_MIN_FACES, K_NEIGHBOURS, knn_edges

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=int, default=1_000_000)
    parser.add_argument("--cache", type=Path, help="folder for the embedded LFW vectors")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    start = time.perf_counter()
    data = collection(args.faces, cache=args.cache)
    vectors, n = data["vectors"], len(data["vectors"])
    threshold = default_threshold("dlib")
    print(f"{n:,} faces ({int((~data['synthetic']).sum()):,} real LFW faces, "
          f"{len(np.unique(data['truth'][data['synthetic']])):,} synthetic people); made in "
          f"{time.perf_counter() - start:.0f} s; peak RSS {peak_gb():.2f} GB", flush=True)
    how = "faiss HNSW" if n > ANN_MIN_FACES else "exact numpy"
    seconds = {}
    start = time.perf_counter()
    edges = knn_edges(vectors, threshold)
    seconds["neighbour graph"] = time.perf_counter() - start
    print(f"neighbour graph ({how}, k={K_NEIGHBOURS}): {len(edges[0]):,} edges within {threshold}, "
          f"{seconds['neighbour graph']:.0f} s; peak RSS {peak_gb():.2f} GB", flush=True)
    start = time.perf_counter()
    labels, merges = graph_average_linkage(vectors, threshold, edges, _tokens(data["photo"], np.zeros((0, 2), int),
                                                                              np.arange(n), n))
    seconds["merging"] = time.perf_counter() - start
    found = len(np.unique(labels))
    print(f"merging: {len(merges):,} merges, {found:,} clusters at {threshold}, {seconds['merging']:.0f} s; "
          f"peak RSS {peak_gb():.2f} GB", flush=True)
    start = time.perf_counter()
    lower = adaptive_cut("dlib")(found)
    labels = cut(merges, n, lower) if lower < threshold else labels
    seconds["re-cut"] = time.perf_counter() - start
    print(f"re-cut for many people at {lower:.3f}: {len(np.unique(labels)):,} clusters, {seconds['re-cut']:.0f} s",
          flush=True)
    synthetic = data["synthetic"]
    scores = bcubed_scores(data["truth"][synthetic], labels[synthetic])
    known = (~synthetic) & (data["truth"] >= 0)
    real = bcubed_scores(data["truth"][known], labels[known])
    print("\n| faces | neighbour graph s | merging s | re-cut s | total s | peak RSS GB | BCubed P / R / F1 "
          "(synthetic truth) | BCubed F1 (labelled LFW faces) |\n|---|---|---|---|---|---|---|---|")
    print(f"| {n:,} | {seconds['neighbour graph']:.0f} | {seconds['merging']:.0f} | {seconds['re-cut']:.0f} "
          f"| {sum(seconds.values()):.0f} | {peak_gb():.2f} | {scores['precision']:.4f} / {scores['recall']:.4f} "
          f"/ {scores['f1']:.4f} | {real['f1']:.4f} |")


if __name__ == "__main__":
    main()

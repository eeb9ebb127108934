"""People benchmark: placing new faces among a large gallery's people (``Gallery.people``), in time
proportional to the new faces, whatever the gallery's size.

Each gallery is built with ``add_vectors`` as ``bench_gallery.py`` builds its bulk: synthetic
people of 5 faces each around a random centre, spread like one person's dlib faces (about 0.3
apart; the clustering threshold is 0.39). The index is built by a first search. Then, in
``--repeats`` rounds, ``--new`` faces are added with ``people.add_embedded`` (as ``add_photos``
adds the faces it embedded): half of them new faces of people in the gallery (drawn around
their centres), half faces of new people. Printed per size: seconds per round (median), faces
per second, the share of the gallery's people's new faces that joined the right person, the
share of new people's faces that did not join anyone in the gallery, and peak memory.

    nice -n 10 python bench/bench_people.py --sizes 10000 1000000      # ~15 min on 2 loaded cores

``--fit-celeba dlib`` chooses the neighbour threshold those adds use (``people_assign``) on CelebA
chips, never on LFW. ``--lfw`` instead adds every face of all 13,233 LFW photos as a growing library would (photos in
random order, ``--batch`` at a time; the vectors ``bench_cluster_lfw_all.py`` caches), scores the
people with BCubed F1 on each photo's labelled face, then re-clusters and scores again:

    nice -n 10 python bench/bench_people.py --lfw
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

PER_PERSON = 5
SPREAD = 0.3  # typical distance between two faces of one synthetic person


def _people(centres: np.ndarray, count: int, rng: np.random.Generator, start: int = 0) -> np.ndarray:
    """``count`` faces of the given people (face i belongs to centre (start + i) // PER_PERSON)."""
    rows = (start + np.arange(count)) // PER_PERSON
    noise = rng.standard_normal((count, centres.shape[1])).astype(np.float32) * (SPREAD / np.sqrt(2 * centres.shape[1]))
    v = centres[rows] + noise
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _centres(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    c = rng.standard_normal((n, dim)).astype(np.float32)
    return c / np.linalg.norm(c, axis=1, keepdims=True)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_size(size: int, new: int, repeats: int, rng: np.random.Generator, keep: Path | None) -> dict:
    from faceprint.gallery import Gallery

    folder = Path(tempfile.mkdtemp(prefix="bench_people_", dir=keep))
    path = folder / "g.db"
    dim = 128
    centres = _centres(size // PER_PERSON + 1, dim, rng)
    out: dict = {"faces": size, "new_faces_per_round": new, "repeats": repeats}
    g = Gallery(path)
    t0 = time.perf_counter()
    chunk = 50_000
    for start in range(0, size, chunk):
        part = _people(centres, min(chunk, size - start), rng, start)
        names = [f"synthetic_{(start + i) // PER_PERSON}" for i in range(len(part))]
        g.add_vectors(names, part)
    out["build_seconds"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    g.identify_vectors(centres[:1], top_k=1)  # builds the index from the store
    out["index_build_seconds"] = round(time.perf_counter() - t0, 1)
    out["index"] = g.index_description()
    seconds, joined_right, stayed_apart = [], [], []
    for rep in range(repeats):
        half = new // 2
        known = rng.integers(0, size // PER_PERSON, half)  # people of the gallery
        old = centres[known] + rng.standard_normal((half, dim)).astype(np.float32) * (SPREAD / np.sqrt(2 * dim))
        old /= np.linalg.norm(old, axis=1, keepdims=True)
        fresh = _people(_centres((new - half) // PER_PERSON + 1, dim, rng), new - half, rng)
        vectors = np.concatenate([old, fresh]).astype(np.float32)
        photos = [f"round{rep}-photo{i}" for i in range(new)]
        t0 = time.perf_counter()
        report = g.people.add_embedded(vectors, photos)
        seconds.append(time.perf_counter() - t0)
        names = g.face_subjects(report.face_ids)
        joined_right.append(np.mean([names[fid] == f"synthetic_{k}" for fid, k in zip(report.face_ids[:half], known)]))
        stayed_apart.append(np.mean([not names[fid].startswith("synthetic_") for fid in report.face_ids[half:]]))
    g.close()
    med = statistics.median(seconds)
    out.update({"add_seconds_median": round(med, 3), "add_seconds_all": [round(s, 3) for s in seconds],
                "faces_per_second": round(new / med, 1),
                "known_people_faces_joined_right": round(float(np.mean(joined_right)), 4),
                "new_people_faces_kept_apart": round(float(np.mean(stayed_apart)), 4),
                "peak_rss_mb": round(peak_rss_mb(), 1)})
    if keep is None:
        shutil.rmtree(folder, ignore_errors=True)
    return out


def lfw_incremental(batch: int, seed: int, keep: Path | None) -> dict:
    """Every face of all LFW photos added as a library grows (photos in random order, ``batch`` at a
    time), then one full re-cluster: BCubed F1 of each photo's labelled face (the one nearest the
    centre; every face of a person of its own a cluster of its own) after the adds and after the
    re-cluster, and the times."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from bench_cluster_lfw_all import embedded_faces

    from faceprint.clustering.metrics import bcubed_scores
    from faceprint.gallery import Gallery

    faces = embedded_faces()
    vectors, photo, label = faces["vectors"], faces["photo"], faces["label"]
    order = np.random.default_rng(seed).permutation(int(photo.max()) + 1)
    rows_of: dict[int, list[int]] = {}
    for row, p in enumerate(photo):
        rows_of.setdefault(int(p), []).append(row)
    folder = Path(tempfile.mkdtemp(prefix="bench_people_lfw_", dir=keep))
    g = Gallery(folder / "lfw.db")
    face_of_row: dict[int, int] = {}
    t0 = time.perf_counter()
    for start in range(0, len(order), batch):
        rows = [r for p in order[start:start + batch] for r in rows_of.get(int(p), [])]
        if rows:
            report = g.people.add_embedded(vectors[rows], [f"lfw{photo[r]}" for r in rows])
            face_of_row.update(zip(rows, report.face_ids))
    add_s = time.perf_counter() - t0
    labelled = [r for r in range(len(label)) if label[r]]
    truth = [str(label[r]) for r in labelled]

    def f1() -> float:
        owner = g._store.people_store().face_persons([face_of_row[r] for r in labelled])
        return round(bcubed_scores(truth, [owner[face_of_row[r]][0] for r in labelled])["f1"], 4)

    incremental, people = f1(), len(g.people.list())
    done = g.people.recluster()
    out = {"photos": int(len(order)), "faces": int(len(vectors)), "batch_photos": batch,
           "incremental_seconds": round(add_s, 1), "incremental_bcubed_f1": incremental, "people_after_adds": people,
           "recluster_seconds": round(done.seconds, 1),
           "recluster_bcubed_f1": f1(), "people_after_recluster": done.people, "threshold": done.threshold}
    g.close()
    if keep is None:
        shutil.rmtree(folder, ignore_errors=True)
    return out


def fit_celeba(model: str, thresholds: list[float], orders: int) -> dict:
    """The neighbour threshold of incremental adds, chosen on CelebA chips (never LFW): all chips
    added as a library grows (random order, 200 at a time, ``orders`` orders) at each threshold;
    BCubed F1 of the people found, the best mean wins."""
    from faceprint import settings
    from faceprint.clustering.metrics import bcubed_scores
    from faceprint.fit.celeba_chips import celeba_chips
    from faceprint.gallery import Gallery

    vectors, names, _ = celeba_chips(settings.data_dir(), model, settings.cache_dir() / "bench")
    scores = {}
    for threshold in thresholds:
        f1 = []
        for seed in range(orders):
            order = np.random.default_rng(seed).permutation(len(vectors))
            folder = Path(tempfile.mkdtemp(prefix="bench_people_fit_"))
            with Gallery(folder / "g.db", model=model) as g:
                face_of: dict[int, int] = {}
                for start in range(0, len(order), 200):
                    rows = order[start:start + 200].tolist()
                    report = g.people.add_embedded(vectors[rows], [f"chip{r}" for r in rows], threshold=threshold)
                    face_of.update(zip(rows, report.face_ids))
                owner = g._store.people_store().face_persons(list(face_of.values()))
                f1.append(bcubed_scores([str(names[r]) for r in face_of], [owner[face_of[r]][0] for r in face_of])["f1"])
            shutil.rmtree(folder, ignore_errors=True)
        scores[threshold] = round(float(np.mean(f1)), 4)
    best = max(scores, key=scores.get)
    return {"model": model, "faces": int(len(vectors)), "people": int(len(set(names.tolist()))), "orders": orders,
            "bcubed_f1_by_threshold": scores, "best": best}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--new", type=int, default=1000, help="new faces per round")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=None, help="build the galleries under this folder and keep them")
    parser.add_argument("--lfw", action="store_true", help="instead: all LFW faces added in batches of photos, "
                        "then re-clustered (vectors cached by bench_cluster_lfw_all.py)")
    parser.add_argument("--batch", type=int, default=500, help="photos per add with --lfw")
    parser.add_argument("--fit-celeba", metavar="MODEL", help="instead: choose the neighbour threshold of "
                        "incremental adds for MODEL on CelebA chips (people_assign.NEIGHBOUR_THRESHOLDS)")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.30, 0.32, 0.34, 0.36, 0.38, 0.40, 0.42])
    args = parser.parse_args()
    if args.fit_celeba:
        print(json.dumps(fit_celeba(args.fit_celeba, args.thresholds, 3), indent=2))
        return
    if args.lfw:
        print(json.dumps(lfw_incremental(args.batch, args.seed, args.keep), indent=2))
        return
    rng = np.random.default_rng(args.seed)
    for size in args.sizes:  # one JSON line per size, as each is done
        print(json.dumps(run_size(size, args.new, args.repeats, rng, args.keep)), flush=True)


if __name__ == "__main__":
    main()

"""Gallery benchmark: identify latency and recall@5 against exact search, enrol throughput, index
build time and memory, at several gallery sizes, on 2 cores.

Gallery = real LFW enrolments (embedded with the gallery's pipeline) plus clustered random unit
vectors for the bulk (5 faces per synthetic person around a random centre). Queries: held-out LFW
photos of enrolled people, and synthetic probes at cosine ~0.8 to an enrolled face. Every figure
is taken through ``Gallery.identify_vectors`` (SQLite name look-ups included) and, interleaved
query by query, against exact numpy search over the same vectors; medians of the repeats.
recall@5 is the share of the subjects of the exact 5 nearest faces among the gallery's top 5.

    nice python bench/bench_gallery.py --sizes 10000 100000          # ~10 min on 2 loaded cores
    nice python bench/bench_gallery.py --sizes 1000000 --queries 200  # long: HNSW build dominates
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def lfw_vectors(people: int, per_person: int) -> tuple[np.ndarray, list[str], np.ndarray, list[str], float, int]:
    """Enrolment vectors (first ``per_person`` photos) and probe vectors (the next 2) of LFW people
    with at least per_person + 1 photos, embedded with the default pipeline (cached)."""
    from faceprint import settings
    from faceprint.fit.identification import view1_people
    from faceprint.pipeline.batch import embed_paths
    from faceprint.pipeline.cache import EmbeddingCache
    from faceprint.pipeline.pipeline import Pipeline, PipelineConfig

    # LFW View 1 people (the photos the threshold fit embeds too, so they are cached): never View 2
    by_name: dict[str, list[Path]] = {}
    for path, name in view1_people(settings.data_dir() / "lfw", per_person + 2):
        by_name.setdefault(name, []).append(path)
    chosen = [n for n, files in by_name.items() if len(files) >= per_person + 2][:people]
    enrol, probe = [], []
    for name in chosen:
        files = by_name[name]
        enrol += [(p, name) for p in files[:per_person]]
        probe += [(p, name) for p in files[per_person:per_person + 2]]
    pipe = Pipeline(PipelineConfig())
    cache = EmbeddingCache(pipe)
    photos = len(enrol) + len(probe)
    start = time.perf_counter()
    vectors, _ = embed_paths(pipe, [p for p, _ in enrol + probe], cache=cache, workers=1)
    seconds = time.perf_counter() - start
    e = [(vectors[p], n) for p, n in enrol if vectors.get(p) is not None]
    q = [(vectors[p], n) for p, n in probe if vectors.get(p) is not None]
    return (np.stack([v for v, _ in e]), [n for _, n in e], np.stack([v for v, _ in q]), [n for _, n in q],
            seconds, photos)


def synthetic(n: int, dim: int, rng: np.random.Generator, per_person: int = 5) -> np.ndarray:
    centres = rng.standard_normal((n // per_person + 1, dim)).astype(np.float32)
    v = centres[np.arange(n) // per_person] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def near(vectors: np.ndarray, cosine: float, rng: np.random.Generator) -> np.ndarray:
    noise = rng.standard_normal(vectors.shape).astype(np.float32)
    noise -= np.sum(noise * vectors, axis=1, keepdims=True) * vectors
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    return (cosine * vectors + np.sqrt(1 - cosine ** 2) * noise).astype(np.float32)


def run_size(size: int, real: tuple, queries: int, repeats: int, rng: np.random.Generator, keep: Path | None) -> dict:
    from faceprint.gallery import Gallery
    from faceprint.pipeline.match import nearest

    ev, en, pv, pn = real[:4]
    bulk = size - len(ev)
    folder = Path(tempfile.mkdtemp(prefix="bench_gallery_", dir=keep))
    path = folder / "g.db"
    out: dict = {"faces": size, "real_lfw_faces": len(ev), "synthetic_faces": bulk}
    base_rss = rss_mb()
    g = Gallery(path)
    # enrol throughput through store + index (vectors given; photo embedding is measured apart)
    t0 = time.perf_counter()
    g.add_vectors(en, ev, signature=g.signature)
    chunk = 50_000

    for start in range(0, bulk, chunk):
        part = synthetic(min(chunk, bulk - start), ev.shape[1], rng)
        names = [f"synthetic_{(start + i) // 5}" for i in range(len(part))]
        g.add_vectors(names, part)
    enrol_s = time.perf_counter() - t0
    out["enrol_vectors_per_s"] = round(size / enrol_s, 1)
    out["enrol_seconds"] = round(enrol_s, 1)
    # nothing was searched yet, so the index does not exist: the first search builds it from the store
    before = rss_mb()
    t0 = time.perf_counter()
    g.identify_vectors(ev[:1], top_k=1)
    out["index_build_from_store_s"] = round(time.perf_counter() - t0, 1)
    out["index_rss_mb"] = round(rss_mb() - before, 1)
    out["index_kind"] = g.index_description().split(" ", 1)[0]
    # enrols afterwards extend the index (the HNSW graph is not rebuilt)
    t0 = time.perf_counter()
    g.add_vectors([f"late_{i}" for i in range(10)], synthetic(10, ev.shape[1], rng))
    out["enrol_10_more_ms"] = round((time.perf_counter() - t0) * 1e3, 1)
    t0 = time.perf_counter()
    g.add_vectors([f"later_{i // 5}" for i in range(2000)], synthetic(2000, ev.shape[1], rng))
    out["enrol_into_built_index_vectors_per_s"] = round(2000 / (time.perf_counter() - t0), 1)
    g.close()  # writes the index files
    out["index_files_mb"] = round(sum(f.stat().st_size for f in path.with_name(path.name + ".index").iterdir()) / 2 ** 20, 1)
    t0 = time.perf_counter()
    g = Gallery(path)
    g.identify_vectors(ev[:1], top_k=1)  # loads the saved index
    out["index_load_s"] = round(time.perf_counter() - t0, 2)
    # vectors for exact search, in face-id order
    chunks = list(g.face_vectors())
    ids_sorted = np.concatenate([i for i, _ in chunks])
    all_v = np.concatenate([v for _, v in chunks])
    # queries: half real LFW probes, half synthetic near an enrolled face
    n_real = min(queries // 2, len(pv))
    picks = rng.integers(0, len(all_v), queries - n_real)
    q = np.concatenate([pv[:n_real], near(all_v[picks], 0.8, rng)])
    exact_ms, gallery_ms = [], []
    recall_subjects, same_top5_subjects, same_rank1 = [], [], []
    for rep in range(repeats):
        e_lat, g_lat = [], []
        for i, query in enumerate(q):  # interleaved: exact, whole gallery
            t = time.perf_counter()
            pos, _ = nearest(query, all_v, 5)
            e_lat.append(time.perf_counter() - t)
            t = time.perf_counter()
            cands = g.identify_vectors(query, top_k=5)[0]
            g_lat.append(time.perf_counter() - t)
            if rep == 0:
                truth = ids_sorted[pos[0]]
                names = g.face_subjects(truth.tolist())
                owners = {names[int(f)] for f in truth}  # the subjects of the exact 5 nearest faces
                recall_subjects.append(len(owners & {c.subject for c in cands}) / len(owners))
                exact_subjects = []
                for fid in truth:
                    if names[int(fid)] not in exact_subjects:
                        exact_subjects.append(names[int(fid)])
                got = [c.subject for c in cands]
                same_rank1.append(got[:1] == exact_subjects[:1])
                same_top5_subjects.append(got[:len(exact_subjects)] == exact_subjects)
        exact_ms.append((np.percentile(e_lat, 50) * 1e3, np.percentile(e_lat, 99) * 1e3))
        gallery_ms.append((np.percentile(g_lat, 50) * 1e3, np.percentile(g_lat, 99) * 1e3))
    med = lambda rows, j: round(statistics.median(r[j] for r in rows), 3)  # noqa: E731
    out.update({
        "queries": len(q), "repeats": repeats,
        "exact_numpy_p50_ms": med(exact_ms, 0), "exact_numpy_p99_ms": med(exact_ms, 1),
        "gallery_identify_p50_ms": med(gallery_ms, 0), "gallery_identify_p99_ms": med(gallery_ms, 1),
        "recall_at_5_subjects": round(float(np.mean(recall_subjects)), 4),
        "rank1_subject_same_as_exact": round(float(np.mean(same_rank1)), 4),
        "top5_subjects_same_as_exact": round(float(np.mean(same_top5_subjects)), 4),
        "process_rss_mb": round(rss_mb(), 1), "rss_before_gallery_mb": round(base_rss, 1),
    })
    g.close()
    if keep is None:
        shutil.rmtree(folder, ignore_errors=True)
    return out


def people_folder(files: list[tuple[str, Path]], root: Path) -> Path:
    """``root/<name>/<photo>`` links to the given photos, as ``Gallery.enrol_folder`` reads them."""
    for name, path in files:
        (root / name).mkdir(parents=True, exist_ok=True)
        (root / name / path.name).symlink_to(path)
    return root


def photo_enrol(count: int) -> dict:
    """Enrol real photos end to end (decode, detect, embed, store): photos per second."""
    from faceprint import settings
    from faceprint.gallery import Gallery

    root = settings.data_dir() / "lfw"
    files = [(f.name, p) for f in sorted(root.iterdir()) if f.is_dir() for p in sorted(f.glob("*.jpg"))[:1]][-count:]
    with tempfile.TemporaryDirectory() as folder:
        with Gallery(Path(folder) / "g.db") as g:
            t0 = time.perf_counter()
            added = 0
            for name, path in files:
                added += g.enrol(name, [path]).added
            one_by_one = time.perf_counter() - t0
        people = people_folder(files, Path(folder) / "people")
        with Gallery(Path(folder) / "h.db") as g:
            t0 = time.perf_counter()
            report = g.enrol_folder(people)
            batched = time.perf_counter() - t0
    return {"photos": len(files), "faces_added": report.added,
            "photos_per_s_batched": round(len(files) / batched, 2),
            "photos_per_s_one_call_each": round(len(files) / one_by_one, 2)}


def compare_libraries(size: int, queries: int, threads: int, rng: np.random.Generator) -> dict:
    """faiss HNSW vs faiss IVF-Flat vs usearch HNSW on the same clustered vectors: build time, single-
    query p50/p99 (interleaved), recall@5 against exact search. usearch is optional (pip install usearch)."""
    import faiss

    from faceprint.pipeline.match import nearest

    x = synthetic(size, 128, rng)
    q = near(x[rng.integers(0, size, queries)], 0.8, rng)
    truth, _ = nearest(q, x, 5)
    searchers, out = {}, {"faces": size, "queries": queries}
    faiss.omp_set_num_threads(threads)
    t0 = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(128, 32)
    hnsw.hnsw.efConstruction = 80
    hnsw.add(x)
    hnsw.hnsw.efSearch = 128
    out["faiss_hnsw_build_s"] = round(time.perf_counter() - t0, 1)
    searchers["faiss_hnsw"] = lambda v: hnsw.search(v[None], 5)[1][0]
    t0 = time.perf_counter()
    lists = int(4 * np.sqrt(size))
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatL2(128), 128, lists)
    ivf.train(x[rng.integers(0, size, min(size, 40 * lists))])
    ivf.add(x)
    ivf.nprobe = 16
    out["faiss_ivf_build_s"] = round(time.perf_counter() - t0, 1)
    searchers["faiss_ivf"] = lambda v: ivf.search(v[None], 5)[1][0]
    try:
        from usearch.index import Index

        t0 = time.perf_counter()
        us = Index(ndim=128, metric="l2sq", dtype="f32", connectivity=32, expansion_add=80, expansion_search=128)
        us.add(np.arange(size), x, threads=threads)
        out["usearch_hnsw_build_s"] = round(time.perf_counter() - t0, 1)
        searchers["usearch_hnsw"] = lambda v: us.search(v, 5, threads=1).keys
    except ImportError:
        out["usearch"] = "not installed"
    faiss.omp_set_num_threads(1)
    lat = {k: [] for k in searchers}
    hits = {k: [] for k in searchers}
    for i, v in enumerate(q):  # interleaved, query by query
        for name, search in searchers.items():
            t = time.perf_counter()
            got = search(v)
            lat[name].append(time.perf_counter() - t)
            hits[name].append(len(set(np.asarray(got).tolist()) & set(truth[i].tolist())) / 5)
    for name in searchers:
        out[f"{name}_p50_ms"] = round(float(np.percentile(lat[name], 50)) * 1e3, 3)
        out[f"{name}_p99_ms"] = round(float(np.percentile(lat[name], 99)) * 1e3, 3)
        out[f"{name}_recall_at_5"] = round(float(np.mean(hits[name])), 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lfw-people", type=int, default=300)
    parser.add_argument("--photos", type=int, default=64, help="photos for the end-to-end enrol figure (0: skip)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keep", type=Path, default=None, help="folder to keep the galleries in")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--compare-libraries", type=int, default=0, metavar="N",
                        help="only compare faiss HNSW / IVF and usearch HNSW on N clustered vectors")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    os.environ["FACEPRINT_INDEX_THREADS"] = str(args.threads)  # HNSW build threads (search uses 1)
    try:
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:args.threads]))
    except (AttributeError, OSError):
        pass
    from faceprint.gallery.index import ann_available

    if not ann_available():
        print("faiss not installed: every size searches exactly (pip install 'faceprint[ann]')")
    rng = np.random.default_rng(0)
    if args.compare_libraries:
        print(json.dumps(compare_libraries(args.compare_libraries, args.queries, args.threads, rng)))
        return
    real = lfw_vectors(args.lfw_people, 3)
    result = {"threads": args.threads, "cpu_count": os.cpu_count(), "loadavg_at_start": os.getloadavg(),
              "lfw_enrol_faces": len(real[1]), "lfw_probe_faces": len(real[3]), "sizes": []}
    if args.photos:
        result["photo_enrol"] = photo_enrol(args.photos)
        print(json.dumps(result["photo_enrol"]), flush=True)
    for size in args.sizes:
        row = run_size(size, real, args.queries, args.repeats, rng, args.keep)
        result["sizes"].append(row)
        print(json.dumps(row), flush=True)
    result["loadavg_at_end"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    print("| faces | index | identify p50 / p99 ms (gallery) | exact numpy p50 ms | recall@5 | top-5 subjects = exact | build s | index RSS MB | enrol vectors/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in result["sizes"]:
        print(f"| {r['faces']:,} | {r['index_kind']} | {r['gallery_identify_p50_ms']} / {r['gallery_identify_p99_ms']} | "
              f"{r['exact_numpy_p50_ms']} | {r['recall_at_5_subjects']} | {r['top5_subjects_same_as_exact']} | "
              f"{r['index_build_from_store_s']} | {r['index_rss_mb']} | {r['enrol_vectors_per_s']} |")


if __name__ == "__main__":
    main()

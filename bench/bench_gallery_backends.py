"""Gallery backends side by side: SQLite (+ local exact/HNSW index) vs Milvus (milvus-lite).

For each size, the same clustered unit vectors (5 faces per synthetic person, as in
bench_gallery.py) go into both galleries through ``Gallery.add_vectors``; queries are probes at
cosine 0.8 to an enrolled face. Per query, interleaved (SQLite, then Milvus): the whole
``Gallery.identify_vectors`` call (top 5 subjects, name look-ups included), and its recall@5:
the share of the subjects of the exact 5 nearest faces (numpy, same vectors) among its top 5.
Medians over the repeats of each run's p50/p99. Also: enrol time, first-search (index build)
time, disk size. Synthetic 128-d vectors are harder for HNSW than real face embeddings (those
lie near a lower-dimensional set), so recall here is a floor.

    nice python bench/bench_gallery_backends.py --sizes 100000 --queries 200 --repeats 3
    nice python bench/bench_gallery_backends.py --sizes 1000000 --queries 50 --repeats 1   # long

Needs ``pip install -e '.[milvus]'``. Prints one JSON object per size, then a markdown table.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_gallery import near, rss_mb, synthetic  # noqa: E402  (same vectors as the SQLite bench)

BACKENDS = ("sqlite", "milvus")


def folder_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2 ** 20


def run_size(size: int, queries: int, repeats: int, rng: np.random.Generator, keep: Path | None,
             backends: tuple[str, ...] = BACKENDS) -> dict:
    from faceprint.gallery import Gallery
    from faceprint.pipeline.match import nearest

    folder = Path(tempfile.mkdtemp(prefix="bench_backends_", dir=keep))
    where = {"sqlite": folder / "g.db", "milvus": folder / "m.db"}
    uris = {"sqlite": str(where["sqlite"]), "milvus": f"milvus-lite://{where['milvus']}"}
    vectors = synthetic(size, 128, rng)
    names = [f"synthetic_{i // 5}" for i in range(size)]
    keys = [f"v{i}" for i in range(size)]
    out: dict = {"faces": size, "queries": queries, "repeats": repeats}
    galleries = {}
    for backend in backends:
        before = rss_mb()
        t0 = time.perf_counter()
        g = Gallery(uris[backend])
        for start in range(0, size, 50_000):
            g.add_vectors(names[start:start + 50_000], vectors[start:start + 50_000], keys=keys[start:start + 50_000])
        out[f"{backend}_enrol_s"] = round(time.perf_counter() - t0, 1)
        t0 = time.perf_counter()
        g.identify_vectors(vectors[:1], top_k=5)  # the first search builds (SQLite) or loads (Milvus) the index
        out[f"{backend}_first_search_s"] = round(time.perf_counter() - t0, 1)
        out[f"{backend}_rss_growth_mb"] = round(rss_mb() - before, 1)
        out[f"{backend}_index"] = g.index_description()
        galleries[backend] = g
        logging.info("%s: %d faces in, %s", backend, size, json.dumps(out))
    # both galleries number faces 1..N in enrol order: exact search's positions map to ids directly
    for backend, g in galleries.items():
        ids = np.concatenate([i for i, _ in g.face_vectors()])
        assert len(ids) == size and ids[0] == 1 and ids[-1] == size, (backend, ids[:3], ids[-3:])
    q = near(vectors[rng.integers(0, size, queries)], 0.8, rng)
    truth, _ = nearest(q, vectors, 5)
    lat = {f"{b}_identify": [] for b in backends}
    recall = {b: [] for b in backends}
    rank1 = {b: [] for b in backends}
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in lat}
    for rep in range(repeats):
        for k in lat:
            lat[k] = []
        for i, query in enumerate(q):  # interleaved, query by query
            for backend, g in galleries.items():
                t = time.perf_counter()
                cands = g.identify_vectors(query, top_k=5)[0]
                lat[f"{backend}_identify"].append(time.perf_counter() - t)
                if rep == 0:
                    owners = {names[j] for j in truth[i]}  # the subjects of the exact 5 nearest faces
                    recall[backend].append(len(owners & {c.subject for c in cands}) / len(owners))
                    rank1[backend].append(bool(cands) and cands[0].subject == names[truth[i][0]])
        for k, values in lat.items():
            runs[k].append((np.percentile(values, 50) * 1e3, np.percentile(values, 99) * 1e3))
    for k, rows in runs.items():
        out[f"{k}_p50_ms"] = round(statistics.median(r[0] for r in rows), 2)
        out[f"{k}_p99_ms"] = round(statistics.median(r[1] for r in rows), 2)
    for backend in backends:
        out[f"{backend}_recall_at_5"] = round(float(np.mean(recall[backend])), 4)
        out[f"{backend}_rank1_same_as_exact"] = round(float(np.mean(rank1[backend])), 4)
    if len(backends) == 2:
        out["identify_p50_ratio_milvus_over_sqlite"] = round(out["milvus_identify_p50_ms"] / out["sqlite_identify_p50_ms"], 1)
    for backend, g in galleries.items():
        g.close()
    if "sqlite" in backends:
        out["sqlite_index_files_mb"] = round(folder_mb(where["sqlite"].with_name("g.db.index")), 1)
        out["sqlite_disk_mb"] = round(folder_mb(where["sqlite"]) + out["sqlite_index_files_mb"], 1)
    if "milvus" in backends:
        out["milvus_disk_mb"] = round(folder_mb(where["milvus"]), 1)
    if keep is None:
        shutil.rmtree(folder, ignore_errors=True)
    return out


def table(rows: list[dict]) -> str:
    lines = ["| faces | backend | enrol s | first search s | identify p50 / p99 ms | recall@5 subjects | rank-1 = exact | disk MB |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for b, label in (("sqlite", "SQLite + local index"), ("milvus", "milvus-lite")):
            if f"{b}_enrol_s" not in r:
                continue
            lines.append(f"| {r['faces']:,} | {label} ({r[b + '_index'].split(',')[0].split(' (')[0]}) | {r[b + '_enrol_s']} | "
                         f"{r[b + '_first_search_s']} | {r[b + '_identify_p50_ms']} / {r[b + '_identify_p99_ms']} | "
                         f"{r[b + '_recall_at_5']} | {r[b + '_rank1_same_as_exact']} | "
                         f"{r[b + '_disk_mb']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--threads", type=int, default=2, help="faiss threads for the SQLite side's index build")
    parser.add_argument("--keep", type=Path, default=None, help="folder to keep the galleries in")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import os

    os.environ.setdefault("FACEPRINT_INDEX_THREADS", str(args.threads))
    rng = np.random.default_rng(0)
    rows = []
    for size in args.sizes:
        row = run_size(size, args.queries, args.repeats, rng, args.keep, tuple(args.backends))
        print(json.dumps(row), flush=True)
        rows.append(row)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1))
    print(table(rows))


if __name__ == "__main__":
    main()

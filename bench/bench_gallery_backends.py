"""Gallery backends side by side: SQLite (+ local exact/HNSW index), milvus-lite (embedded), and a
real Milvus server (``milvus-server``: the ``milvus`` package's standalone Milvus 2.3, started here
on 127.0.0.1 with its default settings and stopped at the end; ``pip install milvus``, Linux x86_64).

For each size, the same clustered unit vectors (5 faces per synthetic person, as in
bench_gallery.py) go into both galleries through ``Gallery.add_vectors``; queries are probes at
cosine 0.8 to an enrolled face. Per query, interleaved (SQLite, then Milvus): the whole
``Gallery.identify_vectors`` call (top 5 subjects, name look-ups included), and its recall@5:
the share of the subjects of the exact 5 nearest faces (numpy, same vectors) among its top 5.
Medians over the repeats of each run's p50/p99. Also: enrol time, first-search (index build)
time, disk size. Synthetic 128-d vectors are harder for HNSW than real face embeddings (those
lie near a lower-dimensional set), so recall here is a floor. For the Milvus server: enrol rate
(vectors/s through ``Gallery.add_vectors``), then a flush and the wait until its HNSW index covers
every row ("index s"; searches meanwhile scan unindexed segments), and the server process's RSS.

    nice python bench/bench_gallery_backends.py --sizes 100000 --queries 200 --repeats 3
    nice python bench/bench_gallery_backends.py --sizes 1000000 --queries 50 --repeats 1   # long
    nice python bench/bench_gallery_backends.py --backend milvus-server --sizes 100000 1000000 --queries 200

Needs ``pip install -e '.[milvus]'``. Prints one JSON object per size, then a markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
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

BACKENDS = ("sqlite", "milvus")       # the default pair: SQLite and milvus-lite
CHOICES = ("sqlite", "milvus", "milvus-lite", "milvus-server")
LABELS = {"sqlite": "SQLite + local index", "milvus": "milvus-lite", "milvus_server": "Milvus 2.3.5 server"}


def key(backend: str) -> str:
    """The figures' prefix for a --backends choice ("milvus" and "milvus-lite" are the same)."""
    return {"milvus-lite": "milvus", "milvus-server": "milvus_server"}.get(backend, backend)


def process_rss_mb(pid: int) -> float:
    """RSS of a process and its children (the Milvus server), in MiB."""
    import psutil

    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2 ** 20


def wait_for_index(g, timeout_s: float) -> tuple[float, bool]:
    """Flush a Milvus server gallery's faces and wait until its vector index covers every row:
    (seconds, whether it did within ``timeout_s``)."""
    store = g._store
    faces = store._collections["faces"]
    t0 = time.perf_counter()
    store.client.flush(faces)
    while time.perf_counter() - t0 < timeout_s:
        info = store.client.describe_index(faces, "vector")
        if info.get("pending_index_rows", 1) == 0 and info.get("indexed_rows", 0) >= info.get("total_rows", 1):
            return time.perf_counter() - t0, True
        time.sleep(2)
    return time.perf_counter() - t0, False


def folder_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2 ** 20


def run_size(size: int, queries: int, repeats: int, rng: np.random.Generator, keep: Path | None,
             backends: tuple[str, ...] = BACKENDS, server=None, consistency: str = "Strong",
             index_timeout_s: float = 900.0) -> dict:
    from faceprint.gallery import Gallery
    from faceprint.pipeline.match import nearest

    backends = tuple(dict.fromkeys(key(b) for b in backends))
    folder = Path(tempfile.mkdtemp(prefix="bench_backends_", dir=keep))
    where = {"sqlite": folder / "g.db", "milvus": folder / "m.db"}
    uris = {"sqlite": str(where["sqlite"]), "milvus": f"milvus-lite://{where['milvus']}"}
    if server is not None:
        uris["milvus_server"] = server.uri(f"bench_{size}_{int(time.time())}") + f"?consistency={consistency}"
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
        out[f"{backend}_enrol_per_s"] = round(size / (time.perf_counter() - t0))
        if backend == "milvus_server":
            waited, done = wait_for_index(g, index_timeout_s)
            out["milvus_server_index_s"] = round(waited, 1)
            out["milvus_server_index_complete"] = done
            out["milvus_server_consistency"] = consistency
        t0 = time.perf_counter()
        g.identify_vectors(vectors[:1], top_k=5)  # the first search builds (SQLite) or loads (Milvus) the index
        out[f"{backend}_first_search_s"] = round(time.perf_counter() - t0, 1)
        out[f"{backend}_rss_growth_mb"] = round(rss_mb() - before, 1)
        out[f"{backend}_index"] = g.index_description()
        if backend == "milvus_server":
            out["milvus_server_rss_mb"] = round(process_rss_mb(server.pid))
            out["milvus_server_version"] = server.version()
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
    if "milvus" in backends and "sqlite" in backends:
        out["identify_p50_ratio_milvus_over_sqlite"] = round(out["milvus_identify_p50_ms"] / out["sqlite_identify_p50_ms"], 1)
    if "milvus_server" in backends:
        out["milvus_server_rss_after_searches_mb"] = round(process_rss_mb(server.pid))
    for backend, g in galleries.items():
        if backend == "milvus_server":  # the server keeps its data: drop this size's collections
            for name in g._store._collections.values():
                g._store.client.drop_collection(name)
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
    lines = ["| faces | backend | enrol s (vectors/s) | first search s | identify p50 / p99 ms | recall@5 subjects | "
             "rank-1 = exact | disk MB / server RSS MB |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for b, label in LABELS.items():
            if f"{b}_enrol_s" not in r:
                continue
            size = r.get(b + "_disk_mb", "")
            if b == "milvus_server":
                label += f", {r['milvus_server_consistency']}; index built in {r['milvus_server_index_s']} s"
                size = f"RSS {r['milvus_server_rss_mb']} / {r['milvus_server_rss_after_searches_mb']}"
            lines.append(f"| {r['faces']:,} | {label} ({r[b + '_index'].split(',')[0].split(' (')[0]}) | {r[b + '_enrol_s']} "
                         f"({r[b + '_enrol_per_s']:,}) | "
                         f"{r[b + '_first_search_s']} | {r[b + '_identify_p50_ms']} / {r[b + '_identify_p99_ms']} | "
                         f"{r[b + '_recall_at_5']} | {r[b + '_rank1_same_as_exact']} | {size} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", "--backend", nargs="+", choices=CHOICES, default=list(BACKENDS),
                        help="milvus (= milvus-lite), milvus-server (starts a local Milvus 2.3 server)")
    parser.add_argument("--consistency", default="Strong", choices=["Strong", "Bounded", "Session", "Eventually"],
                        help="the Milvus server gallery's consistency level")
    parser.add_argument("--index-timeout", type=float, default=900.0,
                        help="seconds to wait for the server's index after enrol before searching anyway")
    parser.add_argument("--threads", type=int, default=2, help="faiss threads for the SQLite side's index build")
    parser.add_argument("--keep", type=Path, default=None, help="folder to keep the galleries in")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import os

    os.environ.setdefault("FACEPRINT_INDEX_THREADS", str(args.threads))
    rng = np.random.default_rng(0)
    rows = []
    with contextlib.ExitStack() as stack:
        server = None
        if "milvus-server" in args.backends:
            from faceprint.gallery.milvus_server import LocalMilvusServer

            base = Path(tempfile.mkdtemp(prefix="bench_milvus_server_", dir=args.keep))
            server = stack.enter_context(LocalMilvusServer(base))
            if args.keep is None:
                stack.callback(shutil.rmtree, base, True)
            logging.info("Milvus %s on 127.0.0.1:%d, pid %s, RSS %.0f MiB idle", server.version(), server.port,
                         server.pid, process_rss_mb(server.pid))
        for size in args.sizes:
            row = run_size(size, args.queries, args.repeats, rng, args.keep, tuple(args.backends), server,
                           args.consistency, args.index_timeout)
            print(json.dumps(row), flush=True)
            rows.append(row)
            if args.json:
                args.json.write_text(json.dumps(rows, indent=1))
    print(table(rows))


if __name__ == "__main__":
    main()

"""The vector index beside the store: exact (numpy) while small, HNSW (faiss) above a measured size.

The index is a cache of the store, never its master: it is persisted next to the database,
remembers the store generation it reflects, and is brought up to date from the store (faces
added, faces removed) whenever that generation moves on; when its files are missing or unreadable
it is rebuilt from the store. Faces are only ever compared within one gallery, which holds one
pipeline signature.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Iterable

import numpy as np

from faceprint.gallery.private_files import PRIVATE_MODE, open_new, private_folder
from faceprint.pipeline.match import nearest

log = logging.getLogger(__name__)

# Above this many faces the gallery searches an HNSW graph instead of scanning every vector.
# Measured with bench/bench_gallery.py (2 threads): exact numpy search costs about 0.25 ms per
# 10k faces (2.5 ms at 100k, 25 ms at 1M) while HNSW stays under 1 ms, so the crossover for a
# 2 ms p50 budget sits between 50k and 100k faces.
ANN_MIN_FACES = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256
# deleted faces stay in the graph as tombstones until they are this share of it, then it is rebuilt
MAX_TOMBSTONE_SHARE = 0.2


BUILD_THREADS = max(1, min(os.cpu_count() or 1, int(os.environ.get("FACEPRINT_INDEX_THREADS", "0")) or 64))
_omp_threads = [0]


def _threads(n: int) -> None:
    """Set faiss's OpenMP thread count (process-wide; the gallery calls it under its lock)."""
    if _omp_threads[0] != n:
        import faiss

        faiss.omp_set_num_threads(n)
        _omp_threads[0] = n


def ann_available() -> bool:
    """True when faiss (``pip install 'faceprint[ann]'``) can be imported."""
    import importlib.util

    return importlib.util.find_spec("faiss") is not None


class VectorIndex:
    """Face ids and their vectors, searchable by Euclidean distance between unit vectors.

    Not thread-safe on its own: the gallery holds a lock around it.
    """

    def __init__(self, dim: int, ann_min_faces: int = ANN_MIN_FACES, ann: bool | None = None) -> None:
        self.dim = dim
        self.ann_min_faces = ann_min_faces
        self.allow_ann = ann_available() if ann is None else (ann and ann_available())
        self.generation = -1
        self._ids = np.zeros(0, np.int64)            # position -> face id (exact part, in order)
        self._vectors = np.zeros((0, dim), np.float32)
        self._n = 0                                   # rows of _ids/_vectors in use
        self._hnsw = None                             # faiss IndexHNSWFlat (labels = face ids)
        self._hnsw_ids: set[int] = set()
        self._dead: set[int] = set()                  # tombstones in the graph

    # -- what is inside -------------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return "hnsw" if self._hnsw is not None else "exact"

    def __len__(self) -> int:
        if self._hnsw is not None:
            return len(self._hnsw_ids) - len(self._dead)
        return self._n

    def ids(self) -> np.ndarray:
        """Live face ids, sorted."""
        if self._hnsw is not None:
            return np.array(sorted(self._hnsw_ids - self._dead), np.int64)
        return np.sort(self._ids[:self._n])

    def describe(self) -> str:
        if self._hnsw is not None:
            return f"hnsw (faiss, M={HNSW_M}, efSearch={HNSW_EF_SEARCH}), {len(self)} faces, {len(self._dead)} tombstones"
        return f"exact (numpy), {len(self)} faces"

    # -- changes --------------------------------------------------------------------------------------
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.asarray(ids, np.int64)
        vectors = np.ascontiguousarray(vectors, np.float32).reshape(len(ids), self.dim)
        if not len(ids):
            return
        if self._hnsw is not None:
            _threads(BUILD_THREADS if len(ids) >= 256 else 1)  # a team of threads costs more than a few inserts
            self._hnsw.add_with_ids(vectors, ids)
            self._hnsw_ids.update(int(i) for i in ids)
            self._dead.difference_update(int(i) for i in ids)
            return
        need = self._n + len(ids)
        if need > len(self._ids):  # grow geometrically so many small enrols stay cheap
            size = max(need, 2 * len(self._ids), 1024)
            grown_ids = np.zeros(size, np.int64)
            grown_vectors = np.zeros((size, self.dim), np.float32)
            grown_ids[:self._n] = self._ids[:self._n]
            grown_vectors[:self._n] = self._vectors[:self._n]
            self._ids, self._vectors = grown_ids, grown_vectors
        self._ids[self._n:need] = ids
        self._vectors[self._n:need] = vectors
        self._n = need
        if self.allow_ann and self._n >= self.ann_min_faces:
            self._to_hnsw()

    def remove(self, ids: Iterable[int]) -> None:
        gone = {int(i) for i in ids}
        if not gone:
            return
        if self._hnsw is not None:
            self._dead.update(gone & self._hnsw_ids)
            if len(self._dead) > MAX_TOMBSTONE_SHARE * max(len(self._hnsw_ids), 1):
                self._rebuild_hnsw()
            return
        keep = ~np.isin(self._ids[:self._n], np.fromiter(gone, np.int64))
        kept = int(keep.sum())
        self._ids[:kept] = self._ids[:self._n][keep]
        self._vectors[:kept] = self._vectors[:self._n][keep]
        self._n = kept

    def _to_hnsw(self) -> None:
        import faiss

        log.info("gallery index: %d faces, switching to an HNSW graph", self._n)
        graph = faiss.IndexHNSWFlat(self.dim, HNSW_M)
        graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        graph.hnsw.efSearch = HNSW_EF_SEARCH
        index = faiss.IndexIDMap2(graph)  # keeps a Python reference to graph
        _threads(BUILD_THREADS)
        index.add_with_ids(self._vectors[:self._n], self._ids[:self._n])
        self._hnsw = index
        self._hnsw_ids = set(self._ids[:self._n].tolist())
        self._dead = set()
        self._ids = np.zeros(0, np.int64)
        self._vectors = np.zeros((0, self.dim), np.float32)
        self._n = 0

    def _rebuild_hnsw(self) -> None:
        alive = np.array(sorted(self._hnsw_ids - self._dead), np.int64)
        vectors = np.vstack([self._hnsw.reconstruct(int(i)) for i in alive]) if len(alive) else np.zeros((0, self.dim), np.float32)
        self._hnsw, self._hnsw_ids, self._dead = None, set(), set()
        log.info("gallery index: rebuilding the HNSW graph without its deleted faces")
        self.add(alive, vectors)

    # -- search ---------------------------------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(face ids, distances), each (Q, k'), nearest first; ids are -1 where fewer were found."""
        q = np.atleast_2d(np.asarray(queries, np.float32))
        if self._hnsw is None:
            pos, dist = nearest(q, self._vectors[:self._n], k)
            return self._ids[:self._n][pos] if pos.size else pos, dist
        fetch = k + min(len(self._dead), 4 * k)  # tombstones may take places in the result
        # one thread for a few queries: an OpenMP team waiting on a busy core costs milliseconds
        _threads(1 if len(q) < 16 else BUILD_THREADS)
        d2, ids = self._hnsw.search(q, fetch)
        if self._dead:
            out_ids = np.full((len(q), k), -1, np.int64)
            out_d = np.full((len(q), k), np.inf, np.float32)
            for row in range(len(q)):
                keep = [j for j in range(fetch) if ids[row, j] >= 0 and int(ids[row, j]) not in self._dead][:k]
                out_ids[row, :len(keep)] = ids[row, keep]
                out_d[row, :len(keep)] = d2[row, keep]
            ids, d2 = out_ids, out_d
        return ids[:, :k], np.sqrt(np.maximum(d2[:, :k], 0.0))

    # -- persistence ----------------------------------------------------------------------------------
    def save(self, folder: Path, generation: int, signature: str, mode: int = PRIVATE_MODE) -> None:
        """Write the index atomically-enough: data files first, then the manifest naming them.

        Args:
            folder: where (made when missing).
            generation: the store generation the index reflects.
            signature: the gallery's pipeline signature.
            mode: the files' permission bits (the gallery file's own: ``private_files.mode_of``).
        """
        private_folder(folder, mode)
        manifest = {"kind": self.kind, "dim": self.dim, "generation": generation, "signature": signature,
                    "faces": len(self)}
        tag = f"{generation}-{os.getpid()}"
        if self._hnsw is not None:
            import faiss

            name = f"hnsw-{tag}.faiss"
            open_new(folder / name, mode).close()  # faiss writes it by name: made first with its mode
            faiss.write_index(self._hnsw, str(folder / name))
            with open_new(folder / f"dead-{tag}.npy", mode) as fh:
                np.save(fh, np.array(sorted(self._dead), np.int64))
            manifest.update(file=name, dead=f"dead-{tag}.npy")
        else:
            name = f"exact-{tag}.npz"
            with open_new(folder / name, mode) as fh:
                np.savez(fh, ids=self._ids[:self._n], vectors=self._vectors[:self._n])
            manifest.update(file=name)
        tmp = folder / f"manifest-{tag}.tmp"
        with open_new(tmp, mode) as fh:
            fh.write(json.dumps(manifest).encode())
        tmp.replace(folder / "manifest.json")
        for old in folder.iterdir():  # files no manifest names any more
            if old.name not in {"manifest.json", manifest["file"], manifest.get("dead")}:
                try:
                    old.unlink()
                except OSError:
                    pass
        self.generation = generation

    @classmethod
    def load(cls, folder: Path, signature: str, ann_min_faces: int = ANN_MIN_FACES,
             ann: bool | None = None) -> "VectorIndex | None":
        """The index saved in ``folder``, or None when it is missing, unreadable or of another signature."""
        try:
            manifest = json.loads((folder / "manifest.json").read_text())
            if manifest.get("signature") != signature:
                log.warning("%s: index of another pipeline signature; rebuilding it from the store", folder)
                return None
            index = cls(int(manifest["dim"]), ann_min_faces, ann)
            if manifest["kind"] == "hnsw":
                if not index.allow_ann:
                    log.info("%s: faiss is not installed; searching exactly instead of the saved HNSW graph", folder)
                    return None
                import faiss

                raw = faiss.read_index(str(folder / manifest["file"]))
                graph = faiss.downcast_index(raw)
                graph.referenced_objects = [raw]  # the wrapper read_index returned owns the C++ index
                faiss.downcast_index(graph.index).hnsw.efSearch = HNSW_EF_SEARCH
                index._hnsw = graph
                index._hnsw_ids = set(faiss.vector_to_array(graph.id_map).tolist())
                index._dead = set(np.load(folder / manifest["dead"]).tolist())
            else:
                with np.load(folder / manifest["file"]) as data:
                    index._ids = data["ids"].astype(np.int64)
                    index._vectors = np.ascontiguousarray(data["vectors"], np.float32).reshape(len(index._ids), index.dim)
                index._n = len(index._ids)
            index.generation = int(manifest["generation"])
            return index
        except FileNotFoundError:
            return None
        except Exception as exc:  # a damaged cache is rebuilt, never trusted
            log.warning("%s: unreadable gallery index (%s); rebuilding it from the store", folder, exc)
            return None

    def vector(self, face_id: int) -> np.ndarray | None:
        """The indexed vector of one face (for consistency checks), None if absent."""
        if self._hnsw is not None:
            if face_id not in self._hnsw_ids or face_id in self._dead:
                return None
            return self._hnsw.reconstruct(int(face_id))
        where = np.flatnonzero(self._ids[:self._n] == face_id)
        return self._vectors[where[0]].copy() if len(where) else None

"""The local vector index of an SQLite gallery, as a cache of its store.

The index (``VectorIndex``: exact, or HNSW above a measured size) is saved beside the store
(``<gallery>.index/``) and remembers the store generation it reflects. Before each search it is
brought up to that generation (faces added, faces removed); when its files are missing, damaged
or of another pipeline it is rebuilt from the store. The gallery's own writes are applied to it
directly when nothing else changed the store meanwhile.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from faceprint.errors import GalleryError
from faceprint.gallery.index import ANN_MIN_FACES, VectorIndex
from faceprint.gallery.private_files import mode_of
from faceprint.gallery.store import Store

log = logging.getLogger(__name__)

NO_INDEX = -2  # the mark while no index is loaded: never a store generation


class IndexCache:
    """A ``VectorIndex`` kept in sync with a store by generation, and saved beside it. Thread-safe.

    Args:
        store: the gallery's store (its ``path`` names where the index is saved).
        signature: the gallery's pipeline signature; a saved index of another one is rebuilt.
        ann_min_faces: faces above which the index becomes an HNSW graph (None: ``ANN_MIN_FACES``).
        ann: False to always search exactly; None uses HNSW when faiss is installed.
    """

    def __init__(self, store: Store, signature: str, ann_min_faces: int | None = None,
                 ann: bool | None = None) -> None:
        self.store = store
        self.signature = signature
        self.folder = Path(store.path).with_name(Path(store.path).name + ".index")
        self._ann_min = ANN_MIN_FACES if ann_min_faces is None else int(ann_min_faces)
        self._ann = ann
        self._lock = threading.RLock()
        self._index: VectorIndex | None = None
        self._unsaved = 0

    # -- what it answers ------------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        """``"exact"`` or ``"hnsw"``."""
        return self._ready().kind

    @property
    def dim(self) -> int:
        """The indexed vectors' dimension."""
        return self._ready().dim

    def __len__(self) -> int:
        return len(self._ready())

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest faces of each query, as the store holds them now.

        Args:
            queries: (Q, dim) or (dim,) vectors.
            k: faces per query.

        Returns:
            (face ids, Euclidean distances), each (Q, k), nearest first; ids are -1 where fewer exist.
        """
        with self._lock:
            return self._ready().search(queries, k)

    def describe(self) -> str:
        """The index in words: its kind, parameters and size."""
        with self._lock:
            return self._ready().describe()

    # -- keeping up with the store --------------------------------------------------------------------
    def mark(self) -> int:
        """The generation the loaded index reflects, taken before the gallery's own write."""
        with self._lock:
            return NO_INDEX if self._index is None else self._index.generation

    def written(self, mark: int, changed: bool, added: tuple[np.ndarray, np.ndarray] | None = None,
                removed: Sequence[int] = ()) -> None:
        """After the gallery's own write: apply it when it was the store's only change since ``mark``.

        Args:
            mark: what ``mark()`` said before the write.
            changed: whether the write changed the store (moved its generation on by one).
            added: the (ids, vectors) it added.
            removed: the face ids it removed.
        """
        with self._lock:
            index = self._index
            if index is None:
                return
            if changed and index.generation == mark and self.store.generation() == mark + 1:
                if added is not None and len(added[0]):
                    index.add(*added)
                index.remove(removed)
                index.generation = mark + 1
                self._unsaved += (0 if added is None else len(added[0])) + len(removed)
            else:
                self._sync()

    def save(self, force: bool = False) -> None:
        """Write the index when worth it: the exact index after any change, the HNSW graph once
        about 1 % of it changed (or always with ``force``)."""
        with self._lock:
            index = self._index
            if index is None or (not self._unsaved and not force):
                return
            if force or index.kind == "exact" or self._unsaved >= max(1, len(index) // 100):
                try:  # the owner may always write its cache, whatever the gallery file's own mode
                    index.save(self.folder, index.generation, self.signature, mode_of(self.store.path) | 0o600)
                except OSError as exc:  # a cache: the next open rebuilds it from the store
                    log.warning("could not save the gallery's index beside it (%s); it is rebuilt when needed", exc)
                    return
                self._unsaved = 0

    def close(self) -> None:
        """Save what changed."""
        self.save(force=self._unsaved > 0)

    def check(self, sample: int = 1000) -> tuple[list[str], list[str], int]:
        """Whether the index holds exactly the store's faces with the same vectors.

        A missing or stale index on disk is brought up to date and saved, and said so.

        Args:
            sample: stored faces whose vectors are compared with the index's.

        Returns:
            (problems, repairs done, faces in the store).
        """
        problems: list[str] = []
        repaired: list[str] = []
        with self._lock:
            on_disk = VectorIndex.load(self.folder, self.signature, self._ann_min, self._ann)
            generation = self.store.generation()
            if on_disk is None and self.store.count():
                repaired.append("no usable index on disk: built from the store")
            elif on_disk is not None and on_disk.generation != generation:
                repaired.append(f"index on disk was at store generation {on_disk.generation}, store at {generation}: updated")
            if self._index is None:
                self._index = on_disk
            index = self._ready()
            store_ids = self.store.ids()
            index_ids = index.ids()
            missing = np.setdiff1d(store_ids, index_ids)
            extra = np.setdiff1d(index_ids, store_ids)
            if len(missing):
                problems.append(f"{len(missing)} stored faces are missing from the index (e.g. {missing[:5].tolist()})")
            if len(extra):
                problems.append(f"the index holds {len(extra)} faces the store does not (e.g. {extra[:5].tolist()})")
            picks = [] if not len(store_ids) else np.random.default_rng(0).choice(
                store_ids, size=min(sample, len(store_ids)), replace=False)
            differ = 0
            for ids, vectors in self.store.vectors(list(picks)) if len(picks) else ():
                for fid, vec in zip(ids, vectors):
                    got = index.vector(int(fid))
                    if got is not None and not np.allclose(got, vec, atol=1e-6):
                        differ += 1
            if differ:
                problems.append(f"{differ} of {len(picks)} sampled faces have another vector in the index than in the store")
            if repaired:
                self.save(force=True)
        return problems, repaired, len(store_ids)

    # -- plumbing -------------------------------------------------------------------------------------
    def _ready(self) -> VectorIndex:
        """The index, loaded or built, and brought up to the store's generation."""
        with self._lock:
            if self._index is None:
                index = VectorIndex.load(self.folder, self.signature, self._ann_min, self._ann)
                if index is None:
                    dim = self.store.meta("dim")
                    index = VectorIndex(int(dim) if dim else 128, self._ann_min, self._ann)
                self._index = index
            if self._sync():
                self.save()  # a (re)build from the store is worth keeping at once
            return self._index

    def _sync(self) -> bool:
        """Bring the index up to the store: add faces it lacks, drop faces the store no longer has.

        Returns:
            Whether any face was added or removed.
        """
        index = self._index
        generation = self.store.generation()
        if index.generation == generation:
            return False
        store_ids = self.store.ids()
        index_ids = index.ids()
        missing = np.setdiff1d(store_ids, index_ids, assume_unique=True)
        extra = np.setdiff1d(index_ids, store_ids, assume_unique=True)
        index.remove(extra.tolist())
        for ids, vectors in self.store.vectors(missing.tolist() if len(missing) < len(store_ids) else None):
            if index.dim != vectors.shape[1]:
                if len(index):
                    raise GalleryError(f"{self.store.path}: vectors of {vectors.shape[1]} and {index.dim} dimensions")
                self._index = index = VectorIndex(vectors.shape[1], self._ann_min, self._ann)
            index.add(ids, vectors)
        index.generation = generation
        self._unsaved += len(missing) + len(extra)
        if len(missing) or len(extra):
            log.info("%s: index brought up to the store: %d faces added, %d removed", self.store.path,
                     len(missing), len(extra))
            return True
        return False

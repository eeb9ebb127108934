"""A gallery's own changes: each written to the store and applied to its searcher too, under
one lock, so that a local index follows without reading the store again."""

from __future__ import annotations

import threading
from typing import Any, Callable, Sequence, TypeVar

import numpy as np

from faceprint.errors import GalleryError, GalleryMismatch
from faceprint.gallery.store import NewFace, Store

T = TypeVar("T")
COMMIT_BATCH = 10_000  # faces per transaction for vectors given at once (imports, add_vectors)


class Writer:
    """Writes to a store, applied to its searcher. Thread-safe (one lock around each write).

    Args:
        store: the gallery's store.
        searcher: its ``Searcher``.
        model: the gallery's model (stored with each face).
        signature: the gallery's pipeline signature (stored with each face).
    """

    def __init__(self, store: Store, searcher: Any, model: str, signature: str) -> None:
        self.store = store
        self.searcher = searcher
        self.model = model
        self.signature = signature
        self.lock = threading.RLock()
        self.last_ids: list[int] = []  # the face ids the last commit added

    def change(self, write: Callable[[], T], removed: Callable[[T], Sequence[int]] = lambda _: (),
               save: bool = False) -> T:
        """Run one write that moves the store's generation on (a rename, a delete).

        Args:
            write: the store call.
            removed: the face ids it removed, from its result.
            save: save the searcher afterwards (when it is worth it).

        Returns:
            What ``write`` returned.
        """
        with self.lock:
            mark = self.searcher.mark()
            result = write()
            self.searcher.written(mark, changed=True, removed=list(removed(result)))
            if save:
                self.searcher.save()
            return result

    def commit(self, batch: list[tuple[Any, NewFace]], add: Callable[..., list[int | None]] | None = None) -> int:
        """Store one batch of faces in one transaction, and index the new ones.

        Args:
            batch: ``(subject name, face)`` pairs; subjects are created as needed.
            add: the store call that writes the batch (default ``store.add_faces``; the people
                store's ``add_assigned`` takes ``(person id, face)`` pairs).

        Returns:
            The faces added (photos the gallery holds already are skipped).

        Raises:
            GalleryMismatch: vectors of another dimension than the gallery's.
            GalleryError: a batch of vectors of several dimensions.
        """
        dims = {int(np.asarray(f.vector).size) for _, f in batch}
        value = self.store.meta("dim")
        if not value:
            if len(dims) != 1:
                raise GalleryError(f"one batch of vectors of several sizes {sorted(dims)}")
            self.store.set_meta("dim", str(next(iter(dims))))
        elif dims != {int(value)}:
            raise GalleryMismatch(f"{self.store.path} holds {value}-d vectors, these are {sorted(dims)}-d")
        with self.lock:
            mark = self.searcher.mark()
            new_ids = (add or self.store.add_faces)(batch, self.model, self.signature)
            self.last_ids = [i for i in new_ids if i is not None]
            keep = [i for i, fid in enumerate(new_ids) if fid is not None]
            ids = np.array([new_ids[i] for i in keep], np.int64)
            vectors = np.stack([batch[i][1].vector for i in keep]).astype(np.float32) if keep else None
            self.searcher.written(mark, changed=bool(keep), added=(ids, vectors) if keep else None)
        return len(keep)

    def commit_all(self, faces: list[tuple[str, NewFace]]) -> int:
        """``commit`` in batches of ``COMMIT_BATCH``, then save the searcher.

        Args:
            faces: ``(subject name, face)`` pairs.

        Returns:
            The faces added.
        """
        added = sum(self.commit(faces[start:start + COMMIT_BATCH]) for start in range(0, len(faces), COMMIT_BATCH))
        self.searcher.save()
        return added

    def add_missing_subjects(self, subjects: Sequence[tuple[str, dict]]) -> None:
        """Create the subjects the store lacks (an import's), with their metadata.

        Args:
            subjects: ``(name, metadata)`` pairs.
        """
        existing = {s.name for s in self.store.subjects()}
        for name, metadata in subjects:
            if name not in existing:
                self.store.add_subject(name, metadata)

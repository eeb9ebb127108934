"""What ``Gallery`` searches through: one ``Searcher`` per gallery, whatever its backend.

SQLite galleries search a local index kept in sync with the store
(``faceprint.gallery.index_cache.IndexCache``); Milvus galleries search Milvus's own index
(``faceprint.gallery.milvus_store.MilvusSearcher``). Both answer the same protocol, so the
gallery has one code path; ``SEARCHERS`` names the searcher of each store scheme, imported when
a gallery opens.
"""

from __future__ import annotations

import importlib
from typing import Protocol, Sequence

import numpy as np

from faceprint.gallery.store import Store

# Store.scheme -> "module:Class" of the searcher that serves it
SEARCHERS = {
    "sqlite": "faceprint.gallery.index_cache:IndexCache",
    "milvus": "faceprint.gallery.milvus_store:MilvusSearcher",
}


class Searcher(Protocol):
    """Nearest faces of one gallery's store, always answering for the store as it is now.

    ``mark()`` before and ``written()`` after the gallery's own write let a cache apply that
    write itself instead of reading the store again.
    """

    kind: str

    @property
    def dim(self) -> int: ...
    def __len__(self) -> int: ...
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...
    def describe(self) -> str: ...
    def mark(self) -> int: ...
    def written(self, mark: int, changed: bool, added: tuple[np.ndarray, np.ndarray] | None = None,
                removed: Sequence[int] = ()) -> None: ...
    def save(self, force: bool = False) -> None: ...
    def close(self) -> None: ...
    def check(self, sample: int = 1000) -> tuple[list[str], list[str], int]: ...


def open_searcher(store: Store, signature: str, ann_min_faces: int | None = None,
                  ann: bool | None = None) -> Searcher:
    """The searcher of an open store.

    Args:
        store: the gallery's store.
        signature: the gallery's pipeline signature (a saved index of another one is not used).
        ann_min_faces: faces above which a local index searches an HNSW graph (None: its default).
        ann: False to always search exactly; None uses HNSW when faiss is installed.

    Returns:
        The searcher for the store's backend.
    """
    module, _, name = SEARCHERS[store.scheme].partition(":")
    searcher = getattr(importlib.import_module(module), name)
    return searcher(store, signature, ann_min_faces, ann)

"""What a gallery needs from a storage backend: the ``Store`` protocol, the types every backend
shares, and the gallery URIs that name a backend.

A plain path or ``sqlite:///path`` names an SQLite file (``faceprint.gallery.sqlite_store``);
``milvus://host:19530/name`` and ``milvus-lite:///path/name.db`` a Milvus gallery
(``faceprint.gallery.milvus_store``). Backends import this module, never each other; this module
names them only in ``BACKENDS`` and imports the one a URI asks for when it is opened.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Protocol, Sequence

import numpy as np

from faceprint.errors import GalleryError
from faceprint.gallery.types import FaceRecord, Subject

# scheme -> "module:Class" of its Store, imported when a gallery of that scheme is opened
BACKENDS = {
    "sqlite": "faceprint.gallery.sqlite_store:SqliteStore",
    "milvus": "faceprint.gallery.milvus_store:MilvusStore",
}
MILVUS_DEFAULT_PREFIX = "faceprint"
MILVUS_CONSISTENCY_LEVELS = ("Strong", "Bounded", "Session", "Eventually")


class NoGallery(GalleryError):
    """Opened with ``create=False`` where no gallery exists."""


@dataclass(frozen=True)
class NewFace:
    """A face to store: its vector and where it came from."""

    vector: np.ndarray
    sha256: str
    box: list[float]
    source: str | None = None
    photo: bytes | None = None
    face_index: int = 0  # which face of its photo (several when a photo library is added)
    thumbnail: bytes | None = None  # a small JPEG crop of the face
    quality: float | None = None


class Store(Protocol):
    """What a gallery needs from a storage backend.

    ``scheme`` names the backend (a key of ``BACKENDS``); ``generation()`` is a counter every
    change of faces or names moves on, so that a cache of the store knows when it is stale.
    """

    scheme: str
    path: Path | str

    def meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def add_subject(self, name: str, metadata: dict | None = None) -> Subject: ...
    def subjects(self) -> list[Subject]: ...
    def subject(self, name: str) -> Subject: ...
    def rename(self, name: str, new_name: str) -> Subject: ...
    def delete_subject(self, name: str) -> list[int]: ...
    def add_faces(self, batch: Sequence[tuple[str, NewFace]], model: str, signature: str) -> list[int | None]: ...
    def faces(self, name: str | None = None) -> list[FaceRecord]: ...
    def delete_face(self, face_id: int) -> None: ...
    def photo(self, face_id: int) -> bytes | None: ...
    def face_subjects(self, ids: Sequence[int]) -> dict[int, str]: ...
    def known_sha256(self, digests: Sequence[str]) -> dict[str, str]: ...
    def ids(self) -> np.ndarray: ...
    def vectors(self, ids: Sequence[int] | None = None, chunk: int = 50_000) -> Iterator[tuple[np.ndarray, np.ndarray]]: ...
    def count(self) -> int: ...
    def generation(self) -> int: ...
    def signatures(self) -> dict[str, int]: ...
    def integrity(self) -> list[str]: ...
    def close(self) -> None: ...


def open_store(uri: str | Path, create: bool = True) -> Store:
    """The store a gallery URI names.

    Args:
        uri: ``sqlite:///path/to/gallery.db`` or a plain path (SQLite), or a Milvus URI
            (``milvus://host:19530/name``, ``milvus-lite:///path/name.db``).
        create: create the gallery when it does not exist.

    Returns:
        The open store.

    Raises:
        NoGallery: ``create`` is False and there is no gallery there.
        GalleryError: the URI names no backend, or something that is not a gallery.
    """
    scheme, target = parse_uri(uri)
    module, _, name = BACKENDS[scheme].partition(":")
    backend = getattr(importlib.import_module(module), name)
    return backend(target, create=create)


def store_exists(uri: str | Path) -> bool:
    """Whether ``uri`` names an existing gallery store.

    Args:
        uri: a gallery URI or path (as ``open_store`` takes it).

    Returns:
        True for an existing gallery (a file, a milvus-lite folder or a Milvus server's collections).

    Raises:
        GalleryError: a store exists there but is not a gallery.
    """
    try:
        open_store(uri, create=False).close()
    except NoGallery:
        return False
    return True


def parse_uri(uri: str | Path) -> tuple[str, Path | str]:
    """The backend a gallery URI names and what that backend opens.

    Args:
        uri: a path, ``sqlite:///path``, or a Milvus URI.

    Returns:
        ``("sqlite", Path)`` or ``("milvus", uri as text)``.

    Raises:
        GalleryError: a URI of a scheme no backend serves.
    """
    text = str(uri)
    if is_milvus_uri(text):
        return "milvus", text
    if text.startswith("sqlite://"):
        text = text[len("sqlite://"):]
        text = text[1:] if text.startswith("//") else text  # sqlite:////abs -> /abs
    elif text.startswith("sqlite:/"):  # sqlite:///abs as a pathlib.Path (a CLI option) collapses it
        text = text[len("sqlite:"):]
    elif "://" in text:
        scheme = text.split("://", 1)[0]
        raise GalleryError(f"{uri}: no gallery backend for {scheme!r} here; use a path, sqlite:///path, "
                           "milvus://host:19530/name or milvus-lite:///path/name.db")
    return "sqlite", Path(text)


def is_milvus_uri(uri: str | Path) -> bool:
    """Whether ``uri`` names a Milvus gallery.

    Args:
        uri: a gallery URI or path.

    Returns:
        True for ``milvus://``, ``milvus+https://`` and ``milvus-lite://`` URIs (also with the
        slashes a ``pathlib.Path`` collapses).
    """
    return re.match(r"^(milvus|milvus\+https|milvus-lite):", str(uri)) is not None


def parse_milvus_uri(uri: str) -> dict[str, Any]:
    """Split a Milvus gallery URI into what ``MilvusStore`` needs.

    Args:
        uri: ``milvus://host:port[/name]``, ``milvus+https://...``, ``milvus-lite:///path/name.db``
            (or ``milvus:///path/name.db``), each optionally followed by ``?consistency=...`` and
            ``&prefix=...``.

    Returns:
        ``{"lite": Path | None, "address": "http://host:port" | None, "prefix", "consistency", "uri"}``;
        ``uri`` is the URI in canonical form (``milvus://host:port/name``, whatever slashes a
        ``pathlib.Path`` collapsed), the one messages show.

    Raises:
        GalleryError: the URI is not a usable Milvus URI (the message says which part).
    """
    text = str(uri)
    match = re.match(r"^(milvus|milvus\+https|milvus-lite):/*(.*)$", text)
    if match is None:
        raise GalleryError(f"{uri}: not a Milvus URI; use milvus://host:19530/name or milvus-lite:///path/name.db")
    scheme, rest = match.groups()
    query: dict[str, str] = {}
    if "?" in rest:
        rest, _, qs = rest.partition("?")
        query = dict(part.split("=", 1) for part in qs.split("&") if "=" in part)
    consistency = query.pop("consistency", "Strong").capitalize()
    if consistency not in MILVUS_CONSISTENCY_LEVELS:
        raise GalleryError(f"{uri}: consistency {consistency!r} is not one of {', '.join(MILVUS_CONSISTENCY_LEVELS)}")
    prefix = query.pop("prefix", None)
    if query:
        raise GalleryError(f"{uri}: unknown option(s) {', '.join(query)}; only consistency= and prefix= are understood")
    # a local folder: milvus-lite://..., or milvus:///abs/path.db (no host), or a path ending in .db
    host_like = re.match(r"^[A-Za-z0-9.\-\[\]:]+:\d+(/|$)", rest) is not None
    if scheme == "milvus-lite" or (not host_like and rest.endswith(".db")):
        # three slashes (or one, as pathlib.Path leaves them) make an absolute path; two a relative one
        slashes = len(text.split(":", 1)[1]) - len(text.split(":", 1)[1].lstrip("/"))
        path = Path(("/" if slashes in (1, 3) else "") + rest)
        if path.suffix != ".db":
            raise GalleryError(f"{uri}: a milvus-lite gallery is a folder whose name ends in .db (e.g. team.db)")
        prefix = prefix or MILVUS_DEFAULT_PREFIX
        options = _milvus_options(consistency, prefix if prefix != MILVUS_DEFAULT_PREFIX else None)
        return {"lite": path, "address": None, "prefix": prefix, "consistency": consistency,
                "uri": f"milvus-lite://{'' if path.is_absolute() else './'}{path}{options}"}
    if not host_like:
        raise GalleryError(f"{uri}: expected milvus://host:port[/name] (e.g. milvus://localhost:19530/team)")
    hostport, _, name = rest.partition("/")
    name = name.strip("/") or prefix or MILVUS_DEFAULT_PREFIX
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
        raise GalleryError(f"{uri}: gallery name {name!r} must be letters, digits and underscores (a collection prefix)")
    http = "https" if scheme == "milvus+https" else "http"
    return {"lite": None, "address": f"{http}://{hostport}", "prefix": name, "consistency": consistency,
            "uri": f"{scheme}://{hostport}/{name}{_milvus_options(consistency)}"}


def _milvus_options(consistency: str, prefix: str | None = None) -> str:
    """The query part of a canonical Milvus URI: only what differs from the defaults."""
    options = [f"consistency={consistency}"] if consistency != "Strong" else []
    options += [f"prefix={prefix}"] if prefix else []
    return "?" + "&".join(options) if options else ""


def utc_now() -> str:
    """The time a row is created, as every backend stores it (ISO 8601, UTC, seconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def id_vector_arrays(ids: Sequence[int], vectors: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Face ids and their vectors as a backend read them, as ``(int64 ids, float32 (N, dim))``.

    Args:
        ids: face ids, in the order of ``vectors``.
        vectors: each vector as float32 bytes (SQLite's blobs) or a list of floats (Milvus's rows).

    Returns:
        The two arrays, row for row.
    """
    count = len(ids)
    ids_array = np.fromiter((int(i) for i in ids), dtype=np.int64, count=count)
    if count and isinstance(vectors[0], (bytes, bytearray, memoryview)):
        matrix = np.frombuffer(b"".join(vectors), dtype=np.float32)
    else:
        matrix = np.asarray(vectors, dtype=np.float32)
    return ids_array, matrix.reshape(count, -1)

"""The photos ``People.add_photos`` takes: folders expanded, each photo read and hashed once, its
pixels decoded once for the thumbnails of its faces."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Iterator, Sequence

from faceprint.errors import BadInput


def photo_items(sources: Sequence[Any] | Any) -> list[tuple[str, Any]]:
    """(label, source) per photo: folders expanded (recursively, image files only), in name order."""
    from faceprint.images import is_image_path

    if isinstance(sources, (str, os.PathLike, bytes)):
        sources = [sources]
    items: list[tuple[str, Any]] = []
    for number, source in enumerate(sources):
        if isinstance(source, (str, os.PathLike)):
            source = Path(source).expanduser()
        if isinstance(source, Path) and source.is_dir():
            found = sorted(p for p in Path(source).rglob("*") if p.is_file() and is_image_path(p))
            if not found:
                raise BadInput(f"{source}: no photos in this folder (looked for image files in it and below)")
            items += [(str(p), p) for p in found]
        elif isinstance(source, (str, os.PathLike)):
            items.append((str(source), Path(source)))
        elif isinstance(source, (bytes, bytearray, memoryview)):
            items.append((f"<input {number}>", bytes(source)))
        else:
            raise BadInput(f"cannot add a {type(source).__name__}: give paths, folders or encoded bytes")
    return items


def batches(items: list, size: int) -> Iterator[list]:
    """``items`` in lists of ``size``."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def read_photo(source: Any) -> tuple[bytes, str]:
    """A photo's bytes and their sha256."""
    if isinstance(source, Path):
        if not source.is_file():
            raise BadInput("no such file")
        data = source.read_bytes()
    else:
        data = bytes(source)
    return data, hashlib.sha256(data).hexdigest()


def decoded(data: bytes) -> Any:
    """The photo's RGB pixels for thumbnails (None when it cannot be decoded)."""
    from faceprint.errors import BadImage
    from faceprint.images import load_image

    try:
        return load_image(data)
    except BadImage:
        return None


def thumbnail_of(image: Any, box: list[float]) -> bytes | None:
    """The face's thumbnail, None without pixels."""
    from faceprint.gallery.thumbnails import face_thumbnail

    return None if image is None else face_thumbnail(image, box)

"""Image sources: read and hashed once (ReadSource, read_source), decoded with messages that name them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

import faceprint
from faceprint.errors import BadImage, BadInput
from faceprint.pipeline.sources import ReadSource, decode, read_source, renamed, source_label


def test_read_source_gives_the_bytes_and_their_hash(photos: list[Path]) -> None:
    data = photos[0].read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    assert read_source(photos[0]) == (data, digest)
    assert read_source(str(photos[0])) == (data, digest)
    assert read_source(bytearray(data)) == (data, digest)
    with photos[0].open("rb") as handle:
        assert read_source(handle) == (data, digest)
    array = np.zeros((4, 4, 3), np.uint8)
    assert read_source(array)[0] is array and read_source(array)[1] is None
    given = ReadSource(b"not hashed again", "f" * 64, "x.jpg")
    assert read_source(given) == (b"not hashed again", "f" * 64)
    assert source_label(given, 3) == "x.jpg" and source_label(b"", 3) == "<3>"
    with pytest.raises(BadInput, match="cannot read an image from a int"):
        read_source(7)
    with pytest.raises(OSError):
        read_source(photos[0].parent / "missing.jpg")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_read_source_is_embedded_without_reading_its_file_again(photos: list[Path], workers: int,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from faceprint.pipeline import sources

    expected = faceprint.embed_many(photos)
    given = [ReadSource(*read_source(p), label=str(p)) for p in photos]  # type: ignore[misc]
    reads = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: reads.append(self) or real(self))
    monkeypatch.setattr(sources.hashlib, "sha256", lambda *a: pytest.fail("hashed again"))
    again = faceprint.embed_many(given, workers=workers)  # workers get the bytes, not the paths
    assert reads == []
    assert [r.source for r in again] == [str(p) for p in photos]
    assert [r.sha256 for r in again] == [r.sha256 for r in expected]
    for a, b in zip(again, expected):
        np.testing.assert_array_equal(a.faces[0].vector, b.faces[0].vector)




def test_the_bytes_placeholder_is_renamed_in_one_place() -> None:
    with pytest.raises(BadImage, match=r"^photo\.png: not an image"):
        decode(b"not an image", "photo.png")
    with pytest.raises(BadImage, match=r"^not an image"):
        decode(b"not an image")
    assert str(renamed(BadImage("<bytes>: the file is empty"), "")) == "the file is empty"

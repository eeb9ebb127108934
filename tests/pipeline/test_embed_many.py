"""embed_many: every face of every image, in order, bad files reported in their result."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

import faceprint


@pytest.fixture(scope="module")
def mixed_sources(lfw: Path, tmp_path_factory: pytest.TempPathFactory) -> list:
    folder = tmp_path_factory.mktemp("mixed")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.jpg").write_text("not an image")
    blank = np.full((120, 160, 3), 128, np.uint8)
    return [lfw / "Colin_Powell" / "Colin_Powell_0001.jpg", folder / "missing.jpg", folder / "empty.jpg",
            blank, (lfw / "Tony_Blair" / "Tony_Blair_0001.jpg").read_bytes(), folder / "text.jpg"]


def test_one_result_per_source_in_order_with_problems(mixed_sources: list) -> None:
    results = faceprint.embed_many(mixed_sources)
    assert len(results) == len(mixed_sources)
    assert results[0].source.endswith("Colin_Powell_0001.jpg") and results[0].ok
    assert results[1].error is not None and "cannot read" in results[1].error
    assert results[2].error is not None and results[5].error is not None
    assert results[3].error is None and results[3].problem == "no face found" and results[3].sha256 is None
    assert results[4].source == "<4>" and results[4].ok and len(results[4].sha256) == 64
    for r in results:
        for face in r.faces:
            assert face.vector.shape == (128,)
            assert abs(float(np.linalg.norm(face.vector)) - 1.0) < 1e-5
    assert len({r.signature for r in results}) == 1 and results[0].signature.startswith("dlib:")


def test_vectors_equal_the_per_image_path(mixed_sources: list) -> None:
    results = faceprint.embed_many(mixed_sources[:1])
    single, _ = faceprint.embed_face(mixed_sources[0])
    np.testing.assert_allclose(results[0].nearest_center().vector, single.vector, atol=1e-5)


def test_every_face_of_a_group_photo(group_photo: np.ndarray, lfw: Path) -> None:
    (result,) = faceprint.embed_many([group_photo])
    assert len(result.faces) >= 6  # LFW photos have people in the background too
    assert (result.width, result.height) == (group_photo.shape[1], group_photo.shape[0])
    largest: dict[tuple[int, int], faceprint.Embedding] = {}
    for face in result.faces:
        box = face.detection.box
        tile = (int(box.center[0] // 250), int(box.center[1] // 250))
        if tile not in largest or box.width > largest[tile].detection.box.width:
            largest[tile] = face
    assert len(largest) == 6
    names = ["Aaron_Peirsol", "Angelina_Jolie", "Colin_Powell", "George_W_Bush", "Serena_Williams", "Tony_Blair"]
    solo = np.stack([faceprint.embed_face(lfw / n / f"{n}_0001.jpg")[0].vector for n in names])
    for (column, row), face in largest.items():
        distances = np.linalg.norm(solo - face.vector, axis=1)
        assert int(np.argmin(distances)) == row * 3 + column  # each tile's face is its own person


def test_workers_give_the_same_results(lfw: Path) -> None:
    files = sorted((lfw / "George_W_Bush").glob("*.jpg"))[:70] + [lfw / "no_such.jpg"]
    one = faceprint.embed_many(files, batch_size=16)
    two = faceprint.embed_many(files, workers=2, batch_size=16)
    assert [r.source for r in one] == [r.source for r in two] == [str(f) for f in files]
    assert two[-1].error is not None
    for a, b in zip(one, two):
        assert len(a.faces) == len(b.faces)
        for fa, fb in zip(a.faces, b.faces):
            np.testing.assert_allclose(fa.vector, fb.vector, atol=1e-5)


def test_progress_callable_counts_every_source(mixed_sources: list) -> None:
    seen: list[int] = []
    faceprint.embed_many(mixed_sources, progress=seen.append)
    assert sum(seen) == len(mixed_sources)


def test_bad_workers_value() -> None:
    with pytest.raises(ValueError):
        faceprint.embed_many([], workers=0)


def test_progress_bar_draws_on_stderr_not_stdout(photo: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture) -> None:
    import rich

    monkeypatch.setenv("FORCE_COLOR", "1")  # a terminal, so the bar draws at all
    monkeypatch.setattr(rich, "_console", None)  # rich's global console, made again under that
    results = faceprint.embed_many([photo, photo], progress=True)
    assert [r.ok for r in results] == [True, True]
    out, err = capsys.readouterr()
    assert out == ""  # stdout carries the JSON
    assert err  # the bar drew (and erased itself) on stderr


@pytest.mark.parametrize("workers", [1, 2])
def test_bad_sources_are_reported_per_item_not_raised(photo: Path, workers: int) -> None:
    sources = [photo, 42, "bad\0name.jpg", io.StringIO("text"), photo.open("rb"), None, photo.read_bytes()]
    results = faceprint.embed_many(sources, workers=workers)
    assert len(results) == len(sources)
    assert [r.ok for r in results] == [True, False, False, False, True, False, True]
    assert "cannot read an image from a int" in results[1].error
    assert "give a path, bytes, a file or an array" in results[5].error
    assert results[2].source == "bad\0name.jpg" and "path" in results[2].error
    assert "binary mode" in results[3].error
    assert results[4].sha256 == results[6].sha256 == results[0].sha256
    np.testing.assert_array_equal(results[4].faces[0].vector, results[0].faces[0].vector)

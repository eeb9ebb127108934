"""The Parquet index folder of `faceprint index` without Ray: rows of a photo, parts written whole,
a damaged part set aside on resume, and a folder of another pipeline refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("pyarrow")

from faceprint.errors import BadInput  # noqa: E402
from faceprint.scale.parquet_io import COLUMNS, IndexFolder, read_index, result_rows, rows_table  # noqa: E402
from faceprint.types import Box, Detection, Embedding, ImageFaces  # noqa: E402

SIG = "dlib:abc"


def _face(x: float, seed: int) -> Embedding:
    v = np.random.default_rng(seed).normal(size=128)
    landmarks = np.arange(10, dtype=np.float64).reshape(5, 2) + x
    return Embedding((v / np.linalg.norm(v)).astype(np.float32), "dlib", Detection(Box(x, 10, x + 50, 60), 0.9, landmarks))


def _photo(path: str, *xs: float) -> ImageFaces:
    return ImageFaces(path, tuple(_face(x, k) for k, x in enumerate(xs)), sha256=f"sha-{path}", width=300,
                      height=100, signature=SIG)


def test_result_rows_one_per_face_or_one_for_none() -> None:
    photo = _photo("two.jpg", 10, 125)  # the second face is nearer the centre (150, 50)
    rows = result_rows("two.jpg", photo, photo.sha256, None, "dlib", SIG)
    assert [r["face"] for r in rows] == [0, 1] and all(r["faces"] == 2 for r in rows)
    assert [r["nearest_center"] for r in rows] == [False, True]
    assert rows[1]["box"] == [125.0, 10.0, 175.0, 60.0] and rows[1]["landmarks"][:2] == [125.0, 126.0]
    assert np.array_equal(rows[0]["vector"], photo.faces[0].vector) and rows[0]["error"] is None
    assert set(rows[0]) == set(COLUMNS)

    (none,) = result_rows("wall.jpg", ImageFaces("wall.jpg", sha256="s", width=20, height=10), "s", None, "dlib", SIG)
    assert (none["face"], none["faces"], none["width"], none["error"], none["vector"]) == (-1, 0, 20, None, [])
    (bad,) = result_rows("bad.jpg", ImageFaces("bad.jpg", error="the file is empty"), "h", None, "dlib", SIG)
    assert bad["face"] == -1 and bad["error"] == "the file is empty" and bad["width"] is None
    (unread,) = result_rows("gone.jpg", None, None, "cannot read (Permission denied)", "dlib", SIG)
    assert unread["error"] == "cannot read (Permission denied)" and unread["sha256"] is None
    table = rows_table(rows + [none, bad, unread])
    assert table.num_rows == 5 and table.schema.names == list(COLUMNS)


def test_parts_resume_and_a_damaged_part_is_set_aside(tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    folder = IndexFolder(tmp_path / "index")
    folder.open("dlib", SIG, {"flip": True})
    manifest = json.loads((tmp_path / "index" / "index.json").read_text())
    assert manifest["signature"] == SIG and manifest["columns"] == COLUMNS
    assert folder.write_part(rows_table([])) is None  # nothing to write, no part
    first = _photo("a.jpg", 10)
    second = _photo("b.jpg", 10, 125)
    folder.write_part(rows_table(result_rows("a.jpg", first, first.sha256, None, "dlib", SIG)))
    damaged = folder.write_part(rows_table(result_rows("b.jpg", second, second.sha256, None, "dlib", SIG)))
    assert folder.done() == ({"sha-a.jpg": {"a.jpg"}, "sha-b.jpg": {"b.jpg"}}, 2)
    (folder.parts / "part-x.tmp").write_bytes(b"a part being written when the run was killed")

    damaged.write_bytes(damaged.read_bytes()[:100])  # cut short
    again = IndexFolder(tmp_path / "index")
    again.open("dlib", SIG, {"flip": True})  # same pipeline: goes on
    assert not list(again.parts.glob("*.tmp"))
    with caplog.at_level("WARNING"):
        done, parts = again.done()
    assert (done, parts) == ({"sha-a.jpg": {"a.jpg"}}, 1)  # b.jpg will be indexed again
    assert damaged.with_suffix(".bad").exists() and not damaged.exists() and "setting aside" in caplog.text
    assert read_index(tmp_path / "index")["path"].to_pylist() == ["a.jpg"]


def test_a_folder_of_another_pipeline_is_refused(tmp_path) -> None:
    IndexFolder(tmp_path / "index").open("dlib", SIG, {"flip": True})
    with pytest.raises(BadInput, match="another --out folder"):
        IndexFolder(tmp_path / "index").open("dlib", "dlib:other", {"flip": False})
    with pytest.raises(BadInput, match="not an index folder"):
        read_index(tmp_path / "nowhere")


def test_a_copy_gets_the_indexed_rows_under_its_own_path(tmp_path) -> None:
    """Same bytes at a new path: the rows of the indexed photo (every face, or its error), renamed."""
    folder = IndexFolder(tmp_path / "index")
    folder.open("dlib", SIG, {"flip": True})
    two = _photo("two.jpg", 10, 125)
    folder.write_part(rows_table(result_rows("two.jpg", two, two.sha256, None, "dlib", SIG)))
    bad = ImageFaces("bad.jpg", error="the file is empty")
    folder.write_part(rows_table(result_rows("bad.jpg", bad, "sha-bad", None, "dlib", SIG)))
    folder.write_part(rows_table(result_rows("z/two.jpg", two, two.sha256, None, "dlib", SIG)))  # a copy indexed already
    assert folder.done()[0] == {"sha-two.jpg": {"two.jpg", "z/two.jpg"}, "sha-bad": {"bad.jpg"}}

    copied = folder.copied_rows({"new/two.jpg": "sha-two.jpg", "new/bad.jpg": "sha-bad"}).to_pylist()
    assert [(r["path"], r["face"]) for r in copied] == [("new/two.jpg", 0), ("new/two.jpg", 1), ("new/bad.jpg", -1)]
    original = [r for r in folder.read().to_pylist() if r["path"] == "two.jpg"]
    assert [{**r, "path": "two.jpg"} for r in copied[:2]] == original  # one source photo's rows, not both copies'
    assert copied[2]["error"] == "the file is empty" and copied[2]["sha256"] == "sha-bad"

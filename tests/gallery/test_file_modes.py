"""A gallery's files hold people's names and face vectors: the SQLite file (and its -wal, -shm),
the index saved beside it and its exports are made readable by their owner only (0600), whatever
the umask; a file that exists keeps the mode its owner gave it."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


@pytest.fixture(autouse=True)
def open_umask():
    """The usual umask (0644 files): the modes below are faceprint's, not the test's."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def export_with_faces(tmp_path: Path, faces: int = 12) -> Path:
    """An export of a dlib gallery holding ``faces`` made-up unit vectors of 3 people."""
    from faceprint.gallery import Gallery

    with Gallery(tmp_path / "empty.db", create=True) as g:
        path = g.export(tmp_path / "empty.npz")
    with np.load(path) as data:
        header = json.loads(bytes(data["header"]).decode())
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(faces, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    header["subjects"] = [{"name": f"person {i}", "metadata": {}} for i in range(3)]
    header["faces"] = [{"subject": f"person {i % 3}", "sha256": f"{i:064x}", "box": [0, 0, 10, 10], "source": None}
                       for i in range(faces)]
    full = tmp_path / "full.npz"
    with open(full, "wb") as fh:
        np.savez_compressed(fh, header=np.frombuffer(json.dumps(header).encode(), np.uint8), vectors=vectors)
    return full


def test_a_new_gallery_its_wal_its_index_and_its_export_are_0600(tmp_path):
    from faceprint.gallery import Gallery

    source = export_with_faces(tmp_path)
    db = tmp_path / "team.db"
    with Gallery(db, create=True) as g:
        assert g.import_(source) == 12
        assert len(g.identify_vectors(np.eye(128, dtype=np.float32)[:1], 1)) == 1  # the index is built
        sidecars = [p for p in (tmp_path / "team.db-wal", tmp_path / "team.db-shm") if p.exists()]
        assert sidecars  # WAL mode: both exist while it is open
        assert {p.name: mode(p) for p in [db, *sidecars]} == {p.name: 0o600 for p in [db, *sidecars]}
        exported = g.export(tmp_path / "out" / "team.npz")
    assert mode(exported) == 0o600
    index = tmp_path / "team.db.index"
    files = list(index.iterdir())
    assert files and {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    assert mode(index) == 0o700


def test_existing_files_keep_their_mode_and_the_index_follows_the_gallery(tmp_path):
    from faceprint.gallery import Gallery

    source = export_with_faces(tmp_path)
    db = tmp_path / "shared.db"
    with Gallery(db, create=True) as g:
        g.import_(source)
    os.chmod(db, 0o640)  # an operator gave a group read access
    export = tmp_path / "shared.npz"
    export.write_bytes(b"")
    os.chmod(export, 0o640)
    with Gallery(db) as g:
        assert g.import_(export_with_faces(tmp_path, 20)) == 8  # faces 12-19 are new: the index is saved again
        g.identify_vectors(np.eye(128, dtype=np.float32)[:1], 1)  # the index is built, saved on close
        g.export(export)
    assert mode(db) == 0o640 and mode(export) == 0o640 and mode(tmp_path / "shared.db.index") == 0o750
    files = list((tmp_path / "shared.db.index").iterdir())
    assert files and all(mode(f) == 0o640 for f in files), {f.name: oct(mode(f)) for f in files}


def test_the_helpers_ignore_the_umask(tmp_path):
    from faceprint.gallery.private_files import create_private, folder_mode, mode_of, open_new, private_folder

    os.umask(0o077)
    assert create_private(tmp_path / "a", 0o640) and mode(tmp_path / "a") == 0o640
    assert not create_private(tmp_path / "a")  # there already: left as it is
    with open_new(tmp_path / "a", 0o600) as fh:  # a file left at the name is replaced
        fh.write(b"x")
    assert mode(tmp_path / "a") == 0o600 and mode_of(tmp_path / "a") == 0o600
    assert mode_of(tmp_path / "missing") == 0o600 and mode_of("milvus://db:19530/team") == 0o600
    assert folder_mode(0o600) == 0o700 and folder_mode(0o640) == 0o750
    assert mode(private_folder(tmp_path / "x" / "y", 0o640)) == 0o750


def test_a_read_only_gallery_still_gets_a_writable_index_folder() -> None:
    """Its owner may always write the index cache beside a gallery, whatever the gallery file's mode."""
    from faceprint.gallery.private_files import folder_mode

    assert folder_mode(0o444) & 0o700 == 0o700 and folder_mode(0o400) & 0o700 == 0o700
    assert folder_mode(0o600) == 0o700 and folder_mode(0o640) == 0o750


def test_an_index_that_cannot_be_saved_does_not_fail_a_search(tmp_path: Path, monkeypatch) -> None:
    """The index beside a gallery is a cache: a folder it cannot be written to is logged, not raised."""
    import numpy as np

    from faceprint import Gallery
    from faceprint.gallery import index as index_module

    tried = []

    def refuse(*args, **kwargs):
        tried.append(args)
        raise PermissionError(13, "Permission denied", str(tmp_path / "g.db.index"))

    monkeypatch.setattr(index_module.VectorIndex, "save", refuse)
    with Gallery(tmp_path / "g.db") as g:
        g.add_vectors(["Ann", "Bob"], np.eye(128, dtype=np.float32)[:2])
        assert g.identify_vectors(np.eye(128, dtype=np.float32)[1:2], top_k=1)[0][0].subject == "Bob"
    assert tried  # the gallery did try to save it

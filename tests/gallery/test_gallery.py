"""The persistent gallery on real faces: enrol, identify, upkeep, crash safety, the index."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from lfw_people import ENROLLED, people_folder, photos
from markers import needs_mfn

from faceprint import Gallery
from faceprint.errors import GalleryError, GalleryMismatch, UnknownFace, UnknownSubject

STRANGERS = ["Gerhard_Schroeder", "Jennifer_Aniston", "Hugo_Chavez"]


@pytest.fixture(scope="module")
def people(lfw: Path, tmp_path_factory) -> Path:
    return people_folder(lfw, tmp_path_factory.mktemp("people"))


@pytest.fixture(scope="module")
def enrolled(people: Path, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("gallery") / "team.db"
    with Gallery(path) as g:
        report = g.enrol_folder(people)
    assert report.added == 3 * len(ENROLLED)
    assert list(report.problems) == [str(people / "Tony_Blair" / "broken.jpg")]
    return path


def copy_gallery(src: Path, dst_dir: Path) -> Path:
    """A private copy (SQLite backup API, so a WAL gallery copies whole) for tests that change it."""
    dst = dst_dir / src.name
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    return dst


def test_identify_enrolled_people_and_strangers(enrolled: Path, lfw: Path) -> None:
    with Gallery(enrolled) as g:
        assert len(g) == 12 and [s.name for s in g.subjects()] == ENROLLED
        for name in ENROLLED:
            found = g.identify(photos(lfw, name, 5, 1)[0], top_k=3)
            central = min(found, key=lambda f: abs(f.detection.box.center[0] - 125) + abs(f.detection.box.center[1] - 125))
            assert central.name == name, (name, central.to_dict())
            assert central.distance <= central.threshold and len(central.candidates) == 3
            assert [c.distance for c in central.candidates] == sorted(c.distance for c in central.candidates)
        for name in STRANGERS:
            for photo in photos(lfw, name, 0, 2):
                assert {f.name for f in g.identify(photo)} == {"unknown"}, (photo, [f.to_dict() for f in g.identify(photo)])


def test_group_photo_names_every_enrolled_face(enrolled: Path, group_photo: np.ndarray) -> None:
    with Gallery(enrolled) as g:
        found = g.identify(group_photo)
    assert len(found) >= 6  # LFW photos have people in the background too
    # the grid is 2 rows of 3 tiles of 250 px: Aaron_Peirsol, Angelina_Jolie, Colin_Powell / Bush, Williams, Blair;
    # in each tile its portrait is the face of highest detector score
    tile: dict = {}
    for f in sorted(found, key=lambda f: f.detection.score):
        tile[(int(f.detection.box.center[1] // 250), int(f.detection.box.center[0] // 250))] = f.name
    assert tile == {(0, 0): "unknown", (0, 1): "unknown", (0, 2): "Colin_Powell",
                    (1, 0): "George_W_Bush", (1, 1): "Serena_Williams", (1, 2): "Tony_Blair"}
    assert json.dumps([f.to_dict() for f in found])


def test_enrol_is_idempotent_and_reports_bad_and_faceless(enrolled: Path, people: Path, tmp_path: Path,
                                                          group_photo: np.ndarray) -> None:
    path = copy_gallery(enrolled, tmp_path)
    with Gallery(path) as g:
        again = g.enrol_folder(people)
        assert (again.added, again.skipped_duplicates, len(g)) == (0, 12, 12)
        blank = np.full((200, 200, 3), 128, np.uint8)
        report = g.enrol("Crowd", [group_photo, blank, tmp_path / "missing.jpg"])
        assert report.added == 1
        assert report.problems == {"<input 1>": "no face found", str(tmp_path / "missing.jpg"): "no such file"}
        assert any("faces found; enrolled the one nearest the centre" in n for n in report.notes)
        # the same photo under another name is still one face, and the report says whose it is
        same = g.enrol("Someone_Else", [people / "Tony_Blair" / sorted(os.listdir(people / "Tony_Blair"))[0]])
        assert same.added == 0 and same.skipped_duplicates == 1 and "enrolled already as 'Tony_Blair'" in same.notes[0]
        assert g.check().ok


def test_subject_operations_and_errors(enrolled: Path, tmp_path: Path, lfw: Path) -> None:
    path = copy_gallery(enrolled, tmp_path)
    with Gallery(path) as g:
        with pytest.raises(GalleryError):
            g.add_subject("Tony_Blair")
        assert g.add_subject("Nobody_Yet", {"team": "red"}).metadata == {"team": "red"}
        with pytest.raises(UnknownSubject):
            g.subject("Nobody")
        with pytest.raises(UnknownFace):
            g.delete_face(10_000)
        renamed = g.rename("Tony_Blair", "Anthony Blair")
        assert renamed.faces == 3
        probe = photos(lfw, "Tony_Blair", 5, 1)[0]
        assert "Anthony Blair" in {f.name for f in g.identify(probe)}
        face = g.faces("Colin_Powell")[0]
        g.delete_face(face.id)
        assert g.subject("Colin_Powell").faces == 2
        assert g.delete_subject("Anthony Blair") == 3
        assert {f.name for f in g.identify(probe)} == {"unknown"}
        assert len(g) == 8 and g.check().ok
    with Gallery(path) as g:  # reopened: the saved index agrees with the store
        report = g.check()
        assert report.ok and report.faces == 8 and not report.repaired


def test_one_model_per_gallery(enrolled: Path) -> None:
    with pytest.raises(GalleryMismatch):
        Gallery(enrolled, model="mobilefacenet")
    with pytest.raises(GalleryMismatch):
        Gallery(enrolled, flip=False)  # a setting that changes the vectors
    with Gallery(enrolled, model=None) as g:
        assert g.model == "dlib"
        with pytest.raises(GalleryMismatch):
            g.identify_vectors(np.ones((1, 128), np.float32) / np.sqrt(128), signature="other:123")
        with pytest.raises(GalleryMismatch):
            g.identify_vectors(np.ones((1, 192), np.float32) / np.sqrt(192))


@needs_mfn
def test_python_gallery_default_model_is_the_stored_one(tmp_path: Path) -> None:
    path = tmp_path / "mfn.db"
    with Gallery(path, model="mobilefacenet") as g:
        signature = g.signature
    with Gallery(path) as g:  # the stored model, not a GalleryMismatch against the default dlib
        assert g.model == "mobilefacenet" and g.signature == signature
    with Gallery(tmp_path / "new.db") as g:  # a new gallery without a model: dlib
        assert g.model == "dlib"


def test_index_is_rebuilt_when_missing_damaged_or_stale(enrolled: Path, tmp_path: Path, lfw: Path) -> None:
    path = copy_gallery(enrolled, tmp_path)
    probe = photos(lfw, "Serena_Williams", 6, 1)[0]
    with Gallery(path) as g:
        expected = [f.to_dict() for f in g.identify(probe)]
    index_dir = path.with_name(path.name + ".index")
    assert (index_dir / "manifest.json").exists()
    (index_dir / json.loads((index_dir / "manifest.json").read_text())["file"]).write_bytes(b"garbage")
    with Gallery(path) as g:
        assert [f.to_dict() for f in g.identify(probe)] == expected
        assert g.check().ok
    # another process (here another instance) enrols: a gallery already open sees it before searching
    with Gallery(path) as reader, Gallery(path) as writer:
        reader.identify_vectors(np.eye(128, dtype=np.float32)[:1])
        writer.enrol("Serena_Williams", [probe])
        named = reader.identify(probe)
        assert min(f.distance for f in named) < 2e-3
        assert reader.check().ok


def test_export_import_roundtrip(enrolled: Path, tmp_path: Path) -> None:
    with Gallery(enrolled) as g:
        exported = g.export(tmp_path / "team.npz")
        vectors = np.concatenate([v for _, v in g.face_vectors()])
    with Gallery(tmp_path / "copy.db") as h:
        assert h.import_(exported) == 12
        assert h.import_(exported) == 0
        assert [(s.name, s.faces) for s in h.subjects()] == [(n, 3) for n in ENROLLED]
        found = h.identify_vectors(vectors[:1], top_k=1)[0][0]
        assert found.distance < 2e-3
    with Gallery(tmp_path / "other.db", flip=False) as other:
        with pytest.raises(GalleryMismatch):
            other.import_(exported)


def test_hnsw_index_matches_exact_and_survives_deletes(tmp_path: Path) -> None:
    pytest.importorskip("faiss")
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((100, 128)).astype(np.float32)
    vectors = centres.repeat(4, axis=0) + 0.5 * rng.standard_normal((400, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    names = [f"p{i // 4}" for i in range(400)]
    exact = Gallery(tmp_path / "exact.db", ann=False)
    ann = Gallery(tmp_path / "ann.db", ann_min_faces=200)
    for g in (exact, ann):
        g.add_vectors(names, vectors)
    assert ann.index_description().startswith("hnsw") and exact.index_description().startswith("exact")
    queries = vectors[::7] + 0.3 * rng.standard_normal((58, 128)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    same = [[c.subject for c in a] == [c.subject for c in b]
            for a, b in zip(exact.identify_vectors(queries, 5), ann.identify_vectors(queries, 5))]
    assert np.mean(same) >= 0.98
    graph = ann._searcher._index._hnsw
    extra = rng.standard_normal((5, 128)).astype(np.float32)
    ann.add_vectors(["late"] * 5, extra / np.linalg.norm(extra, axis=1, keepdims=True))
    assert ann._searcher._index._hnsw is graph and len(ann._searcher) == 405  # extended, not rebuilt
    assert ann.identify_vectors(extra[0] / np.linalg.norm(extra[0]), 1)[0][0].subject == "late"
    for g in (exact, ann):
        g.delete_subject("p3")
    assert all(c.subject != "p3" for c in ann.identify_vectors(vectors[12:16], 5)[0])
    assert ann.check().ok
    exact.close()
    ann.close()
    with Gallery(tmp_path / "ann.db", ann_min_faces=200) as again:  # loaded from disk, tombstones kept
        assert again.index_description().startswith("hnsw") and ", 401 faces," in again.index_description()
        assert all(c.subject != "p3" for c in again.identify_vectors(vectors[12:16], 5)[0])
        assert again.check().ok


def test_thread_safe_searches_during_enrol(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    vectors = rng.standard_normal((2000, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    errors: list[BaseException] = []
    with Gallery(tmp_path / "t.db") as g:
        g.add_vectors([f"p{i}" for i in range(100)], vectors[:100])

        def search() -> None:
            try:
                for i in range(60):
                    best = g.identify_vectors(vectors[i % 100], top_k=1)[0][0]
                    assert best.subject == f"p{i % 100}" and best.distance < 2e-3
            except BaseException as exc:  # noqa: BLE001 (reported below)
                errors.append(exc)

        threads = [threading.Thread(target=search) for _ in range(3)]
        for t in threads:
            t.start()
        for start in range(100, 2000, 100):
            g.add_vectors([f"p{i}" for i in range(start, start + 100)], vectors[start:start + 100])
        for t in threads:
            t.join()
        assert not errors and len(g) == 2000 and g.check().ok


def test_schema_migration_and_uris(tmp_path: Path) -> None:
    from faceprint.gallery.sqlite_store import _SCHEMA_V1
    from faceprint.gallery.store import open_store

    old = tmp_path / "v1.db"
    with sqlite3.connect(old) as db:
        db.executescript(_SCHEMA_V1)
        db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    with Gallery(f"sqlite:///{old}") as g:
        assert g._store.meta("schema_version") == "3" and len(g) == 0
    with pytest.raises(GalleryError, match="no gallery backend"):
        open_store("redis://localhost:6379/faces")
    with pytest.raises(GalleryError, match="no gallery here"):
        Gallery(tmp_path / "absent.db", create=False)
    (tmp_path / "junk.db").write_bytes(b"junk" * 100)
    with pytest.raises(GalleryError, match="not a faceprint gallery"):
        Gallery(tmp_path / "junk.db")


KILLED_ENROL = textwrap.dedent("""
    import sys
    from pathlib import Path
    from faceprint import Gallery
    from faceprint.gallery import enrolment as module
    module.ENROL_BATCH = 8
    files = [Path(line) for line in Path(sys.argv[2]).read_text().split()]
    with Gallery(sys.argv[1]) as g:
        report = g.enrol("Many", files)
    print(report.added, report.skipped_duplicates)
""")


@pytest.mark.slow
def test_sigkill_mid_enrol_leaves_committed_batches_and_rerun_completes(lfw: Path, tmp_path: Path) -> None:
    files = [p for name in ("Ariel_Sharon", "Hugo_Chavez", "Jean_Chretien") for p in photos(lfw, name, 0, 16)]
    listing = tmp_path / "files.txt"
    listing.write_text("\n".join(map(str, files)))
    path = tmp_path / "killed.db"
    script = tmp_path / "enrol.py"
    script.write_text(KILLED_ENROL)
    proc = subprocess.Popen([sys.executable, str(script), str(path), str(listing)])
    deadline = time.time() + 300
    count = 0
    while time.time() < deadline and proc.poll() is None:
        if path.exists():
            try:
                with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
                    count = db.execute("SELECT COUNT(*) FROM faces").fetchone()[0]
            except sqlite3.OperationalError:
                count = 0
            if count >= 8:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "the enrol finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with Gallery(path) as g:
        assert g.check().ok
        sources = [f.source for f in g.faces()]
        assert 8 <= len(sources) < len(files)
        assert len(sources) % 8 == 0, "only whole batches of 8 (every one of these photos has a face)"
        assert sources == [str(p) for p in files[:len(sources)]]
    rerun = subprocess.run([sys.executable, str(script), str(path), str(listing)], capture_output=True, text=True,
                           timeout=600)
    added, skipped = map(int, rerun.stdout.split())
    assert skipped >= len(sources) and added + skipped == len(files)
    with Gallery(path) as g:
        assert len(g) == len(files) and len({f.sha256 for f in g.faces()}) == len(files)
        assert g.check().ok

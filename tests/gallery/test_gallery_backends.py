"""The gallery on both backends (SQLite and Milvus through milvus-lite): the same operations on
the same real faces give the same results. Milvus tests skip when pymilvus/milvus-lite are absent
(``pip install -e '.[milvus]'``)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from lfw_people import ENROLLED, people_folder, photos

from faceprint import Gallery
from faceprint.errors import GalleryError, SubjectExists, UnknownFace, UnknownSubject
from faceprint.gallery.milvus_store import milvus_available
from faceprint.gallery.store import parse_milvus_uri as parse_uri

STRANGERS = ["Gerhard_Schroeder", "Hugo_Chavez"]
BACKENDS = ["sqlite", "milvus-lite"]


needs_milvus = pytest.mark.skipif(not milvus_available(lite=True), reason="pymilvus/milvus-lite not installed: pip install -e '.[milvus]'")


def uri(backend: str, folder: Path, name: str = "g") -> str:
    if backend == "milvus-lite":
        if not milvus_available(lite=True):
            pytest.skip("pymilvus/milvus-lite not installed: pip install -e '.[milvus]'")
        return f"milvus-lite://{folder / (name + '.db')}"
    return str(folder / f"{name}.db")


@pytest.fixture(scope="module")
def people(lfw: Path, tmp_path_factory) -> Path:
    return people_folder(lfw, tmp_path_factory.mktemp("people"))


@pytest.fixture(scope="module")
def probes(lfw: Path) -> dict[str, np.ndarray]:
    """One embedded face per probe photo (enrolled people's unseen photos, then strangers)."""
    from faceprint import embed_many

    files = [p for n in ENROLLED for p in photos(lfw, n, 5, 1)] + [p for n in STRANGERS for p in photos(lfw, n, 0, 2)]
    found = embed_many(files)
    return {str(f): r.nearest_center().vector for f, r in zip(files, found)}


def lite_servers() -> set[str]:
    if not milvus_available(lite=True):
        return set()
    from milvus_lite.server_manager import server_manager_instance

    return set(server_manager_instance._servers)


def summary(found) -> list[list[tuple[str, int, float]]]:
    return [[(c.subject, c.face_id, round(c.distance, 4)) for c in cands] for cands in found]


def test_same_results_on_both_backends(people: Path, probes: dict[str, np.ndarray], tmp_path: Path) -> None:
    """Enrol, identify, rename, delete and check, side by side: the backends agree on everything."""
    out = {}
    for backend in [b for b in BACKENDS if b == "sqlite" or milvus_available(lite=True)]:  # SQLite's half runs anyway
        with Gallery(uri(backend, tmp_path, backend)) as g:
            report = g.enrol_folder(people)
            assert report.added == 12 and list(report.problems) == [str(people / "Tony_Blair" / "broken.jpg")]
            again = g.enrol_folder(people)
            assert (again.added, again.skipped_duplicates) == (0, 12)
            vectors = np.stack(list(probes.values()))
            before = summary(g.identify_vectors(vectors, top_k=3))
            limit = g.threshold()
            named = [c[0].subject if c and c[0].distance <= limit else "unknown" for c in g.identify_vectors(vectors, 3)]
            g.rename("Tony_Blair", "Anthony Blair")
            face = g.faces("Colin_Powell")[0]
            g.delete_face(face.id)
            removed = g.delete_subject("Serena_Williams")
            after = summary(g.identify_vectors(vectors, top_k=3))
            out[backend] = {"before": before, "after": after, "named": named, "removed": removed, "len": len(g),
                            "subjects": [(s.name, s.faces) for s in g.subjects()], "threshold": limit,
                            "faces": [(f.id, f.subject, f.sha256, f.box, f.source) for f in g.faces()],
                            "check": g.check().to_dict()}
        with Gallery(uri(backend, tmp_path, backend)) as g:  # reopened: the same again, nothing to repair
            report = g.check()
            assert report.ok and report.faces == 8 and not report.repaired, report.to_dict()
            assert summary(g.identify_vectors(np.stack(list(probes.values())), top_k=3)) == out[backend]["after"]
    sqlite = out["sqlite"]
    assert sqlite["named"] == ENROLLED + ["unknown"] * 4  # the probes: 4 enrolled people, then 4 strangers
    assert sqlite["subjects"] == [("Anthony Blair", 3), ("Colin_Powell", 2), ("George_W_Bush", 3)]
    assert sqlite["check"]["ok"] and sqlite["removed"] == 3 and sqlite["len"] == 8
    if "milvus-lite" in out:
        milvus = out["milvus-lite"]
        for key in ("named", "removed", "len", "subjects", "threshold", "faces"):
            assert milvus[key] == sqlite[key], key
        for key in ("before", "after"):  # same ids and names; distances to 1e-4 (float32 sums)
            assert [[c[:2] for c in row] for row in milvus[key]] == [[c[:2] for c in row] for row in sqlite[key]]
            assert np.allclose([[c[2] for c in r] for r in milvus[key]], [[c[2] for c in r] for r in sqlite[key]], atol=2e-4)
        assert milvus["check"]["ok"] and milvus["check"]["index"].startswith("milvus HNSW")


@pytest.mark.parametrize("backend", BACKENDS)
def test_identify_photo_and_errors(backend: str, people: Path, lfw: Path, tmp_path: Path) -> None:
    with Gallery(uri(backend, tmp_path)) as g:
        g.enrol_folder(people)
        found = g.identify(photos(lfw, "George_W_Bush", 5, 1)[0], top_k=2)
        assert "George_W_Bush" in {f.name for f in found}
        assert {f.name for f in g.identify(photos(lfw, "Hugo_Chavez", 0, 1)[0])} == {"unknown"}
        with pytest.raises(SubjectExists, match="exists already"):
            g.add_subject("Tony_Blair")
        assert g.add_subject("Nobody_Yet", {"team": "red"}).metadata == {"team": "red"}
        assert g.subject("Nobody_Yet").faces == 0
        with pytest.raises(UnknownSubject):
            g.subject("Nobody")
        with pytest.raises(UnknownFace):
            g.delete_face(10_000)
        with pytest.raises(SubjectExists, match="exists already"):
            g.rename("Tony_Blair", "Colin_Powell")
        with pytest.raises(GalleryError):
            g.add_subject("unknown")
        name = "O'Brien \"Jr\" é"  # quotes and accents survive Milvus filter expressions
        g.rename("Tony_Blair", name)
        assert g.subject(name).faces == 3 and [f.subject for f in g.faces(name)] == [name] * 3


@needs_milvus
def test_export_import_between_backends(people: Path, probes: dict[str, np.ndarray], tmp_path: Path) -> None:
    """Moving SQLite -> Milvus -> SQLite by export/import keeps every face and vector."""
    vectors = np.stack(list(probes.values()))
    with Gallery(uri("sqlite", tmp_path, "a")) as a:
        a.enrol_folder(people)
        expected = summary(a.identify_vectors(vectors, 3))
        exported = a.export(tmp_path / "a.npz")
        stored = np.concatenate([v for _, v in a.face_vectors()])
    with Gallery(uri("milvus-lite", tmp_path, "m")) as m:
        assert m.import_(exported) == 12 and m.import_(exported) == 0
        assert summary(m.identify_vectors(vectors, 3)) == summary(m.identify_vectors(vectors, 3))
        assert [[c[0] for c in r] for r in summary(m.identify_vectors(vectors, 3))] == [[c[0] for c in r] for r in expected]
        back = m.export(tmp_path / "m.npz")
        assert np.array_equal(np.concatenate([v for _, v in m.face_vectors()]), stored)
    with Gallery(uri("sqlite", tmp_path, "b")) as b:
        assert b.import_(back) == 12
        assert summary(b.identify_vectors(vectors, 3)) == expected


@needs_milvus
def test_hnsw_in_milvus_agrees_with_exact_sqlite_and_deletes(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((250, 128)).astype(np.float32)
    vectors = centres.repeat(4, axis=0) + 0.5 * rng.standard_normal((1000, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    names = [f"p{i // 4}" for i in range(1000)]
    queries = vectors[::9] + 0.3 * rng.standard_normal((112, 128)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    with Gallery(uri("sqlite", tmp_path, "s"), ann=False) as s, Gallery(uri("milvus-lite", tmp_path, "m")) as m:
        for g in (s, m):
            assert g.add_vectors(names, vectors) == 1000
        same = [[c.subject for c in a] == [c.subject for c in b]
                for a, b in zip(s.identify_vectors(queries, 5), m.identify_vectors(queries, 5))]
        assert np.mean(same) >= 0.98
        for g in (s, m):
            g.delete_subject("p3")
        assert all(c.subject != "p3" for c in m.identify_vectors(vectors[12:16], 5)[0])
        assert len(m) == len(s) == 996 and m.check().ok


@needs_milvus
def test_milvus_check_finds_what_a_crash_leaves_and_photos_are_refused(people: Path, lfw: Path,
                                                                       tmp_path: Path) -> None:
    with Gallery(uri("milvus-lite", tmp_path)) as g:
        g.enrol_folder(people)
        with pytest.raises(GalleryError, match="does not keep photos"):
            g.enrol("Colin_Powell", photos(lfw, "Colin_Powell", 8, 1), keep_photos=True)
        assert g.subject("Colin_Powell").faces == 3
        store = g._store
        sid = store.subject("Colin_Powell").id
        # what a crash between deleting a subject's faces and its row would leave, reversed: an orphan
        store.client.delete(store._collections["subjects"], ids=[sid])
        report = g.check()
        assert not report.ok and "3 faces belong to a subject that is not in the gallery" in report.problems


def test_milvus_uris_and_failures(tmp_path: Path) -> None:
    assert parse_uri("milvus://db.example:19530/team") == {"lite": None, "address": "http://db.example:19530",
                                                          "prefix": "team", "consistency": "Strong"}
    assert parse_uri("milvus:/db.example:19530")["prefix"] == "faceprint"  # as pathlib.Path leaves it
    assert parse_uri("milvus-lite:///srv/g.db?consistency=bounded")["lite"] == Path("/srv/g.db")
    assert parse_uri(str(Path("milvus-lite:///srv/g.db")))["lite"] == Path("/srv/g.db")
    assert parse_uri("milvus+https://h:443/x")["address"] == "https://h:443"
    for bad in ("milvus://h:1/bad-name", "milvus-lite:///srv/g.sqlite", "milvus://h:1/x?consistency=sometimes",
                "milvus://nohostport"):
        with pytest.raises(GalleryError):
            parse_uri(bad)
    if not milvus_available(lite=True):
        if not milvus_available():
            with pytest.raises(GalleryError, match="needs pymilvus"):
                Gallery("milvus://127.0.0.1:9/nowhere")
        pytest.skip("pymilvus/milvus-lite not installed")
    from faceprint.errors import GalleryUnavailable

    with pytest.raises(GalleryUnavailable, match="cannot reach Milvus"):  # the service answers 503
        Gallery("milvus://127.0.0.1:9/nowhere")
    with pytest.raises(GalleryError, match="no gallery here"):
        Gallery(uri("milvus-lite", tmp_path, "absent"), create=False)


@needs_milvus
def test_milvus_lite_server_is_stopped_when_the_last_gallery_closes(tmp_path: Path) -> None:
    path = uri("milvus-lite", tmp_path)
    folder = str(parse_uri(path)["lite"])
    threads_before = {t.ident for t in threading.enumerate()}
    a = Gallery(path)
    b = Gallery(path)  # a second gallery on the same folder shares the in-process server
    a.add_vectors(["x"], np.eye(128, dtype=np.float32)[:1])
    assert b.identify_vectors(np.eye(128, dtype=np.float32)[:1], 1)[0][0].subject == "x"
    a.close()
    assert folder in lite_servers()
    b.close()
    assert folder not in lite_servers()
    # threads other tests may leave (kept embedding worker pools) are not milvus-lite's: compare before/after
    assert not [t for t in threading.enumerate() if not t.daemon and t.ident not in threads_before]


KILLED_WRITER = """
import sys
import numpy as np
from faceprint import Gallery
rng = np.random.default_rng(3)
with Gallery(sys.argv[1]) as g:
    for batch in range(1000):
        v = rng.standard_normal((100, 128)).astype(np.float32)
        g.add_vectors([f"p{batch}"] * 100, v / np.linalg.norm(v, axis=1, keepdims=True))
        print(batch, flush=True)
"""


@needs_milvus
@pytest.mark.slow
def test_milvus_lite_keeps_whole_batches_after_sigkill(tmp_path: Path) -> None:
    """A writer killed mid-enrol: each add_faces request is in or out whole, and the gallery
    reopens (the folder lock dies with the process) and checks clean."""
    import signal
    import subprocess
    import sys

    path = uri("milvus-lite", tmp_path)
    script = tmp_path / "writer.py"
    script.write_text(KILLED_WRITER)
    proc = subprocess.Popen([sys.executable, str(script), path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    try:
        done = [proc.stdout.readline() for _ in range(4)]
        assert all(line.strip() for line in done), "the writer stopped early"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    with Gallery(path) as g:
        faces = len(g)
        assert faces >= 400 and faces % 100 == 0
        counts = [s.faces for s in g.subjects()]
        # a kill between a batch's new subject and its faces leaves that subject empty, nothing worse
        assert counts.count(100) == faces // 100 and set(counts) <= {0, 100} and counts.count(0) <= 1
        report = g.check()
        assert report.ok, report.problems


@needs_milvus
def test_milvus_lite_folder_open_in_another_process_is_one_line_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = uri("milvus-lite", tmp_path)
    with Gallery(path):
        run = subprocess.run([sys.executable, "-m", "faceprint.cli.main", "gallery", "list", "-g", path],
                             capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines() == [run.stderr.strip()] and "another process has this" in run.stderr

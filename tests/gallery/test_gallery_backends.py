"""The gallery on every backend (SQLite, Milvus through milvus-lite, and a real Milvus 2.3 server
started by ``conftest.milvus_server``): the same operations on the same real faces give the same
results. Milvus tests skip when pymilvus/milvus-lite are absent (``pip install -e '.[milvus]'``),
the real server's when the ``milvus`` package is (``pip install milvus``, Linux x86_64)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from lfw_people import ENROLLED, people_folder, photos

from faceprint import Gallery
from faceprint.errors import BadName, GalleryError, SubjectExists, UnknownFace, UnknownSubject
from faceprint.gallery.milvus_store import milvus_available
from faceprint.gallery.store import parse_milvus_uri as parse_uri

STRANGERS = ["Gerhard_Schroeder", "Hugo_Chavez"]
BACKENDS = ["sqlite", "milvus-lite", "milvus-server"]
MILVUS = ["milvus-lite", "milvus-server"]


needs_milvus = pytest.mark.skipif(not milvus_available(lite=True), reason="pymilvus/milvus-lite not installed: pip install -e '.[milvus]'")


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


@pytest.mark.parametrize("other", MILVUS)
def test_same_results_on_both_backends(other: str, people: Path, probes: dict[str, np.ndarray], uri) -> None:
    """Enrol, identify, rename, delete and check, side by side: the backends agree on everything."""
    out = {}
    for backend in ["sqlite", other]:
        with Gallery(uri(backend, backend)) as g:
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
        with Gallery(uri(backend, backend)) as g:  # reopened: the same again, nothing to repair
            report = g.check()
            assert report.ok and report.faces == 8 and not report.repaired, report.to_dict()
            assert summary(g.identify_vectors(np.stack(list(probes.values())), top_k=3)) == out[backend]["after"]
    sqlite = out["sqlite"]
    assert sqlite["named"] == ENROLLED + ["unknown"] * 4  # the probes: 4 enrolled people, then 4 strangers
    assert sqlite["subjects"] == [("Anthony Blair", 3), ("Colin_Powell", 2), ("George_W_Bush", 3)]
    assert sqlite["check"]["ok"] and sqlite["removed"] == 3 and sqlite["len"] == 8
    milvus = out[other]
    for key in ("named", "removed", "len", "subjects", "threshold", "faces"):
        assert milvus[key] == sqlite[key], key
    for key in ("before", "after"):  # same ids and names; distances to 1e-4 (float32 sums)
        assert [[c[:2] for c in row] for row in milvus[key]] == [[c[:2] for c in row] for row in sqlite[key]]
        assert np.allclose([[c[2] for c in r] for r in milvus[key]], [[c[2] for c in r] for r in sqlite[key]], atol=2e-4)
    assert milvus["check"]["ok"] and milvus["check"]["index"].startswith("milvus HNSW")


@pytest.mark.parametrize("backend", BACKENDS)
def test_identify_photo_and_errors(backend: str, people: Path, lfw: Path, uri) -> None:
    with Gallery(uri(backend)) as g:
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


@pytest.mark.parametrize("backend", MILVUS)
def test_export_import_between_backends(backend: str, people: Path, probes: dict[str, np.ndarray], tmp_path: Path,
                                        uri) -> None:
    """Moving SQLite -> Milvus -> SQLite by export/import keeps every face and vector."""
    vectors = np.stack(list(probes.values()))
    with Gallery(uri("sqlite", "a")) as a:
        a.enrol_folder(people)
        expected = summary(a.identify_vectors(vectors, 3))
        exported = a.export(tmp_path / "a.npz")
        stored = np.concatenate([v for _, v in a.face_vectors()])
    with Gallery(uri(backend, "m")) as m:
        assert m.import_(exported) == 12 and m.import_(exported) == 0
        assert summary(m.identify_vectors(vectors, 3)) == summary(m.identify_vectors(vectors, 3))
        assert [[c[0] for c in r] for r in summary(m.identify_vectors(vectors, 3))] == [[c[0] for c in r] for r in expected]
        back = m.export(tmp_path / "m.npz")
        assert np.array_equal(np.concatenate([v for _, v in m.face_vectors()]), stored)
    with Gallery(uri("sqlite", "b")) as b:
        assert b.import_(back) == 12
        assert summary(b.identify_vectors(vectors, 3)) == expected


@pytest.mark.parametrize("backend", MILVUS)
def test_hnsw_in_milvus_agrees_with_exact_sqlite_and_deletes(backend: str, uri) -> None:
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((250, 128)).astype(np.float32)
    vectors = centres.repeat(4, axis=0) + 0.5 * rng.standard_normal((1000, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    names = [f"p{i // 4}" for i in range(1000)]
    queries = vectors[::9] + 0.3 * rng.standard_normal((112, 128)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    with Gallery(uri("sqlite", "s"), ann=False) as s, Gallery(uri(backend, "m")) as m:
        for g in (s, m):
            assert g.add_vectors(names, vectors) == 1000
        same = [[c.subject for c in a] == [c.subject for c in b]
                for a, b in zip(s.identify_vectors(queries, 5), m.identify_vectors(queries, 5))]
        assert np.mean(same) >= 0.98
        for g in (s, m):
            g.delete_subject("p3")
        assert all(c.subject != "p3" for c in m.identify_vectors(vectors[12:16], 5)[0])
        assert len(m) == len(s) == 996 and m.check().ok


@pytest.mark.parametrize("backend", MILVUS)
def test_milvus_check_finds_what_a_crash_leaves_and_photos_are_refused(backend: str, people: Path, lfw: Path,
                                                                       uri) -> None:
    with Gallery(uri(backend)) as g:
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


def test_milvus_uris_and_failures(uri) -> None:
    assert parse_uri("milvus://db.example:19530/team") == {"lite": None, "address": "http://db.example:19530",
                                                          "prefix": "team", "consistency": "Strong",
                                                          "uri": "milvus://db.example:19530/team"}
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
        Gallery(uri("milvus-lite", "absent"), create=False)


@needs_milvus
def test_milvus_lite_server_is_stopped_when_the_last_gallery_closes(uri) -> None:
    path = uri("milvus-lite")
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
def test_milvus_lite_keeps_whole_batches_after_sigkill(tmp_path: Path, uri) -> None:
    """A writer killed mid-enrol: each add_faces request is in or out whole, and the gallery
    reopens (the folder lock dies with the process) and checks clean."""
    import signal
    import subprocess
    import sys

    path = uri("milvus-lite")
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
def test_milvus_lite_folder_open_in_another_process_is_one_line_error(uri) -> None:
    import subprocess
    import sys

    path = uri("milvus-lite")
    with Gallery(path):
        run = subprocess.run([sys.executable, "-m", "faceprint.cli.main", "gallery", "list", "-g", path],
                             capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines() == [run.stderr.strip()] and "another process has this" in run.stderr


CONTROL_NAMES = ["bell\x07", "line\nbreak", "nul\x00end", "esc\x1b[31mred", "del\x7f", "para\u2029graph", "tab\tname"]


class _Watched:
    """A Milvus client that fails the test when a request carries one of ``names`` (raw, or quoted
    in a filter expression): a bad name is refused before the store builds a request with it."""

    def __init__(self, client, names: list[str]) -> None:
        self.client = client
        self.forms = [form for name in names for form in (name, json.dumps(name)[1:-1])]

    def _check(self, value) -> None:
        if isinstance(value, str):
            assert not any(form in value for form in self.forms), f"a bad name reached Milvus: {value!r}"
        elif isinstance(value, dict):
            for item in value.values():
                self._check(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                self._check(item)

    def __getattr__(self, name: str):
        method = getattr(self.client, name)

        def call(*args, **kwargs):
            self._check([args, kwargs])
            return method(*args, **kwargs)

        return call


@pytest.mark.parametrize("backend", [
    "sqlite",
    *MILVUS])
def test_names_with_control_characters_are_bad_names_before_any_store_call(backend: str, uri) -> None:
    """A control character in a name, new or looked up, is a BadName (the service's 400) on every
    backend, never a Milvus filter error (503) or an unknown subject (404); nothing is stored."""
    vector = np.eye(128, dtype=np.float32)[:1]
    with Gallery(uri(backend)) as g:
        g.add_vectors(["Ann"], vector)
        store = g._store
        client = getattr(store, "client", None)
        if client is not None:
            store.client = _Watched(client, CONTROL_NAMES)
        try:
            for bad in CONTROL_NAMES:
                calls = {"add_vectors": lambda: g.add_vectors([bad], vector), "add_subject": lambda: g.add_subject(bad),
                         "subject": lambda: g.subject(bad), "faces": lambda: g.faces(bad),
                         "rename from": lambda: g.rename(bad, "Bob"), "rename to": lambda: g.rename("Ann", bad),
                         "delete_subject": lambda: g.delete_subject(bad),
                         "enrol": lambda: g.add_vectors(["Ann", bad], np.eye(128, dtype=np.float32)[1:3])}
                for what, call in calls.items():
                    with pytest.raises(BadName, match="control character"):
                        call()
                        pytest.fail(f"{what}({bad!r}) was accepted")
        finally:
            if client is not None:
                store.client = client
        assert [(s.name, s.faces) for s in g.subjects()] == [("Ann", 1)] and len(g) == 1


def test_milvus_server_gets_scalar_indexes_it_supports(milvus_server, uri) -> None:
    """Milvus 2.3 has no INVERTED scalar index: the store asks the server's version and builds
    Trie (VARCHAR) and STL_SORT (INT64) there, INVERTED on 2.4+ and milvus-lite."""
    from faceprint.gallery.milvus_store import scalar_index_types

    assert scalar_index_types("v2.3.5-lite") == {"VARCHAR": "Trie", "INT64": "STL_SORT"}
    assert scalar_index_types("2.4.13") == scalar_index_types("v2.5.4") == {"VARCHAR": "INVERTED", "INT64": "INVERTED"}
    assert scalar_index_types("milvus_lite-3.2.2")["VARCHAR"] == scalar_index_types("")["VARCHAR"] == "INVERTED"
    assert milvus_server.version().startswith("v2.3.")
    with Gallery(uri("milvus-server")) as g:
        g.add_vectors(["Ann", "Bob"], np.eye(128, dtype=np.float32)[:2])
        store = g._store
        kinds = {(c, f): store.client.describe_index(store._collections[c], f)["index_type"]
                 for c, f in (("faces", "sha256"), ("faces", "subject_id"), ("subjects", "name"), ("faces", "vector"))}
        assert kinds == {("faces", "sha256"): "Trie", ("faces", "subject_id"): "STL_SORT",
                         ("subjects", "name"): "Trie", ("faces", "vector"): "HNSW"}
        assert g.check().ok and g.identify_vectors(np.eye(128, dtype=np.float32)[1:2], 1)[0][0].subject == "Bob"


def test_milvus_uri_in_messages_keeps_both_slashes(milvus_server, uri) -> None:
    """A URI that went through a pathlib.Path (the CLI's --gallery, the service's settings) is shown
    as written, ``milvus://host:port/name``, not ``milvus:/host:port/name``."""
    from cli_helpers import run

    from faceprint.errors import GalleryUnavailable
    from faceprint.gallery.store import NoGallery

    with pytest.raises(GalleryUnavailable) as dead:
        Gallery(Path("milvus://127.0.0.1:9/nowhere"))
    assert str(dead.value).startswith("milvus://127.0.0.1:9/nowhere: cannot reach Milvus"), str(dead.value)
    assert parse_uri(str(Path("milvus://db.example:19530/team")))["uri"] == "milvus://db.example:19530/team"
    assert parse_uri("milvus+https://h:443/x?consistency=bounded")["uri"] == "milvus+https://h:443/x?consistency=Bounded"
    assert parse_uri(str(Path("milvus-lite:///srv/g.db")))["uri"] == "milvus-lite:///srv/g.db"
    absent = uri("milvus-server")
    with pytest.raises(NoGallery) as missing:
        Gallery(Path(absent), create=False)
    assert str(missing.value).startswith(f"{absent}: no gallery"), str(missing.value)
    with Gallery(Path(absent)) as g:
        assert str(g.path) == absent
    out = run("gallery", "show", "Nobody", "-g", absent)
    assert out.returncode != 0 and f"no subject named 'Nobody' in {absent}" in out.stderr, out.stderr


@pytest.mark.parametrize("backend", [
    "sqlite",
    *MILVUS])
def test_service_answers_400_for_control_characters_in_a_subject_name(backend: str, uri, running_service,
                                                                       tmp_path: Path) -> None:
    """Through the REST API: a name with a control character in the URL path is a 400 with a JSON
    body, on SQLite and on Milvus (where it reached a filter expression: 503)."""
    with running_service(tmp_path, gallery=uri(backend)) as svc:
        client, admin = svc["client"], svc["admin"]
        assert client.post("/v1/subjects", json={"name": "Ann"}, headers=admin).status_code == 201
        for method, path in (("GET", "/v1/subjects/bell%07"), ("DELETE", "/v1/subjects/nul%00x"),
                             ("PATCH", "/v1/subjects/esc%1B")):
            kwargs = {"json": {"name": "Bob"}} if method == "PATCH" else {}
            got = client.request(method, path, headers=admin, **kwargs)
            assert got.status_code == 400, (method, path, got.status_code, got.text)
            assert "control character" in got.text and "Traceback" not in got.text, got.text
        renamed = client.patch("/v1/subjects/Ann", json={"name": "A\x07nn"}, headers=admin)
        assert renamed.status_code in (400, 422), renamed.text
        assert client.get("/v1/subjects/Ann", headers=admin).status_code == 200


def test_local_milvus_server_listens_on_its_own_ports(milvus_server) -> None:
    """The test server takes free ports, never Milvus's fixed defaults (two can run side by side),
    and its embedded etcd listens on loopback only (Milvus 2.3 binds its gRPC ports on every
    interface whatever it is told: see docs/scale.md)."""
    import psutil

    proc = psutil.Process(milvus_server.pid)
    connections = proc.net_connections("tcp") if hasattr(proc, "net_connections") else proc.connections("tcp")
    listening = {c.laddr.port: c.laddr.ip for c in connections if c.status == psutil.CONN_LISTEN}
    etcd = (milvus_server.base_dir / "etcd.yaml").read_text()
    etcd_ports = {int(url.rsplit(":", 1)[1]) for url in etcd.split() if url.startswith("http://127.0.0.1:")}
    assert len(etcd_ports) == 2 and all(listening.get(port) == "127.0.0.1" for port in etcd_ports), (etcd, listening)
    assert milvus_server.port in listening and milvus_server.health_port in listening
    assert not set(listening) & {2379, 2380, 9091, 19529, 19530, 53100}, listening


class _Recorded:
    """A Milvus client that records each query's filter and consistency level."""

    def __init__(self, client) -> None:
        self.client, self.queries = client, []

    def __getattr__(self, name: str):
        method = getattr(self.client, name)
        if name != "query":
            return method

        def query(collection, filter="", **kwargs):
            self.queries.append((collection, filter, kwargs.get("consistency_level")))
            return method(collection, filter=filter, **kwargs)

        return query


def test_bounded_milvus_gallery_writes_with_strong_reads(uri) -> None:
    """At ?consistency=Bounded a search may lag, but the writer's own reads (id counters, the
    generation, duplicate photos, existing names) are Strong: a stale counter would hand out ids
    twice (Milvus has no unique key), a stale duplicate check would store a photo twice."""
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((40, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with Gallery(uri("milvus-server") + "?consistency=Bounded") as g:
        store = g._store
        g.add_vectors(["warm"], vectors[:1], keys=["k0"])
        client, store.client = store.client, _Recorded(store.client)
        try:
            for start in range(1, 40, 13):  # batches back to back, each read right after the last write
                names = [f"p{i % 7}" for i in range(start, start + 13)]
                assert g.add_vectors(names, vectors[start:start + 13], keys=[f"k{i}" for i in range(start, start + 13)]) == 13
            assert g.add_vectors(["p1"], vectors[5:6], keys=["k5"]) == 0  # the same photo again: skipped
            g.rename("p1", "q1")
            recorded = store.client.queries
        finally:
            store.client = client
        checks = [(f, level) for _, f, level in recorded
                  if f.startswith(('key in ["next_', 'key in ["generation"]', "sha256 in", "name in", "name =="))]
        assert len(checks) >= 12 and all(level == "Strong" for _, level in checks), checks
        ids = g._store.ids()
        assert len(ids) == len(set(ids.tolist())) == 40 and ids.tolist() == list(range(1, 41))
        assert sorted(s.name for s in g.subjects()) == sorted({"warm", "q1", *(f"p{i}" for i in (0, 2, 3, 4, 5, 6))})

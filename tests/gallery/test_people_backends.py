"""People on every backend (SQLite, milvus-lite, a real Milvus server): the same real LFW faces
and the same corrections give the same people; export/import keeps people, thumbnails and
corrections. Milvus runs skip where pymilvus/milvus-lite or the server package are missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from lfw_people import ENROLLED, photos

from faceprint import Gallery
from faceprint.errors import BadName, SubjectExists

BACKENDS = ["sqlite", "milvus-lite", "milvus-server"]


@pytest.fixture(scope="module")
def faces(lfw: Path) -> tuple[np.ndarray, list[str], list[str]]:
    """Every face of photos 0-3 of the four LFW people: vectors, photo keys, LFW names."""
    from faceprint import embed_many

    files = [p for n in ENROLLED for p in photos(lfw, n, 0, 4)]
    vectors, keys, names = [], [], []
    for path, found in zip(files, embed_many(files)):
        for face in found.faces:
            vectors.append(face.vector)
            keys.append(path.name)
            names.append(path.parent.name)
    return np.stack(vectors), keys, names


def _people(g: Gallery, names: dict[int, str]) -> list[tuple[str | None, tuple[str, ...]]]:
    """Each person (by name) with the sorted LFW names of its faces."""
    return sorted((p.name or "", tuple(sorted(names[f.id] for f in g.people.faces(p.id)))) for p in g.people.list())


@pytest.mark.parametrize("backend", BACKENDS)
def test_people_and_corrections_on_every_backend(backend: str, uri, faces, tmp_path: Path) -> None:
    vectors, keys, lfw_names = faces
    with Gallery(uri(backend)) as g:
        report = g.people.add_embedded(vectors, keys)
        assert report.faces == len(vectors)
        names = dict(zip(report.face_ids, lfw_names))
        of = {n: max(g.people.list(), key=lambda p: sum(names[f.id] == n for f in g.people.faces(p.id))).id
              for n in ENROLLED}
        assert len(set(of.values())) == 4  # four people found, one per LFW person
        for n, pid in of.items():
            assert {names[f.id] for f in g.people.faces(pid)} == {n}
        assert g.people.name(of["Colin_Powell"], "Colin").label == "Colin"
        with pytest.raises(SubjectExists):
            g.people.name(of["Tony_Blair"], "Colin")
        with pytest.raises(BadName):
            g.people.name(of["Tony_Blair"], "person 12")
        # identify names an unnamed person by its label
        probe = vectors[lfw_names.index("George_W_Bush")]
        assert g.identify_vectors(probe, top_k=1)[0][0].subject == f"person {of['George_W_Bush']}"
        serena = [f.id for f in g.people.faces(of["Serena_Williams"])]
        assert g.people.not_this_person(serena[0]) == of["Serena_Williams"]
        g.people.merge(of["Tony_Blair"], [of["George_W_Bush"]])
        split = g.people.move([f.id for f in g.people.faces(of["Tony_Blair"]) if names[f.id] == "George_W_Bush"], None)
        g.people.name(split.id, "Bush")
        g.people.recluster()
        assert g.people.face(serena[0]).person_id != of["Serena_Williams"]
        assert {names[f.id] for f in g.people.faces(split.id)} == {"George_W_Bush"}
        assert g.people.not_this_links() == [(serena[0], of["Serena_Williams"])]
        report = g.check()
        assert report.ok, report.problems
        people = _people(g, names)
        path = g.export(tmp_path / "people.npz")
    with Gallery(uri(backend)) as g:  # reopened: the same people
        assert _people(g, names) == people
    # export -> import into a fresh gallery (SQLite) keeps people, names and the correction
    with Gallery(tmp_path / "imported.db") as h:
        assert h.import_(path) == len(vectors)
        by_key = {(f.sha256, f.face_index): f for f in h.faces()}
        moved = {f.id: f for f in h.faces()}
        assert sorted((p.name or "", p.faces) for p in h.people.list()) == sorted((n, len(fs)) for n, fs in people)
        links = h.people.not_this_links()
        assert len(links) == 1 and moved[links[0][0]].person_id != links[0][1]
        assert h.check().ok
        assert len(by_key) == len(vectors)


@pytest.mark.parametrize("backend", ["sqlite", "milvus-lite"])
def test_add_photos_thumbnails_and_export_on_each_backend(backend: str, uri, lfw: Path, tmp_path: Path) -> None:
    with Gallery(uri(backend)) as g:
        report = g.add_photos(photos(lfw, "Serena_Williams", 0, 2))
        assert report.faces == 2 and report.new_people == 1
        thumb = g.people.thumbnail(report.face_ids[0])
        assert thumb is not None and thumb[:2] == b"\xff\xd8"  # a JPEG
        g.people.delete_face(report.face_ids[1])
        path = g.export(tmp_path / "t.npz")
        assert g.check().ok
    with Gallery(tmp_path / "copy.db") as h:
        h.import_(path)
        face = h.faces()[0]
        assert h.people.thumbnail(face.id) == thumb and face.confirmed is False
        assert h.people.list()[0].name is None


class _Stop(Exception):
    """A process stopped between two Milvus requests."""


@pytest.mark.parametrize("step", [1, 2, 3])
def test_milvus_stopped_between_requests_still_passes_check(step: int, uri, faces, monkeypatch) -> None:
    """Milvus has no transactions: a merge or a re-cluster stopped after any of its face moves
    leaves a gallery that passes check (the writes are ordered for it)."""
    from faceprint.gallery.milvus_people import MilvusPeople

    vectors, keys, lfw_names = faces
    with Gallery(uri("milvus-lite")) as g:
        report = g.people.add_embedded(vectors, keys, threshold=0.001)  # every face its own person
        calls = {"n": 0}
        real = MilvusPeople._set_person

        def stopping(self, rows, person):
            calls["n"] += 1
            if calls["n"] > step:
                raise _Stop
            return real(self, rows, person)

        monkeypatch.setattr(MilvusPeople, "_set_person", stopping)
        with pytest.raises(_Stop):
            g.people.recluster()
        monkeypatch.setattr(MilvusPeople, "_set_person", real)
        check = g.check()  # at worst empty unnamed people, which check reports
        assert all(p.endswith("has no faces") for p in check.problems), check.problems
        # a merge stopped after its faces moved (before the others' links and subjects went)
        monkeypatch.setattr(MilvusPeople, "add_links", lambda self, links: (_ for _ in ()).throw(_Stop()))
        people = g.people.list()
        with pytest.raises(_Stop):
            g.people.merge(people[0].id, [p.id for p in people[1:1 + step]])
        monkeypatch.undo()
        check = g.check()
        assert all(p.endswith("has no faces") for p in check.problems), check.problems
        g.people.recluster()  # and a re-cluster run to its end tidies up
        check = g.check()
        assert check.ok and len(g) == len(report.face_ids), check.problems


@pytest.mark.parametrize("backend", ["sqlite", "milvus-lite"])
def test_recluster_swapping_two_faces_of_one_photo_leaves_no_empty_person(backend: str, uri, faces) -> None:
    vectors, keys, lfw_names = faces
    a, b = lfw_names.index("Colin_Powell"), lfw_names.index("George_W_Bush")
    keys = [("group.jpg" if i in (a, b) else k) for i, k in enumerate(keys)]  # one photo of the two
    with Gallery(uri(backend)) as g:
        ids = g.people.add_embedded(vectors, keys).face_ids
        fa, fb = ids[a], ids[b]
        pa, pb = g.people.face(fa).person_id, g.people.face(fb).person_id
        assert pa != pb
        count = len(g.people.list())
        g.people._writer.change(lambda: g.people._ps.reassign({fa: pb, fb: pa}))
        assert (g.people.face(fa).person_id, g.people.face(fb).person_id) == (pb, pa)
        assert len(g.people.list()) == count and all(p.faces for p in g.people.list())
        check = g.check()
        assert check.ok, check.problems
        empty = g.people._ps.new_unnamed(1)[0]  # an unnamed person without faces: check reports it
        assert f"unnamed person {empty} has no faces" in g.check().problems


def test_milvus_naming_stopped_before_the_name_is_written_keeps_the_person_unnamed(uri, faces, monkeypatch) -> None:
    from faceprint.gallery.milvus_store import MilvusStore

    vectors, keys, _ = faces
    with Gallery(uri("milvus-lite")) as g:
        g.people.add_embedded(vectors, keys)
        person = g.people.list()[0]
        monkeypatch.setattr(MilvusStore, "_insert_subject", lambda *a, **k: (_ for _ in ()).throw(_Stop()))
        with pytest.raises(_Stop):
            g.people.name(person.id, "Colin")
        monkeypatch.undo()
        assert g.people.get(person.id).name is None and g.check().ok
        # stopped after the name is written, before the marker goes: check reports it, a retry mends it
        real = g._store.client.delete
        monkeypatch.setattr(g._store.client, "delete", lambda *a, **k: (_ for _ in ()).throw(_Stop()))
        with pytest.raises(_Stop):
            g.people.name(person.id, "Colin")
        monkeypatch.setattr(g._store.client, "delete", real)
        assert any("'Colin'" in p for p in g.check().problems)
        assert g.people.name(person.id, "Colin").name == "Colin" and g.check().ok

"""People in a gallery (SQLite), on real LFW faces: photos added face by face join the right
person, unnamed people are listed and identified, and every correction (name, merge, move,
"not this person", delete) sticks across new photos, identify and a full re-cluster."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from lfw_people import ENROLLED, photos

from faceprint import Gallery
from faceprint.errors import BadInput, BadName, SubjectExists, UnknownFace, UnknownSubject


def _who(source: str | None) -> str:
    """The LFW person of a photo path."""
    return Path(source or "?").parent.name


def _people_by_source(g: Gallery) -> dict[int, set[str]]:
    """person id -> the LFW people of its faces' photos."""
    return {p.id: {_who(f.source) for f in g.people.faces(p.id)} for p in g.people.list()}


def _person_of(g: Gallery, lfw_name: str) -> int:
    """The person holding most of an LFW person's faces."""
    counts = {p.id: sum(_who(f.source) == lfw_name for f in g.people.faces(p.id)) for p in g.people.list()}
    return max(counts, key=counts.get)


@pytest.fixture(scope="module")
def base(lfw: Path, tmp_path_factory) -> Path:
    """A gallery of photos 0-2 of the four LFW people, added as a photo library (every face)."""
    path = tmp_path_factory.mktemp("people") / "base.db"
    with Gallery(path) as g:
        report = g.add_photos([p for n in ENROLLED for p in photos(lfw, n, 0, 3)])
        assert report.photos == 12 and report.faces >= 12 and not report.problems
    return path


@pytest.fixture
def gallery(base: Path, tmp_path: Path):
    path = tmp_path / "g.db"
    shutil.copy(base, path)
    with Gallery(path) as g:
        yield g


def test_added_faces_form_people_and_new_photos_join_them(gallery: Gallery, lfw: Path) -> None:
    g = gallery
    big = [p for p in g.people.list() if p.faces >= 3]
    assert len(big) == 4 and all(p.name is None and p.label == f"person {p.id}" for p in big)
    assert sorted(next(iter(_people_by_source(g)[p.id])) for p in big) == sorted(ENROLLED)
    assert all(len(_people_by_source(g)[p.id]) == 1 for p in big)  # no person mixes two LFW people
    bush = _person_of(g, "George_W_Bush")
    report = g.add_photos(photos(lfw, "George_W_Bush", 3, 4))
    owners = [g.people.face(i).person_id for i in report.face_ids]
    # most join Bush (a face with too few close neighbours starts a person, for a re-cluster to join)
    assert report.faces == 4 and owners.count(bush) >= 3 and report.joined == owners.count(bush)
    again = g.add_photos(photos(lfw, "George_W_Bush", 3, 4))  # photos already there: skipped
    assert (again.faces, again.skipped_duplicates) == (0, 4)
    stranger = g.add_photos(photos(lfw, "Hugo_Chavez", 0, 1))
    assert stranger.new_people == 1 and g.people.face(stranger.face_ids[0]).person_id not in {p.id for p in big}
    # an unnamed person is identified by its label
    found = g.identify(photos(lfw, "George_W_Bush", 5, 1)[0])
    assert [f.name for f in found] == [f"person {bush}"]
    assert g.check().ok


def test_every_face_of_a_photo_with_thumbnails(tmp_path: Path, group_photo: np.ndarray) -> None:
    import cv2

    ok, png = cv2.imencode(".png", cv2.cvtColor(group_photo, cv2.COLOR_RGB2BGR))
    with Gallery(tmp_path / "g.db") as g:
        report = g.add_photos([png.tobytes()])
        # six LFW tiles (one with a second face behind): each face its own person
        assert report.faces >= 6 and report.new_people == report.faces
        faces = [g.people.face(i) for i in report.face_ids]
        assert sorted(f.face_index for f in faces) == list(range(report.faces)) and len({f.sha256 for f in faces}) == 1
        assert len({f.person_id for f in faces}) == report.faces
        jpeg = g.people.thumbnail(faces[0].id)
        thumb = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert thumb.shape == (96, 96, 3)
        assert g._store.photo(faces[0].id) is None  # never the photo itself, unless keep_photos
    with Gallery(tmp_path / "off.db") as g:
        g.people.thumbnails = False
        report = g.add_photos([png.tobytes()])
        assert g.people.thumbnail(report.face_ids[0]) is None


def test_name_merge_move_and_refusals(gallery: Gallery, lfw: Path) -> None:
    g = gallery
    powell, blair = _person_of(g, "Colin_Powell"), _person_of(g, "Tony_Blair")
    named = g.people.name(powell, "Colin Powell")
    assert (named.name, named.label, named.named) == ("Colin Powell", "Colin Powell", True)
    assert [p.id for p in g.people.list(named=True)] == [powell]
    assert powell not in [p.id for p in g.people.list(named=False)]
    assert {f.confirmed for f in g.people.faces(powell)} == {True}
    with pytest.raises(SubjectExists, match="merge"):
        g.people.name(blair, "Colin Powell")
    with pytest.raises(BadName):
        g.people.name(blair, "person 3")
    with pytest.raises(UnknownSubject):
        g.people.get(99_999)
    with pytest.raises(UnknownFace):
        g.people.move([99_999], powell)
    # merge an unnamed person into the named one: one person, the name kept
    merged = g.people.merge(blair, [powell])
    assert merged.id == blair and merged.name == "Colin Powell" and merged.faces >= 6
    with pytest.raises(UnknownSubject):
        g.people.get(powell)
    # split Tony Blair's faces off again into a new person, and name it
    blair_faces = [f.id for f in g.people.faces(blair) if _who(f.source) == "Tony_Blair"]
    split = g.people.move(blair_faces, None)
    assert split.faces == len(blair_faces) and split.name is None
    g.people.name(split.id, "Tony Blair")
    assert {_who(f.source) for f in g.people.faces(split.id)} == {"Tony_Blair"}
    assert g.identify(photos(lfw, "Tony_Blair", 5, 1)[0])[0].name == "Tony Blair"
    twin = g.people.add_embedded(np.eye(128, dtype=np.float32)[:2], ["photo", "photo"])  # two faces of one photo
    assert twin.new_people == 2
    with pytest.raises(BadInput, match="one photo"):  # ... never in one person
        g.people.move(twin.face_ids, split.id)
    assert g.check().ok


def test_corrections_stick_through_add_identify_and_recluster(gallery: Gallery, lfw: Path) -> None:
    g = gallery
    serena = _person_of(g, "Serena_Williams")
    g.people.name(serena, "Serena")
    face = g.people.faces(serena)[0]
    source = face.source
    g.people.not_this_person(face.id)
    moved_to = g.people.face(face.id).person_id
    assert moved_to != serena and g.people.not_this_links() == [(face.id, serena)]
    # identify of that very photo no longer says Serena
    assert "Serena" not in {f.name for f in g.identify(source)}
    # a split that the clustering alone would undo: Bush's faces in two people, the user moved one
    bush = _person_of(g, "George_W_Bush")
    bush_faces = [f.id for f in g.people.faces(bush)]
    alone = g.people.move(bush_faces[:1], None)
    g.people.name(alone.id, "Bush alone")
    before = {p.id: p.name for p in g.people.list(named=True)}
    g.add_photos(photos(lfw, "Serena_Williams", 3, 1))
    for threshold in (None, 0.6):  # even a loose threshold that would merge more keeps the corrections
        report = g.people.recluster(threshold)
        assert report.faces == len(g)
        assert g.people.face(face.id).person_id != serena
        assert g.people.face(bush_faces[0]).person_id == alone.id
        assert {p.id: p.name for p in g.people.list(named=True)} == before
        assert g.check().ok, g.check().problems
    # a merge that would put the face back with Serena sets it apart instead
    g.people.merge(serena, [g.people.face(face.id).person_id])
    assert g.people.face(face.id).person_id != serena
    g.people.delete_face(face.id)
    with pytest.raises(UnknownFace):
        g.people.face(face.id)
    assert g.people.not_this_links() == [] and g.check().ok


def test_check_finds_broken_people_rules(gallery: Gallery) -> None:
    g = gallery
    person = g.people.list()[0]
    face = g.people.faces(person.id)[0]
    db = sqlite3.connect(g.path)
    db.execute("INSERT INTO cannot_link(face_id, subject_id, created) VALUES (?, ?, 'now')", (face.id, person.id))
    db.commit()
    db.close()
    report = g.check()
    assert not report.ok and any("marked not to be" in p for p in report.problems)


def test_schema_2_gallery_migrates(tmp_path: Path) -> None:
    from faceprint.gallery import sqlite_store

    path = tmp_path / "v2.db"
    db = sqlite3.connect(path)
    db.executescript(sqlite_store._SCHEMA_V1)
    sqlite_store._migrate_1_to_2(db)
    db.execute("INSERT INTO meta VALUES ('schema_version', '2')")
    db.execute("INSERT INTO subjects(name, metadata, created) VALUES ('Ada', '{}', 'then')")
    vector = np.eye(128, dtype=np.float32)[0]
    db.execute("INSERT INTO faces(subject_id, embedding, dim, model, signature, sha256, box, created) "
               "VALUES (1, ?, 128, 'dlib', 's', 'abc', '[0,0,0,0]', 'then')", (vector.tobytes(),))
    db.commit()
    db.close()
    store = sqlite_store.SqliteStore(path)
    try:
        assert store.meta("schema_version") == "3"
        faces = store.faces()
        assert [(f.subject, f.sha256, f.face_index, f.confirmed) for f in faces] == [("Ada", "abc", 0, True)]
        assert store.people_store().persons()[0].name == "Ada" and store.integrity() == []
    finally:
        store.close()


def test_a_person_named_through_rename_keeps_name_and_faces_in_a_recluster(gallery: Gallery) -> None:
    g = gallery
    person = max(g.people.list(named=False), key=lambda p: p.faces)
    faces = [f.id for f in g.people.faces(person.id)]
    g.rename(person.label, "Renamed")
    assert g.people.get(person.id).name == "Renamed"
    g.people.recluster(0.2)  # a tight threshold would split them: the user's name holds them together
    assert [f.id for f in g.people.faces(person.id)] == faces and g.check().ok


def test_enrol_keeps_a_thumbnail_unless_turned_off(tmp_path: Path, lfw: Path) -> None:
    with Gallery(tmp_path / "g.db") as g:
        g.enrol("Serena", photos(lfw, "Serena_Williams", 0, 1))
        face = g.faces("Serena")[0]
        assert g.people.thumbnail(face.id)[:2] == b"\xff\xd8" and face.confirmed
        g.people.thumbnails = False
        g.enrol("Serena", photos(lfw, "Serena_Williams", 1, 1))
        assert g.people.thumbnail(g.faces("Serena")[1].id) is None
    with Gallery(tmp_path / "g.db") as g:  # the setting is the gallery's
        assert g.people.thumbnails is False


def test_recluster_keeps_poor_faces_with_their_person(gallery: Gallery) -> None:
    """Faces the clustering leaves out for poor quality stay with their person, never one-face people."""
    from faceprint.quality import POOR_QUALITY

    g = gallery
    bush = _person_of(g, "George_W_Bush")
    poor = [f.id for f in g.people.faces(bush)][:2]
    db = sqlite3.connect(g.path)
    db.execute(f"UPDATE faces SET quality=? WHERE id IN ({','.join('?' * len(poor))})", (POOR_QUALITY / 4, *poor))
    db.commit()
    db.close()
    report = g.people.recluster()
    assert report.new_people == 0
    for fid in poor:
        face = g.people.face(fid)
        assert face.person_id == bush and g.people.get(face.person_id).faces > 1
    assert g.check().ok


def test_add_photos_counts_a_photo_in_two_folders_once(tmp_path: Path, lfw: Path) -> None:
    files = photos(lfw, "Serena_Williams", 0, 2) + photos(lfw, "Colin_Powell", 0, 1)
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        for p in files:
            (tmp_path / folder / p.name).write_bytes(p.read_bytes())
    with Gallery(tmp_path / "g.db") as g:
        report = g.add_photos([tmp_path / "a", tmp_path / "b"])
        people = g.people.list()
        assert report.photos == 3 and report.skipped_duplicates == 3 and not report.problems
        assert report.faces == len(report.face_ids) == sum(p.faces for p in people) == 3
        assert report.new_people == len(people) == 2 and report.joined == report.faces - report.new_people
        assert g.check().ok


def test_add_embedded_places_large_calls_in_bounded_slices(base: Path, tmp_path: Path, monkeypatch) -> None:
    """5,000 faces (real vectors, each with a little noise) in one call: placed 1,000 at a time."""
    import time

    from faceprint.gallery import people_assign

    with Gallery(base) as g:
        real = np.concatenate([part for _, part in g._store.vectors()])
    rng = np.random.default_rng(0)
    vectors = real[np.arange(5000) % len(real)] + rng.normal(0.0, 0.01, (5000, real.shape[1])).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    sizes: list[int] = []
    real_assign = people_assign.assign_new
    monkeypatch.setattr(people_assign, "assign_new", lambda v, *a, **k: (sizes.append(len(v)), real_assign(v, *a, **k))[1])
    with Gallery(tmp_path / "big.db") as g:
        start = time.perf_counter()
        report = g.people.add_embedded(vectors, [f"p{i}" for i in range(5000)])
        assert time.perf_counter() - start < 120
        assert report.faces == len(g) == 5000 and sizes == [1000] * 5
        assert report.joined + report.new_people == 5000 and report.new_people == len(g.people.list())

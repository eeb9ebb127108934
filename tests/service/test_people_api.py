"""People of a photo library over HTTP, on real LFW faces through the real app: library photos
added (every face of a photo), people listed named or not with face thumbnails, then each
correction (name, merge, move, split, not-this-person, delete a face) through the API, checked
in the gallery afterwards and in the audit log; the errors of each route (404, 409, 400, 403);
the same routes over a milvus-lite gallery."""

from __future__ import annotations

import io
import json

import pytest

pytest.importorskip("fastapi", reason="the service needs its extra: pip install 'faceprint[serve]'")
pytest.importorskip("multipart", reason="the service needs python-multipart: pip install 'faceprint[serve]'")

from service_helpers import assert_error, named_photo  # noqa: E402

BUSH = [("George_W_Bush", n) for n in (2, 3, 4, 5)]
POWELL = [("Colin_Powell", n) for n in (2, 3, 4, 5)]
GROUP = ("Colin_Powell", 10)  # an LFW photo with three faces in it


PHOTOS: dict[str, str] = {}  # sha256 -> LFW file name, of the photos these tests upload


@pytest.fixture(scope="module", autouse=True)
def digests(lfw):
    """Fill ``PHOTOS``: the faces of an uploaded photo keep its sha256, which names it back here."""
    import hashlib

    for person, n in BUSH + POWELL + [GROUP]:
        name, data = named_photo(lfw, person, n)
        PHOTOS[hashlib.sha256(data).hexdigest()] = name


@pytest.fixture(scope="module")
def library(tmp_path_factory, running_service, lfw):
    """A service whose gallery holds library photos of two LFW people (four each), with an audit file."""
    root = tmp_path_factory.mktemp("people_api")
    with running_service(root, audit_log=str(root / "audit.log"), log_format="json") as started:
        c, a = started["client"], started["admin"]
        files = [("images", named_photo(lfw, person, n)) for person, n in BUSH + POWELL]
        added = c.post("/v1/photos", headers=a, files=files)
        assert added.status_code == 201, added.text
        started["added"] = added.json()
        yield started


def people(c, headers, **params) -> list[dict]:
    answer = c.get("/v1/people", headers=headers, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()["people"]


def faces_of(c, headers, person_id: int) -> list[dict]:
    answer = c.get(f"/v1/people/{person_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["faces"]


def photo_name(sha256: str) -> str:
    """The LFW file name of a photo by its sha256 (faces of uploaded photos keep the photo's digest)."""
    return PHOTOS.get(sha256, sha256)


def person_with(c, headers, photo: str) -> dict:
    """The person holding the face of the LFW photo file ``photo``."""
    for person in people(c, headers):
        if any(photo_name(f["sha256"]) == photo for f in faces_of(c, headers, person["id"])):
            return person
    raise AssertionError(f"no person holds {photo}")


def sources(c, headers, person_id: int) -> set[str]:
    return {photo_name(f["sha256"]) for f in faces_of(c, headers, person_id)}


def face_of(c, headers, person_id: int, photo: str) -> dict:
    return next(f for f in faces_of(c, headers, person_id) if photo_name(f["sha256"]) == photo)


def audit_lines(root) -> list[dict]:
    return [json.loads(line) for line in (root / "audit.log").read_text().splitlines()]


# -- adding photos and listing people ----------------------------------------------------------------
def test_added_photos_form_two_unnamed_people_with_thumbnails(library):
    from PIL import Image

    c, r = library["client"], library["reader"]
    report = library["added"]
    assert report["photos"] == 8 and report["faces"] == 8 and len(report["face_ids"]) == 8, report
    listed = people(c, r)
    assert len(listed) == 2, listed
    assert all(not p["named"] and p["name"] is None and p["label"] == f"person {p['id']}" for p in listed)
    bush = person_with(c, r, "George_W_Bush_0002.jpg")
    assert sources(c, r, bush["id"]) == {f"George_W_Bush_{n:04d}.jpg" for _, n in BUSH}
    assert people(c, r, named="true") == [] and len(people(c, r, named="false")) == 2
    page = c.get("/v1/people", headers=r, params={"limit": 1, "offset": 1}).json()
    assert page["total"] == 2 and len(page["people"]) == 1 and page["people"][0] == listed[1]

    shown = c.get(f"/v1/faces/{bush['cover']}/thumbnail", headers=r)
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    assert "max-age" in shown.headers["cache-control"] and shown.headers["etag"]
    thumb = Image.open(io.BytesIO(shown.content))
    assert max(thumb.size) <= 160 and len(shown.content) < 20_000  # a small crop, never the 250x250 photo
    again = c.get(f"/v1/faces/{bush['cover']}/thumbnail", headers={**r, "If-None-Match": shown.headers["etag"]})
    assert again.status_code == 304 and not again.content
    assert_error(c.get("/v1/faces/999999/thumbnail", headers=r), 404, "unknown_face")
    assert_error(c.get("/v1/people/999999", headers=r), 404)


def test_every_face_of_a_photo_is_added_and_a_repeat_is_skipped(library, lfw):
    c, a = library["client"], library["admin"]
    answer = c.post("/v1/photos", headers=a, files=[("images", named_photo(lfw, *GROUP)),
                                                    ("images", named_photo(lfw, *BUSH[0]))])
    assert answer.status_code == 201, answer.text
    report = answer.json()
    assert report["faces"] == 3 and report["skipped_duplicates"] == 1, report
    # one photo's faces never share a person
    group = [(p["id"], f) for p in people(c, library["reader"]) for f in faces_of(c, library["reader"], p["id"])
             if photo_name(f["sha256"]) == "Colin_Powell_0010.jpg"]
    assert len(group) == 3 and len({person for person, _ in group}) == 3, group
    assert sorted(f["face_index"] for _, f in group) == [0, 1, 2]
    group = [f for _, f in group]
    for face in group:
        assert c.delete(f"/v1/faces/{face['id']}", headers=a).status_code == 200
    assert len(people(c, library["reader"])) == 2  # the people they started went with them


# -- corrections -----------------------------------------------------------------------------------
def test_name_a_person_then_a_taken_name_is_409(library):
    c, a, r = library["client"], library["admin"], library["reader"]
    bush = person_with(c, r, "George_W_Bush_0002.jpg")
    powell = person_with(c, r, "Colin_Powell_0002.jpg")
    named = c.post(f"/v1/people/{bush['id']}/name", headers=a, json={"name": "George W Bush"})
    assert named.status_code == 200, named.text
    assert named.json() == {**bush, "name": "George W Bush", "label": "George W Bush", "named": True}
    assert [p["id"] for p in people(c, r, named="true")] == [bush["id"]]
    assert c.get("/v1/subjects/George W Bush", headers=r).json()["faces"] == 4  # the gallery's subject too
    assert_error(c.post(f"/v1/people/{powell['id']}/name", headers=a, json={"name": "George W Bush"}), 409,
                 "subject_exists")
    assert_error(c.post(f"/v1/people/{powell['id']}/name", headers=r, json={"name": "Colin Powell"}), 403)
    assert_error(c.post("/v1/people/999999/name", headers=a, json={"name": "Nobody Here"}), 404)
    for refused in ("  ", "unknown"):
        assert_error(c.post(f"/v1/people/{powell['id']}/name", headers=a, json={"name": refused}), 422)
    reserved = c.post(f"/v1/people/{powell['id']}/name", headers=a, json={"name": f"person {powell['id'] + 1}"})
    assert "unnamed person" in assert_error(reserved, 400, "bad_input")["message"]  # the gallery's own rule
    assert c.post(f"/v1/people/{powell['id']}/name", headers=a, json={"name": "Colin Powell"}).status_code == 200


def test_move_a_face_to_a_new_person_then_merge_it_back(library):
    c, a, r = library["client"], library["admin"], library["reader"]
    bush = person_with(c, r, "George_W_Bush_0002.jpg")
    face = face_of(c, r, bush["id"], "George_W_Bush_0005.jpg")
    split = c.post("/v1/faces/move", headers=a, json={"faces": [face["id"]], "to": None})
    assert split.status_code == 200, split.text
    alone = split.json()
    assert alone["faces"] == 1 and not alone["named"] and alone["id"] != bush["id"]
    assert sources(c, r, bush["id"]) == {f"George_W_Bush_{n:04d}.jpg" for n in (2, 3, 4)}
    merged = c.post(f"/v1/people/{bush['id']}/merge", headers=a, json={"people": [alone["id"]]})
    assert merged.status_code == 200, merged.text
    assert merged.json()["faces"] == 4 and merged.json()["name"] == "George W Bush"
    assert_error(c.get(f"/v1/people/{alone['id']}", headers=r), 404)  # merged away
    assert_error(c.post(f"/v1/people/{bush['id']}/merge", headers=a, json={"people": [bush["id"]]}), 400)
    assert_error(c.post(f"/v1/people/{bush['id']}/merge", headers=a, json={"people": [999999]}), 404)
    assert_error(c.post("/v1/faces/move", headers=a, json={"faces": [999999], "to": bush["id"]}), 404)


def test_move_a_face_to_the_wrong_person_and_back(library):
    c, a, r = library["client"], library["admin"], library["reader"]
    bush = person_with(c, r, "George_W_Bush_0002.jpg")
    powell = person_with(c, r, "Colin_Powell_0002.jpg")
    face = face_of(c, r, bush["id"], "George_W_Bush_0004.jpg")
    moved = c.post("/v1/faces/move", headers=a, json={"faces": [face["id"]], "to": powell["id"]})
    assert moved.status_code == 200 and moved.json()["id"] == powell["id"] and moved.json()["faces"] == 5
    assert "George_W_Bush_0004.jpg" in sources(c, r, powell["id"])
    back = c.post("/v1/faces/move", headers=a, json={"faces": [face["id"]], "to": bush["id"]})
    assert back.status_code == 200 and back.json()["faces"] == 4


def test_not_this_person_sticks_through_a_recluster(library):
    c, a, r = library["client"], library["admin"], library["reader"]
    gallery = c.app.state.service.gallery
    bush = person_with(c, r, "George_W_Bush_0002.jpg")
    face = face_of(c, r, bush["id"], "George_W_Bush_0003.jpg")
    answer = c.post(f"/v1/faces/{face['id']}/not-this-person", headers=a)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"face_id": face["id"], "not_person": bush["id"]}
    assert "George_W_Bush_0003.jpg" not in sources(c, r, bush["id"])
    summary = c.post("/v1/people/recluster", headers=a, json={})
    assert summary.status_code == 200, summary.text
    assert summary.json()["faces"] == 8
    assert "George_W_Bush_0003.jpg" not in sources(c, r, bush["id"])  # never put back
    assert sources(c, r, bush["id"]) == {f"George_W_Bush_{n:04d}.jpg" for n in (2, 4, 5)}
    assert gallery.check().ok, gallery.check().problems
    assert_error(c.post("/v1/faces/999999/not-this-person", headers=a), 404, "unknown_face")
    assert_error(c.post("/v1/people/recluster", headers=r, json={}), 403)


def test_delete_a_face_then_the_audit_log_has_every_change(library):
    c, a, r = library["client"], library["admin"], library["reader"]
    powell = person_with(c, r, "Colin_Powell_0002.jpg")
    face = face_of(c, r, powell["id"], "Colin_Powell_0005.jpg")
    assert c.delete(f"/v1/faces/{face['id']}", headers=a).status_code == 200
    assert sources(c, r, powell["id"]) == {f"Colin_Powell_{n:04d}.jpg" for n in (2, 3, 4)}
    assert_error(c.get(f"/v1/faces/{face['id']}/thumbnail", headers=r), 404, "unknown_face")
    lines = audit_lines(library["root"])
    actions = [(line["action"], line["outcome"]) for line in lines]
    for action in ("photos.add", "person.name", "person.merge", "face.move", "face.not_this_person",
                   "people.recluster", "face.delete"):
        assert (action, 200 if action != "photos.add" else 201) in actions, (action, actions)
    assert ("auth.forbidden", 403) in actions
    named = next(line for line in lines if line["action"] == "person.name" and line["outcome"] == 200)
    assert named["to"] == "George W Bush" and named["person_id"] and named["key_id"]


def test_a_face_kept_without_a_thumbnail_is_a_404_that_says_so(library, lfw):
    c, a, r = library["client"], library["admin"], library["reader"]
    gallery = c.app.state.service.gallery
    gallery.people.thumbnails = False
    try:
        added = c.post("/v1/photos", headers=a, files=[("images", named_photo(lfw, "Tony_Blair", 2)),
                                                       ("images", ("notes.jpg", b"not a photo"))])
    finally:
        gallery.people.thumbnails = True
    assert added.status_code == 201, added.text
    assert list(added.json()["problems"]) == ["notes.jpg"]  # named by the upload
    (face_id,) = added.json()["face_ids"]
    error = assert_error(c.get(f"/v1/faces/{face_id}/thumbnail", headers=r), 404, "no_thumbnail")
    assert "thumbnails off" in error["message"]


# -- a Milvus gallery --------------------------------------------------------------------------------
def test_people_routes_on_a_milvus_lite_gallery(tmp_path, running_service, lfw, monkeypatch):
    """The same routes over a milvus-lite gallery: photos form people with thumbnails, and a
    name, a split and a not-this-person reach the gallery."""
    from faceprint.gallery.milvus_store import milvus_available

    if not milvus_available(lite=True):
        pytest.skip("pymilvus/milvus-lite not installed: pip install -e '.[milvus]'")
    monkeypatch.chdir(tmp_path)
    with running_service(tmp_path, gallery=f"milvus-lite://{tmp_path}/library.db") as started:
        c, a, r = started["client"], started["admin"], started["reader"]
        files = [("images", named_photo(lfw, person, n)) for person, n in BUSH[:3] + POWELL[:3]]
        added = c.post("/v1/photos", headers=a, files=files)
        assert added.status_code == 201 and added.json()["faces"] == 6, added.text
        listed = people(c, r)
        assert sorted(p["faces"] for p in listed) == [3, 3], listed
        bush = person_with(c, r, "George_W_Bush_0002.jpg")
        thumb = c.get(f"/v1/faces/{bush['cover']}/thumbnail", headers=r)
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
        named = c.post(f"/v1/people/{bush['id']}/name", headers=a, json={"name": "George W Bush"})
        assert named.status_code == 200 and named.json()["named"], named.text
        face = face_of(c, r, bush["id"], "George_W_Bush_0004.jpg")
        split = c.post("/v1/faces/move", headers=a, json={"faces": [face["id"]], "to": None})
        assert split.status_code == 200 and split.json()["faces"] == 1, split.text
        other = face_of(c, r, bush["id"], "George_W_Bush_0003.jpg")
        gone = c.post(f"/v1/faces/{other['id']}/not-this-person", headers=a)
        assert gone.status_code == 200 and gone.json()["not_person"] == bush["id"], gone.text
        assert sources(c, r, bush["id"]) == {"George_W_Bush_0002.jpg"}
        assert len(people(c, r)) == 4


def test_enrols_wait_for_no_recluster(library, lfw, monkeypatch):
    """While the people are clustered again (the gallery's write lock held for the whole run), an
    enrol would block the engine's thread and every identify behind it: it is refused with 409."""
    c, a, r = library["client"], library["admin"], library["reader"]
    service = c.app.state.service

    class Held:
        @staticmethod
        def locked() -> bool:
            return True

    monkeypatch.setattr(service, "reclustering", Held())
    refused = c.post("/v1/photos", headers=a, files=[("images", named_photo(lfw, "Colin_Powell", 6))])
    assert_error(refused, 409, "recluster_running")
    assert refused.headers.get("retry-after") == "10"
    assert_error(c.post("/v1/people/recluster", headers=a, json={}), 409, "recluster_running")
    photo = named_photo(lfw, "Colin_Powell", 6)[1]
    assert c.post("/v1/identify", headers=r, files={"image": ("p.jpg", photo)}).status_code == 200
    monkeypatch.undo()
    assert c.post("/v1/photos", headers=a, files=[("images", named_photo(lfw, "Colin_Powell", 6))]).status_code == 201

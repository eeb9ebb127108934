"""Enrolling uploaded photos: into names with a slash or a control character, photos enrolled
already as someone else (409), only unreadable photos (400) or faceless ones (422), and every
upload reported when they share a file name."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="the service needs its extra: pip install 'faceprint[serve]'")
pytest.importorskip("multipart", reason="the service needs python-multipart: pip install 'faceprint[serve]'")

from service_helpers import error_message, named_photo  # noqa: E402

from faceprint.service.uploads import unique_labels  # noqa: E402


def test_enrol_of_photos_enrolled_as_someone_else_is_a_409_that_names_them(env, lfw):
    c, a = env["client"], env["admin"]
    photo = named_photo(lfw, "Colin_Powell", 1)
    first = c.post("/v1/subjects/QA%20Colin/faces", headers=a, files=[("images", photo)])
    assert first.status_code == 201, first.text
    again = c.post("/v1/subjects/QA%20Someone/faces", headers=a, files=[("images", photo)])
    message = error_message(again, 409, "gallery")  # not a 404 for the name it would create
    assert "QA Someone" in message and "QA Colin" in message
    assert c.get("/v1/subjects/QA%20Someone", headers=env["reader"]).status_code == 404  # nothing made
    # the same photo into its own subject stays a 201 with the duplicate counted
    same = c.post("/v1/subjects/QA%20Colin/faces", headers=a, files=[("images", photo)])
    assert same.status_code == 201 and same.json()["skipped_duplicates"] == 1
    # into a subject that exists already, someone else's photo changes nothing: a 201 that says whose
    assert c.post("/v1/subjects", headers=a, json={"name": "QA Kept"}).status_code == 201
    kept = c.post("/v1/subjects/QA%20Kept/faces", headers=a, files=[("images", photo)])
    assert kept.status_code == 201 and kept.json()["added"] == 0, kept.text
    assert "QA Colin" in kept.json()["notes"][0]


def test_enrol_of_only_unreadable_photos_is_a_400_and_faceless_ones_a_422(env, astronaut):
    """Uploads that are not images are the client's bad input (400), like one unreadable photo
    anywhere else; when any of them is a readable photo without a face, the answer stays 422."""
    import io

    from PIL import Image

    c, a = env["client"], env["admin"]
    truncated = astronaut.read_bytes()[:500]
    files = [("images", ("notes.jpg", b"this is not a photo")), ("images", ("cut.png", truncated))]
    answer = c.post("/v1/subjects/Nobody Readable/faces", files=files, headers=a)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "bad_image", answer.text
    assert "notes.jpg" in answer.json()["error"]["message"] and "cut.png" in answer.json()["error"]["message"]
    wall = io.BytesIO()
    Image.new("RGB", (160, 120), (200, 200, 200)).save(wall, "JPEG")
    mixed = c.post("/v1/subjects/Nobody Readable/faces", files=[*files, ("images", ("wall.jpg", wall.getvalue()))],
                   headers=a)
    assert mixed.status_code == 422 and mixed.json()["error"]["code"] == "no_face", mixed.text
    assert c.get("/v1/subjects/Nobody Readable", headers=env["reader"]).status_code == 404


# -- names -----------------------------------------------------------------------------------------
def test_enrol_into_a_name_with_a_slash(env, lfw):
    c, a = env["client"], env["admin"]
    photo = (lfw / "Tony_Blair" / "Tony_Blair_0003.jpg").read_bytes()  # 0001 goes into another name below
    answer = c.post("/v1/subjects/Blair%2FTony/faces", files={"images": ("t.jpg", photo)}, headers=a)
    assert answer.status_code == 201, answer.text
    assert answer.json()["subject"]["name"] == "Blair/Tony"
    assert c.get("/v1/subjects/Blair%2FTony", headers=env["reader"]).json()["faces"] == 1


def test_enrol_refuses_a_new_control_character_name_but_serves_an_existing_one(env, lfw, monkeypatch):
    from faceprint.errors import GalleryError
    from faceprint.gallery import sqlite_store

    c, a = env["client"], env["admin"]
    photo = named_photo(lfw, "Tony_Blair", 1)
    error_message(c.post("/v1/subjects/QA%0Dnew/faces", headers=a, files=[("images", photo)]), 400, "bad_input")
    assert "QA\rnew" not in [s["name"] for s in c.get("/v1/subjects", headers=a).json()["subjects"]]
    gallery = env["app"].state.service.gallery
    with pytest.raises(GalleryError, match="control character"):  # the gallery's own rule, for the CLI too
        gallery.add_subject("QA\rold")
    # a name stored before the rule existed (an older faceprint) can still be enrolled into
    monkeypatch.setattr(sqlite_store, "check_name", lambda name: name)
    gallery.add_subject("QA\rold")
    monkeypatch.undo()
    answer = c.post("/v1/subjects/QA%0Dold/faces", headers=a, files=[("images", photo)])
    assert answer.status_code == 201, answer.text
    assert answer.json()["subject"]["name"] == "QA\rold"


# -- uploads of one file name ----------------------------------------------------------------------
def test_enrol_reports_every_upload_when_they_share_a_file_name(env, lfw):
    """Phones name every photo image.jpg: each problem is kept, and the status follows all of them."""
    import io

    from PIL import Image

    c, a = env["client"], env["admin"]
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (120, 160, 200)).save(buffer, format="JPEG")
    faceless, text = ("image.jpg", buffer.getvalue()), ("image.jpg", b"not a photo at all")
    # one photo without a face and one unreadable: a 422 that reports both (the faceless one is not lost)
    answer = c.post("/v1/subjects/QA%20Same%20Names/faces", headers=a, files=[("images", faceless), ("images", text)])
    message = error_message(answer, 422, "no_face")
    assert "image.jpg: no face found" in message and "image.jpg (2): not an image" in message
    _, face = named_photo(lfw, "Serena_Williams", 1)
    answer = c.post("/v1/subjects/QA%20Same%20Names/faces", headers=a,
                    files=[("images", faceless), ("images", text), ("images", ("image.jpg", face))])
    assert answer.status_code == 201, answer.text
    assert answer.json()["added"] == 1
    assert sorted(answer.json()["problems"]) == ["image.jpg", "image.jpg (2)"]


def test_unique_labels():
    assert unique_labels(["a", "b", "a", "a (2)", "a"]) == ["a", "b", "a (2)", "a (2) (2)", "a (3)"]

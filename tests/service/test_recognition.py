"""Real faces over HTTP: LFW people enrolled, identified, verified, renamed and deleted; every
face of a group detected; verify detecting as `faceprint verify` does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the service needs its extra: pip install 'faceprint[serve]'")
pytest.importorskip("multipart", reason="the service needs python-multipart: pip install 'faceprint[serve]'")

from service_helpers import PEOPLE, assert_error, jpeg, lfw_photo  # noqa: E402

# CFP photos where YuNet finds a face only at its fallback score (the pose cache marks them)
FALLBACK_PHOTO = Path("cfp_dev/053/frontal/04.jpg")
SAME_PERSON = Path("cfp_dev/053/frontal/01.jpg")


@pytest.mark.slow
def test_enrol_identify_verify_on_lfw(env, lfw):
    c, a, r = env["client"], env["admin"], env["reader"]
    for name, folder in PEOPLE.items():
        files = [("images", (f"{folder}_{i}.jpg", lfw_photo(lfw, folder, i))) for i in (1, 2, 3)]
        files.append(("images", ("broken.jpg", b"\xff\xd8\xff not really")))
        response = c.post(f"/v1/subjects/{name}/faces", files=files, headers=a)
        assert response.status_code == 201, response.text
        report = response.json()
        assert report["added"] == 3 and report["subject"]["faces"] == 3
        assert list(report["problems"]) == ["broken.jpg"]
    # the same photo again is a duplicate, not a second face
    again = c.post("/v1/subjects/George W Bush/faces",
                   files={"images": ("again.jpg", lfw_photo(lfw, "George_W_Bush", 1))}, headers=a).json()
    assert again["added"] == 0 and again["skipped_duplicates"] == 1

    listed = {s["name"]: s["faces"] for s in c.get("/v1/subjects", headers=r).json()["subjects"]}
    assert listed == {"George W Bush": 3, "Colin Powell": 3}
    for name, folder in PEOPLE.items():
        answer = c.post("/v1/identify", files={"image": ("probe.jpg", lfw_photo(lfw, folder, 11))},
                        params={"top_k": 2}, headers=r).json()
        central = min(answer["faces"], key=lambda f: abs((f["face"]["box"][0] + f["face"]["box"][2]) / 2 - 125))
        assert central["name"] == name
        assert central["distance"] <= central["threshold"]
        assert [cand["subject"] for cand in central["candidates"]][0] == name
        assert len(central["candidates"]) == 2

    same = c.post("/v1/verify", headers=r, files={"first": ("a.jpg", lfw_photo(lfw, "Colin_Powell", 4)),
                                                  "second": ("b.jpg", lfw_photo(lfw, "Colin_Powell", 5))}).json()
    other = c.post("/v1/verify", headers=r, files={"first": ("a.jpg", lfw_photo(lfw, "Colin_Powell", 4)),
                                                   "second": ("b.jpg", lfw_photo(lfw, "George_W_Bush", 5))}).json()
    assert same["same"] is True and other["same"] is False and same["distance"] < other["distance"]

    embedded = c.post("/v1/embed", files={"image": ("a.jpg", lfw_photo(lfw, "Colin_Powell", 4))}, headers=r).json()
    vector = np.array(embedded["faces"][0]["vector"])
    assert vector.shape == (128,) and abs(np.linalg.norm(vector) - 1) < 1e-4 and embedded["signature"]

    # rename, list faces, delete one face, delete the subject
    assert c.patch("/v1/subjects/Colin Powell", json={"name": "General Powell"}, headers=a).json()["faces"] == 3
    assert_error(c.patch("/v1/subjects/General Powell", json={"name": "George W Bush"}, headers=a), 409)
    assert_error(c.post("/v1/subjects", json={"name": "George W Bush"}, headers=a), 409, "subject_exists")
    faces = c.get("/v1/faces", params={"subject": "General Powell"}, headers=r).json()["faces"]
    assert len(faces) == 3 and all(f["subject"] == "General Powell" for f in faces)
    assert c.delete(f"/v1/faces/{faces[0]['id']}", headers=a).json() == {"deleted": faces[0]["id"]}
    assert c.get("/v1/subjects/General Powell", headers=r).json()["faces"] == 2
    assert c.delete("/v1/subjects/General Powell", headers=a).json() == {"deleted": "General Powell",
                                                                       "faces_removed": 2}
    probe = c.post("/v1/identify", files={"image": ("p.jpg", lfw_photo(lfw, "Colin_Powell", 11))},
                   headers=r).json()
    assert all(f["name"] != "General Powell" for f in probe["faces"])


def test_detect_every_face_of_a_group(env, group_photo):
    answer = env["client"].post("/v1/detect", files={"image": ("group.jpg", jpeg(group_photo))},
                                headers=env["reader"]).json()
    assert answer["width"] == group_photo.shape[1] and answer["height"] == group_photo.shape[0]
    assert len(answer["faces"]) >= 6
    # a box centred in each of the 2x3 tiles: every person of the grid was found
    tile_w, tile_h = group_photo.shape[1] / 3, group_photo.shape[0] / 2
    tiles = {(int((f["box"][0] + f["box"][2]) / 2 // tile_w), int((f["box"][1] + f["box"][3]) / 2 // tile_h))
             for f in answer["faces"]}
    assert tiles >= {(col, row) for col in range(3) for row in range(2)}, answer["faces"]


# -- verify finds the faces `faceprint verify` finds -----------------------------------------------
def test_verify_uses_the_detector_fallback_like_the_library(env, data_dir):
    from faceprint.api import verify

    c, r = env["client"], env["reader"]
    hard, other = data_dir / FALLBACK_PHOTO, data_dir / SAME_PERSON
    if not hard.is_file():
        pytest.skip(f"{hard} not found")
    # the detector alone finds nothing in this photo: /detect reports every face above its threshold
    detected = c.post("/v1/detect", files={"image": ("hard.jpg", hard.read_bytes())}, headers=r)
    assert detected.status_code == 200 and detected.json()["faces"] == []
    expected = verify(hard, other)
    answer = c.post("/v1/verify", headers=r, files={"first": ("hard.jpg", hard.read_bytes()),
                                                    "second": ("other.jpg", other.read_bytes())})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["same"] == expected.same
    assert body["distance"] == pytest.approx(expected.distance, abs=1e-4)
    assert body["threshold"] == pytest.approx(expected.threshold)


def test_verify_of_a_group_takes_the_central_face_with_a_note(env, group_photo, lfw):
    """Two faces of the 2x3 grid's middle column: the central one is chosen, a note says so."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(group_photo).save(buffer, format="JPEG")
    colin = (lfw / "Colin_Powell" / "Colin_Powell_0002.jpg").read_bytes()
    answer = env["client"].post("/v1/verify", headers=env["reader"],
                                files={"first": ("group.jpg", buffer.getvalue()), "second": ("c.jpg", colin)})
    assert answer.status_code == 200, answer.text
    notes = answer.json()["notes"]
    assert len(notes) == 1 and notes[0].startswith("group.jpg: ") and "nearest the centre" in notes[0]

"""QA of the REST service as a hostile client: photos enrolled already as someone else, the
server's gallery path in error messages, the code of an unexpected error, and names that HTTP
cannot address or show on one line."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="the service needs its extra: pip install 'faceprint[serve]'")
pytest.importorskip("multipart", reason="the service needs python-multipart: pip install 'faceprint[serve]'")

from fastapi.testclient import TestClient  # noqa: E402


@pytest.fixture(scope="module")
def env(tmp_path_factory, running_service):
    """A service on a fresh gallery with one admin and one recognise key."""
    with running_service(tmp_path_factory.mktemp("qa_service")) as started:
        yield started


def _photo(lfw, person: str, n: int) -> tuple[str, bytes]:
    path = lfw / person / f"{person}_{n:04d}.jpg"
    return path.name, path.read_bytes()


def _error(answer, status: int, code: str) -> str:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code, answer.text
    return error["message"]


# -- enrolling photos that are in the gallery already, as someone else ----------------------------
def test_enrol_of_photos_enrolled_as_someone_else_is_a_409_that_names_them(env, lfw):
    c, a = env["client"], env["admin"]
    photo = _photo(lfw, "Colin_Powell", 1)
    first = c.post("/v1/subjects/QA%20Colin/faces", headers=a, files=[("images", photo)])
    assert first.status_code == 201, first.text
    again = c.post("/v1/subjects/QA%20Someone/faces", headers=a, files=[("images", photo)])
    message = _error(again, 409, "gallery")  # was: 404 "no subject named 'QA Someone'" on a create
    assert "QA Someone" in message and "QA Colin" in message
    assert c.get("/v1/subjects/QA%20Someone", headers=env["reader"]).status_code == 404  # nothing made
    # the same photo into its own subject stays a 201 with the duplicate counted
    same = c.post("/v1/subjects/QA%20Colin/faces", headers=a, files=[("images", photo)])
    assert same.status_code == 201 and same.json()["skipped_duplicates"] == 1


# -- what a client may see of the server ---------------------------------------------------------
def test_not_found_messages_hide_the_gallery_path_and_name_the_routes(env):
    c, r, a = env["client"], env["reader"], env["admin"]
    root = str(env["root"])
    answers = [(c.get("/v1/subjects/nobody", headers=r), "unknown_subject", "GET /v1/subjects"),
               (c.get("/v1/faces?subject=nobody", headers=r), "unknown_subject", "GET /v1/subjects"),
               (c.delete("/v1/subjects/nobody", headers=a), "unknown_subject", "GET /v1/subjects"),
               (c.delete("/v1/faces/987654", headers=a), "unknown_face", "GET /v1/faces")]
    for answer, code, route in answers:
        message = _error(answer, 404, code)
        assert root not in message and ".db" not in message, message
        assert "faceprint gallery" not in message and route in message, message
        assert "the gallery" in message


def test_an_unexpected_error_is_the_documented_server_error(env, monkeypatch):
    svc = env["app"].state.service

    def broken(*args, **kwargs):
        raise RuntimeError(f"internal detail {env['root']}")

    monkeypatch.setattr(svc.gallery, "subjects", broken)
    client = TestClient(env["app"], raise_server_exceptions=False)  # the app is started by env's client
    message = _error(client.get("/v1/subjects", headers=env["reader"]), 500, "server_error")
    assert "internal detail" not in message and str(env["root"]) not in message


# -- names ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [".", "..", "a\rb", "a\x00b", "a\u2028b", "bell\x07", "esc\x1b[31m"])
def test_names_http_cannot_address_or_show_are_refused(env, name):
    c, a = env["client"], env["admin"]
    _error(c.post("/v1/subjects", headers=a, json={"name": name}), 422, "invalid_request")
    assert name not in [s["name"] for s in c.get("/v1/subjects", headers=env["reader"]).json()["subjects"]]


def test_rename_to_a_dot_name_is_refused(env):
    c, a = env["client"], env["admin"]
    assert c.post("/v1/subjects", headers=a, json={"name": "QA Dots"}).status_code == 201
    _error(c.patch("/v1/subjects/QA%20Dots", headers=a, json={"name": ".."}), 422, "invalid_request")
    assert c.get("/v1/subjects/QA%20Dots", headers=env["reader"]).status_code == 200


def test_enrol_refuses_a_new_control_character_name_but_serves_an_existing_one(env, lfw, monkeypatch):
    from faceprint.errors import GalleryError
    from faceprint.gallery import store

    c, a = env["client"], env["admin"]
    photo = _photo(lfw, "Tony_Blair", 1)
    _error(c.post("/v1/subjects/QA%0Dnew/faces", headers=a, files=[("images", photo)]), 400, "bad_input")
    assert "QA\rnew" not in [s["name"] for s in c.get("/v1/subjects", headers=a).json()["subjects"]]
    gallery = env["app"].state.service.gallery
    with pytest.raises(GalleryError, match="control character"):  # the gallery's own rule, for the CLI too
        gallery.add_subject("QA\rold")
    # a name stored before the rule existed (an older faceprint) can still be enrolled into
    monkeypatch.setattr(store, "check_name", lambda name: name)
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
    # one photo without a face and one unreadable: a 422 (was: 400, the faceless one lost)
    answer = c.post("/v1/subjects/QA%20Same%20Names/faces", headers=a, files=[("images", faceless), ("images", text)])
    message = _error(answer, 422, "no_face")
    assert "image.jpg: no face found" in message and "image.jpg (2): not an image" in message
    _, face = _photo(lfw, "Serena_Williams", 1)
    answer = c.post("/v1/subjects/QA%20Same%20Names/faces", headers=a,
                    files=[("images", faceless), ("images", text), ("images", ("image.jpg", face))])
    assert answer.status_code == 201, answer.text
    assert answer.json()["added"] == 1
    assert sorted(answer.json()["problems"]) == ["image.jpg", "image.jpg (2)"]


def test_unique_labels():
    from faceprint.service.routers.faces import unique_labels

    assert unique_labels(["a", "b", "a", "a (2)", "a"]) == ["a", "b", "a (2)", "a (2) (2)", "a (3)"]


def test_a_photo_over_the_pixel_limit_tells_the_client_what_to_do(env, astronaut, monkeypatch):
    """FACEPRINT_MAX_PIXELS is the operator's setting: the client is told to send a smaller photo."""
    monkeypatch.setenv("FACEPRINT_MAX_PIXELS", "10000")
    answer = env["client"].post("/v1/detect", headers=env["reader"], files={"image": ("big.png", astronaut.read_bytes())})
    message = _error(answer, 413, "image_too_large")
    assert "FACEPRINT_MAX_PIXELS" not in message and "smaller photo" in message
    assert message.startswith("big.png: 512x512")


# -- subject metadata --------------------------------------------------------------------------------
def _nested(depth: int) -> dict:
    value = inner = {}
    for _ in range(depth - 1):
        inner["a"] = {}
        inner = inner["a"]
    return value


@pytest.mark.parametrize("metadata, words", [(_nested(300), "nested"), (_nested(33), "nested"),
                                             ({"notes": "x" * 70_000}, "bytes"), ({"list": [[[[[[[[]]]]]]]]}, None)])
def test_metadata_that_would_break_or_bloat_every_listing_is_refused(env, metadata, words):
    """Metadata deeper than the JSON encoder allows was stored, answered 500, and from then on
    GET /v1/subjects was a 500 for every client; a huge one went into every listing."""
    c, a = env["client"], env["admin"]
    answer = c.post("/v1/subjects", headers=a, json={"name": f"QA meta {words}", "metadata": metadata})
    if words is None:  # modest nesting stays fine
        assert answer.status_code == 201, answer.text
    else:
        assert words in _error(answer, 422, "invalid_request")
    assert c.get("/v1/subjects", headers=env["reader"]).status_code == 200


def test_metadata_with_nan_is_refused(env):
    c, a = env["client"], env["admin"]
    body = b'{"name": "QA NaN", "metadata": {"score": NaN}}'
    answer = c.post("/v1/subjects", headers={**a, "content-type": "application/json"}, content=body)
    assert "NaN" in _error(answer, 422, "invalid_request")

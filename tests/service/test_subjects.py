"""The gallery's people over HTTP: names as the gallery allows them (a slash, control characters,
dots), a taken name 409 and no other gallery error reported as one, and metadata that would
break or bloat every listing."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("fastapi", reason="the service needs its extra: pip install 'faceprint[serve]'")
pytest.importorskip("multipart", reason="the service needs python-multipart: pip install 'faceprint[serve]'")

from service_helpers import error_message  # noqa: E402

from faceprint import errors as fe  # noqa: E402


# -- names -----------------------------------------------------------------------------------------
def test_a_name_with_a_slash_made_by_the_cli_is_reachable(env):
    c, a, r = env["client"], env["admin"], env["reader"]
    app_gallery = c.app.state.service.gallery
    app_gallery.add_subject("AC/DC")  # what `faceprint gallery` may create
    shown = c.get("/v1/subjects/AC%2FDC", headers=r)
    assert shown.status_code == 200, shown.text
    assert shown.json()["name"] == "AC/DC"
    renamed = c.patch("/v1/subjects/AC%2FDC", json={"name": "AC/DC band"}, headers=a)
    assert renamed.status_code == 200 and renamed.json()["name"] == "AC/DC band"
    assert c.post("/v1/subjects", json={"name": "a\\b c"}, headers=a).status_code == 201
    deleted = c.delete("/v1/subjects/AC%2FDC band", headers=a)
    assert deleted.status_code == 200 and deleted.json()["deleted"] == "AC/DC band"
    assert c.get("/v1/subjects/AC%2FDC band", headers=r).status_code == 404


def test_names_the_gallery_refuses_are_4xx_and_only_a_taken_name_is_409(env):
    c, a = env["client"], env["admin"]
    assert c.post("/v1/subjects", json={"name": "Grace"}, headers=a).status_code == 201
    taken = c.post("/v1/subjects", json={"name": "Grace"}, headers=a)
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "subject_exists"
    assert str(env["root"]) not in taken.text  # the gallery's path stays on the server
    for bad in ("unknown", "two\nlines", "   "):
        answer = c.post("/v1/subjects", json={"name": bad}, headers=a)
        assert answer.status_code == 422, (bad, answer.text)
    assert c.post("/v1/subjects", json={"name": "Hopper"}, headers=a).status_code == 201
    clash = c.patch("/v1/subjects/Hopper", json={"name": "Grace"}, headers=a)
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "subject_exists"
    missing = c.patch("/v1/subjects/Nobody", json={"name": "Someone"}, headers=a)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_subject"


def test_other_gallery_errors_are_not_reported_as_a_taken_name(env, monkeypatch):
    c, a = env["client"], env["admin"]
    gallery = c.app.state.service.gallery

    def broken(name, metadata=None):
        raise fe.GalleryError("the store failed")

    monkeypatch.setattr(gallery, "add_subject", broken)
    answer = c.post("/v1/subjects", json={"name": "Lovelace"}, headers=a)
    assert answer.json()["error"]["code"] != "subject_exists", answer.text
    assert json.loads(answer.text)["error"]["message"] == "the store failed"


@pytest.mark.parametrize("name", [".", "..", "a\rb", "a\x00b", "a\u2028b", "bell\x07", "esc\x1b[31m"])
def test_names_http_cannot_address_or_show_are_refused(env, name):
    c, a = env["client"], env["admin"]
    error_message(c.post("/v1/subjects", headers=a, json={"name": name}), 422, "invalid_request")
    assert name not in [s["name"] for s in c.get("/v1/subjects", headers=env["reader"]).json()["subjects"]]


def test_rename_to_a_dot_name_is_refused(env):
    c, a = env["client"], env["admin"]
    assert c.post("/v1/subjects", headers=a, json={"name": "QA Dots"}).status_code == 201
    error_message(c.patch("/v1/subjects/QA%20Dots", headers=a, json={"name": ".."}), 422, "invalid_request")
    assert c.get("/v1/subjects/QA%20Dots", headers=env["reader"]).status_code == 200


# -- metadata --------------------------------------------------------------------------------------
def _nested(depth: int) -> dict:
    value = inner = {}
    for _ in range(depth - 1):
        inner["a"] = {}
        inner = inner["a"]
    return value


@pytest.mark.parametrize("metadata, words", [(_nested(300), "nested"), (_nested(33), "nested"),
                                             ({"notes": "x" * 70_000}, "bytes"), ({"list": [[[[[[[[]]]]]]]]}, None)])
def test_metadata_that_would_break_or_bloat_every_listing_is_refused(env, metadata, words):
    """Metadata deeper than the JSON encoder allows would be stored, answered 500, and from then on
    make GET /v1/subjects a 500 for every client; a huge one would go into every listing."""
    c, a = env["client"], env["admin"]
    answer = c.post("/v1/subjects", headers=a, json={"name": f"QA meta {words}", "metadata": metadata})
    if words is None:  # modest nesting stays fine
        assert answer.status_code == 201, answer.text
    else:
        assert words in error_message(answer, 422, "invalid_request")
    assert c.get("/v1/subjects", headers=env["reader"]).status_code == 200


def test_metadata_with_nan_is_refused(env):
    c, a = env["client"], env["admin"]
    body = b'{"name": "QA NaN", "metadata": {"score": NaN}}'
    answer = c.post("/v1/subjects", headers={**a, "content-type": "application/json"}, content=body)
    assert "NaN" in error_message(answer, 422, "invalid_request")

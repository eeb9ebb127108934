"""The one status table and what a client sees of the server: faceprint's errors by type, an
unreachable gallery server a 503, an unexpected error the documented 500, and "not found" answers
that name the routes but never the server's gallery path."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="the service needs its extra: pip install 'faceprint[serve]'")
pytest.importorskip("multipart", reason="the service needs python-multipart: pip install 'faceprint[serve]'")

from fastapi.testclient import TestClient  # noqa: E402
from service_helpers import error_message  # noqa: E402

from faceprint import errors as fe  # noqa: E402
from faceprint.service.errors import status_of  # noqa: E402


# -- the status table ------------------------------------------------------------------------------
def test_unlisted_faceprint_errors_are_server_errors():
    from faceprint.models.mobilefacenet import InstallError

    assert status_of(fe.FaceprintError("the server broke")) == (500, "server_error")
    assert status_of(InstallError("weights missing"))[0] == 500
    # the client's own mistakes stay 4xx
    assert status_of(fe.BadInput("x")) == (400, "bad_input")
    assert status_of(fe.UnknownSubject("x")) == (404, "unknown_subject")
    assert status_of(fe.GalleryMismatch("x")) == (409, "gallery_mismatch")


def test_an_unreachable_gallery_server_is_a_503_not_a_conflict():
    assert status_of(fe.GalleryUnavailable("milvus://db:19530/team: cannot reach Milvus")) == (503, "gallery_unavailable")
    assert status_of(fe.GalleryError("subject exists")) == (409, "gallery")
    assert issubclass(fe.GalleryUnavailable, fe.GalleryError)  # the CLI's one-line gallery errors still catch it


# -- what a client may see of the server -----------------------------------------------------------
def test_not_found_messages_hide_the_gallery_path_and_name_the_routes(env):
    c, r, a = env["client"], env["reader"], env["admin"]
    root = str(env["root"])
    answers = [(c.get("/v1/subjects/nobody", headers=r), "unknown_subject", "GET /v1/subjects"),
               (c.get("/v1/faces?subject=nobody", headers=r), "unknown_subject", "GET /v1/subjects"),
               (c.delete("/v1/subjects/nobody", headers=a), "unknown_subject", "GET /v1/subjects"),
               (c.delete("/v1/faces/987654", headers=a), "unknown_face", "GET /v1/faces")]
    for answer, code, route in answers:
        message = error_message(answer, 404, code)
        assert root not in message and ".db" not in message, message
        assert "faceprint gallery" not in message and route in message, message
        assert "the gallery" in message


def test_an_unexpected_error_is_the_documented_server_error(env, monkeypatch):
    svc = env["app"].state.service

    def broken(*args, **kwargs):
        raise RuntimeError(f"internal detail {env['root']}")

    monkeypatch.setattr(svc.gallery, "subjects", broken)
    client = TestClient(env["app"], raise_server_exceptions=False)  # the app is started by env's client
    message = error_message(client.get("/v1/subjects", headers=env["reader"]), 500, "server_error")
    assert "internal detail" not in message and str(env["root"]) not in message

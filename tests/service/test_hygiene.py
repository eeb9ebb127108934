"""What the service shows of itself: no server file paths in errors or ``/readyz``, and the
security headers (Content-Security-Policy, nosniff, no framing) on every response."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("fastapi", reason="the service needs its extra: pip install 'faceprint[serve]'")
pytest.importorskip("multipart", reason="the service needs python-multipart: pip install 'faceprint[serve]'")

from fastapi.testclient import TestClient  # noqa: E402
from service_helpers import blank_jpeg, error_message  # noqa: E402

from faceprint import errors as fe  # noqa: E402

SECRET = "/srv/faceprint-secret/models"  # a server folder no client may learn of


@pytest.fixture(scope="module")
def failed(tmp_path_factory):
    """A service whose models fail to load at start-up with a message naming a server file; its
    gallery is open, so the routes that need no model still answer."""
    from faceprint.service.app import create_app
    from faceprint.service.config import ServiceConfig
    from faceprint.service.engine import Engine
    from faceprint.service.keys import KeyStore

    root = tmp_path_factory.mktemp("hygiene")
    keys = KeyStore(root / "keys.json")
    admin, _ = keys.create("admin", "hygiene")
    patch = pytest.MonkeyPatch()

    def broken(self):
        raise fe.ModelNotAvailable(f"cannot load YuNet from {SECRET}/yunet.onnx (truncated): reinstall it")

    patch.setattr(Engine, "warm", broken)
    try:
        app = create_app(ServiceConfig(gallery=root / "gallery.db", keys=root / "keys.json", warm=True,
                                       max_body_bytes=64 * 1024))
        with TestClient(app) as client:
            deadline = time.monotonic() + 30.0
            while "failed" not in client.get("/readyz").json()["status"]:
                assert time.monotonic() < deadline, "the failed start-up never showed on /readyz"
                time.sleep(0.05)
            yield {"client": client, "admin": {"X-API-Key": admin}, "root": root, "app": app}
    finally:
        patch.undo()


# -- no server paths -------------------------------------------------------------------------------
def test_readyz_says_the_models_failed_without_naming_server_files(failed):
    answer = failed["client"].get("/readyz")
    assert answer.status_code == 503
    status = answer.json()["status"]
    assert status.startswith("failed") and "log" in status
    assert SECRET not in answer.text and "yunet.onnx" not in answer.text and str(failed["root"]) not in answer.text


@pytest.mark.parametrize("error", [fe.ModelNotAvailable, fe.WeightsChecksumError])
def test_model_errors_reach_clients_without_paths(failed, monkeypatch, error):
    svc = failed["app"].state.service

    def missing(*args, **kwargs):
        raise error(f"{SECRET}/dlib/resnet.dat does not match its manifest: reinstall it")

    monkeypatch.setattr(svc.gallery, "subjects", missing)
    answer = failed["client"].get("/v1/subjects", headers=failed["admin"])
    message = error_message(answer, 503, "model_not_available")
    assert SECRET not in answer.text and "resnet.dat" not in answer.text
    assert "log" in message


def test_any_other_error_message_loses_its_server_paths_but_keeps_the_routes(failed, monkeypatch):
    svc = failed["app"].state.service

    def refused(*args, **kwargs):
        raise fe.BadInput(f"cannot read {SECRET}/cache/x.npz or C:\\faceprint\\models\\y.onnx")

    monkeypatch.setattr(svc.gallery, "subjects", refused)
    answer = failed["client"].get("/v1/subjects", headers=failed["admin"])
    message = error_message(answer, 400, "bad_input")
    assert SECRET not in message and "faceprint\\models" not in message and "a file on the server" in message
    # the routes a hint names stay readable
    assert "GET /v1/subjects lists" in error_message(failed["client"].get("/v1/subjects/nobody", headers=failed["admin"]),
                                                     404, "unknown_subject")


def test_hide_server_paths_leaves_routes_and_urls():
    from faceprint.service.errors import hide_server_paths

    assert hide_server_paths("see GET /v1/subjects/{name} and /docs") == "see GET /v1/subjects/{name} and /docs"
    assert hide_server_paths("milvus://db:19530/team is down") == "milvus://db:19530/team is down"
    assert hide_server_paths("http://127.0.0.1:8000/v1/x") == "http://127.0.0.1:8000/v1/x"
    assert hide_server_paths("'/home/ada/.faceprint/models/a.onnx': missing") == "'a file on the server': missing"
    assert hide_server_paths("under ~/.faceprint/x.json") == "under a file on the server"


# -- security headers ------------------------------------------------------------------------------
def assert_secured(answer, docs: bool = False) -> str:
    policy = answer.headers.get("content-security-policy", "")
    assert answer.headers.get("x-content-type-options") == "nosniff", (answer.request.url, dict(answer.headers))
    assert "frame-ancestors 'none'" in policy and policy.startswith("default-src 'self'"), policy
    assert answer.headers.get("x-frame-options") == "DENY"
    if not docs:
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy and "http" not in policy
    return policy


def test_the_page_and_its_files_get_a_strict_policy(failed):
    c = failed["client"]
    for path in ("/", "/static/app.js", "/static/style.css", "/static/index.html"):
        answer = c.get(path)
        assert answer.status_code == 200, path
        assert_secured(answer)
    assert_secured(c.head("/"))


def test_every_answer_gets_nosniff_and_no_framing(failed):
    c, a = failed["client"], failed["admin"]
    answers = [c.get("/healthz"), c.get("/readyz"), c.get("/openapi.json"), c.get("/static/../keys.json"),
               c.get("/v1/subjects"),  # no key: 401
               c.get("/v1/subjects", headers=a), c.get("/nowhere"),
               c.post("/v1/detect", headers=a, files={"image": ("big.jpg", b"x" * (80 * 1024), "image/jpeg")}),  # 413
               c.post("/v1/detect", headers=a, files={"image": ("a.jpg", blank_jpeg(), "image/jpeg")})]
    assert {answer.status_code for answer in answers} >= {200, 401, 404, 413}
    for answer in answers:
        assert_secured(answer)


def test_swagger_ui_gets_a_policy_of_its_own(failed):
    answer = failed["client"].get("/docs")
    assert answer.status_code == 200
    policy = assert_secured(answer, docs=True)
    assert "script-src 'self' 'unsafe-inline'" in policy


def test_a_route_that_sets_its_own_policy_keeps_it():
    import asyncio

    from faceprint.service.headers import SecurityHeaders

    sent = []

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"Content-Security-Policy", b"sandbox")]})
        await send({"type": "http.response.body", "body": b""})

    async def send(message):
        sent.append(message)

    asyncio.run(SecurityHeaders(app)({"type": "http", "path": "/x"}, None, send))
    headers = dict(sent[0]["headers"])
    assert headers[b"Content-Security-Policy"] == b"sandbox" and b"content-security-policy" not in headers
    assert headers[b"x-content-type-options"] == b"nosniff"

"""API keys and scopes: keys stored as hashes, 401 without a valid key, 403 for a scope that may
not do this, a revoked key refused at once, and a damaged key file a 503 without its path."""

from __future__ import annotations

import logging
import os
import stat

import pytest

pytest.importorskip("fastapi", reason="the service needs its extra: pip install 'faceprint[serve]'")
pytest.importorskip("multipart", reason="the service needs python-multipart: pip install 'faceprint[serve]'")

from fastapi.testclient import TestClient  # noqa: E402
from service_helpers import assert_error  # noqa: E402

from faceprint.service.app import create_app  # noqa: E402
from faceprint.service.config import ServiceConfig  # noqa: E402
from faceprint.service.keys import KeyStore  # noqa: E402


def test_key_store_keeps_only_hashes(tmp_path):
    store = KeyStore(tmp_path / "keys.json")
    assert store.list() == [] and store.authenticate("anything") is None  # no default key works
    key, entry = store.create("recognise", "kiosk")
    text = (tmp_path / "keys.json").read_text()
    assert key not in text and key.split("_")[2] not in text
    assert entry.sha256 in text
    assert stat.S_IMODE(os.stat(tmp_path / "keys.json").st_mode) == 0o600
    assert store.authenticate(key).scope == "recognise"
    assert store.authenticate(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert store.authenticate(f"fpk_{entry.id}_x") is None
    # another process (the CLI) revokes it: a running store notices the file changed
    KeyStore(tmp_path / "keys.json").revoke(entry.id)
    assert store.authenticate(key) is None


def test_auth_401_and_403(env):
    c = env["client"]
    error = assert_error(c.get("/v1/subjects"), 401, "unauthorised")
    assert "X-API-Key" in error["message"]
    assert c.get("/v1/subjects").headers["www-authenticate"] == "Bearer"
    assert_error(c.get("/v1/subjects", headers={"X-API-Key": "fpk_00000000_nope"}), 401, "unauthorised")
    assert_error(c.get("/v1/subjects", headers={"Authorization": "Bearer wrong"}), 401)
    assert c.get("/v1/subjects", headers=env["reader"]).status_code == 200
    bearer = {"Authorization": "Bearer " + env["reader"]["X-API-Key"]}
    assert c.get("/v1/me", headers=bearer).json()["scope"] == "recognise"
    # a recognise key may read but not change the gallery
    assert_error(c.post("/v1/subjects", json={"name": "Ada"}, headers=env["reader"]), 403, "forbidden")
    assert_error(c.delete("/v1/subjects/Ada", headers=env["reader"]), 403)
    assert_error(c.post("/v1/subjects/Ada/faces", files={"images": ("a.jpg", b"x")}, headers=env["reader"]), 403)
    assert_error(c.delete("/v1/faces/1", headers=env["reader"]), 403)
    # no key needed for health, the page and the docs
    assert c.get("/healthz").json() == {"status": "ok"}
    assert c.get("/readyz").json()["status"] == "ready"
    page = c.get("/")
    assert page.status_code == 200 and "faceprint" in page.text and "app.js" in page.text
    assert c.get("/static/app.js").status_code == 200
    assert c.get("/docs").status_code == 200
    assert "/v1/identify" in c.get("/openapi.json").json()["paths"]


def test_revoked_key_stops_working_at_once(env):
    c, keys = env["client"], env["keys"]
    key, entry = keys.create("admin", "short-lived")
    assert c.get("/v1/me", headers={"X-API-Key": key}).json()["id"] == entry.id
    KeyStore(keys.path).revoke(entry.id)
    assert_error(c.get("/v1/me", headers={"X-API-Key": key}), 401)


def test_damaged_key_file_is_a_503_without_its_path(tmp_path, caplog):
    keys = KeyStore(tmp_path / "keys.json")
    key, _ = keys.create("admin", "ops")
    config = ServiceConfig(gallery=tmp_path / "gallery.db", keys=tmp_path / "keys.json", warm=False)
    with TestClient(create_app(config)) as client:
        (tmp_path / "keys.json").write_text("{ not json")
        with caplog.at_level(logging.ERROR, logger="faceprint.service.errors"):
            answer = client.get("/v1/me", headers={"X-API-Key": key})
    assert answer.status_code == 503, answer.text
    error = answer.json()["error"]
    assert error["code"] == "key_store" and "key file" in error["message"]
    assert str(tmp_path) not in answer.text
    assert str(tmp_path / "keys.json") in caplog.text  # the operator finds the detail in the log

"""Running the service: `faceprint serve` keeps the FACEPRINT_SERVE_* values it has no option for,
a bad value is one line, warm=False is ready at once, uptime monitors may send HEAD, and a
milvus-lite gallery URI is served as a URI (a failing Milvus is a 503)."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="the service needs its extra: pip install 'faceprint[serve]'")
pytest.importorskip("multipart", reason="the service needs python-multipart: pip install 'faceprint[serve]'")

from fastapi.testclient import TestClient  # noqa: E402

from faceprint.service.app import create_app  # noqa: E402
from faceprint.service.config import ENV_PREFIX, ServiceConfig  # noqa: E402
from faceprint.service.keys import KeyStore  # noqa: E402


# -- `faceprint serve` -----------------------------------------------------------------------------
def test_serve_keeps_the_environment_and_applies_given_options(tmp_path, monkeypatch):
    import uvicorn
    from typer.testing import CliRunner

    from faceprint.cli.main import app

    KeyStore(tmp_path / "keys.json").create("admin", "ops")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(ENV_PREFIX + "MAX_FILES", "3")
    monkeypatch.setenv(ENV_PREFIX + "BATCH_WAIT_MS", "40.0")
    monkeypatch.setenv(ENV_PREFIX + "WARM", "false")
    monkeypatch.setenv(ENV_PREFIX + "MAX_QUEUE", "9")
    monkeypatch.setenv(ENV_PREFIX + "GALLERY", str(tmp_path / "env.db"))
    for name in ("MAX_BATCH", "MAX_BODY_BYTES", "MODEL", "KEYS"):
        monkeypatch.delenv(ENV_PREFIX + name, raising=False)
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    result = CliRunner().invoke(app, ["serve", "--keys", str(tmp_path / "keys.json"), "--max-batch", "4",
                                      "--max-queue", "12"])
    assert result.exit_code == 0, result.output
    assert len(calls) == 1
    config = ServiceConfig.from_env()  # what uvicorn's workers will read
    assert (config.max_files, config.batch_wait_ms, config.warm) == (3, 40.0, False)  # kept
    assert (config.max_batch, config.max_queue) == (4, 12)  # the options given win
    assert config.gallery == tmp_path / "env.db" and config.keys == tmp_path / "keys.json"
    assert config.max_body_bytes == ServiceConfig().max_body_bytes
    assert "no API keys" not in result.output


def test_serve_bad_environment_value_is_one_line(tmp_path, monkeypatch):
    import uvicorn
    from typer.testing import CliRunner

    from faceprint.cli.main import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    monkeypatch.setenv(ENV_PREFIX + "MAX_FILES", "many")
    result = CliRunner().invoke(app, ["serve", "--keys", str(tmp_path / "keys.json")])
    assert result.exit_code == 1
    assert "FACEPRINT_SERVE_" in result.output and "Traceback" not in result.output


# -- readiness -------------------------------------------------------------------------------------
def test_cold_start_is_ready_and_loads_models_on_first_use(tmp_path, astronaut):
    keys = KeyStore(tmp_path / "keys.json")
    key, _ = keys.create("recognise", "reader")
    config = ServiceConfig(gallery=tmp_path / "gallery.db", keys=tmp_path / "keys.json", warm=False)
    with TestClient(create_app(config)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "ready" and ready.json()["models"] is False
        answer = client.post("/v1/detect", files={"image": ("a.png", astronaut.read_bytes())},
                             headers={"X-API-Key": key})
        assert answer.status_code == 200 and len(answer.json()["faces"]) == 1


def test_uptime_monitors_may_send_head(env):
    c = env["client"]
    for path in ("/", "/healthz", "/readyz"):
        answer = c.head(path)
        assert answer.status_code == 200 and answer.content == b"", (path, answer.status_code)


# -- gallery URIs ----------------------------------------------------------------------------------
def test_the_service_serves_a_milvus_lite_gallery_and_a_failing_milvus_is_a_503(tmp_path, running_service, lfw,
                                                                                  monkeypatch):
    """A gallery URI stays a URI (not a path under the working folder, where the service would
    quietly open a new SQLite file); Milvus failing under a request is 503, not 409."""
    from faceprint.gallery.milvus_store import milvus_available

    if not milvus_available(lite=True):
        pytest.skip("pymilvus/milvus-lite not installed: pip install -e '.[milvus]'")
    from pymilvus.exceptions import MilvusException

    monkeypatch.chdir(tmp_path)
    uri = f"milvus-lite://{tmp_path}/team.db"
    with running_service(tmp_path, gallery=uri) as env:
        c, a = env["client"], env["admin"]
        photo = (lfw / "Tony_Blair" / "Tony_Blair_0001.jpg").read_bytes()
        assert c.post("/v1/subjects/Tony/faces", files={"images": ("t.jpg", photo)}, headers=a).status_code == 201
        probe = (lfw / "Tony_Blair" / "Tony_Blair_0002.jpg").read_bytes()
        named = c.post("/v1/identify", files={"image": ("p.jpg", probe)}, headers=env["reader"]).json()
        assert named["faces"][0]["name"] == "Tony"
        store = env["app"].state.service.gallery._store

        def down(*args, **kwargs):
            raise MilvusException(message="the server closed the connection")

        monkeypatch.setattr(store.client, "query", down)
        answer = c.get("/v1/subjects", headers=a)
        assert answer.status_code == 503 and answer.json()["error"]["code"] == "gallery_unavailable", answer.text
        assert str(tmp_path) not in answer.text  # "the gallery", not the server's folder
    assert (tmp_path / "team.db").is_dir() and not (tmp_path / "milvus-lite:").exists()

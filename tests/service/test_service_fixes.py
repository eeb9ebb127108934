"""The service's review fixes: verify detects as `faceprint verify` does, a damaged key file is a
503 without the server's paths, `faceprint serve` keeps FACEPRINT_SERVE_* values, /readyz with
warm=False, subject names with a slash, and no 409 for gallery errors other than a taken name."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the service needs its extra: pip install 'faceprint[serve]'")
pytest.importorskip("multipart", reason="the service needs python-multipart: pip install 'faceprint[serve]'")

from fastapi.testclient import TestClient  # noqa: E402

from faceprint import errors as fe  # noqa: E402
from faceprint.service.app import create_app  # noqa: E402
from faceprint.service.config import ENV_PREFIX, ServiceConfig  # noqa: E402
from faceprint.service.engine import Engine, ImageJob  # noqa: E402
from faceprint.service.errors import status_of  # noqa: E402
from faceprint.service.keys import KeyStore  # noqa: E402

# CFP photos where YuNet finds a face only at its fallback score (the pose cache marks them)
FALLBACK_PHOTO = Path("cfp_dev/053/frontal/04.jpg")
SAME_PERSON = Path("cfp_dev/053/frontal/01.jpg")


@pytest.fixture(scope="module")
def env(tmp_path_factory, running_service):
    """A service on a fresh gallery with one admin and one recognise key."""
    with running_service(tmp_path_factory.mktemp("service_fixes")) as started:
        yield started


# -- 1. verify over HTTP finds the faces `faceprint verify` finds ------------------------------------
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


def test_engine_keeps_one_face_and_counts_them_all(group_photo):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(group_photo).save(buffer, format="JPEG")
    engine = Engine()
    try:
        every, one, blank = engine.run([ImageJob(buffer.getvalue(), "group"),
                                        ImageJob(buffer.getvalue(), "group", expect_face=True),
                                        ImageJob(_blank_jpeg(), "blank")])
    finally:
        engine.close()
    assert len(every.detections) == every.found >= 6 and every.vectors.shape[0] == every.found
    assert one.found == every.found and len(one.detections) == 1 and one.vectors.shape[0] == 1
    # an image without a face: an empty (0, dim) array, as wide as real vectors
    assert blank.detections == [] and blank.vectors.shape == (0, every.vectors.shape[1])


def _blank_jpeg() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.full((120, 160, 3), 200, np.uint8)).save(buffer, format="JPEG")
    return buffer.getvalue()


# -- 2. server-side errors are 5xx and keep the server's paths out of the answer ------------------------
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


def test_unlisted_faceprint_errors_are_server_errors():
    from faceprint.models.mobilefacenet import InstallError

    assert status_of(fe.FaceprintError("the server broke")) == (500, "server_error")
    assert status_of(InstallError("weights missing"))[0] == 500
    # the client's own mistakes stay 4xx
    assert status_of(fe.BadInput("x")) == (400, "bad_input")
    assert status_of(fe.UnknownSubject("x")) == (404, "unknown_subject")
    assert status_of(fe.GalleryMismatch("x")) == (409, "gallery_mismatch")


# -- 3. `faceprint serve` keeps FACEPRINT_SERVE_* values it has no option for ---------------------------
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


# -- 4. warm=False is ready at once --------------------------------------------------------------------
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


# -- 5. subject names as the gallery allows them ---------------------------------------------------------
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


def test_enrol_into_a_name_with_a_slash(env, lfw):
    c, a = env["client"], env["admin"]
    photo = (lfw / "Tony_Blair" / "Tony_Blair_0001.jpg").read_bytes()
    answer = c.post("/v1/subjects/Blair%2FTony/faces", files={"images": ("t.jpg", photo)}, headers=a)
    assert answer.status_code == 201, answer.text
    assert answer.json()["subject"]["name"] == "Blair/Tony"
    assert c.get("/v1/subjects/Blair%2FTony", headers=env["reader"]).json()["faces"] == 1


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


def test_an_unreachable_gallery_server_is_a_503_not_a_conflict():
    assert status_of(fe.GalleryUnavailable("milvus://db:19530/team: cannot reach Milvus")) == (503, "gallery_unavailable")
    assert status_of(fe.GalleryError("subject exists")) == (409, "gallery")
    assert issubclass(fe.GalleryUnavailable, fe.GalleryError)  # the CLI's one-line gallery errors still catch it


def test_a_bug_met_by_one_image_fails_only_its_own_job(group_photo, monkeypatch):
    """The batch holds other clients' images: an unexpected error in one image's detection, or in
    the batch's network call, fails that image's job and no other."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(group_photo).save(buffer, format="JPEG")
    good = buffer.getvalue()
    engine = Engine()
    try:
        engine.warm()
        real_detect, real_embed = engine.pipeline.detect, engine.pipeline.embedder.embed_prepared

        def detect(image, expect_face=False):
            if image.shape[0] == 97:  # the poisoned image
                raise RuntimeError("a bug in the detector")
            return real_detect(image, expect_face=expect_face)

        poisoned = io.BytesIO()
        Image.new("RGB", (80, 97), (90, 90, 90)).save(poisoned, format="PNG")
        monkeypatch.setattr(engine.pipeline, "detect", detect)
        first, bad, last = engine.run([ImageJob(good, "a"), ImageJob(poisoned.getvalue(), "b"), ImageJob(good, "c")])
        assert isinstance(bad, RuntimeError)
        assert first.vectors.shape[0] == first.found >= 6 and np.array_equal(first.vectors, last.vectors)

        calls = []

        def embed(chips):  # fails on the big batch and on the second image alone
            calls.append(len(chips))
            if len(chips) > first.found or len(calls) == 3:
                raise RuntimeError("a bug in the network")
            return real_embed(chips)

        monkeypatch.setattr(engine.pipeline.embedder, "embed_prepared", embed)
        one, two = engine.run([ImageJob(good, "a"), ImageJob(good, "b")])
        assert np.allclose(one.vectors, first.vectors, atol=1e-5) and isinstance(two, RuntimeError)

        def broken(chips):
            calls.append(len(chips))
            raise RuntimeError("a bug in the network")

        calls.clear()
        monkeypatch.setattr(engine.pipeline.embedder, "embed_prepared", broken)
        (alone,) = engine.run([ImageJob(good, "a")])  # one image: its failure is not tried twice
        assert isinstance(alone, RuntimeError) and calls == [first.found]

        def missing(chips):  # the server's own problem, not one image's: every job gets it, tried once
            calls.append(len(chips))
            raise fe.ModelNotAvailable("the model file is missing")

        calls.clear()
        monkeypatch.setattr(engine.pipeline.embedder, "embed_prepared", missing)
        both = engine.run([ImageJob(good, "a"), ImageJob(good, "b")])
        assert all(isinstance(r, fe.ModelNotAvailable) for r in both) and len(calls) == 1
    finally:
        engine.close()


def test_the_service_serves_a_milvus_lite_gallery_and_a_failing_milvus_is_a_503(tmp_path, running_service, lfw,
                                                                                  monkeypatch):
    """A gallery URI stays a URI (it was made a path under the working folder, so the service
    quietly opened a new SQLite file there); Milvus failing under a request is 503, not 409."""
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


def test_uptime_monitors_may_send_head(env):
    c = env["client"]
    for path in ("/", "/healthz", "/readyz"):
        answer = c.head(path)
        assert answer.status_code == 200 and answer.content == b"", (path, answer.status_code)

"""The REST service in-process (FastAPI's TestClient): keys and scopes, every bad input as a 4xx
JSON error, the size limits, a full queue's 503, and real LFW faces enrolled and identified."""

from __future__ import annotations

import asyncio
import io
import json
import os
import stat
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the service needs its extra: pip install 'faceprint[serve]'")
pytest.importorskip("multipart", reason="the service needs python-multipart: pip install 'faceprint[serve]'")


from faceprint.service.batching import Batcher, Busy  # noqa: E402
from faceprint.service.keys import KeyStore  # noqa: E402

PEOPLE = {"George W Bush": "George_W_Bush", "Colin Powell": "Colin_Powell"}


def lfw_photo(lfw: Path, folder: str, number: int) -> bytes:
    return (lfw / folder / f"{folder}_{number:04d}.jpg").read_bytes()


def jpeg(array: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG")
    return buffer.getvalue()


def assert_error(response, status: int, code: str | None = None) -> dict:
    """A JSON error body of the documented shape, with the expected status (and code)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error["message"], str) and len(error["message"]) > 10
    if code is not None:
        assert error["code"] == code, error
    return error


@pytest.fixture(scope="module")
def env(tmp_path_factory, running_service):
    """A service on a fresh gallery with one key of each scope."""
    with running_service(tmp_path_factory.mktemp("service"), max_body_bytes=3 * 1024 * 1024) as started:
        yield started


# -- keys ---------------------------------------------------------------------------------------------
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


# -- bad input ----------------------------------------------------------------------------------------
def test_every_bad_image_is_a_4xx_with_words(env, astronaut, monkeypatch):
    c, h = env["client"], env["reader"]
    good = astronaut.read_bytes()
    assert "empty" in assert_error(c.post("/v1/detect", files={"image": ("e.jpg", b"")}, headers=h), 400,
                                   "bad_image")["message"]
    assert "e.jpg" in assert_error(c.post("/v1/detect", files={"image": ("e.jpg", b"")}, headers=h), 400)["message"]
    assert_error(c.post("/v1/detect", files={"image": ("notes.txt", b"hello, not a photo")}, headers=h), 400,
                 "bad_image")
    assert_error(c.post("/v1/embed", files={"image": ("cut.png", good[: len(good) // 3])}, headers=h), 400,
                 "bad_image")
    # an image with more pixels than $FACEPRINT_MAX_PIXELS
    monkeypatch.setenv("FACEPRINT_MAX_PIXELS", "10000")
    assert_error(c.post("/v1/identify", files={"image": ("big.png", good)}, headers=h), 413, "image_too_large")
    monkeypatch.delenv("FACEPRINT_MAX_PIXELS")
    # a path or a URL is never fetched: an image must be an uploaded file
    for text in ("/etc/passwd", "http://127.0.0.1:1/x.jpg"):
        error = assert_error(c.post("/v1/detect", data={"image": text}, headers=h), 422, "invalid_request")
        assert "image" in error["message"]
    assert_error(c.post("/v1/detect", headers=h), 422, "invalid_request")
    assert_error(c.post("/v1/verify", files={"first": ("a.png", good)}, headers=h), 422)


def test_bad_parameters_and_unknown_things(env, astronaut):
    c, h, a = env["client"], env["reader"], env["admin"]
    photo = {"image": ("a.png", astronaut.read_bytes())}
    for params in ({"top_k": 0}, {"top_k": "many"}, {"threshold": -1}, {"threshold": "x"}):
        assert_error(c.post("/v1/identify", files=photo, params=params, headers=h), 422, "invalid_request")
    assert_error(c.post("/v1/verify", params={"metric": "manhattan"},
                        files={"first": ("a.png", astronaut.read_bytes()), "second": ("b.png", astronaut.read_bytes())},
                        headers=h), 422)
    assert_error(c.get("/v1/subjects/Nobody Here", headers=h), 404, "unknown_subject")
    assert_error(c.get("/v1/faces", params={"subject": "Nobody Here"}, headers=h), 404, "unknown_subject")
    assert_error(c.delete("/v1/subjects/Nobody Here", headers=a), 404, "unknown_subject")
    assert_error(c.patch("/v1/subjects/Nobody Here", json={"name": "X"}, headers=a), 404, "unknown_subject")
    assert_error(c.delete("/v1/faces/987654", headers=a), 404, "unknown_face")
    assert_error(c.delete("/v1/faces/abc", headers=a), 422)
    assert_error(c.post("/v1/subjects/Nobody Here/faces", params={"create": "false"},
                        files={"images": ("a.png", astronaut.read_bytes())}, headers=a), 404, "unknown_subject")
    for body in ({}, {"name": ""}, {"name": "unknown"}, {"name": "two\nlines"}, {"name": 3}, {"name": "x" * 300}):
        assert_error(c.post("/v1/subjects", json=body, headers=a), 422, "invalid_request")
    assert_error(c.post("/v1/subjects", content=b"{not json", headers={**a, "content-type": "application/json"}), 422)
    assert_error(c.get("/v1/nothing-here", headers=h), 404, "not_found")
    assert_error(c.put("/v1/subjects", headers=a), 405, "method_not_allowed")


def test_no_face_is_a_422(env, astronaut):
    c = env["client"]
    blank = jpeg(np.full((120, 160, 3), 200, np.uint8))
    error = assert_error(c.post("/v1/verify", files={"first": ("wall.jpg", blank), "second": ("a.png", astronaut.read_bytes())},
                                headers=env["reader"]), 422, "no_face")
    assert "wall.jpg" in error["message"]
    error = assert_error(c.post("/v1/subjects/Wall/faces", files={"images": ("wall.jpg", blank)}, headers=env["admin"]),
                         422, "no_face")
    assert "wall.jpg" in error["message"]
    assert_error(c.get("/v1/subjects/Wall", headers=env["reader"]), 404)  # nothing half-made was left behind
    # detect and identify answer an empty list for a photo without a face
    assert c.post("/v1/detect", files={"image": ("wall.jpg", blank)}, headers=env["reader"]).json()["faces"] == []
    assert c.post("/v1/identify", files={"image": ("wall.jpg", blank)}, headers=env["reader"]).json()["faces"] == []


def test_request_size_limit_is_413(env):
    c, h = env["client"], env["admin"]
    big = b"\xff" * (3 * 1024 * 1024 + 10)
    assert_error(c.post("/v1/detect", files={"image": ("big.jpg", big)}, headers=h), 413, "request_too_large")

    def chunks():  # no Content-Length: the limit applies while reading
        for _ in range(40):
            yield b"\0" * 100_000

    response = c.post("/v1/subjects/X/faces", content=chunks(),
                      headers={**h, "content-type": "multipart/form-data; boundary=x"})
    assert_error(response, 413, "request_too_large")
    too_many = [("images", (f"{i}.jpg", b"x")) for i in range(21)]
    assert "at most 20" in assert_error(c.post("/v1/subjects/X/faces", files=too_many, headers=h), 400)["message"]


# -- the queue ----------------------------------------------------------------------------------------
def test_batcher_groups_requests_that_arrive_together():
    from concurrent.futures import ThreadPoolExecutor

    seen: list[int] = []

    def process(items):
        seen.append(len(items))
        time.sleep(0.05)
        return [i * 2 for i in items]

    async def main():
        batcher = Batcher(process, ThreadPoolExecutor(1), max_batch=8, max_wait_s=0.02, max_queue=32)
        await batcher.start()
        results = await asyncio.gather(*(batcher.submit(i) for i in range(20)))
        await batcher.stop()
        return results

    assert asyncio.run(main()) == [i * 2 for i in range(20)]
    assert sum(seen) == 20 and max(seen) == 8 and len(seen) <= 4


def test_batcher_refuses_when_full():
    from concurrent.futures import ThreadPoolExecutor

    gate = threading.Event()

    def process(items):
        gate.wait(5)
        return items

    async def main():
        batcher = Batcher(process, ThreadPoolExecutor(1), max_batch=1, max_wait_s=0.0, max_queue=2)
        await batcher.start()
        first = asyncio.ensure_future(batcher.submit(1))
        while batcher.running == 0:
            await asyncio.sleep(0.01)
        queued = [asyncio.ensure_future(batcher.submit(i)) for i in (2, 3)]
        await asyncio.sleep(0.01)
        with pytest.raises(Busy) as refused:
            await batcher.submit(4)
        assert refused.value.retry_after >= 1
        gate.set()
        done = await asyncio.gather(first, *queued)
        await batcher.stop()
        return done

    assert asyncio.run(main()) == [1, 2, 3]


def test_full_queue_answers_503_with_retry_after(tmp_path, astronaut, running_service):
    photo = astronaut.read_bytes()
    with running_service(tmp_path, max_queue=1, max_batch=1) as started:
        client, key = started["client"], started["reader"]["X-API-Key"]
        svc = client.app.state.service
        gate = threading.Event()
        svc.engine.executor.submit(gate.wait, 30)  # the engine is busy with something long
        answers: list = []

        def call():
            answers.append(client.post("/v1/detect", files={"image": ("a.png", photo)}, headers={"X-API-Key": key}))

        threads = [threading.Thread(target=call) for _ in range(2)]
        threads[0].start()
        deadline = time.monotonic() + 10
        while svc.batcher.running == 0 and time.monotonic() < deadline:  # first one taken into a batch
            time.sleep(0.01)
        threads[1].start()
        while svc.batcher.waiting == 0 and time.monotonic() < deadline:  # second one waits in the queue
            time.sleep(0.01)
        refused = client.post("/v1/detect", files={"image": ("a.png", photo)}, headers={"X-API-Key": key})
        gate.set()
        for t in threads:
            t.join(30)
    assert_error(refused, 503, "busy")
    assert int(refused.headers["retry-after"]) >= 1
    assert [a.status_code for a in answers] == [200, 200]
    assert all(len(a.json()["faces"]) == 1 for a in answers)


# -- real faces ---------------------------------------------------------------------------------------
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


def test_uploads_held_at_once_share_a_memory_budget():
    from faceprint.service.limits import BodyLimit

    inside = asyncio.Event()
    release = asyncio.Event()

    async def app(scope, receive, send):
        body = (await receive())["body"]
        inside.set()
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(len(body)).encode()})

    async def call(limit: BodyLimit, size: int) -> list[dict]:
        sent: list[dict] = []

        async def receive():
            return {"type": "http.request", "body": b"x" * size, "more_body": False}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "headers": [(b"content-length", str(size).encode())]}
        await limit(scope, receive, send)
        return sent

    async def main():
        limit = BodyLimit(app, max_bytes=100, max_buffered=150)
        first = asyncio.ensure_future(call(limit, 100))
        await inside.wait()
        refused = await call(limit, 80)  # 100 + 80 held at once > 150
        assert limit.buffered == 100
        release.set()
        done = await first
        assert limit.buffered == 0
        after = await call(limit, 80)  # the budget is free again
        return refused, done, after

    refused, done, after = asyncio.run(main())
    assert refused[0]["status"] == 503 and (b"retry-after", b"1") in refused[0]["headers"]
    assert json.loads(refused[1]["body"])["error"]["code"] == "busy"
    assert done[0]["status"] == 200 and done[1]["body"] == b"100"
    assert after[0]["status"] == 200

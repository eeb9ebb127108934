"""Uploads the service refuses, each a 4xx JSON error with words: bad images, bad parameters, no
face, a request or photo over the limits, and the memory budget of the uploads held at once."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the service needs its extra: pip install 'faceprint[serve]'")
pytest.importorskip("multipart", reason="the service needs python-multipart: pip install 'faceprint[serve]'")

from service_helpers import assert_error, error_message, jpeg  # noqa: E402


# -- bad input -------------------------------------------------------------------------------------
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


# -- limits ----------------------------------------------------------------------------------------
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


def test_a_photo_over_the_pixel_limit_tells_the_client_what_to_do(env, astronaut, monkeypatch):
    """FACEPRINT_MAX_PIXELS is the operator's setting: the client is told to send a smaller photo."""
    monkeypatch.setenv("FACEPRINT_MAX_PIXELS", "10000")
    answer = env["client"].post("/v1/detect", headers=env["reader"], files={"image": ("big.png", astronaut.read_bytes())})
    message = error_message(answer, 413, "image_too_large")
    assert "FACEPRINT_MAX_PIXELS" not in message and "smaller photo" in message
    assert message.startswith("big.png: 512x512")


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

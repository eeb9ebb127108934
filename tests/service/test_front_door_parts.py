"""The parts of the front door, in process: the key read from the headers as ``deps`` reads it,
uploads per address, a body outside /v1 refused unread, a trickled body dropped with 408 and its budget
freed, one owner's share of the batcher's queue, the pixel limit on enrol, and the new settings
from variables and options."""

from __future__ import annotations

import asyncio
import io
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the service needs its extra: pip install 'faceprint[serve]'")
pytest.importorskip("multipart", reason="the service needs python-multipart: pip install 'faceprint[serve]'")

from service_helpers import assert_error  # noqa: E402

from faceprint.service.batching import Batcher, Busy  # noqa: E402
from faceprint.service.config import ServiceConfig  # noqa: E402
from faceprint.service.guard import FrontDoor, current_client, key_from_headers  # noqa: E402
from faceprint.service.keys import KeyStore  # noqa: E402
from faceprint.service.limits import BodyLimit  # noqa: E402
from faceprint.errors import ImageTooLarge  # noqa: E402
from faceprint.images import check_pixel_count  # noqa: E402


def test_key_read_from_headers_as_deps_reads_it():
    assert key_from_headers([(b"x-api-key", b" k1 ")]) == "k1"
    assert key_from_headers([(b"authorization", b"Bearer k2")]) == "k2"
    assert key_from_headers([(b"authorization", b"bearer k3"), (b"x-api-key", b"k4")]) == "k4"
    assert key_from_headers([(b"authorization", b"Basic abc")]) is None
    assert key_from_headers([]) is None


def http_scope(path: str, key: str | None, address: str, body: bool = True) -> dict:
    headers = [(b"content-length", b"10")] if body else []
    if key:
        headers.append((b"x-api-key", key.encode()))
    return {"type": "http", "method": "POST", "path": path, "headers": headers, "client": (address, 5000)}


async def call(app, scope: dict, receive=None) -> list[dict]:
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    async def body() -> dict:
        return {"type": "http.request", "body": b"0123456789", "more_body": False}

    await app(scope, receive or body, send)
    return sent


def status(sent: list[dict]) -> int:
    return next(m["status"] for m in sent if m["type"] == "http.response.start")


def test_uploads_per_address_beyond_the_limit_get_429_before_their_body(tmp_path):
    store = KeyStore(tmp_path / "keys.json")
    first, second = store.create("recognise")[0], store.create("recognise")[0]
    release = asyncio.Event()
    seen: list = []

    async def app(scope, receive, send):
        seen.append(current_client.get())
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    door = FrontDoor(app, store, max_per_key=5, max_per_address=1)

    async def run():
        held = asyncio.ensure_future(call(door, http_scope("/v1/detect", first, "10.0.0.1")))
        await asyncio.sleep(0.01)
        read = []

        async def never_read():
            read.append(True)
            return {"type": "http.request", "body": b"", "more_body": False}

        refused = await call(door, http_scope("/v1/detect", second, "10.0.0.1"), never_read)
        elsewhere = asyncio.ensure_future(call(door, http_scope("/v1/detect", second, "10.0.0.2")))
        await asyncio.sleep(0.01)
        release.set()
        return refused, read, await held, await elsewhere

    refused, read, held, elsewhere = asyncio.run(run())
    assert status(refused) == 429 and not read
    assert status(held) == 200 and status(elsewhere) == 200
    assert dict(door.in_flight) == {}  # every upload counted out again
    assert seen[0].owners() == (f"key:{first.split('_')[1]}", "addr:10.0.0.1")


def test_a_body_outside_v1_is_refused_unread(tmp_path):
    """No route outside /v1 takes a body: one announced there (a length, or chunked even beside a
    ``Content-Length: 0``) is a 400 before the app runs or anything is read; none announced passes."""
    reached: list[str] = []

    async def app(scope, receive, send):
        reached.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def endless():
        raise AssertionError("the body is read")

    door = FrontDoor(app, KeyStore(tmp_path / "k.json"))
    for extra in ([(b"content-length", b"1")], [(b"content-length", b"0"), (b"transfer-encoding", b"chunked")],
                  [(b"transfer-encoding", b"chunked")]):
        scope = http_scope("/", None, "10.0.0.1")
        scope["headers"] = [h for h in scope["headers"] if h[0] != b"content-length"] + extra
        assert status(asyncio.run(call(door, scope, endless))) == 400, extra
    assert reached == []
    scope = http_scope("/", None, "10.0.0.1")
    scope["headers"] = [h for h in scope["headers"] if h[0] != b"content-length"]
    assert status(asyncio.run(call(door, scope, endless))) == 200 and reached == ["/"]


def test_keyless_v1_request_is_refused_without_reading_its_body(tmp_path):
    async def app(scope, receive, send):
        raise AssertionError("reached the app")

    async def endless():
        raise AssertionError("the body is read")

    sent = asyncio.run(call(FrontDoor(app, KeyStore(tmp_path / "k.json")), http_scope("/v1/identify", None, "1.2.3.4"),
                            endless))
    assert status(sent) == 401


def test_trickled_body_is_dropped_with_408_and_its_budget_freed():
    async def app(scope, receive, send):
        raise AssertionError("a trickled body reached the app")

    limit = BodyLimit(app, max_bytes=10_000, timeout_s=0.3, min_rate=100)

    async def trickle():  # a byte every 0.05 s: never idle for long, but 20 B/s, under 100 B/s
        await asyncio.sleep(0.05)
        return {"type": "http.request", "body": b"x", "more_body": True}

    async def run():
        started = time.monotonic()
        sent = await call(limit, {"type": "http", "method": "POST", "path": "/v1/detect", "headers": []}, trickle)
        return sent, time.monotonic() - started

    sent, elapsed = asyncio.run(run())
    assert status(sent) == 408 and elapsed < 2.0
    assert limit.buffered == 0


def test_one_owner_beyond_its_share_of_the_queue_is_busy_and_others_are_served():
    def process(items):
        time.sleep(0.05)
        return items

    async def run():
        batcher = Batcher(process, ThreadPoolExecutor(1), max_batch=1, max_wait_s=0.0, max_queue=10, max_per_owner=2)
        await batcher.start()
        try:
            held = asyncio.ensure_future(batcher.submit_many([1, 2], owners=("key:a",)))
            await asyncio.sleep(0)
            with pytest.raises(Busy, match="most one client may have is 2"):
                await batcher.submit_many([3], owners=("key:a", "addr:x"))
            other = await batcher.submit_many([4], owners=("key:b", "addr:x"))
            return await held, other, dict(batcher.owned)
        finally:
            await batcher.stop()

    held, other, owned = asyncio.run(run())
    assert held == [1, 2] and other == [4] and owned == {}


def flat_png(side: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.full((side, side, 3), 128, np.uint8)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def test_pixel_limit_read_from_the_header():
    data = flat_png(600)
    check_pixel_count(data, 360_000, "a.png")
    check_pixel_count(b"not an image", 1, "b.png")  # no header: left to the decoder, which says why
    with pytest.raises(ImageTooLarge, match="a.png: 600x600 = 360,000 pixels exceeds the limit of 359,999"):
        check_pixel_count(data, 359_999, "a.png")


def test_enrol_of_a_photo_over_the_pixel_limit_is_413(tmp_path, running_service):
    with running_service(tmp_path, max_pixels=1_000_000, warm=False) as env:
        answer = env["client"].post("/v1/subjects/Someone/faces", headers=env["admin"],
                                    files=[("images", ("big.png", flat_png(1001)))])
        error = assert_error(answer, 413, "image_too_large")
        assert "1,000,000" in error["message"]


def test_new_settings_from_variables_and_options(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from faceprint.cli.main import app
    from faceprint.cli.serve_cmd import build_config

    env = {"FACEPRINT_SERVE_MAX_PIXELS": "1000", "FACEPRINT_SERVE_BODY_TIMEOUT_S": "2.5",
           "FACEPRINT_SERVE_MAX_UPLOADS_PER_ADDRESS": "0"}
    config = ServiceConfig.from_env(env)
    assert (config.max_pixels, config.body_timeout_s, config.max_uploads_per_address) == (1000, 2.5, 0)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = build_config({"max_queue_per_client": 5, "min_body_bytes_per_s": 0})
    assert (config.max_queue_per_client, config.min_body_bytes_per_s, config.max_pixels) == (5, 0, 1000)
    with pytest.raises(ValueError, match="max_uploads_per_key"):
        ServiceConfig(gallery=tmp_path / "g.db", keys=tmp_path / "k.json", max_uploads_per_key=0)
    with pytest.raises(ValueError, match="body_timeout_s"):
        ServiceConfig(gallery=tmp_path / "g.db", keys=tmp_path / "k.json", body_timeout_s=0)
    usage = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"}).output
    for option in ("--max-pixels", "--body-timeout", "--min-body-rate-kb", "--uploads-per-key",
                   "--uploads-per-address", "--queue-per-client", "--max-buffered-mb"):
        assert option in usage


def test_every_body_header_counts():
    """``Content-Length: 0`` beside a chunked body is still an upload (counted, and held to its share)."""
    from faceprint.service.guard import has_body

    assert has_body([(b"content-length", b"0"), (b"transfer-encoding", b"chunked")])
    assert has_body([(b"content-length", b"0"), (b"content-length", b"5")])
    assert not has_body([(b"content-length", b"0")]) and not has_body([])

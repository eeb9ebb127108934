"""The front door against cheap attacks, probed on a real server on 127.0.0.1 with raw sockets:
stalled keyless bodies leave keyed clients served (401 at once, nothing buffered), a stalled keyed
body is dropped with 408, one key's uploads beyond its share get 429 while another key is served,
one key flooding the queue leaves another key served, and a small PNG of many pixels is refused
(413) before it costs engine time.

The new settings reach the servers through ``FACEPRINT_SERVE_*`` variables, so the same probes
start (and fail) on code without them.
"""

from __future__ import annotations

import asyncio
import io
import socket
import time
from contextlib import contextmanager

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the service needs its extra: pip install 'faceprint[serve]'")
pytest.importorskip("multipart", reason="the service needs python-multipart: pip install 'faceprint[serve]'")

import httpx  # noqa: E402
from service_helpers import assert_error, blank_jpeg, jpeg  # noqa: E402

from faceprint.service.keys import KeyStore  # noqa: E402
from faceprint.service.launch import LocalServer  # noqa: E402

BODY = 262144  # what the stalled clients announce: the whole limit of --max-body-mb 0.25


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server refusing bodies over 0.25 MB, with a 2 s body timeout and 2 uploads per key."""
    root = tmp_path_factory.mktemp("front_door")
    store = KeyStore(root / "keys.json")
    keys = {"a": store.create("recognise", "a")[0], "b": store.create("recognise", "b")[0]}
    env = {"FACEPRINT_SERVE_BODY_TIMEOUT_S": "2", "FACEPRINT_SERVE_MIN_BODY_BYTES_PER_S": "0",
           "FACEPRINT_SERVE_MAX_UPLOADS_PER_KEY": "2", "FACEPRINT_SERVE_MAX_UPLOADS_PER_ADDRESS": "0"}
    with LocalServer(root / "gallery.db", root / "keys.json", extra=["--max-body-mb", "0.25"], env=env) as started:
        started.keys = keys
        yield started


def stalled_upload(port: int, key: str | None, sent: int = BODY - 10) -> socket.socket:
    """A socket that announces a ``BODY``-byte upload to /v1/identify, sends ``sent`` bytes of it and stalls."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = (b"POST /v1/identify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=xx\r\n"
            + (f"X-API-Key: {key}\r\n".encode() if key else b"") + f"Content-Length: {BODY}\r\n\r\n".encode())
    sock.sendall(head + b"x" * sent)
    return sock


def answer(sock: socket.socket, wait: float) -> bytes:
    """What the server sent back within ``wait`` seconds, up to its closing the connection (b"" for nothing)."""
    deadline = time.monotonic() + wait
    received = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(4096)
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            break
        received += chunk
    return received


@contextmanager
def stalled(port: int, key: str | None, count: int):
    socks = [stalled_upload(port, key) for _ in range(count)]
    try:
        yield socks
    finally:
        for sock in socks:
            sock.close()


def detect(server, key: str, body: bytes | None = None) -> httpx.Response:
    return httpx.post(server.url + "/v1/detect", headers={"X-API-Key": key},
                      files={"image": ("photo.jpg", body or blank_jpeg())}, timeout=30)


def test_stalled_keyless_bodies_leave_keyed_clients_served(server):
    with stalled(server.port, None, 4) as socks:
        time.sleep(0.5)
        started = time.perf_counter()
        response = detect(server, server.keys["a"])
        assert response.status_code == 200, response.text
        assert time.perf_counter() - started < 5
        for sock in socks:  # refused at once, without their bodies
            assert answer(sock, 2.0).startswith(b"HTTP/1.1 401")


def test_keyless_request_gets_401_before_its_body_is_read(server):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        sock.sendall(b"POST /v1/identify HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer fpk_0_nope\r\n"
                     b"Content-Type: multipart/form-data; boundary=xx\r\nContent-Length: 200000\r\n\r\n")
        reply = answer(sock, 3.0)  # no body sent at all: the answer cannot have waited for it
    finally:
        sock.close()
    assert reply.startswith(b"HTTP/1.1 401"), reply
    assert b"not valid" in reply


def test_stalled_keyed_body_is_dropped_with_408(server):
    with stalled(server.port, server.keys["b"], 1) as (sock,):
        reply = answer(sock, 8.0)  # the server's body timeout is 2 s
    assert reply.startswith(b"HTTP/1.1 408"), reply
    assert b"too slowly" in reply
    assert detect(server, server.keys["b"]).status_code == 200  # its share is free again


def test_one_key_beyond_its_uploads_gets_429_and_another_key_is_served(server):
    with stalled(server.port, server.keys["a"], 2):
        time.sleep(0.3)
        refused = detect(server, server.keys["a"])
        error = assert_error(refused, 429, "too_many_uploads")
        assert "in flight" in error["message"]
        assert int(refused.headers["retry-after"]) >= 1
        assert detect(server, server.keys["b"]).status_code == 200


def flat_png(side: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.full((side, side, 3), 128, np.uint8)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def test_small_png_of_many_pixels_is_refused_before_the_engine(server):
    data = flat_png(5000)  # 25 Mpx in about 90 KB: over the default limit of 24 Mpx
    assert len(data) < 200_000
    started = time.perf_counter()
    response = detect(server, server.keys["a"], data)
    elapsed = time.perf_counter() - started
    error = assert_error(response, 413, "image_too_large")
    assert "24,000,000" in error["message"] and "5000x5000" in error["message"]
    assert elapsed < 1.0, elapsed


@pytest.fixture(scope="module")
def queue_server(tmp_path_factory):
    """A server that embeds one image at a time with 8 places in its queue, 3 of them per client,
    and no upload limits (the queue's share is what is probed)."""
    root = tmp_path_factory.mktemp("queue_share")
    store = KeyStore(root / "keys.json")
    keys = {"flood": store.create("recognise", "flood")[0], "other": store.create("recognise", "other")[0]}
    env = {"FACEPRINT_SERVE_MAX_BATCH": "1", "FACEPRINT_SERVE_MAX_QUEUE": "8",
           "FACEPRINT_SERVE_MAX_QUEUE_PER_CLIENT": "3", "FACEPRINT_SERVE_MAX_UPLOADS_PER_KEY": "100",
           "FACEPRINT_SERVE_MAX_UPLOADS_PER_ADDRESS": "0"}
    with LocalServer(root / "gallery.db", root / "keys.json", env=env) as started:
        started.keys = keys
        yield started


async def flood_and_probe(server, seconds: float) -> tuple[list[int], list[int]]:
    """The flooding key keeps 12 requests in the air for ``seconds``; the other key sends one
    request at a time meanwhile. Returns both's status codes."""
    slow = jpeg(np.full((1500, 1500, 3), 90, np.uint8))  # a few hundred ms of detection each
    small = blank_jpeg()
    stop = time.perf_counter() + seconds
    flood: list[int] = []
    other: list[int] = []

    async def flooder(http: httpx.AsyncClient) -> None:
        while time.perf_counter() < stop and len(flood) < 2000:
            response = await http.post("/v1/detect", files={"image": ("big.jpg", slow)})
            flood.append(response.status_code)
            if response.status_code != 200:
                await asyncio.sleep(0.02)

    async def prober(http: httpx.AsyncClient) -> None:
        await asyncio.sleep(0.5)
        while time.perf_counter() < stop:
            response = await http.post("/v1/detect", files={"image": ("small.jpg", small)})
            other.append(response.status_code)
            await asyncio.sleep(0.1)

    async with httpx.AsyncClient(base_url=server.url, headers={"X-API-Key": server.keys["flood"]}, timeout=60,
                                 limits=httpx.Limits(max_connections=12)) as flooding, \
            httpx.AsyncClient(base_url=server.url, headers={"X-API-Key": server.keys["other"]}, timeout=60) as probe:
        await asyncio.gather(*(flooder(flooding) for _ in range(12)), prober(probe))
    return flood, other


def test_one_key_flooding_the_queue_leaves_another_key_served(queue_server):
    flood, other = asyncio.run(flood_and_probe(queue_server, 4.0))
    assert 503 in flood and 200 in flood  # the flooder is held to its share, and still served within it
    assert other and all(status == 200 for status in other), other

"""A request size limit as pure ASGI middleware: 413 before the body reaches a route.

A ``Content-Length`` above the limit is refused without reading anything; a body without one
(chunked) is read up to the limit and refused as soon as it goes beyond. A body within the limit
is buffered and replayed to the app, so the routes never see more than ``max_bytes``.

The bodies buffered at one time share a budget (``max_buffered``): a request that would take it
beyond gets 503 with ``Retry-After`` instead of growing the server's memory without bound.

A body must keep arriving: it may take ``timeout_s`` plus one second per ``min_rate`` bytes
received so far. One that falls behind (a client that stalls, or trickles a byte at a time) is
dropped with 408, and its share of the budget is freed at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Callable

from starlette.types import Message, Receive, Scope, Send


log = logging.getLogger(__name__)


class BodyLimit:
    """Refuse HTTP request bodies larger than ``max_bytes`` (413), beyond the budget (503) or too slow (408).

    Args:
        app: the ASGI app behind it.
        max_bytes: largest body.
        max_buffered: most bytes of bodies held at once, all requests together; None: 16 x ``max_bytes``.
        timeout_s: how long a body may take to start arriving (and the slack it keeps after).
        min_rate: bytes per second a body must arrive at, on average, beyond ``timeout_s``; 0: a
            whole body must arrive within ``timeout_s``.
    """

    def __init__(self, app: Callable, max_bytes: int, max_buffered: int | None = None, timeout_s: float = 10.0,
                 min_rate: float = 32 * 1024) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_buffered = max_buffered if max_buffered else 16 * max_bytes
        self.timeout_s = timeout_s
        self.min_rate = min_rate
        self.buffered = 0  # bytes of the bodies held right now (one event loop: no lock needed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await self._refuse(send, 400, "bad_request", "Content-Length is not a number")
                return
            if declared > self.max_bytes:
                await self._too_large(send)
                return
        reserved = 0
        try:
            chunks: list[bytes] = []
            size = 0
            more = True
            started = time.monotonic()
            while more:
                deadline = started + self.timeout_s + (size / self.min_rate if self.min_rate > 0 else 0.0)
                try:
                    message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
                except asyncio.TimeoutError:
                    log.info("%s %s: body dropped after %.1f s with %d bytes received (too slow)",
                             scope.get("method"), scope.get("path"), time.monotonic() - started, size)
                    await self._too_slow(send)
                    return
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_bytes:
                    await self._too_large(send)
                    return
                if size > reserved:
                    if self.buffered + size - reserved > self.max_buffered:
                        await self._refuse(send, 503, "busy", "the server holds too many uploads at once; try again "
                                           "in a moment", [(b"retry-after", b"1")])
                        return
                    self.buffered += size - reserved
                    reserved = size
                chunks.append(chunk)
                more = message.get("more_body", False)
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
                return await receive()

            await self.app(scope, replay, send)
        finally:
            self.buffered -= reserved

    async def _too_large(self, send: Send) -> None:
        mb = self.max_bytes / (1024 * 1024)
        await self._refuse(send, 413, "request_too_large",
                           f"the request is larger than the server's limit of {mb:.1f} MB; send smaller or fewer photos")

    async def _too_slow(self, send: Send) -> None:
        rate = f" and at least {self.min_rate / 1024:.0f} KB/s after that" if self.min_rate > 0 else ""
        await self._refuse(send, 408, "request_timeout",
                           f"the request body arrived too slowly: it must start within {self.timeout_s:g} s{rate}; "
                           "send it again in one go")

    @staticmethod
    async def _refuse(send: Send, status: int, code: str, message: str,
                      headers: list[tuple[bytes, bytes]] | None = None) -> None:
        payload = json.dumps({"error": {"code": code, "message": message}}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                                (b"connection", b"close"), *(headers or [])]})
        await send({"type": "http.response.body", "body": payload})

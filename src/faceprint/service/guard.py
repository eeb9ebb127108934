"""The front door, as pure ASGI middleware: the API key and the client's share, checked from the
headers before any body is read.

A ``/v1`` request without a valid key (``X-API-Key: <key>`` or ``Authorization: Bearer <key>``,
as ``deps`` reads them) gets 401 at once: nothing of its body is read or buffered, so clients
without a key cannot hold the server's memory or upload budget. Scopes stay checked by ``deps``.

A request with a body is an upload: each key and each client address may have only so many in
flight at once (``max_per_key``, ``max_per_address``); one more gets 429 with ``Retry-After``
before its body is read. Outside ``/v1`` no route takes a body: a request that announces one is
refused (400) before any of it is read.

While a request runs, ``current_client`` says who sent it (key id, address), so that the batcher
can keep one client from filling the whole queue.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Callable

from starlette.types import Receive, Scope, Send

from faceprint.service.errors import PRIVATE
from faceprint.service.keys import ApiKey, KeyStore, KeyStoreError

log = logging.getLogger(__name__)


API_PREFIX = "/v1"

NO_KEY = ("an API key is required: send it as the X-API-Key header (create one with "
          "`faceprint keys create --scope recognise`)")
BAD_KEY = "this API key is not valid (mistyped or revoked); `faceprint keys list` shows the keys that exist"


@dataclass(frozen=True)
class Client:
    """Who sent the request being answered.

    Attributes:
        key_id: the id of its valid API key; "" outside ``/v1`` (no key needed there).
        address: the client's IP address (the proxy's, unless the server trusts its forwarded headers).
        by_address: whether its address is held to a share too (off where the service has no
            limits per address).
    """

    key_id: str
    address: str
    by_address: bool = True

    def owners(self) -> tuple[str, ...]:
        """The names its shares are counted under: its key and its address (``key:<id>``, ``addr:<ip>``)."""
        return tuple(name for name in (f"key:{self.key_id}" if self.key_id else "",
                                       f"addr:{self.address}" if self.address and self.by_address else "") if name)


current_client: ContextVar[Client | None] = ContextVar("faceprint_client", default=None)
"""The client of the request being answered (set by ``FrontDoor``); None outside a request."""


def key_from_headers(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The API key a request carries, read as ``deps`` reads it.

    Args:
        headers: the request's raw ASGI headers (lower-case names).

    Returns:
        ``X-API-Key``'s value, else the token of ``Authorization: Bearer <token>``, stripped;
        None when neither is there (or is empty).
    """
    api_key = bearer = None
    for name, value in headers:
        if name == b"x-api-key" and api_key is None:
            api_key = value.decode("latin-1").strip()
        elif name == b"authorization" and bearer is None:
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                bearer = token.strip()
    return api_key or bearer or None


def has_body(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a request announces a body: any ``Transfer-Encoding``, or any ``Content-Length``
    other than 0 (every header counts: ``Content-Length: 0`` beside a chunked body is a body)."""
    for name, value in headers:
        if name == b"transfer-encoding":
            return True
        if name == b"content-length" and value.strip() not in (b"0", b""):
            return True
    return False


class FrontDoor:
    """Refuse keyless ``/v1`` requests and a client's uploads beyond its share, before any body is read.

    Args:
        app: the ASGI app behind it.
        keys: the service's key store.
        max_per_key: uploads (requests with a body) one key may have in flight at once.
        max_per_address: uploads one client address may have in flight at once; 0: no limit per
            address, nor a share of the queue per address (behind a proxy that does not pass the
            client's address on, every client has the proxy's).
    """

    def __init__(self, app: Callable, keys: KeyStore, max_per_key: int = 4, max_per_address: int = 8) -> None:
        self.app = app
        self.keys = keys
        self.max_per_key = max_per_key
        self.max_per_address = max_per_address
        self.in_flight: Counter[str] = Counter()  # uploads per owner right now (one event loop: no lock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers") or []
        client = scope.get("client")
        address = str(client[0]) if client else ""
        path = scope.get("path", "")
        entry: ApiKey | None = None
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            key = key_from_headers(headers)
            try:
                entry = self.keys.authenticate(key) if key else None
            except KeyStoreError as exc:
                log.error("%s %s refused: %s", scope.get("method"), path, exc)
                await refuse(send, 503, "key_store", PRIVATE["key_store"])
                return
            if entry is None:
                log.info("%s %s from %s refused: %s", scope.get("method"), path, address or "?",
                         "invalid API key" if key else "no API key")
                await refuse(send, 401, "unauthorised", BAD_KEY if key else NO_KEY, [(b"www-authenticate", b"Bearer")])
                return
        elif has_body(headers):  # no route outside /v1 takes a body: none is read, none is buffered
            await refuse(send, 400, "bad_request", "this route takes no request body; send it without one")
            return
        owners: tuple[str, ...] = ()
        if has_body(headers):
            taken = self._take(entry, address)
            if taken is None:
                await refuse(send, 429, "too_many_uploads",
                             "this client has too many uploads in flight at once; wait for them to finish and try "
                             "again", [(b"retry-after", b"1")])
                return
            owners = taken
        token = current_client.set(Client(entry.id if entry else "", address, self.max_per_address > 0))
        try:
            await self.app(scope, receive, send)
        finally:
            current_client.reset(token)
            for owner in owners:
                self.in_flight[owner] -= 1
                if self.in_flight[owner] <= 0:
                    del self.in_flight[owner]

    def _take(self, entry: ApiKey | None, address: str) -> tuple[str, ...] | None:
        """Count one more upload for the key and the address; None (nothing counted) when either is full."""
        limits = []
        if entry is not None:
            limits.append((f"key:{entry.id}", self.max_per_key))
        if address and self.max_per_address > 0:
            limits.append((f"addr:{address}", self.max_per_address))
        for owner, limit in limits:
            if self.in_flight[owner] >= limit:
                log.info("upload refused: %s has %d in flight (limit %d)", owner, self.in_flight[owner], limit)
                return None
        for owner, _ in limits:
            self.in_flight[owner] += 1
        return tuple(owner for owner, _ in limits)


async def refuse(send: Send, status: int, code: str, message: str,
                 headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Answer with the service's JSON error body and close the connection (its body is left unread).

    Args:
        send: the ASGI send callable.
        status: the HTTP status.
        code: the body's ``error.code``.
        message: the body's ``error.message``.
        headers: extra response headers.
    """
    payload = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            (b"connection", b"close"), *(headers or [])]})
    await send({"type": "http.response.body", "body": payload})

"""Security headers on every response, as pure ASGI middleware: a Content-Security-Policy,
``X-Content-Type-Options: nosniff`` and no framing.

The web page (``/``, ``/static``) loads only its own script and style sheet and sets no inline
script or style, so its policy allows nothing but the server itself, plus ``data:`` and ``blob:``
images (its icon, and the previews of the photos a user picks). Swagger UI at ``/docs`` starts from
an inline script and styles its elements inline, so it gets a policy of its own that allows those
(and the CDN it loads from when its bundle is not installed). No page may be framed by another
site (``frame-ancestors 'none'``), and browsers never guess a response's type from its bytes
(``nosniff``): an uploaded photo or a JSON answer is never run as a script.
"""

from __future__ import annotations

from typing import Any, Callable

from starlette.types import Message, Receive, Scope, Send


PAGE_POLICY = ("default-src 'self'; frame-ancestors 'none'; img-src 'self' data: blob:; object-src 'none'; "
               "base-uri 'none'; form-action 'self'")
DOCS_POLICY = ("default-src 'self'; frame-ancestors 'none'; script-src 'self' 'unsafe-inline'{cdn}; "
               "style-src 'self' 'unsafe-inline'{cdn}; img-src 'self' data:{icon}; object-src 'none'; "
               "base-uri 'none'; form-action 'self'")
# where FastAPI's Swagger UI page loads from when the swagger-ui-bundle-v2 package is not installed
DOCS_CDN = " https://cdn.jsdelivr.net"
DOCS_CDN_ICON = " https://fastapi.tiangolo.com"
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect"})


def docs_policy(local_assets: bool) -> str:
    """The Content-Security-Policy of the Swagger UI page.

    Args:
        local_assets: Swagger UI is served by this server (``/docs-assets``), not by its CDN.

    Returns:
        The policy: the server itself, inline scripts and styles, ``data:`` images, and the CDN
        when ``local_assets`` is False.
    """
    return DOCS_POLICY.format(cdn="" if local_assets else DOCS_CDN, icon="" if local_assets else DOCS_CDN_ICON)


class SecurityHeaders:
    """Add the security headers to every HTTP response that does not set them itself.

    Args:
        app: the ASGI application inside.
        docs_local: Swagger UI's files are served by this server (else ``/docs`` may use its CDN).
    """

    def __init__(self, app: Callable, docs_local: bool = True) -> None:
        self.app = app
        self.page = _encoded({"content-security-policy": PAGE_POLICY, "x-content-type-options": "nosniff",
                              "x-frame-options": "DENY"})
        self.docs = _encoded({"content-security-policy": docs_policy(docs_local),
                              "x-content-type-options": "nosniff", "x-frame-options": "DENY"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.docs if scope.get("path") in DOCS_PATHS else self.page

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {name.lower() for name, _ in headers}
                headers.extend((name, value) for name, value in extra if name not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: Any) -> None:
    """Put ``SecurityHeaders`` around ``app`` (call it once its routes and the docs are added).

    Args:
        app: the FastAPI application; Swagger UI counts as local when it mounts ``docs-assets``.
    """
    local = any(getattr(route, "name", None) == "docs-assets" for route in app.routes)
    app.add_middleware(SecurityHeaders, docs_local=local)


def _encoded(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]

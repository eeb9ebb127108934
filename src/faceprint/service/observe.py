"""What each request did, as pure ASGI middleware: its metrics, and its audit line when it has one.

The outermost middleware of the app: it sees every answer, those of the size limit and of any
check made before the routes among them. It names a request by its route's template (matched here,
so a request refused before routing has one too), times it, and when the answer has gone counts
it (``metrics.ServiceMetrics``) and writes its audit line (``audit``).
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any, Callable

from starlette.types import Message, Receive, Scope, Send

from faceprint.service import audit

log = logging.getLogger(__name__)


UNMATCHED = "unmatched"
_CONVERTER = re.compile(r"\{(\w+):\w+\}")


class RouteTable:
    """The app's routes flattened to ``(pattern, methods, template)``, to name a request by its
    route's template before (or without) routing it: a request that a check refuses before the
    routes has a name too.

    Args:
        app: the FastAPI (or Starlette) app; its routes are read at the first ``match``, when all
            are registered.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self._entries: list[tuple[re.Pattern, dict[str, Any], frozenset[str] | None, str]] | None = None

    def _build(self) -> list[tuple[re.Pattern, dict[str, Any], frozenset[str] | None, str]]:
        from starlette.routing import Mount, compile_path

        try:  # FastAPI keeps included routers as such: its own walk gives every route with its full path
            from fastapi.routing import iter_route_contexts

            routes: list[Any] = list(iter_route_contexts(self.app.routes))
        except ImportError:
            routes = list(self.app.routes)
        entries = []
        for route in routes:
            path = getattr(route, "path", None)
            if not path:
                continue
            mount = isinstance(getattr(route, "original_route", route), Mount)
            template = _CONVERTER.sub(r"{\1}", path)
            if mount:
                template = template.rstrip("/") + "/{path}"
                path = path.rstrip("/") + "/{path:path}"
            regex, _, convertors = compile_path(path)
            methods = getattr(route, "methods", None)
            entries.append((regex, convertors, frozenset(methods) if methods else None, template))
        return entries

    def match(self, scope: Scope) -> tuple[str, dict[str, Any]]:
        """The template of the route a request goes to, and its path parameters.

        Args:
            scope: the request's ASGI scope.

        Returns:
            ``("/v1/subjects/{name}", {"name": "Ada"})``: the first route that matches path and
            method, else the first that matches the path only (a 405); ``("unmatched", {})`` for
            none. A mount (``/static``) gives ``/static/{path}``.
        """
        from starlette.routing import get_route_path

        if self._entries is None:
            self._entries = self._build()
        path = get_route_path(scope)
        method = scope.get("method", "GET")
        partial = None
        for regex, convertors, methods, template in self._entries:
            found = regex.match(path)
            if not found:
                continue
            params = {k: convertors[k].convert(v) if k in convertors else v for k, v in found.groupdict().items()}
            if methods is None or method in methods or (method == "HEAD" and "GET" in methods):
                return template, params
            if partial is None:
                partial = (template, params)
        return partial if partial is not None else (UNMATCHED, {})


class RequestObserver:
    """Counts, times and audits every HTTP request.

    Args:
        app: the ASGI app it wraps.
        metrics: the app's ``ServiceMetrics``; None: no metrics (``prometheus-client`` missing).
        audit_log: where audit lines go.
    """

    def __init__(self, app: Callable, metrics: Any, audit_log: audit.AuditLog) -> None:
        self.app = app
        self.metrics = metrics
        self.audit_log = audit_log
        self.routes: RouteTable | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.routes is None:
            self.routes = RouteTable(scope["app"])
        try:
            route, params = self.routes.match(scope)
        except Exception:  # a parameter that does not convert: no route takes it
            route, params = UNMATCHED, {}
        record = scope[audit.SCOPE_KEY] = audit.AuditRecord()
        status = 500  # what an exception that escapes the app becomes
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self._done(scope, route, params, status, record, time.perf_counter() - started)

    def _done(self, scope: Scope, route: str, params: dict[str, Any], status: int, record: audit.AuditRecord,
              seconds: float) -> None:
        method = scope.get("method", "GET")
        try:
            if self.metrics is not None:
                self.metrics.observe_request(method, route, status, seconds)
                added = record.fields.get("faces_added")
                if isinstance(added, int) and added > 0 and status < 300:
                    self.metrics.faces_enrolled.inc(added)
            client = (scope.get("client") or ("", 0))[0]
            fields = audit.line_fields(method, route, status, client, record, params, scope.get("headers") or [])
            if fields is not None:
                self.audit_log.write(fields)
        except Exception:  # observing must never break an answer that has gone
            log.exception("recording the request %s %s failed", method, route)

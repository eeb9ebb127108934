"""Every failure of a request as a JSON body ``{"error": {"code", "message"}}`` with a 4xx or 5xx status.

faceprint's own exceptions map to statuses by type (``STATUS``); request validation, unknown
routes and the size limit get the same body. Anything else is a bug: it is logged with its
traceback and answered 500 in the same shape, without internals.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from faceprint import errors as fe
from faceprint.service.keys import KeyStoreError

log = logging.getLogger(__name__)

# (status, code) per exception type; the first match in this order wins (children before parents)
STATUS: list[tuple[type[Exception], int, str]] = [
    (fe.ImageTooLarge, 413, "image_too_large"),
    (fe.ImageNotFound, 400, "bad_image"),
    (fe.BadImage, 400, "bad_image"),
    (fe.NoFace, 422, "no_face"),
    (fe.UnknownSubject, 404, "unknown_subject"),
    (fe.UnknownFace, 404, "unknown_face"),
    (fe.BadName, 400, "bad_input"),
    (fe.SubjectExists, 409, "subject_exists"),
    # every photo of an enrol is in the gallery already as someone else
    (fe.NothingEnrolled, 409, "gallery"),
    (fe.GalleryMismatch, 409, "gallery_mismatch"),
    # the gallery's Milvus server is down or failing: the request may succeed later, unchanged
    (fe.GalleryUnavailable, 503, "gallery_unavailable"),
    (fe.GalleryError, 409, "gallery"),
    (fe.BadInput, 400, "bad_input"),
    (fe.UnknownModel, 400, "unknown_model"),
    # the server's own models are missing or damaged: a deployment problem, not the client's
    (fe.ModelNotAvailable, 503, "model_not_available"),
    (fe.WeightsChecksumError, 503, "model_not_available"),
    (KeyStoreError, 503, "key_store"),
]

# codes whose message stays in the server's log (it names the server's files): the client gets these
PRIVATE = {
    "key_store": "the server cannot read its API key file; its log says why (the operator must fix or "
                 "recreate it with `faceprint keys create`); try again later",
    "model_not_available": "the server's models are not installed or are damaged; its log says which (the "
                           "operator must install them); try again later",
    "server_error": "the server failed to do this; its log says why; try again later or tell its operator",
}


# an absolute file path (POSIX, or Windows with a drive) of at least two parts, not inside a URL
_SERVER_PATH = re.compile(r"(?<![\w.~:/\\])(?:[A-Za-z]:[\\/]|~?/)(?:[^\s'\"`,;()<>\[\]{}]+[\\/])+"
                          r"[^\s'\"`,;()<>\[\]{}]*")
# what a message may name of the API itself (routes in hints)
_ROUTES = ("/v1/", "/docs", "/static/", "/readyz", "/healthz", "/metrics")
SERVER_FILE = "a file on the server"


def hide_server_paths(message: str) -> str:
    """``message`` with every absolute file path in it called "a file on the server".

    Args:
        message: a message about to reach a client.

    Returns:
        The message; the API's own routes (``/v1/...``) and URLs are left as they are.
    """
    return _SERVER_PATH.sub(lambda m: m.group(0) if m.group(0).startswith(_ROUTES) else SERVER_FILE, message)


def for_client(exc: fe.FaceprintError, gallery_paths: list[str]) -> str:
    """A faceprint error's message as a client may see it.

    Args:
        exc: the error.
        gallery_paths: the strings that name the server's gallery (its file, its store's URI).

    Returns:
        Its message with the HTTP hint instead of the CLI one (``FaceprintError.for_http``), each
        of ``gallery_paths`` called "the gallery", and any other absolute file path called "a file
        on the server" (``hide_server_paths``).
    """
    message = exc.for_http()
    for path in sorted({p for p in gallery_paths if p and p != "."}, key=len, reverse=True):
        message = message.replace(path, "the gallery")
    return hide_server_paths(message)


def _gallery_paths(request) -> list[str]:
    """The strings that name the gallery of the service answering ``request`` (its file, its
    store's path or URI)."""
    svc = getattr(request.app.state, "service", None)
    if svc is None:
        return []
    gallery = getattr(svc, "gallery", None)
    return [str(svc.config.gallery), str(getattr(gallery, "path", "") or "")]


class ServiceError(Exception):
    """An error the service raises itself (a missing or refused key), answered as it says.

    Args:
        status: the HTTP status.
        code: the body's ``error.code``.
        message: the body's ``error.message``.
        headers: extra response headers (``WWW-Authenticate`` for a 401).
    """

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The JSON body of every error answer.

    Args:
        code: a stable word for the kind of error.
        message: what went wrong and what to do, in words.
        **extra: more fields of ``error`` (the fields of a validation error).

    Returns:
        ``{"error": {"code": code, "message": message, **extra}}``.
    """
    return {"error": {"code": code, "message": message, **extra}}


def status_of(exc: Exception) -> tuple[int, str]:
    """The status and code an exception gets, by the first type of ``STATUS`` it is an instance of.

    Args:
        exc: the exception a route raised.

    Returns:
        ``(status, code)``; ``(500, "server_error")`` for a type not listed (the client's mistakes
        all have a type in the table: anything else went wrong on the server).
    """
    for kind, status, code in STATUS:
        if isinstance(exc, kind):
            return status, code
    return 500, "server_error"


def describe_validation(errors: list[dict[str, Any]]) -> str:
    """Pydantic/FastAPI validation errors in one readable line.

    Args:
        errors: the errors, each with ``loc``, ``msg`` and ``type``.

    Returns:
        ``where: what; where: what`` for the first five, and how many more there are.
    """
    parts = []
    for err in errors[:5]:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        where = ".".join(loc) or "request"
        message = str(err.get("msg", "invalid"))
        if err.get("type") == "missing":
            message = "required but missing"
        parts.append(f"{where}: {message}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(parts) + more


def install(app: Any) -> None:
    """Register the handlers that give every error the JSON shape.

    Args:
        app: the FastAPI application.
    """
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    from faceprint.service.batching import Busy

    @app.exception_handler(ServiceError)
    async def _service(request: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse(body(exc.code, exc.message), exc.status, headers=exc.headers)

    @app.exception_handler(fe.FaceprintError)
    async def _faceprint(request: Request, exc: fe.FaceprintError) -> JSONResponse:
        status, code = status_of(exc)
        if code in PRIVATE:
            log.error("%s %s failed: %s", request.method, request.url.path, exc)
            return JSONResponse(body(code, PRIVATE[code]), status)
        return JSONResponse(body(code, for_client(exc, _gallery_paths(request))), status)

    @app.exception_handler(Busy)
    async def _busy(request: Request, exc: Busy) -> JSONResponse:
        return JSONResponse(body("busy", str(exc)), 503, headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")),
                   "type": str(e.get("type", ""))} for e in exc.errors()]
        return JSONResponse(body("invalid_request", describe_validation(errors), fields=errors), 422)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        codes = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.method} {request.url.path}; see /docs for the API"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}; see /docs for the API"
        elif exc.status_code == 400 and "parsing the body" in message:
            message = ("the request body could not be read: send JSON (UTF-8) to JSON routes and photos as "
                       "multipart/form-data files")
        return JSONResponse(body(codes.get(exc.status_code, "http_error"), message), exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(body("server_error", PRIVATE["server_error"]), 500)

"""Dependencies of the routes: the service's state and API-key checks by scope.

A key comes in ``X-API-Key: <key>`` or ``Authorization: Bearer <key>``. No valid key: 401.
A valid key of a scope that may not do this: 403.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from faceprint.service.errors import ServiceError
from faceprint.service.keys import ApiKey

if TYPE_CHECKING:
    from faceprint.service.app import Service

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="An API key from `faceprint keys create --scope admin|recognise`.")
bearer = HTTPBearer(auto_error=False, description="The same API key as a bearer token.")


def service(request: Request) -> "Service":
    """The running service (models, gallery, keys)."""
    return request.app.state.service


def _authenticate(request: Request, header_key: str | None, credentials: HTTPAuthorizationCredentials | None) -> ApiKey:
    key = header_key or (credentials.credentials if credentials is not None else None)
    if not key:
        raise ServiceError(401, "unauthorised", "an API key is required: send it as the X-API-Key header "
                           "(create one with `faceprint keys create --scope recognise`)",
                           headers={"WWW-Authenticate": "Bearer"})
    entry = service(request).keys.authenticate(key.strip())
    if entry is None:
        raise ServiceError(401, "unauthorised", "this API key is not valid (mistyped or revoked); "
                           "`faceprint keys list` shows the keys that exist", headers={"WWW-Authenticate": "Bearer"})
    return entry


def require(scope: str) -> Callable[..., ApiKey]:
    """A dependency that lets through only a valid key allowed to do what ``scope`` allows."""

    def check(request: Request, header_key: str | None = Security(api_key_header),
              credentials: HTTPAuthorizationCredentials | None = Security(bearer)) -> ApiKey:
        entry = _authenticate(request, header_key, credentials)
        if not entry.allows(scope):
            raise ServiceError(403, "forbidden", f"this {entry.scope} key may not do this: it needs an {scope} key")
        return entry

    check.__name__ = f"require_{scope}"
    return check


recognise = Depends(require("recognise"))
admin = Depends(require("admin"))

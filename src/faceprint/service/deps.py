"""Dependencies of the routes: the running service and API-key checks by scope.

Routes take them as typed parameters: ``svc: ServiceDep`` for the service's state, ``key:
RecogniseKey`` or ``key: AdminKey`` for the caller's key (or ``dependencies=[recognise]`` /
``[admin]`` when the route does not need the key itself).

A key comes in ``X-API-Key: <key>`` or ``Authorization: Bearer <key>``. No valid key: 401 (the
front door, ``guard.FrontDoor``, refuses those before the body is read; the check here stays for
the routes' own use and for apps built without it).
A valid key of a scope that may not do this: 403.
"""

from __future__ import annotations

from typing import Annotated, Callable

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from faceprint.service import audit
from faceprint.service.errors import ServiceError
from faceprint.service.guard import BAD_KEY, NO_KEY
from faceprint.service.keys import ApiKey
from faceprint.service.state import Service

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="An API key from `faceprint keys create --scope admin|recognise|metrics`.")
bearer = HTTPBearer(auto_error=False, description="The same API key as a bearer token.")


def get_service(request: Request) -> Service:
    """The running service (models, gallery, keys) of the app answering ``request``.

    Args:
        request: the request being answered.

    Returns:
        The ``Service`` that ``create_app`` keeps on ``app.state.service``.
    """
    return request.app.state.service


def _authenticate(request: Request, header_key: str | None, credentials: HTTPAuthorizationCredentials | None) -> ApiKey:
    key = header_key or (credentials.credentials if credentials is not None else None)
    if not key:
        raise ServiceError(401, "unauthorised", NO_KEY, headers={"WWW-Authenticate": "Bearer"})
    entry = get_service(request).keys.authenticate(key.strip())
    if entry is None:
        raise ServiceError(401, "unauthorised", BAD_KEY, headers={"WWW-Authenticate": "Bearer"})
    return entry


def require(scope: str) -> Callable[..., ApiKey]:
    """A dependency that lets through only a valid key allowed to do what ``scope`` allows.

    Args:
        scope: ``admin`` or ``recognise`` (``keys.SCOPES``).

    Returns:
        The dependency: it returns the caller's ``ApiKey``, and raises ``ServiceError`` 401 for
        no valid key, 403 for a key whose scope does not allow ``scope``.
    """

    def check(request: Request, header_key: str | None = Security(api_key_header),
              credentials: HTTPAuthorizationCredentials | None = Security(bearer)) -> ApiKey:
        entry = _authenticate(request, header_key, credentials)
        audit.note(request, key_id=entry.id, admin=scope == "admin")  # admin routes: audited
        if not entry.allows(scope):
            raise ServiceError(403, "forbidden", f"this {entry.scope} key may not do this: it needs an {scope} key")
        return entry

    check.__name__ = f"require_{scope}"
    return check


require_recognise = require("recognise")
require_admin = require("admin")
require_metrics = require("metrics")

ServiceDep = Annotated[Service, Depends(get_service)]
"""The running service, as a route parameter: ``svc: ServiceDep``."""

RecogniseKey = Annotated[ApiKey, Depends(require_recognise)]
"""The caller's key, any scope (``recognise`` or ``admin``); 401 without a valid one."""

AdminKey = Annotated[ApiKey, Depends(require_admin)]
"""The caller's ``admin`` key; 401 without a valid key, 403 for a ``recognise`` one."""

recognise = Depends(require_recognise)
"""``RecogniseKey`` for a route's or router's ``dependencies=[...]``."""

admin = Depends(require_admin)
"""``AdminKey`` for a route's or router's ``dependencies=[...]``."""

metrics_reader = Depends(require_metrics)
"""A ``metrics`` or ``admin`` key, for ``dependencies=[...]`` (401 without a key, 403 for a ``recognise`` one)."""

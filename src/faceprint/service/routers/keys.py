"""The caller's own key: ``GET /v1/me`` says its id, scope and name (the web page uses it)."""

from __future__ import annotations

from fastapi import APIRouter

from faceprint.service.deps import RecogniseKey
from faceprint.service.schemas import KeyOut, errors

router = APIRouter(tags=["keys"])


@router.get("/me", response_model=KeyOut, responses=errors(), summary="The key this request was sent with")
async def me(key: RecogniseKey) -> dict:
    """Id, scope (``admin`` or ``recognise``) and name of the key; never the key itself."""
    return key.to_dict()

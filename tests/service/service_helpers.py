"""Helpers of the service's tests: LFW photos as upload bytes, small JPEGs, and checks of the
JSON error body every failure gets."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

PEOPLE = {"George W Bush": "George_W_Bush", "Colin Powell": "Colin_Powell"}


def lfw_photo(lfw: Path, folder: str, number: int) -> bytes:
    """The bytes of LFW photo ``number`` of ``folder``."""
    return (lfw / folder / f"{folder}_{number:04d}.jpg").read_bytes()


def named_photo(lfw: Path, person: str, n: int) -> tuple[str, bytes]:
    """LFW photo ``n`` of ``person`` as an upload: its file name and bytes."""
    path = lfw / person / f"{person}_{n:04d}.jpg"
    return path.name, path.read_bytes()


def jpeg(array: np.ndarray) -> bytes:
    """An RGB array as JPEG bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG")
    return buffer.getvalue()


def blank_jpeg() -> bytes:
    """A grey 160x120 JPEG: a readable photo without a face."""
    return jpeg(np.full((120, 160, 3), 200, np.uint8))


def assert_error(response, status: int, code: str | None = None) -> dict:
    """A JSON error body of the documented shape, with the expected status (and code)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error["message"], str) and len(error["message"]) > 10
    if code is not None:
        assert error["code"] == code, error
    return error


def error_message(answer, status: int, code: str) -> str:
    """The message of an error answer with the expected status and code."""
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code, answer.text
    return error["message"]

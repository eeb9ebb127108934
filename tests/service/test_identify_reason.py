"""REST identify: a face too small to name safely answers "unknown" with the reason, and
``min_quality`` overrides the gallery's floor per request."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the service needs its extra: pip install 'faceprint[serve]'")
pytest.importorskip("multipart", reason="the service needs python-multipart: pip install 'faceprint[serve]'")

from service_helpers import jpeg, lfw_photo  # noqa: E402


def small_face(image: np.ndarray, side: int = 60) -> np.ndarray:
    import cv2

    canvas = np.full_like(image, 128)
    top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
    canvas[top:top + side, left:left + side] = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
    return canvas


def test_identify_says_why_a_face_is_unknown(env, lfw: Path):
    from faceprint.images import load_image

    c, a, r = env["client"], env["admin"], env["reader"]
    files = [("images", (f"t{i}.jpg", lfw_photo(lfw, "Tony_Blair", i))) for i in (1, 2, 3)]
    assert c.post("/v1/subjects/Tony Blair/faces", files=files, headers=a).status_code == 201
    tiny = jpeg(small_face(load_image(lfw / "Tony_Blair" / "Tony_Blair_0006.jpg")))

    loose = c.post("/v1/identify", files={"image": ("tiny.jpg", tiny)}, params={"min_quality": 0}, headers=r)
    assert loose.status_code == 200, loose.text
    (named,) = loose.json()["faces"]
    assert named["name"] == "Tony Blair" and not named.get("reason")
    floor = round(named["face"]["quality"] + 0.01, 3)  # just above this face's score
    answer = c.post("/v1/identify", files={"image": ("tiny.jpg", tiny)}, params={"min_quality": floor}, headers=r)
    (face,) = answer.json()["faces"]
    assert face["name"] == "unknown" and face["candidates"][0]["subject"] == "Tony Blair"
    assert face["reason"] == f"poor quality {named['face']['quality']:.2f} < {floor:.2f}"

    bad = c.post("/v1/identify", files={"image": ("tiny.jpg", tiny)}, params={"min_quality": 2}, headers=r)
    assert bad.status_code == 422
    schema = c.get("/openapi.json").json()["components"]["schemas"]["IdentifiedFace"]["properties"]
    assert "poor quality" in schema["reason"]["description"]

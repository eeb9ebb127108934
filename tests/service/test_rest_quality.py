"""Every REST answer that shows a face carries its quality score (0-1), and the OpenAPI schema
says so; the web page shows it beside each face."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the service needs its extra: pip install 'faceprint[serve]'")
pytest.importorskip("multipart", reason="the service needs python-multipart: pip install 'faceprint[serve]'")

from service_helpers import jpeg, lfw_photo  # noqa: E402


def test_detect_embed_verify_identify_carry_quality(env, lfw: Path):
    import cv2

    from faceprint.images import load_image

    c, r = env["client"], env["reader"]
    sharp = lfw_photo(lfw, "Colin_Powell", 1)
    blurred = jpeg(cv2.GaussianBlur(load_image(lfw / "Colin_Powell" / "Colin_Powell_0001.jpg"), (0, 0), 3.0))
    scores = {}
    for label, photo in (("sharp", sharp), ("blurred", blurred)):
        detected = c.post("/v1/detect", files={"image": ("a.jpg", photo)}, headers=r)
        assert detected.status_code == 200, detected.text
        faces = detected.json()["faces"]
        assert faces and all(0.0 <= f["quality"] <= 1.0 for f in faces)
        scores[label] = max(faces, key=lambda f: f["box"][2] - f["box"][0])["quality"]  # the main face
    assert scores["blurred"] < scores["sharp"]

    embedded = c.post("/v1/embed", files={"image": ("a.jpg", sharp)}, headers=r).json()
    assert all(0.0 <= f["face"]["quality"] <= 1.0 for f in embedded["faces"])
    # the service scores a face as the library does: every cue, the network's own included
    import io

    import faceprint
    from PIL import Image

    library = faceprint.embed(np.asarray(Image.open(io.BytesIO(sharp)).convert("RGB")))
    assert sorted(round(f["face"]["quality"], 3) for f in embedded["faces"]) == sorted(
        round(e.quality, 3) for e in library)
    verified = c.post("/v1/verify", headers=r, files={"first": ("a.jpg", sharp), "second": ("b.jpg", blurred)}).json()
    assert verified["first"]["quality"] > verified["second"]["quality"]
    identified = c.post("/v1/identify", files={"image": ("a.jpg", sharp)}, headers=r)
    assert identified.status_code == 200, identified.text
    assert all("quality" in f["face"] for f in identified.json()["faces"])

    schema = c.get("/openapi.json").json()["components"]["schemas"]["Face"]["properties"]
    assert "quality" in schema and "0 (useless) to 1" in schema["quality"]["description"]


def test_page_shows_quality_by_each_face(env):
    script = env["client"].get("/app.js")
    if script.status_code != 200:
        script = env["client"].get("/static/app.js")
    assert script.status_code == 200
    assert "quality ${Number(q).toFixed(2)}" in script.text and "formatQuality(face.face.quality)" in script.text

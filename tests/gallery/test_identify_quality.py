"""Identify answers "unknown" with the reason below the gallery's quality floor, on real faces:
a face shrunk to a few dozen pixels of a real photo is near enough its enrolled person to be
named by distance alone, and is refused a name below the floor."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from faceprint import Gallery
from faceprint.cli.main import app
from faceprint.errors import BadInput
from faceprint.quality import NAMING_FLOOR
from tests.lfw_people import photos

PEOPLE = ["Colin_Powell", "Serena_Williams", "Tony_Blair"]


def small_face(image: np.ndarray, side: int = 60) -> np.ndarray:
    """The photo shrunk to ``side`` px, in the middle of a grey canvas of the photo's size."""
    import cv2

    small = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
    canvas = np.full_like(image, 128)
    top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
    canvas[top:top + side, left:left + side] = small
    return canvas


@pytest.fixture(scope="module")
def gallery_and_probes(lfw: Path, tmp_path_factory):
    from faceprint.images import load_image

    path = tmp_path_factory.mktemp("quality-floor") / "g.db"
    with Gallery(path) as g:
        for name in PEOPLE:
            g.enrol(name, photos(lfw, name, 0, 3))
    sharp = load_image(photos(lfw, "Tony_Blair", 5, 1)[0])
    return path, sharp, small_face(sharp)


def test_a_tiny_face_is_unknown_with_the_reason(gallery_and_probes) -> None:
    path, sharp, tiny = gallery_and_probes
    with Gallery(path, create=False) as g:
        assert g.quality_floor() == NAMING_FLOOR
        (good,) = g.identify(sharp)
        assert good.name == "Tony_Blair" and good.reason is None and "reason" not in good.to_dict()
        # its distance alone names the tiny face too
        (no_floor,) = g.identify(tiny, min_quality=0.0)
        assert no_floor.name == "Tony_Blair" and no_floor.distance <= no_floor.threshold
        q_sharp, q_tiny = good.detection.quality, no_floor.detection.quality
        assert q_tiny < q_sharp  # the score sees what the distance does not
        floor = round((q_tiny + q_sharp) / 2, 3)
        (poor,) = g.identify(tiny, min_quality=floor)
        assert poor.name == "unknown" and poor.candidates[0].subject == "Tony_Blair"
        assert poor.reason == f"poor quality {q_tiny:.2f} < {floor:.2f}"
        assert poor.to_dict()["reason"] == poor.reason
        assert g.identify(sharp, min_quality=floor)[0].name == "Tony_Blair"


def test_the_floor_is_a_gallery_setting(gallery_and_probes) -> None:
    path, sharp, _ = gallery_and_probes
    with Gallery(path, create=False) as g:
        (good,) = g.identify(sharp)
        try:
            g.quality_floor(0.99)  # kept with the gallery: every face is now below it
            with Gallery(path, create=False) as again:
                assert again.quality_floor() == 0.99
                (refused,) = again.identify(sharp)
                assert refused.name == "unknown" and refused.reason.startswith("poor quality")
                (named,) = again.identify(sharp, min_quality=0.2)  # per call
                assert named.name == "Tony_Blair"
            with pytest.raises(BadInput, match="between 0 and 1"):
                g.quality_floor(1.5)
        finally:
            g.quality_floor(NAMING_FLOOR)


def test_no_match_reason_and_empty_gallery(gallery_and_probes, lfw: Path, tmp_path: Path) -> None:
    from faceprint.images import load_image

    path, _, _ = gallery_and_probes
    stranger = load_image(photos(lfw, "Gerhard_Schroeder", 0, 1)[0])
    with Gallery(path, create=False) as g:
        (face,) = g.identify(stranger)
        assert face.name == "unknown" and face.distance > face.threshold
        assert face.reason == f"no match within threshold ({face.distance:.3f} > {face.threshold:.3f})"
    with Gallery(tmp_path / "empty.db") as empty:
        (face,) = empty.identify(stranger)
        assert face.name == "unknown" and face.reason == "the gallery is empty"


def test_cli_identify_shows_the_reason(gallery_and_probes, tmp_path: Path) -> None:
    import cv2

    path, sharp, tiny = gallery_and_probes
    files = []
    for name, image in (("sharp", sharp), ("tiny", tiny)):
        files.append(tmp_path / f"{name}.png")
        cv2.imwrite(str(files[-1]), image[:, :, ::-1])
    loose = CliRunner().invoke(app, ["identify", *map(str, files), "-g", str(path), "--min-quality", "0"])
    assert loose.exit_code == 0, loose.output
    doc = json.loads(loose.stdout)
    faces = {Path(r["image"]).stem: r["faces"][0] for r in doc["results"]}
    assert doc["min_quality"] == 0.0 and all(f["name"] == "Tony_Blair" for f in faces.values())
    floor = round((faces["sharp"]["face"]["quality"] + faces["tiny"]["face"]["quality"]) / 2, 3)
    strict = CliRunner().invoke(app, ["identify", *map(str, files), "-g", str(path), "--min-quality", str(floor)])
    assert strict.exit_code == 0, strict.output
    doc = json.loads(strict.stdout)
    faces = {Path(r["image"]).stem: r["faces"][0] for r in doc["results"]}
    assert doc["min_quality"] == floor
    assert faces["sharp"]["name"] == "Tony_Blair" and "reason" not in faces["sharp"]
    assert faces["tiny"]["name"] == "unknown" and faces["tiny"]["reason"].startswith("poor quality")
    default = CliRunner().invoke(app, ["identify", str(files[0]), "-g", str(path)])
    assert json.loads(default.stdout)["min_quality"] == NAMING_FLOOR
    bad = CliRunner().invoke(app, ["identify", str(files[1]), "-g", str(path), "--min-quality", "2"])
    assert bad.exit_code != 0 and "Traceback" not in bad.output

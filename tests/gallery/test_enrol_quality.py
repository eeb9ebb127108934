"""Enrol and poor photos, on real faces: by default a poor photo goes in with a note naming its
score and why; below a floor (this call's, or the gallery's saved one) it is refused and listed in
the problems; ``allow_poor`` takes it anyway; the CLI's options do the same."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from faceprint import Gallery, quality
from faceprint.errors import BadInput, NoFace

PERSON = "Serena_Williams"


@pytest.fixture(scope="module")
def photos(lfw: Path, tmp_path_factory) -> tuple[Path, Path]:
    """A sharp LFW portrait, and the next photo of the same person shrunk to a small, blurred
    face in the middle of a photo of the same size."""
    import cv2

    from faceprint.images import load_image

    root = tmp_path_factory.mktemp("enrol-quality")
    good, other = sorted((lfw / PERSON).glob("*.jpg"))[:2]
    image = load_image(other)
    height, width = image.shape[:2]
    small = cv2.GaussianBlur(cv2.resize(image, (width // 5, height // 5), interpolation=cv2.INTER_AREA), (0, 0), 0.8)
    top, left = (height - small.shape[0]) // 2, (width - small.shape[1]) // 2
    poor = cv2.copyMakeBorder(small, top, height - small.shape[0] - top, left, width - small.shape[1] - left,
                              cv2.BORDER_REPLICATE)
    poor_path = root / "poor.png"
    cv2.imwrite(str(poor_path), cv2.cvtColor(poor, cv2.COLOR_RGB2BGR))
    return good, poor_path


def _poor_score(report) -> float:
    """The score the report gives the poor photo."""
    text = " ".join([*report.notes, *report.problems.values()])
    assert quality.POOR_QUALITY > float(text.split("poor quality ")[1].split()[0])
    return float(text.split("poor quality ")[1].split()[0])


def test_poor_photo_noted_by_default_refused_below_a_floor(photos, tmp_path: Path) -> None:
    good, poor = photos
    with Gallery(tmp_path / "g.db") as g:
        assert g.min_quality is None
        report = g.enrol("Serena", [good, poor])
        assert report.added == 2 and not report.problems
        (note,) = [n for n in report.notes if "poor quality" in n]
        assert str(poor) in note and "(" in note  # the score, then why
        score = _poor_score(report)
        stored = sorted(f.quality for f in g.faces("Serena") if f.quality is not None)
        assert not stored or stored[0] == pytest.approx(score, abs=0.01)

    with Gallery(tmp_path / "floor.db") as g:
        report = g.enrol("Serena", [good, poor], min_quality=quality.POOR_QUALITY)
        assert report.added == 1 and list(report.problems) == [str(poor)]
        assert report.problems[str(poor)].startswith("poor quality")
        with pytest.raises(NoFace, match="refused as poor"):
            g.enrol("Someone", [poor], strict=True, min_quality=0.9)
        with pytest.raises(BadInput):
            g.enrol("Serena", [good], min_quality=1.5)


def test_saved_floor_applies_to_later_enrols_and_allow_poor_overrides(photos, tmp_path: Path) -> None:
    good, poor = photos
    with Gallery(tmp_path / "g.db") as g:
        g.min_quality = 0.6
    with Gallery(tmp_path / "g.db") as g:  # kept in the gallery
        assert g.min_quality == pytest.approx(0.6)
        refused = g.enrol("Serena", [good, poor])
        assert refused.added == 1 and str(poor) in refused.problems
        taken = g.enrol("Serena", [poor], allow_poor=True)
        assert taken.added == 1 and any("poor quality" in n for n in taken.notes)
        g.min_quality = None
        assert g.min_quality is None


def test_cli_enrol_min_quality_and_allow_poor(photos, tmp_path: Path) -> None:
    from cli_helpers import run

    good, poor = photos
    gallery = tmp_path / "cli.db"
    out = run("gallery", "enrol", good, poor, "--name", "Serena", "-g", gallery, "--min-quality",
              quality.POOR_QUALITY, "--save-min-quality", "--no-progress")
    document = json.loads(out.stdout)
    assert document["added"] == 1 and str(poor) in document["problems"], out.stderr
    out = run("gallery", "enrol", poor, "--name", "Serena", "-g", gallery, "--allow-poor", "--no-progress")
    document = json.loads(out.stdout)
    assert out.returncode == 0 and document["added"] == 1, out.stderr
    with Gallery(gallery) as g:
        assert g.min_quality == pytest.approx(quality.POOR_QUALITY)
        assert all(np.isfinite(f.quality) for f in g.faces("Serena") if f.quality is not None)

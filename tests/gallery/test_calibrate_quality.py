"""`faceprint calibrate --gallery` counts faces below the quality floor as identify does (never
named), and --save keeps that floor with the threshold: the DIR it reports is the share of probes
that identify then names right, photo for photo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from faceprint import Gallery
from faceprint.cli.main import app
from tests.lfw_people import photos

ENROLLED = ["Colin_Powell", "Serena_Williams", "Tony_Blair"]
PROBES = {"Tony_Blair": (5, 4), "Colin_Powell": (5, 3), "Gerhard_Schroeder": (0, 4), "Hugo_Chavez": (0, 4)}


def central(found, width: int = 250):
    """The identification of the face nearest the photo's centre (the face calibration embeds)."""
    return min(found, key=lambda i: abs((i.detection.box.left + i.detection.box.right) / 2 - width / 2))


@pytest.fixture(scope="module")
def setup(lfw: Path, tmp_path_factory):
    root = tmp_path_factory.mktemp("calibrate-quality")
    with Gallery(root / "g.db") as g:
        for name in ENROLLED:
            g.enrol(name, photos(lfw, name, 0, 3))
    probes = root / "probes"
    for name, (start, count) in PROBES.items():
        (probes / name).mkdir(parents=True)
        for p in photos(lfw, name, start, count):
            (probes / name / p.name).write_bytes(p.read_bytes())
    return root / "g.db", probes


def run(*args: str) -> dict:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_calibrate_and_identify_agree_below_the_floor(setup) -> None:
    db, probes = setup
    known = [p for name in ENROLLED if (probes / name).is_dir() for p in sorted((probes / name).iterdir())]
    with Gallery(db, create=False) as g:
        before = {p: central(g.identify(p, min_quality=0.0)) for p in known}
    right = [p for p, i in before.items() if i.name == p.parent.name]
    assert len(right) >= 3
    # a floor just above the poorest rightly named probe: that one is now refused a name
    floor = round(min(before[p].detection.quality for p in right) + 0.005, 4)

    loose = run("calibrate", str(probes), "-g", str(db), "--fpir", "0.2", "--min-quality", "0", "--workers", "1")
    strict = run("calibrate", str(probes), "-g", str(db), "--fpir", "0.2", "--min-quality", str(floor),
                 "--workers", "1", "--save")
    assert loose["min_quality"] == 0.0 and strict["min_quality"] == floor
    assert strict["below_quality_floor"]["known_probes"] >= 1
    assert strict["known_probes"] == loose["known_probes"] == len(known)
    with Gallery(db, create=False) as g:
        assert g.quality_floor() == floor  # --save keeps the floor it calibrated with
        threshold, source = g.threshold_and_source()
        assert source == "calibrated on this gallery" and threshold == pytest.approx(strict["threshold"])
        after = {p: central(g.identify(p)) for p in known}
    named_right = sum(i.name == p.parent.name for p, i in after.items())
    assert named_right / len(known) == pytest.approx(strict["dir"])
    refused = [i for i in after.values() if i.reason and i.reason.startswith("poor quality")]
    assert len(refused) == strict["below_quality_floor"]["known_probes"]
    # the loose calibration counted the refused probe as named: the floor is what differs
    assert strict["dir"] < loose["dir"] or strict["threshold"] != loose["threshold"]

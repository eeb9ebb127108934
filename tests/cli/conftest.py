"""Inputs the CLI tests share: unreadable photos, one face, two people and a gallery of them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cli_helpers import run


@pytest.fixture()
def bad_files(tmp_path: Path) -> tuple[Path, Path]:
    """Two photos that are not images: a text file and an empty file, both named .jpg."""
    text = tmp_path / "notes.jpg"
    text.write_text("not an image\n")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    return text, empty


@pytest.fixture(scope="session")
def face(lfw: Path) -> Path:
    """One LFW photo with one face."""
    return lfw / "AJ_Cook" / "AJ_Cook_0001.jpg"


@pytest.fixture(scope="session")
def people(lfw: Path, tmp_path_factory) -> Path:
    """Two people, two photos each."""
    root = tmp_path_factory.mktemp("people")
    for name in ("Aaron_Peirsol", "Abdullah"):
        (root / name).mkdir()
        for path in sorted((lfw / name).glob("*.jpg"))[:2]:
            shutil.copy(path, root / name / path.name)
    return root


@pytest.fixture(scope="session")
def gallery(people: Path, tmp_path_factory) -> Path:
    """A gallery with ``people`` enrolled by `faceprint gallery enrol`."""
    path = tmp_path_factory.mktemp("gallery") / "team.db"
    out = run("gallery", "enrol", people, "-g", path, "--no-progress")
    assert out.returncode == 0, out.stderr
    return path

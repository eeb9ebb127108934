"""`faceprint gallery add-photos` and `faceprint people ...` as a user runs them, on real LFW faces:
an incremental add and every correction, with JSON out and one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cli_helpers import one_line_error, run

PEOPLE = ("Colin_Powell", "Serena_Williams", "Tony_Blair")


def _cli(*args: object, code: int = 0) -> dict:
    from typer.testing import CliRunner

    from faceprint.cli.main import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == code, (result.output, result.exception)
    return json.loads(result.stdout) if code == 0 else {}


@pytest.fixture(scope="module")
def library(lfw: Path, tmp_path_factory) -> tuple[Path, Path]:
    """A photo library of three people (photos 0-2), and a folder of newer photos (3-4)."""
    root = tmp_path_factory.mktemp("library")
    first, later = root / "first", root / "later"
    for name in PEOPLE:
        for folder, photos in ((first, sorted((lfw / name).glob("*.jpg"))[:3]), (later, sorted((lfw / name).glob("*.jpg"))[3:5])):
            (folder / name).mkdir(parents=True, exist_ok=True)
            for p in photos:
                shutil.copy(p, folder / name / p.name)
    return first, later


def _person_of(gallery: Path, lfw_name: str) -> dict:
    people = _cli("people", "list", "-g", gallery)["people"]
    for person in people:
        faces = _cli("people", "show", person["id"], "-g", gallery)["face_list"]
        if faces and all(lfw_name in (f["source"] or "") for f in faces) and len(faces) >= 2:
            return {**person, "face_list": faces}
    raise AssertionError(f"no person of {lfw_name}: {people}")


def test_add_photos_then_every_correction(library: tuple[Path, Path], tmp_path: Path) -> None:
    first, later = library
    g = tmp_path / "photos.db"
    added = _cli("gallery", "add-photos", first, "-g", g, "--no-progress")
    assert added["photos"] == 9 and added["faces"] >= 9 and added["people"] >= 3
    powell = _person_of(g, "Colin_Powell")
    assert powell["name"] is None and powell["label"] == f"person {powell['id']}"
    # new photos join the people found before
    more = _cli("gallery", "add-photos", later, "-g", g, "--no-progress")
    assert more["photos"] == 6 and more["joined"] >= 6 and more["skipped_duplicates"] == 0
    powell = _person_of(g, "Colin_Powell")
    assert len(powell["face_list"]) == 5
    again = _cli("gallery", "add-photos", later, "-g", g, "--no-progress")
    assert (again["faces"], again["skipped_duplicates"]) == (0, 6)
    # name, and identify says the name
    assert _cli("people", "name", powell["id"], "Colin Powell", "-g", g)["name"] == "Colin Powell"
    found = _cli("identify", sorted(later.glob("Colin_Powell/*.jpg"))[0], "-g", g)
    assert "Colin Powell" in json.dumps(found)
    named = _cli("people", "list", "--named", "-g", g)["people"]
    assert [p["name"] for p in named] == ["Colin Powell"]
    # merge two people, move faces back out, not-this, delete, recluster: each sticks
    serena, blair = _person_of(g, "Serena_Williams"), _person_of(g, "Tony_Blair")
    merged = _cli("people", "merge", serena["id"], blair["id"], "-g", g)
    assert merged["faces"] == len(serena["face_list"]) + len(blair["face_list"])
    blair_faces = [f["id"] for f in blair["face_list"]]
    split = _cli("people", "move", *blair_faces, "-g", g)
    assert split["faces"] == len(blair_faces) and split["id"] != serena["id"]
    _cli("people", "name", split["id"], "Tony Blair", "-g", g)
    odd = serena["face_list"][0]["id"]
    out = _cli("people", "not-this", odd, "-g", g)
    assert out["not_person"] == serena["id"] and out["now_person"] != serena["id"]
    shown = tmp_path / "thumbs"
    detail = _cli("people", "show", split["id"], "--thumbnails", shown, "-g", g)
    assert detail["thumbnails_written"] == len(blair_faces) and len(list(shown.glob("*.jpg"))) == len(blair_faces)
    summary = _cli("people", "recluster", "-g", g, "--no-progress")
    assert summary["faces"] >= 15
    after = {p["id"]: p for p in _cli("people", "list", "-g", g)["people"]}
    assert after[split["id"]]["name"] == "Tony Blair" and after[split["id"]]["faces"] == len(blair_faces)
    assert odd not in [f["id"] for f in _cli("people", "show", serena["id"], "-g", g)["face_list"]]
    _cli("people", "delete-face", odd, "-g", g)
    assert _cli("gallery", "check", "-g", g)["ok"] is True
    assert _cli("people", "thumbnails", "off", "-g", g)["thumbnails"] == "off"


def test_people_errors_are_one_line(library: tuple[Path, Path], tmp_path: Path) -> None:
    first, _ = library
    g = tmp_path / "photos.db"
    _cli("gallery", "add-photos", first / "Colin_Powell", "-g", g, "--no-progress")
    person = _cli("people", "list", "-g", g)["people"][0]
    _cli("people", "name", person["id"], "Ada", "-g", g)
    one_line_error(run("people", "show", 9999, "-g", g), "no person with id 9999")  # as a user runs it
    one_line_error(run("gallery", "add-photos", tmp_path / "missing", "-g", g), "no such file")
    for args, words in ((("people", "name", person["id"], "person 4"), "unnamed person"),
                        (("people", "move", 9999), "no face with id 9999"),
                        (("people", "merge", person["id"], person["id"]), "merge"),
                        (("people", "thumbnails", "maybe"), "on or off")):
        _fails(*args, "-g", g, words=words)


def _fails(*args: object, words: str) -> None:
    """A one-line error (in process): a non-zero exit, no traceback, the words on stderr."""
    from typer.testing import CliRunner

    from faceprint.cli.main import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code != 0 and not isinstance(result.exception, (TypeError, AttributeError, KeyError))
    assert words in result.stderr and "Traceback" not in result.stderr, result.stderr

"""`faceprint gallery`: a bad argument leaves no broken or empty gallery behind, and enrol exits by
what went in (1 with one error line when not one photo did, 0 when they were already there)."""

from __future__ import annotations

import json

import pytest

from cli_helpers import one_line_error, run


@pytest.mark.parametrize("args, words", [
    (["gallery", "create", "{db}", "--detector", "nosuch"], ["unknown detector"]),
    (["gallery", "create", "{db}", "--model", "nosuch"], ["unknown model"]),
    (["gallery", "enrol", "{tmp}/missing_folder", "-g", "{db}"], ["no such file or folder"]),
    (["gallery", "enrol", "{face}", "-g", "{db}"], ["--name"]),
    (["gallery", "enrol", "{tmp}/empty_folder", "--name", "X", "-g", "{db}"], ["no photos"]),
])
def test_bad_gallery_arguments_create_no_file(args, words, face, tmp_path):
    (tmp_path / "empty_folder").mkdir()
    db = tmp_path / "new.db"
    out = run(*[a.format(db=db, tmp=tmp_path, face=face) for a in args])
    one_line_error(out, *words)
    assert not db.exists()


def test_enrol_where_no_photo_goes_in_exits_non_zero(bad_files, tmp_path):
    out = run("gallery", "enrol", *bad_files, "--name", "Ada", "-g", tmp_path / "g.db", "--no-progress")
    one_line_error(out)
    assert json.loads(out.stdout)["added"] == 0


def test_enrol_of_only_bad_photos_ends_with_one_error_line(tmp_path):
    from typer.testing import CliRunner

    from faceprint.cli.main import app

    bad = []
    for name, data in (("a.jpg", b"not an image"), ("b.jpg", b"")):
        (tmp_path / name).write_bytes(data)
        bad.append(str(tmp_path / name))
    result = CliRunner().invoke(app, ["gallery", "enrol", *bad, "--name", "Ada", "-g", str(tmp_path / "g.db"),
                                      "--no-progress"])
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["added"] == 0
    assert result.stderr.strip().splitlines()[-1] == "error: not one photo went in (see problems)"


def test_enrol_again_of_the_same_photos_still_exits_zero(face, tmp_path):
    for _ in range(2):
        out = run("gallery", "enrol", face, "--name", "Ada", "-g", tmp_path / "g.db", "--no-progress")
        assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["skipped_duplicates"] == 1

"""The CLI's files and exits: -o files are strict JSON like its stdout; a video with no frame fails
before any file is written; "nothing worked" is one helper that exits 1 with a one-line error."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer


def _strict(text: str):
    """JSON as strict parsers read it: NaN or Infinity is an error."""
    def refuse(name: str):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_identify_output_file_is_strict_json(tmp_path):
    from faceprint.cli.gallery_cmd import _write

    path = tmp_path / "out" / "x.json"
    _write(path, {"threshold": float("inf"), "results": [{"distance": float("nan"), "n": np.float32(0.5)}]})
    assert _strict(path.read_text()) == {"threshold": None, "results": [{"distance": None, "n": 0.5}]}


class _FakeTimeline:
    def to_dict(self, boxes: bool = True) -> dict:
        return {"frames": 3, "fps": float("nan"), "tracks": [{"distance": np.float32(0.25), "last": float("inf")}]}


def test_video_output_file_is_strict_json_and_matches_stdout(tmp_path, monkeypatch):
    import faceprint.video
    from typer.testing import CliRunner

    from faceprint.cli.main import app

    monkeypatch.setattr(faceprint.video, "track_video", lambda *a, **k: _FakeTimeline())
    monkeypatch.setenv("FACEPRINT_GALLERY", str(tmp_path / "none.db"))
    out = tmp_path / "t.json"
    result = CliRunner().invoke(app, ["video", "clip.mp4", "-o", str(out), "--max-frames", "3", "--no-progress"])
    assert result.exit_code == 0, result.output
    written = _strict(out.read_text())
    assert written == {"frames": 3, "fps": None, "tracks": [{"distance": 0.25, "last": None}]}
    assert written == _strict(result.stdout)


def test_video_with_no_frame_fails_before_writing_anything(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from faceprint.cli.main import app

    monkeypatch.setenv("FACEPRINT_GALLERY", str(tmp_path / "none.db"))
    text = tmp_path / "notes.jpg"  # OpenCV opens it, then reads no frame
    text.write_text("not a video\n")
    out, annotated = tmp_path / "t.json", tmp_path / "a.avi"
    result = CliRunner().invoke(app, ["video", str(text), "-o", str(out), "-a", str(annotated), "--no-progress"])
    assert result.exit_code == 1 and "no frame could be read" in result.output, result.output
    assert "Traceback" not in result.output and result.stdout.strip() == ""
    assert not out.exists() and not annotated.exists()


def test_track_video_raises_when_no_frame_can_be_read(tmp_path):
    from faceprint.errors import BadInput
    from faceprint.video import track_video

    text = tmp_path / "notes.jpg"
    text.write_text("not a video\n")
    with pytest.raises(BadInput, match="no frame could be read"):
        track_video(text, annotate=tmp_path / "a.avi")
    assert not (tmp_path / "a.avi").exists()


# -- exit_if_nothing_done --------------------------------------------------------------------------------

def test_exit_if_nothing_done_exits_1_with_the_message(capsys):
    from faceprint.cli.common import exit_if_nothing_done

    with pytest.raises(typer.Exit) as stop:
        exit_if_nothing_done(0, 2, "no photo could be used")
    assert stop.value.exit_code == 1
    assert capsys.readouterr().err == "error: no photo could be used\n"
    with pytest.raises(typer.Exit):
        exit_if_nothing_done(0, 1)
    assert capsys.readouterr().err == ""
    exit_if_nothing_done(1, 5, "not printed")  # something worked
    exit_if_nothing_done(0, 0, "not printed")  # nothing to do, nothing failed
    assert capsys.readouterr().err == ""


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

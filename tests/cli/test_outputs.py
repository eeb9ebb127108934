"""The CLI's output files: -o files are strict JSON like its stdout, a new folder is made for them,
and an output that cannot be written fails before the work, not after."""

from __future__ import annotations

import numpy as np
import pytest

from cli_helpers import UNWRITABLE, one_line_error, run, strict_json


def test_identify_output_file_is_strict_json(tmp_path):
    from faceprint.cli.gallery_cmd import _write

    path = tmp_path / "out" / "x.json"
    _write(path, {"threshold": float("inf"), "results": [{"distance": float("nan"), "n": np.float32(0.5)}]})
    assert strict_json(path.read_text()) == {"threshold": None, "results": [{"distance": None, "n": 0.5}]}


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
    written = strict_json(out.read_text())
    assert written == {"frames": 3, "fps": None, "tracks": [{"distance": 0.25, "last": None}]}
    assert written == strict_json(result.stdout)


@pytest.mark.parametrize("command", [
    ["embed", "{face}", "{face2}", "-o", "{out}.npz"],
    ["identify", "{face}", "{face2}", "-g", "{gallery}", "-o", "{out}.json"],
    ["cluster", "{people}", "--out", "{out}"],
    ["classify", "fit", "{people}", "-o", "{out}.npz"],
    ["video", "{face}", "-o", "{out}.json", "--no-progress"],
])
def test_unwritable_output_fails_before_the_work(command, face, people, gallery, tmp_path):
    face2 = next((people / "Abdullah").iterdir())
    values = {"face": face, "face2": face2, "people": people, "gallery": gallery, "out": UNWRITABLE}
    out = run(*[a.format(**values) for a in command], FACEPRINT_GALLERY=str(tmp_path / "none.db"))
    one_line_error(out, str(UNWRITABLE), "cannot write there")
    assert "━" not in out.stderr  # no progress bar: nothing was embedded first


def test_embed_output_into_a_new_folder_is_written(face, people, tmp_path):
    target = tmp_path / "new" / "sub" / "vectors.npz"  # np.savez makes no folder: the CLI must
    out = run("embed", face, next((people / "Abdullah").iterdir()), "-o", target)
    assert out.returncode == 0, out.stderr
    assert target.is_file()

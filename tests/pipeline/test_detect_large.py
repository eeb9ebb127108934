"""Every face in a large photo: the tiled pass, its tiles and merging, and the single pass kept for
photos up to 1280 px."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faceprint.models.detectors import tiling


def _face(lfw, name: str, size: int) -> np.ndarray:
    """The central 0.45 of an LFW image (about brow to chin), resized to ``size`` px."""
    import cv2

    from faceprint.images import load_image

    image = load_image(lfw / name / f"{name}_0001.jpg")
    crop = image[69:181, 69:181]
    interp = cv2.INTER_AREA if size < crop.shape[0] else cv2.INTER_CUBIC
    return cv2.resize(crop, (size, size), interpolation=interp)


def _canvas(lfw, width: int, height: int) -> np.ndarray:
    """A blurred, enlarged corner of an LFW photo: scene texture and colour, no face."""
    import cv2

    from faceprint.images import load_image

    corner = load_image(lfw / "Tony_Blair" / "Tony_Blair_0002.jpg")[:64, :64]
    canvas = cv2.resize(corner, (width, height), interpolation=cv2.INTER_CUBIC)
    return cv2.GaussianBlur(canvas, (0, 0), width / 300)


def _found(faces, x: int, y: int, size: int) -> list:
    """The faces whose box centre lies in the square pasted at (x, y)."""
    return [f for f in faces
            if x <= (f.box[0] + f.box[2]) / 2 <= x + size and y <= (f.box[1] + f.box[3]) / 2 <= y + size]


@pytest.mark.slow
def test_60px_face_in_a_24_mpx_photo_is_found_once(lfw, monkeypatch):
    from faceprint.models.detectors.yunet import YuNetDetector

    monkeypatch.setenv("FACEPRINT_THREADS", "1")
    canvas = _canvas(lfw, 6000, 4000)
    spans = tiling.tile_spans(6000, 3 * 266, 266)  # the default tile (768) is raised to 3x the overlap
    placed = [
        ("Colin_Powell", 60, 2317, 1711),  # somewhere
        ("Serena_Williams", 60, spans[1][0] + 4, 3010),  # across the first seam between tiles
        ("George_W_Bush", 400, 4400, 900),  # large: the whole-photo pass finds it, once
    ]
    for name, size, x, y in placed:
        canvas[y : y + size, x : x + size] = _face(lfw, name, size)
    faces = YuNetDetector()(canvas)
    for name, size, x, y in placed:
        hits = _found(faces, x, y, size)
        assert len(hits) == 1, (name, size, len(hits))
        (face,) = hits
        width = face.box[2] - face.box[0]
        assert 0.6 * size < width < 1.6 * size, (name, size, width)
        assert face.points.shape == (5, 2)
        assert np.all(np.abs(face.points - [x + size / 2, y + size / 2]) < size / 2)
    # what the default found before this change: the photo shrunk to 960 px, where 60 px is 10 px
    before = YuNetDetector(min_face=0)(canvas)
    assert not _found(before, 2317, 1711, 60) and _found(before, 4400, 900, 400)


def test_photos_up_to_1280_px_take_one_pass(lfw, monkeypatch):
    from faceprint.models.detectors.yunet import YuNetDetector

    monkeypatch.setenv("FACEPRINT_THREADS", "1")
    calls = []
    real = tiling.detect_tiled
    monkeypatch.setattr(tiling, "detect_tiled", lambda *a, **k: calls.append(a[0].shape) or real(*a, **k))
    canvas = _canvas(lfw, 1280, 960)
    canvas[300:450, 500:650] = _face(lfw, "Colin_Powell", 150)
    detector = YuNetDetector()
    (face,) = detector(canvas)
    assert not calls
    assert _found([face], 500, 300, 150)
    # one pixel more and the tiled pass runs, at full resolution for the default min_face of 40
    wide = np.concatenate([canvas, canvas[:, :1]], axis=1)
    detector(wide)
    assert calls == [(960, 1281, 3)]


def test_cut_faces_at_shared_tile_edges_are_dropped():
    # a fake detector that sees one face in every tile at (x, y) of the tile, 50 px
    def detect(tile: np.ndarray) -> np.ndarray:
        return np.array([[90, 0, 40, 50, 50] + [0] * 10, [80, tile.shape[1] - 55, 100, 50, 50] + [0] * 10],
                        np.float64)

    image = np.zeros((1000, 2000, 3), np.uint8)
    rows = tiling.detect_tiled(image, detect, tile=1200, overlap=300)
    # two tiles side by side: the left tile's right-edge face (x + w = tile width - 5) and the right
    # tile's face at its left edge (x = 0) are cut; the other two are kept, moved to image pixels
    (_, first_end), (second, _) = tiling.tile_spans(2000, 1200, 300)
    assert first_end - second >= 300
    assert sorted(rows[:, 1].tolist()) == [0.0, 2000 - 55]


def test_merge_keeps_the_best_of_overlapping_boxes():
    rows = np.array([
        [70, 100, 100, 50, 50],
        [90, 104, 102, 50, 50],  # the same face, better score
        [60, 300, 300, 50, 50],  # another face
        [95, 126, 100, 50, 50],  # IoU 0.32 with the second: kept at the default 0.4
    ], np.float64)
    merged = tiling.merge(rows)
    assert merged[:, 0].tolist() == [95, 90, 60]
    assert len(tiling.merge(rows, iou_threshold=0.3)) == 2


@settings(max_examples=200, deadline=None)
@given(length=st.integers(1, 20000), tile=st.integers(64, 4000), overlap=st.integers(0, 1000))
def test_tiles_cover_and_overlap(length, tile, overlap):
    tile = max(tile, 3 * overlap, 1)
    spans = tiling.tile_spans(length, tile, overlap)
    assert spans[0][0] == 0 and spans[-1][1] == length  # from the first pixel to the last
    assert len({end - start for start, end in spans}) == 1  # equal tiles
    assert all(end - start <= tile + 1 for start, end in spans)
    for (a, a_end), (b, b_end) in zip(spans, spans[1:]):
        assert a < b and a_end - b >= overlap  # each overlaps the next by at least `overlap`
    if len(spans) > 1:  # and they are the fewest that can
        assert (len(spans) - 1) * (tile - overlap) + overlap < length

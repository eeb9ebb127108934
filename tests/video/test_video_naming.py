"""Naming tracks: the quality floor, splits of shot/reverse-shot tracks, live labels, and the
detection thread stopped on an error."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from faceprint.quality import NAMING_FLOOR
from faceprint.types import Box
from faceprint.video.identity import FrameMatch, best_split, live_start, split_tracks
from faceprint.video.process import _vote, live_label
from faceprint.video.tracker import Track, TrackPoint
from faceprint.video.vote import UNKNOWN, vote


def _unit(seed: int, dim: int = 128) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=dim)
    return (v / np.linalg.norm(v)).astype(np.float32)


def test_poor_faces_vote_unknown_and_a_name_needs_one_face_above_the_floor() -> None:
    poor = vote([("ann", 0.2)] * 3, 0.4, [0.05] * 3)
    assert poor.name == UNKNOWN and poor.votes == {UNKNOWN: 3}
    one_good = vote([("ann", 0.2)] * 4, 0.4, [0.05, 0.05, 0.05, 0.9])
    assert one_good.name == "ann" and one_good.votes == {UNKNOWN: 3, "ann": 1}
    assert vote([("ann", 0.2)] * 3, 0.4, [0.05] * 3, floor=0.02).name == "ann"  # a lower floor
    assert vote([("ann", 0.2)] * 3, 0.4).name == "ann"  # not scored: no opinion


def test_gallery_identifier_gives_the_gallery_quality_floor() -> None:
    from faceprint.video.identify import gallery_identifier

    class Gallery:
        signature = "sig"

        def threshold(self, fpir: float | None = None) -> float:
            return 0.42

    class FloorGallery(Gallery):
        def quality_floor(self) -> float:
            return 0.6

    assert gallery_identifier(Gallery())[2] == pytest.approx(NAMING_FLOOR)
    assert gallery_identifier(FloorGallery())[2] == pytest.approx(0.6)
    assert gallery_identifier(FloorGallery(), min_quality=0.2)[2] == pytest.approx(0.2)


def test_poor_frames_are_no_side_of_a_split() -> None:
    t = _track(1, 8)
    # bob's frames are poor: they vote "unknown", so the track is not split and is named ann
    matches = {1: [FrameMatch(5 * k, "ann" if k < 4 else "bob", 0.2, 0.9 if k < 4 else 0.05) for k in range(8)]}
    (only,) = split_tracks([t], matches, 0.4, split_distance=2.0)
    assert only is t and _vote(matches[1], 0.4).name == "ann"


def test_best_split_finds_shot_reverse_shot_runs() -> None:
    assert best_split(list("aaaabbbbaaaa")) == 4
    assert best_split(list("aaaabbbbaaaabbbb")) == 4
    assert best_split(list("aaaaaaaaaaaaaaaaaaaabb")) == 20  # a second name of MIN_SIDE frames at the end
    assert best_split(list("aaaabaaaa")) is None  # one stray frame is noise
    assert best_split(list("aaaa")) is None


def _track(tid: int, n: int, start: int = 0) -> Track:
    """A track of ``n`` look-alike faces (one group: only votes can split it), one every 5 frames."""
    t = Track(id=tid)
    base = _unit(tid)
    for k in range(n):
        v = base + 0.05 * _unit(100 + k)
        t.add_detection(TrackPoint(start + 5 * k, (start + 5 * k) / 25, Box(0, 0, 50, 50), True),
                        (v / np.linalg.norm(v)).astype(np.float32), None)
    return t


@pytest.mark.parametrize("pattern", ["aaaabbbbaaaa", "aaaabbbbaaaabbbb"])
def test_split_tracks_splits_aba_and_abab_and_names_each_part(pattern: str) -> None:
    names = {"a": "ann", "b": "bob"}
    t = _track(1, len(pattern))
    matches = {1: [FrameMatch(5 * k, names[c], 0.2) for k, c in enumerate(pattern)]}
    parts = sorted(split_tracks([t], matches, 0.4, split_distance=2.0), key=lambda p: p.points[0].frame)
    runs = [pattern[i:i + 4] for i in range(0, len(pattern), 4)]
    assert [len(p.samples) for p in parts] == [4] * len(runs)
    assert [_vote(matches[p.id], 0.4).name for p in parts] == [names[r[0]] for r in runs]
    assert [p.points[0].frame for p in parts] == [20 * i for i in range(len(runs))]


def test_live_label_names_the_second_person_of_a_track_once_their_run_starts() -> None:
    a = [FrameMatch(5 * k, "ann", 0.1, 0.9) for k in range(10)]
    b = [FrameMatch(50 + 5 * k, "bob", 0.1, 0.9) for k in range(3)]
    starts: dict[int, int] = {}
    assert live_label(7, a, 0.4, NAMING_FLOOR, starts) == ("#7 ann 1.00", True)
    assert live_label(7, a + b[:1], 0.4, NAMING_FLOOR, starts)[0].startswith("#7 ann")  # one frame: not yet
    assert live_label(7, a + b, 0.4, NAMING_FLOOR, starts) == ("#7 bob 1.00", True)
    assert starts[7] == 10
    assert live_start(a + b + a[:2], 0.4) == 13  # and back to ann
    assert live_label(8, [FrameMatch(0, "ann", 0.1, 0.05)], 0.4, NAMING_FLOOR, {}) == ("#8 unknown", False)


def test_an_error_inside_the_loop_stops_the_detection_thread(crowd: Path) -> None:
    from faceprint.video import track_video

    def progress(step: int) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom") as info:
        track_video(crowd, max_frames=20, progress=progress)
    time.sleep(0.2)  # the traceback (kept by ``info``) holds the loop's frame: no collection stops it
    alive = [t.name for t in threading.enumerate() if t.name.startswith("faceprint-detect") and t.is_alive()]
    assert alive == [] and info.value is not None

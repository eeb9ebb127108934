"""Video detection at 1080p (``video/frame_detect.py``) and read-ahead (``video/reader.py``), on the
real street video of the shared data."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from faceprint.errors import BadInput
from faceprint.video.frame_detect import FrameDetector, _found_again, _merge_windows
from faceprint.video.reader import ReadAhead, VideoReader

BIG_PX = 60  # faces at least this large (box short side) are the whole-frame pass's: all found at once


def _iou(a, b) -> float:
    w, h = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _matched(reference, got, iou: float = 0.5) -> list[bool]:
    return [any(_iou(r, g) > iou for g in got) for r in reference]


@pytest.fixture(scope="module")
def crowd_frames(crowd: Path) -> list[np.ndarray]:
    """RGB frames 0 to 10 of the street video."""
    with VideoReader(crowd, max_frames=11) as video:
        return [frame.rgb for frame in video]


@pytest.fixture(scope="module")
def pipe():
    from faceprint.pipeline.pipeline import Pipeline, PipelineConfig

    return Pipeline(PipelineConfig())


@pytest.fixture(scope="module")
def full_pass(pipe, crowd_frames) -> list[tuple[float, float, float, float]]:
    """The photo detector's boxes (whole frame + full-resolution tiles) on frame 0."""
    return [f.box for f in pipe.detector(crowd_frames[0])]


def test_whole_frame_pass_finds_every_big_face_of_a_real_1080p_frame(pipe, crowd_frames, full_pass):
    finder = FrameDetector(pipe, 1920, 1080, sweep=0, windows=False)
    got = [f.box for f in finder.find(crowd_frames[0])]
    big = [b for b in full_pass if min(b[2] - b[0], b[3] - b[1]) >= BIG_PX]
    assert len(big) >= 4, "frame 0 of the street video holds several large faces"
    assert all(_matched(big, got)), "every face of 60 px or more is found without any full-resolution pass"
    assert finder.stats.fine_mpx == 0.0


def test_sweep_and_windows_find_the_full_pass_faces_small_ones_included(pipe, crowd_frames, full_pass):
    finder = FrameDetector(pipe, 1920, 1080)
    tiles = finder.tiles
    assert len(tiles) >= 2, "a 1080p frame is swept in several full-resolution tiles"
    seen: list = []
    for _ in tiles:  # one sweep over the frame, a tile per call
        seen += [f.box for f in finder.find(crowd_frames[0])]
    assert finder.stats.tiles == len(tiles)
    small = [b for b in full_pass if min(b[2] - b[0], b[3] - b[1]) < BIG_PX]
    assert small, "frame 0 holds small faces"
    # each face the full pass finds is found at IoU > 0.5 during one sweep
    assert all(_matched(full_pass, seen)), (full_pass, seen)
    # and a small face once found is searched again in its window: the last call (one tile, windows)
    # still finds at least 90 % of the full pass's faces, for well under the full pass's pixels
    last = [f.box for f in finder.find(crowd_frames[0])]
    assert np.mean(_matched(full_pass, last)) >= 0.9
    assert finder.stats.fine_share < 0.6


def test_windows_open_only_where_the_whole_frame_pass_lost_a_small_face(pipe):
    finder = FrameDetector(pipe, 1920, 1080, sweep=0)
    small = (900.0, 500.0, 930.0, 535.0)
    finder._small = [small]
    lost = finder.regions(np.zeros((0, 15)))
    assert [kind for kind, _ in lost] == ["window"]
    window = lost[0][1]
    assert window[0] < small[0] and window[1] < small[1] and window[2] > small[2] and window[3] > small[3]
    assert (window[2] - window[0]) * (window[3] - window[1]) < 0.05 * 1920 * 1080
    row = np.zeros((1, 15))
    row[0, :5] = (90, 902, 501, 29, 33)  # the whole-frame pass has it again: no window
    assert finder.regions(row) == []
    assert _found_again(small, row) and not _found_again((100.0, 100.0, 130.0, 135.0), row)
    assert _merge_windows([(0, 0, 100, 100), (10, 10, 110, 110), (500, 500, 600, 600)]) == [
        (0, 0, 110, 110), (500, 500, 600, 600)]


def test_small_frames_and_other_detectors_take_the_pipelines_own_detection(pipe, crowd_frames):
    import cv2

    small = np.ascontiguousarray(cv2.resize(crowd_frames[0], (960, 540), interpolation=cv2.INTER_AREA))
    finder = FrameDetector(pipe, 960, 540)
    assert finder.tiles == [] and finder.regions() == []
    assert [d.box for d in finder.detect(small)] == [d.box for d in pipe.detect(small)]
    with pytest.raises(BadInput, match="sweep"):
        FrameDetector(pipe, 1920, 1080, sweep=-1)


def test_detection_started_ahead_gives_the_same_faces_and_every_frame_in_order(pipe, crowd):
    def run(ahead: bool) -> tuple[list[int], list[list]]:
        finder = FrameDetector(pipe, 1920, 1080)
        order, faces = [], []
        with VideoReader(crowd, max_frames=11) as video:
            for frame in finder.ahead(video, 5) if ahead else video:
                order.append(frame.index)
                if frame.index % 5 == 0:
                    faces.append([d.box for d in finder.detect(frame.rgb)])
        return order, faces

    plain_order, plain = run(False)
    ahead_order, started = run(True)
    assert ahead_order == plain_order == list(range(11))
    assert started == plain


def test_detection_ahead_stops_on_an_error_of_the_frames(pipe, crowd):
    class Broken(RuntimeError):
        pass

    def frames():
        with VideoReader(crowd, max_frames=3, read_ahead=0) as video:
            yield from video
        raise Broken("the camera went away")

    finder = FrameDetector(pipe, 1920, 1080)
    seen = []
    with pytest.raises(Broken):
        for frame in finder.ahead(frames(), 5):
            seen.append(frame.index)
    assert seen == [0, 1, 2]
    assert not finder._started
    assert not [t for t in threading.enumerate() if t.name.startswith("faceprint-detect")]


def _numbered_video(path: Path, frames: int) -> None:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (96, 64))
    for i in range(frames):
        writer.write(np.full((64, 96, 3), 8 * i, np.uint8))
    writer.release()


def test_read_ahead_delivers_every_frame_in_order_like_reading_in_place(tmp_path):
    path = tmp_path / "numbered.avi"
    _numbered_video(path, 20)
    with VideoReader(path, read_ahead=0) as video:
        plain = [(f.index, f.time_s, int(f.bgr.mean())) for f in video]
    with VideoReader(path, read_ahead=3) as video:
        ahead = [(f.index, f.time_s, int(f.bgr.mean())) for f in video]
        rgb = next(iter(VideoReader(path))).rgb
    assert len(plain) == 20 and ahead == plain
    assert [m for _, _, m in ahead] == sorted(m for _, _, m in ahead), "frames in order"
    assert rgb.shape == (64, 96, 3) and rgb.flags["C_CONTIGUOUS"]


def test_read_ahead_stops_cleanly_when_the_reader_is_closed_mid_video(tmp_path):
    path = tmp_path / "numbered.avi"
    _numbered_video(path, 30)
    video = VideoReader(path, read_ahead=2)
    frames = iter(video)
    assert next(frames).index == 0
    video.close()  # the producing thread is stopped before the file is released
    assert not [t for t in threading.enumerate() if t.name == "faceprint-video-read" and t.is_alive()]


def test_read_ahead_raises_a_producers_error_in_its_place_and_closes_on_interrupt():
    closed = threading.Event()

    def items():
        try:
            yield 1
            yield 2
            raise BadInput("frame 3 is broken")
        finally:
            closed.set()

    got = []
    with pytest.raises(BadInput, match="frame 3"):
        for item in ReadAhead(items(), depth=1):
            got.append(item)
    assert got == [1, 2] and closed.wait(2)

    produced, stopped = [], threading.Event()

    def endless():
        try:
            k = 0
            while True:
                produced.append(k)
                yield k
                k += 1
        finally:
            stopped.set()

    ahead = ReadAhead(endless(), depth=2, name="test-read-ahead")
    with pytest.raises(KeyboardInterrupt):
        for item in ahead:
            if item == 5:
                raise KeyboardInterrupt
    assert stopped.wait(2), "the producer's generator is closed"
    time.sleep(0.1)
    count = len(produced)
    time.sleep(0.1)
    assert len(produced) == count <= 5 + 2 + 2, "nothing is produced after the consumer stopped"
    with pytest.raises(RuntimeError, match="once"):
        list(ahead)


def test_track_video_interrupted_mid_video_stops_its_threads_and_keeps_the_frames_read(crowd):
    import gc

    from faceprint.video import track_video

    calls = []

    def progress(step: int) -> None:
        calls.append(step)
        if len(calls) == 7:
            raise KeyboardInterrupt  # as Ctrl-C while a frame is processed

    timeline = track_video(crowd, max_frames=20, progress=progress)
    assert timeline.frames == 7 and any("interrupted after 7 frames" in note for note in timeline.notes)
    assert timeline.tracks, "the faces of the frames read are kept"
    gc.collect()  # the detection generator is closed when it is collected
    time.sleep(0.2)
    alive = [t.name for t in threading.enumerate() if t.name.startswith(("faceprint-video-read", "faceprint-detect"))]
    assert alive == []

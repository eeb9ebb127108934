"""Faces in the frames of a video, found for a fraction of the photo detector's cost.

A large photo gets YuNet's whole-photo pass plus a tiled pass at full resolution, so a 40 px face
anywhere is found (``models/detectors/yunet.py``). On 1080p video that tiled pass is most of the
time spent, and most of it is wasted: consecutive frames hold the same faces. ``FrameDetector``
runs, on each detection frame:

- the whole-frame pass, shrunk as for a photo (it finds the large faces);
- full-resolution windows around the small faces found on the previous detection frame (a face
  keeps roughly its place and size from one detection frame to the next);
- ``sweep`` tiles of the photo detector's own tile grid, in turn, so every part of the frame is
  searched at full resolution once every ``len(tiles) / sweep`` detection frames: a small face that
  enters is found within that many detection frames, then followed by its window.

A detector other than YuNet, or a frame small enough for YuNet's single pass, gets the pipeline's
own detection unchanged. ``ahead`` starts each detection frame's search in a worker thread as soon
as the frame is read, so it overlaps the work on the frames before it (YuNet, OpenCV and ONNX
Runtime run without Python's lock).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import numpy as np

from faceprint.errors import BadInput
from faceprint.types import Detection

if TYPE_CHECKING:
    from faceprint.models.detectors import RawFace
    from faceprint.pipeline.pipeline import Pipeline
    from faceprint.video.reader import Frame

log = logging.getLogger(__name__)

SWEEP_TILES = 1  # full-resolution tiles searched per detection frame, in turn
WINDOW_MARGIN = 1.0  # a small face's window reaches this many face sides beyond its box on each side
WINDOW_SLACK_PX = 32  # and this many pixels more (movement between detection frames)
MIN_WINDOW_PX = 128  # no window is smaller than this (YuNet needs some context around a face)

Region = tuple[int, int, int, int]  # l, t, r, b in the full-resolution frame's pixels


@dataclass
class FrameDetectorStats:
    """What a ``FrameDetector`` searched so far.

    Attributes:
        frames: detection frames.
        tiles: full-resolution sweep tiles searched.
        windows: full-resolution windows around small faces searched.
        fine_mpx: megapixels searched at full resolution (tiles and windows).
        frame_mpx: megapixels of the frames given (what the photo detector's tiled pass searches).
    """

    frames: int = 0
    tiles: int = 0
    windows: int = 0
    fine_mpx: float = 0.0
    frame_mpx: float = 0.0

    @property
    def fine_share(self) -> float:
        """The fraction of the full-resolution pixels searched, against the photo detector's tiled pass."""
        return self.fine_mpx / self.frame_mpx if self.frame_mpx else 0.0


class FrameDetector:
    """Detection for consecutive frames of one video (call ``detect`` on the frames in order).

    Args:
        pipe: the ``Pipeline`` whose detector, landmarks and settings are used.
        width, height: the video's frame size as its container says (0 when unknown: the plan is
            made again from the first frame of another size).
        sweep: full-resolution tiles searched per detection frame, in turn (0: none, so small
            faces are found only near small faces found before, or by the whole-frame pass).
        windows: search full-resolution windows around the small faces of the previous call.
        margin: a window reaches this many face sides beyond the face's box on each side.
        slack_px: and this many pixels more, for movement between detection frames.

    Raises:
        BadInput: ``sweep`` below 0.

    Example:
        >>> from faceprint.pipeline.pipeline import Pipeline
        >>> finder = FrameDetector(Pipeline(), 1920, 1080)  # doctest: +SKIP
        >>> faces = finder.detect(frame_rgb)  # doctest: +SKIP
    """

    def __init__(self, pipe: Pipeline, width: int, height: int, *, sweep: int = SWEEP_TILES,
                 windows: bool = True, margin: float = WINDOW_MARGIN, slack_px: int = WINDOW_SLACK_PX) -> None:
        if sweep < 0:
            raise BadInput(f"sweep must be 0 or more tiles per detection frame, not {sweep}")
        self.pipe = pipe
        self.width, self.height = int(width), int(height)
        self.sweep, self.windows, self.margin, self.slack_px = int(sweep), bool(windows), float(margin), int(slack_px)
        self.stats = FrameDetectorStats()
        self._next_tile = 0
        self._small: list[tuple[float, float, float, float]] = []  # small faces of the previous call
        self._plan = self._make_plan()
        self._started: deque[tuple[np.ndarray, Any]] = deque()  # (rgb, future of find) started by ``ahead``
        self._lock = threading.Lock()

    def _make_plan(self) -> dict[str, Any] | None:
        """The scales, tile grid and small-face size for YuNet on frames of this size; None where
        the pipeline's own detector is used as it is (another detector, or no tiled pass)."""
        from faceprint.models.detectors import tiling
        from faceprint.models.detectors.yunet import YUNET_RELIABLE_PX, YuNetDetector

        detector = self.pipe.detector
        if not isinstance(detector, YuNetDetector) or min(self.width, self.height) < 1:
            return None
        long_side = max(self.width, self.height)
        coarse = min(1.0, detector.max_side / long_side) * (2 ** detector.upsample)
        fine = detector._fine_scale(long_side, coarse)
        if fine is None:
            return None
        overlap = int(np.ceil(YUNET_RELIABLE_PX / coarse * fine)) + 2 * tiling.EDGE_MARGIN
        tile = max(detector.tile, 3 * overlap)
        fine_w, fine_h = max(1, round(self.width * fine)), max(1, round(self.height * fine))
        tiles = [(round(left / fine), round(top / fine), round(right / fine), round(bottom / fine))
                 for top, bottom in tiling.tile_spans(fine_h, tile, overlap)
                 for left, right in tiling.tile_spans(fine_w, tile, overlap)]
        # the photo detector keeps tiled faces up to this size; larger ones are the whole-frame pass's
        small_px = 1.5 * YUNET_RELIABLE_PX / coarse
        log.debug("video detection at %dx%d: whole frame at scale %.2f, %d full-resolution tiles at %.2f, %d a frame",
                  self.width, self.height, coarse, len(tiles), fine, self.sweep)
        return {"detector": detector, "coarse": coarse, "fine": fine, "tiles": tiles, "small_px": small_px}

    @property
    def tiles(self) -> list[Region]:
        """The full-resolution sweep tiles (l, t, r, b in frame pixels); empty without a tiled pass."""
        return list(self._plan["tiles"]) if self._plan else []

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Every face of the next detection frame, with landmarks, highest score first.

        Args:
            rgb: the frame, (height, width, 3) RGB uint8.

        Returns:
            One ``Detection`` per face, as ``Pipeline.detect`` gives them.
        """
        faces = None
        while self._started:  # a search ``ahead`` started for this frame, or for one skipped
            started, future = self._started.popleft()
            if started is rgb:
                faces = future.result()
                break
            future.cancel()
        return self.pipe.detect(rgb, faces=self.find(rgb) if faces is None else faces)

    def ahead(self, frames: Iterable[Frame], every: int) -> Iterator[Frame]:
        """``frames`` in order, read up to ``every`` frames ahead, each detection frame's search
        (one in ``every``, by index) started in a worker thread as soon as it is read; ``detect``
        on that frame's ``rgb`` then takes its result.

        Args:
            frames: the video's frames (a ``VideoReader``).
            every: the detection interval of the caller (it calls ``detect`` on frames whose
                index is a multiple of it, in order).

        Yields:
            The frames, in order.
        """
        from concurrent.futures import ThreadPoolExecutor

        if every < 1:
            raise BadInput(f"every must be 1 or more frames, not {every}")
        waiting: deque[Frame] = deque()
        pool = ThreadPoolExecutor(1, thread_name_prefix="faceprint-detect")
        try:
            reading = iter(frames)
            while True:
                try:
                    frame = next(reading)
                except StopIteration:
                    break
                except Exception:  # the frames read before the error first, as without reading ahead
                    while waiting:
                        yield waiting.popleft()
                    raise
                if frame.index % every == 0:
                    self._started.append((frame.rgb, pool.submit(self.find, frame.rgb)))
                waiting.append(frame)
                if len(waiting) > every:
                    yield waiting.popleft()
            while waiting:
                yield waiting.popleft()
        finally:
            for _, future in self._started:
                future.cancel()
            self._started.clear()
            pool.shutdown(wait=True)

    def find(self, rgb: np.ndarray) -> list[RawFace]:
        """The detector's faces (before landmarks) in the next detection frame."""
        with self._lock:  # one search at a time: each starts from the faces of the one before
            return self._find(rgb)

    def _find(self, rgb: np.ndarray) -> list[RawFace]:
        if rgb.shape[1] != self.width or rgb.shape[0] != self.height:
            self.width, self.height = rgb.shape[1], rgb.shape[0]
            self._plan, self._small, self._next_tile = self._make_plan(), [], 0
        self.stats.frames += 1
        self.stats.frame_mpx += self.width * self.height / 1e6
        if self._plan is None:
            return list(self.pipe.detector(rgb))
        rows = self._search(rgb)
        faces = _raw_faces(rows, self._plan["detector"].score_threshold)
        self._small = [f.box for f in faces if min(f.box[2] - f.box[0], f.box[3] - f.box[1]) <= self._plan["small_px"]]
        return faces

    def regions(self, found: np.ndarray | None = None) -> list[tuple[str, Region]]:
        """The full-resolution regions the next call searches: ("tile", ...) and ("window", ...).

        Args:
            found: YuNet rows the whole-frame pass found in this frame: a small face of the
                previous call that one of them has found again needs no window.
        """
        plan = self._plan
        if plan is None:
            return []
        out: list[tuple[str, Region]] = []
        tiles = plan["tiles"]
        for k in range(min(self.sweep, len(tiles))):
            out.append(("tile", tiles[(self._next_tile + k) % len(tiles)]))
        if self.windows:
            lost = [box for box in self._small if found is None or not _found_again(box, found)]
            out += [("window", w) for w in _merge_windows([self._window(box) for box in lost])
                    if not any(_inside(w, t) for _, t in out)]
        return out

    def _window(self, box: tuple[float, float, float, float]) -> Region:
        left, top, right, bottom = box
        side = max(right - left, bottom - top)
        reach = self.margin * side + self.slack_px
        cx, cy = (left + right) / 2, (top + bottom) / 2
        half = max(side / 2 + reach, MIN_WINDOW_PX / 2)
        return (max(0, int(cx - half)), max(0, int(cy - half)),
                min(self.width, int(np.ceil(cx + half))), min(self.height, int(np.ceil(cy + half))))

    def _search(self, rgb: np.ndarray) -> np.ndarray:
        """YuNet's rows (score, box, keypoints; frame pixels) from the whole frame and the regions."""
        import cv2

        from faceprint.models.detectors import libfacedetection as lfd
        from faceprint.models.detectors import tiling
        from faceprint.models.detectors.yunet import _rows_at_scale

        plan = self._plan
        assert plan is not None
        found = [_rows_at_scale(rgb, plan["coarse"])]
        regions = self.regions(found[0][found[0][:, 0] >= 100 * plan["detector"].score_threshold])
        fine = plan["fine"]
        for kind, (left, top, right, bottom) in regions:
            view = rgb[top:bottom, left:right]
            if fine != 1.0:
                view = cv2.resize(view, (max(1, round(view.shape[1] * fine)), max(1, round(view.shape[0] * fine))),
                                  interpolation=cv2.INTER_AREA)
            rows = np.asarray(lfd.detect_bgr(cv2.cvtColor(view, cv2.COLOR_RGB2BGR)), np.float64).reshape(-1, 15)
            rows[:, 1:15] /= fine
            rows = rows[~tiling.cut_at_inner_edges(rows, (left, top, right, bottom), self.width, self.height)]
            rows[:, [1, 5, 7, 9, 11, 13]] += left  # the box's corner and the keypoints: x, y pairs
            rows[:, [2, 6, 8, 10, 12, 14]] += top
            # large faces are the whole-frame pass's (as in the photo detector's tiled pass)
            found.append(rows[np.minimum(rows[:, 3], rows[:, 4]) <= plan["small_px"]])
            self.stats.fine_mpx += (right - left) * (bottom - top) / 1e6
            if kind == "tile":
                self.stats.tiles += 1
            else:
                self.stats.windows += 1
        self._next_tile = (self._next_tile + self.sweep) % len(plan["tiles"])
        return tiling.merge(np.concatenate(found))


def _found_again(box: tuple[float, float, float, float], rows: np.ndarray) -> bool:
    """Whether one of ``rows`` (YuNet rows, frame pixels) is the face ``box`` held: a face of
    about its size (half to twice) whose centre lies within one face side of the box's."""
    if not len(rows):
        return False
    side = max(box[2] - box[0], box[3] - box[1], 1.0)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    sides = np.maximum(rows[:, 3], rows[:, 4])
    near = np.hypot(rows[:, 1] + rows[:, 3] / 2 - cx, rows[:, 2] + rows[:, 4] / 2 - cy) <= side
    return bool(np.any(near & (sides >= side / 2) & (sides <= side * 2)))


def _inside(inner: Region, outer: Region) -> bool:
    return inner[0] >= outer[0] and inner[1] >= outer[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def _merge_windows(windows: list[Region]) -> list[Region]:
    """Overlapping windows joined into their bounding box where that costs no more pixels than
    searching both; repeated until none joins."""
    out = list(windows)
    joined = True
    while joined:
        joined = False
        for i in range(len(out)):
            for j in range(i + 1, len(out)):
                a, b = out[i], out[j]
                union = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                if _area(union) <= _area(a) + _area(b):
                    out[i] = union
                    del out[j]
                    joined = True
                    break
            if joined:
                break
    return out


def _area(r: Region) -> int:
    return max(0, r[2] - r[0]) * max(0, r[3] - r[1])


def _raw_faces(rows: np.ndarray, score_threshold: float) -> list[RawFace]:
    """YuNet rows as ``RawFace`` objects at or above ``score_threshold`` (0-1), highest score first."""
    from faceprint.models.detectors import RawFace
    from faceprint.models.detectors.yunet import dlib_like_box

    faces = []
    for row in rows[np.argsort(-rows[:, 0], kind="stable")]:
        score = float(row[0]) / 100.0
        if score < score_threshold:
            continue
        x, y, w, h = (float(v) for v in row[1:5])
        points = np.asarray(row[5:15], dtype=np.float64).reshape(5, 2)
        faces.append(RawFace((x, y, x + w, y + h), score, points, dlib_like_box(x, y, w, h)))
    return faces

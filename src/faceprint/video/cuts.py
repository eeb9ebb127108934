"""Shot cuts: a cheap frame-difference test on a small thumbnail of each frame.

Each frame is shrunk to 64x36 (area average); two measures compare it with the previous frame: the
mean absolute grey difference (0-1) after the best shift of up to ``SHIFT`` thumbnail pixels (so
a pan is not a cut), and the total-variation distance of the hue-saturation histograms (0-1). A
cut is where the grey difference is at least ``CUT_DIFF`` and either the histograms differ by at
least ``CUT_HIST`` or the grey difference alone is at least twice ``CUT_DIFF``.

Measured (``python bench/bench_video.py --cut-stats``): on the real street video
``crowd_1080p.mp4`` (no cuts, people walking, a hand-held camera) consecutive frames differ by at
most 0.038 grey and 0.067 histogram; on the test clips (``tests/fixtures/video``: photos panned
and zoomed as a camera would) by at most 0.015 and 0.212 within a shot, while their 23 cuts
differ by at least 0.101 grey and 0.315 histogram (a cut between two photos of the same person
included); a fast pan (5 % of the frame's width per frame, the panning test of
``tests/video/test_video.py``) differs by 0.017 grey (0.164 unshifted) and 0.084 histogram.
A cut missed costs little (a face still joins a track only within the embedding gate);
a cut seen where there is none costs one link by place (the face rejoins by its embedding), so the
thresholds sit nearer the within-shot side.
"""

from __future__ import annotations

from typing import Any

import numpy as np

THUMB = (64, 36)  # width, height of the thumbnail compared
CUT_DIFF = 0.06  # smallest mean absolute grey difference (0-1) of a cut
CUT_HIST = 0.2  # smallest hue-saturation histogram distance (0-1) of a cut, unless the grey difference is 2x
HIST_BINS = (16, 8)
SHIFT = (4, 2)  # thumbnail pixels tried in x and y (6 % of the frame each way)


def thumbnail(bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A frame's grey thumbnail (float32, 0-1) and its normalised hue-saturation histogram."""
    import cv2

    step = max(1, min(bgr.shape[1] // (2 * THUMB[0]), bgr.shape[0] // (2 * THUMB[1])))
    # every step-th pixel first (of a 1080p frame every 15th: 128x72), then the area average
    small = cv2.resize(np.ascontiguousarray(bgr[::step, ::step]), THUMB, interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255.0
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, list(HIST_BINS), [0, 180, 0, 256]).ravel()
    return grey, hist / max(float(hist.sum()), 1.0)


def shifted_difference(a: np.ndarray, b: np.ndarray, shift: tuple[int, int] = SHIFT) -> float:
    """The smallest mean absolute difference of two grey thumbnails over shifts of up to ``shift``
    pixels (x, y) of one against the other (the parts that overlap)."""
    h, w = a.shape
    best = float("inf")
    for dx in range(-shift[0], shift[0] + 1):
        for dy in range(-shift[1], shift[1] + 1):
            pa = a[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)]
            pb = b[max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)]
            best = min(best, float(np.mean(np.abs(pa - pb))))
    return best


def frame_change(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> tuple[float, float]:
    """(shifted mean absolute grey difference, histogram distance) between two thumbnails."""
    return shifted_difference(a[0], b[0]), float(0.5 * np.abs(a[1] - b[1]).sum())


def is_cut(diff: float, hist: float, min_diff: float = CUT_DIFF, min_hist: float = CUT_HIST) -> bool:
    """Whether a frame change measured by ``frame_change`` is a shot cut."""
    return diff >= min_diff and (hist >= min_hist or diff >= 2 * min_diff)


class CutDetector:
    """Says, frame after frame, whether the picture cut to another shot since the previous frame.

    Args:
        min_diff: the smallest grey difference of a cut (``CUT_DIFF``).
        min_hist: the smallest histogram distance of a cut (``CUT_HIST``).

    Example:
        >>> cuts = CutDetector()
        >>> import numpy as np
        >>> cuts.update(np.zeros((90, 160, 3), np.uint8)), cuts.update(np.full((90, 160, 3), 200, np.uint8))
        (False, True)
    """

    def __init__(self, min_diff: float = CUT_DIFF, min_hist: float = CUT_HIST) -> None:
        self.min_diff = min_diff
        self.min_hist = min_hist
        self._last: Any = None

    def update(self, bgr: np.ndarray) -> bool:
        """Whether ``bgr`` (the next frame) starts a new shot (False for the first frame)."""
        now = thumbnail(bgr)
        last, self._last = self._last, now
        # the unshifted difference bounds the shifted one from above: most frames stop here
        if last is None or float(np.mean(np.abs(last[0] - now[0]))) < self.min_diff:
            return False
        return is_cut(*frame_change(last, now), self.min_diff, self.min_hist)

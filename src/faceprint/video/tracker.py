"""Follow faces between detections and link detections into tracks by box overlap and embedding.

On a detection frame every face is detected and embedded, and each detection joins the live track
whose last box it overlaps and whose mean embedding it is near (one-to-one, cheapest link
first), or starts a new track. A whole face that overlaps a track but is another person (a
cut, two people crossing) starts its own track: the embedding decides, not the place. A face cut
by the frame's edge (``is_partial``: entering or leaving the picture) is not embedded, its
embedding would be poor; it is linked by overlap alone, and does not vote on the name. Between
detection frames each track's box is moved by template matching (normalised cross-correlation of
a small grey patch in a window around the last box): cheap, so the detector need not run on every
frame. Following stops at the first frame where the patch no longer matches well (the face left,
the scene cut). A new track is also followed backwards through the frames since the previous
detection, so a face that appeared between two detection frames gets its boxes from the frame it
appeared in; where an older track's following and a new track's backwards following claim the same
place in the same frame (a cut to a face that looks alike at 32 px), the better correlation wins.
Track ends are therefore exact on clean cuts, and otherwise off by at most the frames between two
detections.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from faceprint.types import Box, Detection

log = logging.getLogger(__name__)

TEMPLATE_WIDTH = 32  # pixels: the face patch is matched at this width, whatever the face's size
SEARCH_MARGIN = 0.5  # the window searched around the last box, as a fraction of its size
SCALES = (1 / 1.06, 1.0, 1.06)  # face sizes tried from one frame to the next (zoom, approach)
SCALE_PENALTY = 0.01  # correlation another size must win by
INFEASIBLE = 1e6


@dataclass(frozen=True)
class TrackPoint:
    """Where a track's face was in one frame; ``detected`` is False for a box followed by template
    matching between detections."""

    frame: int
    time_s: float
    box: Box
    detected: bool
    score: float = 0.0

    def to_dict(self) -> dict:
        return {"frame": self.frame, "t": round(self.time_s, 3), "box": self.box.as_list(),
                "detected": self.detected, "score": round(float(self.score), 3)}


@dataclass
class Track:
    """One face followed through the video: its boxes (in frame order), how often the detector
    found it, and the running sum of the embeddings of those detections that were whole faces
    (only the sum is kept, so a long camera run does not keep every embedding)."""

    id: int
    points: list[TrackPoint] = field(default_factory=list)
    detections: int = 0
    box: Box | None = None
    misses: int = 0
    alive: bool = True
    following: bool = False
    _sum: np.ndarray | None = None
    _template: FaceTemplate | None = None

    @property
    def mean_vector(self) -> np.ndarray | None:
        """The unit-length mean of this track's embeddings (None before its first whole face)."""
        if self._sum is None:
            return None
        return self._sum / max(float(np.linalg.norm(self._sum)), 1e-12)

    def add_detection(self, point: TrackPoint, vector: np.ndarray | None, template: FaceTemplate | None) -> None:
        self.points.append(point)
        self.detections += 1
        if vector is not None:
            self._sum = vector.astype(np.float64) if self._sum is None else self._sum + vector
        self.box = point.box
        self.misses = 0
        self._template = template
        self.following = template is not None


def _cheapest_first(costs: np.ndarray) -> list[tuple[int, int]]:
    """One-to-one (row, column) links, cheapest first, skipping infeasible ones (greedy: with the
    few faces of a frame and gates that leave most pairs infeasible, it agrees with an optimal
    assignment in practice, and needs no SciPy)."""
    rows, cols = np.nonzero(costs < INFEASIBLE)
    order = np.argsort(costs[rows, cols], kind="stable")
    used_rows: set[int] = set()
    used_cols: set[int] = set()
    links = []
    for r, c in zip(rows[order].tolist(), cols[order].tolist()):
        if r not in used_rows and c not in used_cols:
            used_rows.add(r)
            used_cols.add(c)
            links.append((r, c))
    return links


def is_partial(detection: Detection, width: int, height: int) -> bool:
    """A face cut by the frame's edge (entering or leaving the picture): its box touches the left,
    right or top edge, or the bottom edge with the detector's mouth points below it. Its embedding
    is poor, so it is linked to a track by place only and does not vote. (A chin cut off at the
    bottom, common close to a webcam, still counts as whole.)"""
    box = detection.box
    if box.left <= 1 or box.top <= 1 or box.right >= width - 1:
        return True
    if box.bottom >= height - 1:
        points = detection.keypoints if detection.keypoints is not None else detection.landmarks
        return bool(np.max(points[:, 1]) >= height - 1)
    return False


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when they do not touch)."""
    w = min(a.right, b.right) - max(a.left, b.left)
    h = min(a.bottom, b.bottom) - max(a.top, b.top)
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return float(inter / (a.width * a.height + b.width * b.height - inter))


@dataclass(frozen=True)
class FaceTemplate:
    """A face's grey patch, TEMPLATE_WIDTH pixels for the box's width; ``dx``, ``dy``: where the
    patch starts inside the box, as fractions of its width and height (above 0 when the box
    reached past the frame's edge and the patch was cut at it)."""

    patch: np.ndarray
    dx: float
    dy: float


def face_template(grey: np.ndarray, box: Box) -> FaceTemplate | None:
    """The grey patch inside ``box`` (clipped to the frame) at the scale that makes the box
    TEMPLATE_WIDTH wide; None if too little of it is inside the frame."""
    import cv2

    h, w = grey.shape[:2]
    left, top = int(max(box.left, 0)), int(max(box.top, 0))
    right, bottom = int(min(box.right, w)), int(min(box.bottom, h))
    if right - left < 4 or bottom - top < 4:
        return None
    scale = TEMPLATE_WIDTH / box.width
    size = (max(4, round((right - left) * scale)), max(4, round((bottom - top) * scale)))
    patch = cv2.resize(grey[top:bottom, left:right], size, interpolation=cv2.INTER_AREA)
    return FaceTemplate(patch, (left - box.left) / box.width, (top - box.top) / box.height)


def follow_template(grey: np.ndarray, box: Box, template: FaceTemplate,
                    scales: Sequence[float] = SCALES) -> tuple[Box, float] | None:
    """Where ``template`` best matches in a window around ``box`` (its place in the previous
    frame), trying the face a little smaller, the same size and a little larger: the moved box and
    its correlation, or None when the window is too small."""
    import cv2

    h, w = grey.shape[:2]
    mx, my = box.width * SEARCH_MARGIN, box.height * SEARCH_MARGIN
    left, top = int(max(box.left - mx, 0)), int(max(box.top - my, 0))
    right, bottom = int(min(box.right + mx, w)), int(min(box.bottom + my, h))
    best: tuple[float, Box] | None = None
    for k in scales:
        width, height = box.width * k, box.height * k
        scale = TEMPLATE_WIDTH / width
        size = (round((right - left) * scale), round((bottom - top) * scale))
        if size[0] < template.patch.shape[1] or size[1] < template.patch.shape[0]:
            continue
        window = cv2.resize(grey[top:bottom, left:right], size, interpolation=cv2.INTER_AREA)
        scores = cv2.matchTemplate(window, template.patch, cv2.TM_CCOEFF_NORMED)
        _, score, _, (x, y) = cv2.minMaxLoc(scores)
        # the peak to a fraction of a template pixel (one template pixel is width / 32 image pixels)
        fx = x + _subpixel(scores[y, max(x - 1, 0) : x + 2], x)
        fy = y + _subpixel(scores[max(y - 1, 0) : y + 2, x], y)
        new_left = left + fx / scale - template.dx * width
        new_top = top + fy / scale - template.dy * height
        # another size must do clearly better than the same size, or boxes would drift in size
        score -= 0.0 if k == 1.0 else SCALE_PENALTY
        if best is None or score > best[0]:
            best = (score, Box(new_left, new_top, new_left + width, new_top + height))
    if best is None:
        return None
    return best[1], float(best[0])


def _subpixel(values: np.ndarray, at: int) -> float:
    """Offset of the vertex of the parabola through a peak and its two neighbours (0 at an edge)."""
    if at == 0 or len(values) < 3:
        return 0.0
    left, mid, right = (float(v) for v in values)
    curvature = left - 2 * mid + right
    return 0.0 if curvature >= 0 else float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5))


class FaceTracker:
    """Links detections into tracks and follows them between detection frames.

    Args:
        gate: largest Euclidean distance between a detection's embedding and a track's mean
            embedding for the two to be the same face (``track_video`` uses
            ``process.default_gate(model)``: one impostor pair in 10,000 on the model's fitted curve).
        iou_min: smallest overlap between a track's last box and a detection to link them by place.
        reid_gate: a detection that does not overlap a track may still join it when its embedding
            is at most this far from the track's (a face that moved fast, or came back); default
            0.8 x ``gate``. 0 turns this off.
        max_misses: detection frames a track may go unseen before it ends.
        min_follow_score: the smallest template correlation that counts as having followed the face.
        min_backfill_score: the same for following a new face backwards (stricter: a new track
            should not reach back onto the background or into another shot).
    """

    def __init__(self, gate: float, iou_min: float = 0.2, reid_gate: float | None = None, max_misses: int = 2,
                 min_follow_score: float = 0.6, min_backfill_score: float = 0.8) -> None:
        self.gate = gate
        self.iou_min = iou_min
        self.reid_gate = 0.8 * gate if reid_gate is None else reid_gate
        self.max_misses = max_misses
        self.min_follow_score = min_follow_score
        self.min_backfill_score = min_backfill_score
        self.tracks: list[Track] = []
        self._recent: list[tuple[int, float, np.ndarray]] = []  # frames followed since the last detection

    @property
    def live(self) -> list[Track]:
        return [t for t in self.tracks if t.alive]

    def cost(self, track: Track, box: Box, vector: np.ndarray | None) -> float:
        """How unlikely it is that a detection continues ``track``; INFEASIBLE when it cannot.
        Without an embedding on either side (a partial face) only the place counts, and the link
        costs as much as the loosest one by embedding, so a whole-face match is preferred."""
        overlap = iou(track.box, box) if track.box is not None else 0.0
        mean = track.mean_vector
        if vector is None or mean is None:
            return INFEASIBLE if overlap < self.iou_min else self.gate + 0.5 * (1.0 - overlap)
        distance = float(np.linalg.norm(mean - vector))
        # the gate stays strict even where the face patch was followed without a break: two
        # people's faces correlate well enough at 32 px that a cut can look continuous, and one
        # track over two people loses one of them, where a face split in two tracks keeps its name
        if distance > self.gate or (overlap < self.iou_min and distance > self.reid_gate):
            return INFEASIBLE
        return distance + 0.5 * (1.0 - overlap)

    def update(self, frame: int, time_s: float, grey: np.ndarray, detections: Sequence[Detection],
               vectors: Sequence[np.ndarray | None]) -> list[Track]:
        """Link a detection frame's faces to tracks; returns the track of each detection, in order.
        ``vectors`` holds each detection's embedding, or None for a partial face (``is_partial``)."""
        live = self.live
        assigned: list[Track | None] = [None] * len(detections)
        if live and len(detections):
            costs = np.array([[self.cost(t, d.box, v) for d, v in zip(detections, vectors)] for t in live])
            for r, c in _cheapest_first(costs):
                assigned[c] = live[r]
        owners: list[Track] = []
        for det, vector, track in zip(detections, vectors, assigned):
            template = face_template(grey, det.box)
            if track is None:
                track = Track(id=len(self.tracks) + 1)
                self.tracks.append(track)
                track.points.extend(self._claim(self._backfill(det.box, template)))
                log.debug("frame %d: new track %d (seen from frame %d)", frame, track.id,
                          track.points[0].frame if track.points else frame)
            track.add_detection(TrackPoint(frame, time_s, det.box, True, det.score),
                                None if vector is None else np.asarray(vector, np.float32), template)
            owners.append(track)
        seen = {id(t) for t in owners}
        for track in live:
            if id(track) in seen:
                continue
            track.misses += 1
            track.following = False
            if track.misses > self.max_misses:
                track.alive = False
                log.debug("frame %d: track %d ended", frame, track.id)
        self._recent.clear()
        return owners

    def _backfill(self, box: Box, template: FaceTemplate | None) -> list[TrackPoint]:
        """A new face followed backwards through the frames since the last detection, while it matches."""
        points: list[TrackPoint] = []
        if template is None:
            return points
        for frame, time_s, grey in reversed(self._recent):
            found = follow_template(grey, box, template)
            if found is None or found[1] < self.min_backfill_score:
                break
            box = found[0]
            points.append(TrackPoint(frame, time_s, box, False, found[1]))
        return points[::-1]

    def _claim(self, backfill: list[TrackPoint]) -> list[TrackPoint]:
        """Settle frames that a new track's backfill and an older track's following both claim (a cut
        between two detection frames to a face in the same place: each template still matches the
        other face a little). Each frame goes to the better correlation; the new track keeps the run
        it wins next to its detection, and the older track loses its followed boxes from there on."""
        if not backfill:
            return backfill
        rivals: dict[int, list[tuple[Track, TrackPoint]]] = {}
        for track in self.tracks:
            for point in reversed(track.points):
                if point.frame < backfill[0].frame:
                    break
                rivals.setdefault(point.frame, []).append((track, point))
        start = len(backfill)
        for i in range(len(backfill) - 1, -1, -1):
            mine = backfill[i]
            clash = [(t, p) for t, p in rivals.get(mine.frame, []) if iou(p.box, mine.box) > 0.3]
            if any(p.detected or p.score >= mine.score for _, p in clash):
                break
            start = i
        kept = backfill[start:]
        if not kept:
            return kept
        mine_at = {p.frame: p for p in kept}
        for track in {id(t): t for points in rivals.values() for t, _ in points}.values():
            first = len(track.points)
            while first > 0 and track.points[first - 1].frame >= kept[0].frame:
                first -= 1
            tail = [p for p in track.points[first:]
                    if p.detected or p.frame not in mine_at or iou(p.box, mine_at[p.frame].box) <= 0.3]
            if len(tail) < len(track.points) - first:
                track.points[first:] = tail
                track.box = track.points[-1].box if track.points else track.box
        return kept

    def follow(self, frame: int, time_s: float, grey: np.ndarray) -> None:
        """Move every followed track's box to where its face patch matches best in this frame; a
        track whose patch does not match stops being followed until it is detected again."""
        self._recent.append((frame, time_s, grey))
        for track in self.live:
            if not track.following or track._template is None or track.box is None:
                continue
            found = follow_template(grey, track.box, track._template)
            if found is None or found[1] < self.min_follow_score:
                track.following = False
                continue
            track.box = found[0]
            track.points.append(TrackPoint(frame, time_s, found[0], False, found[1]))

    def finish(self) -> list[Track]:
        """End the video; returns every track."""
        for track in self.tracks:
            track.alive = False
        return self.tracks

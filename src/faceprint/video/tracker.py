"""Link detections into tracks by embedding (and by place within a shot), and follow them between
detections.

On a detection frame every face is detected and embedded, and each detection joins the track
whose exemplars it is near (one-to-one, cheapest link first), or starts a new track. A track's
identity is a few of its own faces (``Exemplars``: the most recent and the best by quality), never
a running mean of everything it accepted: the mean of two people sits between them and within
reach of both, so one wrong link would let a track absorb both people from then on. A detection's
distance to a track is its distance to the second-nearest exemplar (the nearest while the track
has fewer than three), so one wrong face among the exemplars does not open the track to that
person; and the embedding decides: a whole face that overlaps a track but is another person
starts its own track.

A face cut by the frame's edge (``is_partial``: entering or leaving the picture) is not embedded,
its embedding would be poor; it is linked by overlap alone, within the same shot only, and adds no
exemplar and no vote. A poor face (``faceprint.quality.is_poor``) links by its embedding but is an
exemplar only while its track has no better one; a track of poor faces only (small, blurred)
links only where it overlaps, within the looser ``poor_gate``. At a shot cut (``cut``) no track continues by place: following stops, and after it a
face joins an earlier track only by its embedding (within ``reid_gate``). A track that ended
(its face unseen for a while) may be taken up again the same way: a person who leaves and comes
back keeps the track's number.

Between detection frames each track's box is moved by template matching (``video.template``).
A new track is also followed backwards through the frames since the previous detection (never
across a cut); where an older track's following and a new track's backwards following claim the
same place in the same frame, the better correlation wins.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from faceprint.quality import is_poor
from faceprint.types import Box, Detection
from faceprint.video.template import FaceTemplate, face_template, follow_template

log = logging.getLogger(__name__)

INFEASIBLE = 1e6
RECENT_EXEMPLARS = 4  # the latest faces a track keeps (the face as it looks now)
BEST_EXEMPLARS = 4  # and its best faces by quality (the face as it looks at its clearest)
MAX_DORMANT = 64  # ended tracks a face may still be re-identified with
ROBUST_FROM = 3  # exemplars from which a face must be near two of them, not one
MAX_SAMPLES = 512  # whole faces a track keeps for splitting it afterwards (thinned out beyond)


def _is_poor(quality: float | None) -> bool:
    """Whether a face's quality is below the shared floor (False when not scored)."""
    return bool(is_poor(quality))


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


@dataclass(frozen=True)
class Sample:
    """One whole face of a track: its detection frame, embedding and quality (None: not scored)."""

    frame: int
    vector: np.ndarray
    quality: float | None


class Exemplars:
    """A track's identity: its ``RECENT_EXEMPLARS`` latest faces and ``BEST_EXEMPLARS`` best ones by
    quality (unscored faces rank in the middle, 0.5). Poor faces (``faceprint.quality.is_poor``)
    stand in, the latest ``RECENT_EXEMPLARS`` of them, only while the track has no other: a track
    of small, blurred faces still links by its embeddings, not by place alone."""

    def __init__(self) -> None:
        self.recent: list[Sample] = []
        self.best: list[Sample] = []
        self.poor: list[Sample] = []

    def __len__(self) -> int:
        return len(self.recent) + len(self.best) or len(self.poor)

    @property
    def only_poor(self) -> bool:
        """Whether every face this track holds is poor (its embeddings are then less sure)."""
        return not (self.recent or self.best) and bool(self.poor)

    def add(self, sample: Sample) -> None:
        if _is_poor(sample.quality):
            self.poor = [*self.poor, sample][-RECENT_EXEMPLARS:]
            return
        self.recent.append(sample)
        if len(self.recent) > RECENT_EXEMPLARS:
            self.best.append(self.recent.pop(0))
            self.best.sort(key=lambda s: -(0.5 if s.quality is None else s.quality))  # stable: earlier first
            del self.best[BEST_EXEMPLARS:]

    def matrix(self) -> np.ndarray:
        """The exemplars' vectors, one per row (the poor stand-ins when there is no other)."""
        return np.stack([s.vector for s in (self.recent + self.best or self.poor)])

    def distance(self, vector: np.ndarray) -> float:
        """Euclidean distance from ``vector`` to the track: to its second-nearest exemplar once it
        has ``ROBUST_FROM`` of them, else to the nearest (inf when there is none). One face of
        another person that got in (a link just under the gate) is then not enough to let that
        person's faces in after it."""
        if not len(self):
            return float("inf")
        d = np.sort(np.linalg.norm(self.matrix() - vector, axis=1))
        return float(d[1] if len(d) >= ROBUST_FROM and not self.only_poor else d[0])


@dataclass
class Track:
    """One face followed through the video: its boxes (in frame order), how often the detector
    found it, its whole faces (``samples``, for splitting a track whose faces form two groups;
    at most ``MAX_SAMPLES``, evenly thinned) and the exemplars it links by. ``placed`` is False after a cut: its last box is in another
    shot and links nothing by place."""

    id: int
    points: list[TrackPoint] = field(default_factory=list)
    detections: int = 0
    box: Box | None = None
    misses: int = 0
    alive: bool = True
    following: bool = False
    placed: bool = True
    samples: list[Sample] = field(default_factory=list)
    exemplars: Exemplars = field(default_factory=Exemplars)
    _template: FaceTemplate | None = None

    def add_detection(self, point: TrackPoint, vector: np.ndarray | None, template: FaceTemplate | None,
                      quality: float | None = None) -> None:
        """Add a detection; ``vector`` None for a partial face (linked by place: no exemplar)."""
        self.points.append(point)
        self.detections += 1
        if vector is not None:
            sample = Sample(point.frame, vector.astype(np.float32), quality)
            self.samples.append(sample)
            if len(self.samples) > MAX_SAMPLES:  # a camera runs for hours: keep every other one, in order
                self.samples = self.samples[::2]
            self.exemplars.add(sample)
        self.box = point.box
        self.misses = 0
        self.alive = True
        self.placed = True
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


class FaceTracker:
    """Links detections into tracks and follows them between detection frames.

    Args:
        gate: largest Euclidean distance between a detection's embedding and a track's exemplars
            (``Exemplars.distance``) for the two to be the same face (``track_video`` uses
            ``process.default_gate(model)``: one impostor pair in 10,000 on the model's fitted curve).
        iou_min: smallest overlap between a track's last box and a detection to link them by place
            (in the same shot only).
        reid_gate: a detection that does not overlap a track (it moved fast, came back, or a cut
            came between) may still join it when its embedding is at most this far from the
            track's exemplars; default 0.8 x ``gate``. 0 turns this off.
        max_misses: detection frames a track may go unseen before it ends (it can still be
            re-identified by embedding afterwards).
        min_follow_score: the smallest template correlation that counts as having followed the face.
        min_backfill_score: the same for following a new face backwards (stricter: a new track
            should not reach back onto the background).
        poor_gate: for a track that holds only poor faces (small, blurred: their embeddings
            scatter more), a detection overlapping it links when its embedding is within this of
            the nearest of them (never without overlap); default 1.25 x ``gate`` (``track_video``
            uses the model's verification threshold).
    """

    def __init__(self, gate: float, iou_min: float = 0.2, reid_gate: float | None = None, max_misses: int = 2,
                 min_follow_score: float = 0.6, min_backfill_score: float = 0.8,
                 poor_gate: float | None = None) -> None:
        self.gate = gate
        self.poor_gate = 1.25 * gate if poor_gate is None else poor_gate
        self.iou_min = iou_min
        self.reid_gate = 0.8 * gate if reid_gate is None else reid_gate
        self.max_misses = max_misses
        self.min_follow_score = min_follow_score
        self.min_backfill_score = min_backfill_score
        self.tracks: list[Track] = []
        self.cuts: list[int] = []
        self._recent: list[tuple[int, float, np.ndarray]] = []  # frames followed since the last detection

    @property
    def live(self) -> list[Track]:
        return [t for t in self.tracks if t.alive]

    def _candidates(self) -> list[Track]:
        """Live tracks, and the latest ended ones that hold exemplars (for re-identification)."""
        dormant = [t for t in self.tracks if not t.alive and len(t.exemplars)][-MAX_DORMANT:]
        return self.live + dormant

    def cost(self, track: Track, box: Box, vector: np.ndarray | None) -> float:
        """How unlikely it is that a detection continues ``track``; INFEASIBLE when it cannot.
        Without an embedding on either side (a partial face, a track of partial faces) only the
        place counts, within one shot, and the link costs more than any by embedding (a
        re-identification included), so a whole-face match is preferred."""
        overlap = iou(track.box, box) if track.box is not None and track.placed and track.alive else 0.0
        if vector is None or not len(track.exemplars):
            return INFEASIBLE if overlap < self.iou_min else self.gate + 0.5 + 0.5 * (1.0 - overlap)
        distance = track.exemplars.distance(vector)
        if track.exemplars.only_poor:
            return INFEASIBLE if overlap < self.iou_min or distance > self.poor_gate else distance + 0.5 * (1 - overlap)
        # the gate stays strict even where the face patch was followed without a break: two
        # people's faces correlate well enough at 32 px that a cut can look continuous, and one
        # track over two people loses one of them, where a face split in two tracks keeps its name
        if distance > self.gate or (overlap < self.iou_min and distance > self.reid_gate):
            return INFEASIBLE
        return distance + 0.5 * (1.0 - overlap)

    def cut(self, frame: int) -> None:
        """The picture cut to another shot at ``frame``: no track continues by place across it."""
        self.cuts.append(frame)
        for track in self.live:
            track.following = False
            track.placed = False
        self._recent.clear()
        log.debug("frame %d: shot cut", frame)

    def update(self, frame: int, time_s: float, grey: np.ndarray, detections: Sequence[Detection],
               vectors: Sequence[np.ndarray | None],
               qualities: Sequence[float | None] | None = None) -> list[Track]:
        """Link a detection frame's faces to tracks; returns the track of each detection, in order.
        ``vectors`` holds each detection's embedding, or None for a partial face (``is_partial``);
        ``qualities`` each face's quality (None: not scored)."""
        qualities = list(qualities) if qualities is not None else [None] * len(detections)
        candidates = self._candidates()
        live = [t for t in candidates if t.alive]
        assigned: list[Track | None] = [None] * len(detections)
        if candidates and len(detections):
            costs = np.array([[self.cost(t, d.box, v) for d, v in zip(detections, vectors)] for t in candidates])
            for r, c in _cheapest_first(costs):
                assigned[c] = candidates[r]
        owners: list[Track] = []
        for det, vector, quality, track in zip(detections, vectors, qualities, assigned):
            template = face_template(grey, det.box)
            if track is None:
                track = Track(id=len(self.tracks) + 1)
                self.tracks.append(track)
                track.points.extend(self._claim(self._backfill(det.box, template)))
                log.debug("frame %d: new track %d (seen from frame %d)", frame, track.id,
                          track.points[0].frame if track.points else frame)
            elif not (track.alive and track.placed):
                # taken up again by its embedding (after a cut, or coming back): its boxes from the
                # frames since the last detection, as for a new face
                last = track.points[-1].frame if track.points else -1
                track.points.extend(p for p in self._claim(self._backfill(det.box, template)) if p.frame > last)
                log.debug("frame %d: track %d re-identified", frame, track.id)
            track.add_detection(TrackPoint(frame, time_s, det.box, True, det.score),
                                None if vector is None else np.asarray(vector, np.float32), template, quality)
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

"""After the video: split tracks that hold two people, and give tracks of one person one identity.

A track is split in two, at the point in time that separates them best, where

- its frames' votes contradict: one name before, another after, each with a real share of the
  track's frames (``MIN_SHARE``, at least ``MIN_SIDE`` frames), or runs of ``MIN_SIDE`` frames or
  more of different names follow each other (A-B-A, a shot and its reverse shot at one place:
  split at the first such boundary, and each part again), or
- its faces form two groups: two-means of its embeddings gives centres farther apart than
  ``split_distance`` (the model's verification threshold), each group of ``MIN_SIDE`` faces or more.

The split lands on a shot cut when one lies between the two sides' detections. The later part
becomes a track of its own. Then every named track's identity is its name, and tracks left
"unknown" whose faces are near each other's (within the tracking gate) and which never show at
the same time are one "unknown N", numbered in order of first appearance.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from faceprint.quality import NAMING_FLOOR
from faceprint.video.tracker import Exemplars, Track
from faceprint.video.vote import UNKNOWN, frame_label

MIN_SIDE = 2  # detection frames each side of a split needs at least
MIN_SHARE = 0.2  # share of a track's frames each of two contradicting names needs
MIN_AGREEMENT = 0.8  # share of frames the split must put on the side of their own label
LIVE_WINDOW = 128  # latest named frames a live label looks for a change of name in


@dataclass(frozen=True)
class FrameMatch:
    """One detection frame of a track, as it voted: nearest person, distance, face quality."""

    frame: int
    name: str | None
    distance: float
    quality: float | None = None


def best_split(labels: Sequence[str]) -> int | None:
    """The index splitting ``labels`` (in time order) into a part mostly of one label and a part
    mostly of another, when such a split accounts for ``MIN_AGREEMENT`` of them and each part's
    label has ``MIN_SHARE`` of them; else the start of the first run of ``MIN_SIDE`` or more equal
    labels that follows such a run of another label (``run_split``); else None."""
    index = _one_split(labels)
    return index if index is not None else run_split(labels)


def run_split(labels: Sequence[str]) -> int | None:
    """The start of the first run of at least ``MIN_SIDE`` equal labels whose nearest earlier run
    of that length has another label (shorter runs between them are noise); None when there is none."""
    previous: str | None = None
    start = 0
    for i in range(1, len(labels) + 1):
        if i < len(labels) and labels[i] == labels[start]:
            continue
        if i - start >= MIN_SIDE:
            if previous is not None and labels[start] != previous:
                return start
            previous = labels[start]
        start = i
    return None


def _one_split(labels: Sequence[str]) -> int | None:
    """``best_split``'s one change point over the whole sequence, or None."""
    n = len(labels)
    best: tuple[int, int] | None = None
    before, after = Counter(labels[:MIN_SIDE - 1]), Counter(labels[MIN_SIDE - 1:])
    for i in range(MIN_SIDE, n - MIN_SIDE + 1):
        before[labels[i - 1]] += 1  # the counts of labels[:i] and labels[i:], kept as i moves
        after[labels[i - 1]] -= 1
        (left, nl), = before.most_common(1)
        (right, nr), = after.most_common(1)
        if left == right:
            continue
        if min(nl, nr) < max(MIN_SIDE, MIN_SHARE * n):
            continue
        if best is None or nl + nr > best[0]:
            best = (nl + nr, i)
    return best[1] if best is not None and best[0] >= MIN_AGREEMENT * n else None


def two_groups(vectors: np.ndarray, distance: float) -> list[str] | None:
    """Labels "a"/"b" per vector when two-means finds two groups whose centres are farther apart
    than ``distance``, each of ``MIN_SIDE`` vectors or more; else None."""
    if len(vectors) < 2 * MIN_SIDE:
        return None
    far = int(np.argmax(np.linalg.norm(vectors - vectors[0], axis=1)))
    other = int(np.argmax(np.linalg.norm(vectors - vectors[far], axis=1)))
    centres = vectors[[far, other]].astype(np.float64)
    for _ in range(8):
        side = np.linalg.norm(vectors[:, None, :] - centres[None], axis=2).argmin(axis=1)
        if min(np.sum(side == 0), np.sum(side == 1)) < MIN_SIDE:
            return None
        centres = np.stack([vectors[side == k].mean(axis=0) for k in (0, 1)])
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    if float(np.linalg.norm(centres[0] - centres[1])) <= distance:
        return None
    return ["a" if k == 0 else "b" for k in side]


def _boundary(track: Track, last: int, first: int, cuts: Sequence[int]) -> int:
    """The first frame of the later part when a track splits between its whole faces ``last`` (the
    earlier part's last) and ``first`` (the later part's first): a cut between them, else ``first``'s."""
    before, after = track.samples[last].frame, track.samples[first].frame
    k = bisect.bisect_right(cuts, before)
    return cuts[k] if k < len(cuts) and cuts[k] <= after else after


def _cut_track(track: Track, boundary: int, new_id: int) -> Track:
    """Move ``track``'s points and faces from ``boundary`` on into a new track; returns it."""
    later = Track(id=new_id, alive=False)
    later.points = [p for p in track.points if p.frame >= boundary]
    later.samples = [s for s in track.samples if s.frame >= boundary]
    later.detections = sum(p.detected for p in later.points)
    track.points = [p for p in track.points if p.frame < boundary]
    track.samples = [s for s in track.samples if s.frame < boundary]
    track.detections = sum(p.detected for p in track.points)
    for part in (track, later):
        part.exemplars = Exemplars()
        for sample in part.samples:
            part.exemplars.add(sample)
        part.box = part.points[-1].box if part.points else None
    return later


def live_start(matches: Sequence[FrameMatch], threshold: float, floor: float = NAMING_FLOOR, start: int = 0) -> int:
    """The index of the first of a track's ``matches`` (so far, in time order) since its last change
    of name, by the rule that splits tracks (``best_split`` over its named frames), looked for in
    its latest ``LIVE_WINDOW`` named frames (of its latest ``2 * LIVE_WINDOW``) from ``start`` on;
    a live label votes on the frames from there.

    Example:
        >>> a, b = FrameMatch(0, "ann", 0.1), FrameMatch(1, "bob", 0.1)
        >>> live_start([a, a, a, b, b], 0.4)
        3
    """
    while True:
        recent = range(max(start, len(matches) - 2 * LIVE_WINDOW), len(matches))
        named = [k for k in recent
                 if frame_label(matches[k].name, matches[k].distance, threshold, matches[k].quality, floor) != UNKNOWN]
        named = named[-LIVE_WINDOW:]
        index = best_split([matches[k].name or UNKNOWN for k in named])
        if index is None:
            return start
        start = named[index]


def split_tracks(tracks: list[Track], matches: dict[int, list[FrameMatch]], threshold: float | None,
                 split_distance: float, cuts: Sequence[int] = (), floor: float = NAMING_FLOOR) -> list[Track]:
    """Split every track whose votes contradict or whose faces form two groups (see the module).

    Args:
        tracks: the tracker's tracks (changed in place; the later parts are appended).
        matches: each track's detection frames as they voted (moved with the frames they cover).
        threshold: the identification threshold (None without naming: votes are not used).
        split_distance: how far apart two groups of faces must be to be two people.
        cuts: the frames where a shot cut was seen, ascending.
        floor: a face of quality under this votes "unknown", so it is no side of a split.

    Returns:
        All tracks, the new parts included.
    """
    queue = list(tracks)
    out: list[Track] = []
    next_id = max((t.id for t in tracks), default=0) + 1
    while queue:
        track = queue.pop(0)
        between: tuple[int, int] | None = None
        voted = {m.frame: m for m in matches.get(track.id, [])}
        if threshold is not None and voted:
            # the frames that named someone, in order: "unknown" frames are no side of a split
            named = [(k, frame_label(voted[s.frame].name, voted[s.frame].distance, threshold,
                                     voted[s.frame].quality, floor))
                     for k, s in enumerate(track.samples) if s.frame in voted]
            named = [(k, label) for k, label in named if label != UNKNOWN]
            index = best_split([label for _, label in named])
            between = None if index is None else (named[index - 1][0], named[index][0])
        if between is None and track.samples:
            groups = two_groups(np.stack([s.vector for s in track.samples]), split_distance)
            index = best_split(groups) if groups is not None else None
            between = None if index is None else (index - 1, index)
        if between is None:
            out.append(track)
            continue
        boundary = _boundary(track, *between, cuts)
        later = _cut_track(track, boundary, next_id)
        mine = matches.get(track.id, [])
        matches[track.id] = [m for m in mine if m.frame < boundary]
        matches[next_id] = [m for m in mine if m.frame >= boundary]
        next_id += 1
        queue[:0] = [track, later]  # either part may hold a further change
    return out


def assign_identities(tracks: Sequence[Track], names: dict[int, str | None], gate: float) -> dict[int, str | None]:
    """Each track's identity: its name when it has one, else a shared "unknown N" for tracks of one
    unnamed face (exemplars within ``gate`` of each other, never on screen together); None for a
    track without a whole face.

    Args:
        tracks: the tracks, any order.
        names: each track's voted name (None or "unknown" when unnamed).
        gate: the tracking gate.

    Returns:
        track id -> identity.
    """
    out: dict[int, str | None] = {}
    groups: list[list[Track]] = []
    for track in sorted(tracks, key=lambda t: (t.points[0].frame if t.points else 0, t.id)):
        name = names.get(track.id)
        if name not in (None, UNKNOWN):
            out[track.id] = name
            continue
        if not len(track.exemplars) or not track.points:
            out[track.id] = None
            continue
        mine = track.exemplars.matrix()
        span = (track.points[0].frame, track.points[-1].frame)
        home = None
        for k, group in enumerate(groups):
            if any(_overlap(span, (t.points[0].frame, t.points[-1].frame)) for t in group):
                continue
            near = min(float(np.min(np.linalg.norm(t.exemplars.matrix()[:, None] - mine[None], axis=2)))
                       for t in group)
            if near <= gate:
                home = k
                break
        if home is None:
            groups.append([track])
            home = len(groups) - 1
        else:
            groups[home].append(track)
        out[track.id] = f"{UNKNOWN} {home + 1}"
    return out


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]

"""Score a video timeline against labels made by eye: ID switches, fragments, wrong names, misses.

    python bench/video_scoring.py timeline.json labels.json

Labels are a JSON list (or an object with a ``labels`` list) of ``{"frame": N, "box": [l, t, r, b],
"person": "name"}``, one per face seen in a labelled frame; ``person`` is whoever it is (an
enrolled name, or any tag such as ``"p3"`` for someone not enrolled). A timeline is a
``faceprint.video.Timeline`` or its JSON (``faceprint video ... -o timeline.json``, with boxes).

Each label is matched to the track whose box in that frame overlaps it most (IoU >= ``MIN_IOU``,
one track per label and one label per track in a frame). Counted:

- ``missed``: labels no track box covers;
- ``right_names`` / ``wrong_names`` / ``unnamed``: matched labels whose track is named as the
  labelled person, as someone else (any name but "unknown" that differs: the worst outcome), or
  "unknown" / not named;
- ``id_switches``: times a person's matched track changes from one labelled frame of theirs to the next;
- ``fragments``: tracks per person beyond the first (summed over people);
- ``mixed_tracks``: tracks matched to labels of two or more people (a track that holds two people);
- ``identity_switches``: as ``id_switches``, but over the ``person`` id a timeline gives tracks it
  re-identified as one identity (equal to ``id_switches`` when it gives none).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

MIN_IOU = 0.3
UNKNOWN_NAMES = {None, "", "unknown"}


@dataclass
class Score:
    """Counts from ``score_timeline`` (see the module's docstring for each)."""

    labels: int = 0
    matched: int = 0
    missed: int = 0
    right_names: int = 0
    wrong_names: int = 0
    unnamed: int = 0
    id_switches: int = 0
    identity_switches: int = 0
    fragments: int = 0
    mixed_tracks: int = 0
    tracks: int = 0
    wrong: list[dict[str, Any]] = field(default_factory=list)
    mixed: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self, details: bool = False) -> dict[str, Any]:
        out = asdict(self)
        if not details:
            out.pop("wrong")
            out.pop("mixed")
        return out


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def timeline_dict(timeline: Any) -> dict[str, Any]:
    """A Timeline, its JSON text, a path to its JSON file, or its dict: as the dict (with boxes)."""
    if isinstance(timeline, Mapping):
        return dict(timeline)
    if isinstance(timeline, (str, Path)) and Path(timeline).is_file():
        return json.loads(Path(timeline).read_text())
    if isinstance(timeline, str):
        return json.loads(timeline)
    return timeline.to_dict(boxes=True)


def load_labels(labels: Any) -> list[dict[str, Any]]:
    """Labels from a path to their JSON file, a dict with a ``labels`` list, or the list itself."""
    if isinstance(labels, (str, Path)):
        labels = json.loads(Path(labels).read_text())
    if isinstance(labels, Mapping):
        labels = labels["labels"]
    return [dict(x) for x in labels]


def _name_at(track: Mapping[str, Any], frame: int) -> str | None:
    """The track's name at ``frame``: from its ``spans`` when it has them, else its one name."""
    for span in track.get("spans") or ():
        if span["first_frame"] <= frame <= span["last_frame"]:
            return span.get("name")
    return track.get("name")


def score_timeline(timeline: Any, labels: Any, min_iou: float = MIN_IOU) -> Score:
    """Count what a timeline got right and wrong on the labelled frames.

    Args:
        timeline: a ``Timeline``, or its JSON (text, file or dict) with boxes.
        labels: ``[{"frame", "box", "person"}, ...]`` or a file / dict holding them.
        min_iou: the smallest overlap for a track's box to cover a label.

    Returns:
        A ``Score``.

    Raises:
        ValueError: the timeline has no boxes (written with ``--no-boxes``).
    """
    data = timeline_dict(timeline)
    rows = load_labels(labels)
    tracks = data.get("tracks", [])
    if tracks and "boxes" not in tracks[0]:
        raise ValueError("the timeline has no boxes: write it without --no-boxes")
    at: dict[int, list[tuple[Mapping[str, Any], list[float]]]] = {}
    for track in tracks:
        for point in track["boxes"]:
            at.setdefault(int(point["frame"]), []).append((track, point["box"]))
    score = Score(labels=len(rows), tracks=len(tracks))
    seen: dict[str, list[tuple[int, int, Any]]] = {}  # person -> (frame, track, identity)
    people_of: dict[int, set[str]] = {}
    by_frame: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_frame.setdefault(int(row["frame"]), []).append(row)
    for frame, here in sorted(by_frame.items()):
        pairs = sorted(((_iou(row["box"], box), i, j) for i, row in enumerate(here)
                        for j, (_, box) in enumerate(at.get(frame, []))), reverse=True)
        used_rows: set[int] = set()
        used_tracks: set[int] = set()
        for overlap, i, j in pairs:
            if overlap < min_iou or i in used_rows or j in used_tracks:
                continue
            used_rows.add(i)
            used_tracks.add(j)
            row, track = here[i], at[frame][j][0]
            person, name = str(row["person"]), _name_at(track, frame)
            score.matched += 1
            if name in UNKNOWN_NAMES:
                score.unnamed += 1
            elif name == person:
                score.right_names += 1
            else:
                score.wrong_names += 1
                score.wrong.append({"frame": frame, "person": person, "named": name, "track": track["track"]})
            seen.setdefault(person, []).append((frame, int(track["track"]), track.get("person", track["track"])))
            people_of.setdefault(int(track["track"]), set()).add(person)
    score.missed = score.labels - score.matched
    for runs in seen.values():
        runs.sort()
        score.id_switches += sum(a[1] != b[1] for a, b in pairwise(runs))
        score.identity_switches += sum(a[2] != b[2] for a, b in pairwise(runs))
        score.fragments += len({r[1] for r in runs}) - 1
    for track_id, people in sorted(people_of.items()):
        if len(people) > 1:
            score.mixed_tracks += 1
            score.mixed.append({"track": track_id, "people": sorted(people)})
    return score


def long_tracks(timeline: Any, seconds: float = 2.0) -> int:
    """Tracks that span more than ``seconds`` from their first to their last frame."""
    return sum(t["last_s"] - t["first_s"] > seconds for t in timeline_dict(timeline).get("tracks", []))


def summary_line(score: Score) -> str:
    """One line of the counts that matter most, for benchmark tables."""
    return (f"labels {score.labels}: missed {score.missed}, right {score.right_names}, wrong {score.wrong_names}, "
            f"unnamed {score.unnamed}; id switches {score.id_switches}, fragments {score.fragments}, "
            f"mixed tracks {score.mixed_tracks}, tracks {score.tracks}")


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("timeline", type=Path, help="the timeline JSON (faceprint video ... -o FILE)")
    parser.add_argument("labels", type=Path, help="the labels JSON")
    parser.add_argument("--min-iou", type=float, default=MIN_IOU)
    parser.add_argument("--details", action="store_true", help="also list each wrong name and mixed track")
    args = parser.parse_args(None if argv is None else list(argv))
    score = score_timeline(args.timeline, args.labels, args.min_iou)
    print(json.dumps(score.to_dict(args.details), indent=2))
    print(summary_line(score))


if __name__ == "__main__":
    main()

"""The video scoring of the benchmarks: ID switches, fragments, wrong names and mixed tracks."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
from video_scoring import long_tracks, score_timeline  # noqa: E402


def _track(track: int, name: str | None, frames: range, x: float, **extra) -> dict:
    return {"track": track, "name": name, "first_s": frames[0] / 25, "last_s": frames[-1] / 25,
            "boxes": [{"frame": f, "box": [x, 10, x + 50, 60]} for f in frames], **extra}


def test_scoring_counts_switches_fragments_wrong_names_and_mixed_tracks(tmp_path: Path) -> None:
    # ann at x=0 frames 0-99; bob at x=0 from frame 100 (a cut) and at x=200 frames 0-49
    labels = ([{"frame": f, "box": [0, 10, 50, 60], "person": "ann"} for f in range(0, 100, 10)]
              + [{"frame": f, "box": [0, 10, 50, 60], "person": "bob"} for f in range(100, 200, 10)]
              + [{"frame": f, "box": [200, 10, 250, 60], "person": "bob"} for f in range(0, 50, 10)]
              + [{"frame": 5, "box": [400, 10, 450, 60], "person": "cy"}])
    timeline = {"tracks": [_track(1, "ann", range(200), 0),  # runs over the cut: holds two people
                           _track(2, "bob", range(20), 200.5), _track(3, "unknown", range(20, 50), 200)]}
    score = score_timeline(timeline, labels)
    assert (score.labels, score.missed, score.matched) == (26, 1, 25)
    assert score.wrong_names == 10 and score.right_names == 12 and score.unnamed == 3
    assert score.mixed_tracks == 1 and score.mixed[0] == {"track": 1, "people": ["ann", "bob"]}
    # bob: track 2 -> 3 -> 1 (frames 0-10, 20-40, 100-190)
    assert score.id_switches == 2 and score.fragments == 2
    assert long_tracks(timeline, 2.0) == 1

    # the same from files, and a perfect timeline scores clean
    good = {"tracks": [_track(1, "ann", range(100), 0), _track(2, "bob", range(100, 200), 0, person="bob"),
                       _track(3, "bob", range(50), 200, person="bob")]}
    (tmp_path / "t.json").write_text(json.dumps(good))
    (tmp_path / "l.json").write_text(json.dumps({"labels": labels}))
    clean = score_timeline(tmp_path / "t.json", tmp_path / "l.json")
    assert (clean.wrong_names, clean.mixed_tracks, clean.identity_switches) == (0, 0, 0)
    assert clean.id_switches == 1 and clean.missed == 1


def test_scoring_reads_the_name_of_each_span() -> None:
    labels = [{"frame": f, "box": [0, 10, 50, 60], "person": p} for f, p in ((5, "ann"), (15, "bob"))]
    track = _track(1, "ann", range(20), 0, spans=[{"name": "ann", "first_frame": 0, "last_frame": 9},
                                                     {"name": "unknown", "first_frame": 10, "last_frame": 19}])
    score = score_timeline({"tracks": [track]}, labels)
    assert (score.right_names, score.wrong_names, score.unnamed) == (1, 0, 1)

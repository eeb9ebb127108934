"""Who is who in video, scored on labelled clips, and how fast: this code against an older one.

    python bench/make_video_clips.py                 # only when the clips are to be rebuilt
    git worktree add /tmp/before <commit>            # the code to compare with
    nice python bench/bench_video.py --baseline /tmp/before/src --rounds 3
    python bench/bench_video.py --cut-stats          # the frame-change measures behind the cut thresholds

Clips: the labelled clips of ``tests/fixtures/video`` (hard cuts between people at the same place,
several photos per person, one enrolment photo each; see ``bench/make_video_clips.py``), and the
real street video ``video/crowd_1080p.mp4`` of the shared data (FACEPRINT_DATA) with the labels
of ``bench/labels/crowd_1080p.json`` when they exist (no gallery there: ID switches, fragments
and mixed tracks only). Each run is a fresh process (``--worker``) importing the code under test
(``--baseline SRC`` puts an older ``src`` first on its path), enrolling the clip's people and
running ``track_video`` with its defaults (``--every`` for the detection interval, one or several
values); in each round every contender runs every clip, in an order that alternates from round to
round, so load on the shared machine hits both alike. Printed per clip and contender: the counts of
``bench/video_scoring.py`` (wrong names, mixed tracks, ID switches, fragments, missed labels) from
the last round (they do not change between rounds), tracks and long tracks (> 2 s), and the
median processing frames/s (model loading not included), with the median of the per-round
ratios new / old.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import check_baseline_src  # noqa: E402
from video_scoring import long_tracks, score_timeline  # noqa: E402

ROOT = Path(__file__).parents[1]
CLIPS = ROOT / "tests" / "fixtures" / "video"
CROWD_LABELS = Path(__file__).parent / "labels" / "crowd_1080p.json"


def clips(include_crowd: bool) -> dict[str, tuple[Path, Path | None, dict]]:
    """name -> (video, labels file or None, enrolment {person: photo path})."""
    out: dict[str, tuple[Path, Path | None, dict]] = {}
    for meta_path in sorted(CLIPS.glob("*.json")):
        meta = json.loads(meta_path.read_text())
        enrol = {p: str(CLIPS / "enrol" / meta_path.stem / f) for p, f in meta["enrolled"].items()}
        out[meta_path.stem] = (meta_path.with_suffix(".mp4"), meta_path, enrol)
    if include_crowd:
        from faceprint import settings

        data = settings.data_dir()
        crowd = data / "video" / "crowd_1080p.mp4" if data is not None else None
        if crowd is not None and crowd.is_file():
            out["crowd_1080p"] = (crowd, CROWD_LABELS if CROWD_LABELS.is_file() else None, {})
        else:
            print("(crowd_1080p.mp4 not found: set FACEPRINT_DATA; left out)")
    return out


def worker(video: str, enrol: str, every: int) -> None:
    """Run one clip with the faceprint on sys.path; print the timeline JSON (with boxes)."""
    from faceprint.gallery import Gallery
    from faceprint.video import track_video

    people = json.loads(enrol)
    with tempfile.TemporaryDirectory() as tmp:
        gallery = None
        if people:
            gallery = Gallery(Path(tmp) / "g.db")
            for person, photo in people.items():
                gallery.enrol(person, [Path(photo)])
        timeline = track_video(video, gallery, detect_every=every)
        if gallery is not None:
            gallery.close()
    print(json.dumps(timeline.to_dict(boxes=True)))


def run(src: Path, video: Path, enrol: dict, every: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src))
    cmd = [sys.executable, __file__, "--worker", str(video), json.dumps(enrol), "--every", str(every)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{src}: the run on {video.name} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def cut_stats() -> None:
    """The frame-change measures of ``faceprint.video.cuts`` within shots and at cuts, per clip."""
    import cv2
    import numpy as np

    from faceprint.video.cuts import frame_change, thumbnail

    for name, (video, labels, _) in clips(True).items():
        cuts = set()
        if labels is not None and name != "crowd_1080p":
            cuts = {s["first_frame"] for s in json.loads(labels.read_text())["shots"][1:]}
        capture, last, within, at_cuts = cv2.VideoCapture(str(video)), None, [], []
        index = 0
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            now = thumbnail(bgr)
            if last is not None:
                (at_cuts if index in cuts else within).append(frame_change(last, now))
            last, index = now, index + 1
        within_max = np.max(within, axis=0) if within else (0, 0)
        line = f"{name:>15}: {index} frames; within shots max grey {within_max[0]:.3f}, histogram {within_max[1]:.3f}"
        if at_cuts:
            low = np.min(at_cuts, axis=0)
            line += f"; {len(at_cuts)} cuts, min grey {low[0]:.3f}, histogram {low[1]:.3f}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, metavar="SRC", help="an older faceprint's src folder to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--every", type=int, nargs="+", default=[5],
                        help="detect on one frame in N (track_video's default 5); several values are run in turn")
    parser.add_argument("--no-crowd", action="store_true", help="leave out crowd_1080p.mp4 (the slow one)")
    parser.add_argument("--cut-stats", action="store_true", help="print the frame-change measures and exit")
    parser.add_argument("--worker", nargs=2, metavar=("VIDEO", "ENROL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1], args.every[0])
        return
    if args.cut_stats:
        cut_stats()
        return
    check_baseline_src(args.baseline)
    contenders = {"this code": ROOT / "src"}
    if args.baseline is not None:
        contenders["baseline"] = args.baseline
    todo = clips(not args.no_crowd)
    fps: dict[tuple[str, str, int], list[float]] = {}
    last: dict[tuple[str, str, int], dict] = {}
    for round_ in range(args.rounds):
        order = list(contenders) if round_ % 2 == 0 else list(reversed(contenders))
        for clip, (video, _, enrol) in todo.items():
            for every in args.every:
                for who in order:
                    result = run(contenders[who], video, enrol, every)
                    fps.setdefault((clip, who, every), []).append(result["processing_fps"])
                    last[(clip, who, every)] = result
        print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr)
    load = os.getloadavg()[0]
    print(f"median of {args.rounds} interleaved rounds; load average {load:.1f} "
          "(the machine is shared: compare the ratios, not the absolute frames/s)")
    print(f"{'clip':>15} {'code':>10} {'every':>5} {'labels':>6} {'wrong':>5} {'mixed':>5} {'id sw':>5} "
          f"{'person sw':>9} {'frag':>4} {'missed':>6} {'right':>5} {'tracks':>6} {'>2 s':>4} {'frames/s':>8} "
          f"{'vs base':>7}")
    for clip, (_, labels, _) in todo.items():
        for every in args.every:
            for who in contenders:
                result = last[(clip, who, every)]
                median = statistics.median(fps[(clip, who, every)])
                ratio = ""
                if who != "baseline" and "baseline" in contenders:
                    ratios = [a / b for a, b in zip(fps[(clip, who, every)], fps[(clip, "baseline", every)]) if b > 0]
                    ratio = f"{statistics.median(ratios):.2f}x"
                counts: list = ["-"] * 8
                if labels is not None:
                    s = score_timeline(result, labels)
                    wrong = s.wrong_names if clip != "crowd_1080p" else "-"
                    right = s.right_names if clip != "crowd_1080p" else "-"
                    counts = [s.labels, wrong, s.mixed_tracks, s.id_switches, s.identity_switches, s.fragments,
                              s.missed, right]
                widths = (6, 5, 5, 5, 9, 4, 6, 5)
                print(f"{clip:>15} {who:>10} {every:>5} " + " ".join(f"{c!s:>{w}}" for c, w in zip(counts, widths))
                      + f" {len(result['tracks']):>6} {long_tracks(result):>4} {median:>8.1f} {ratio:>7}")
    print("wrong: labelled faces named as someone else; mixed: tracks holding two people; id sw: a person's "
          "track changing between labelled frames (person sw: their identity, the name or 'unknown N', changing); "
          "frag: tracks per person beyond one")


if __name__ == "__main__":
    main()

"""`faceprint video` at 1080p on real footage: frames/s, tracks and ID switches, old code vs new.

    git archive <old commit> src | tar -x -C /tmp/old          # the code to compare against
    nice python bench/bench_video_speed.py --baseline /tmp/old/src --rounds 5

On ``crowd_1080p.mp4`` (``$FACEPRINT_DATA/video/``, 105 frames of a real street, 25 fps), each
contender runs ``track_video`` with its defaults (no gallery) in a child process kept for the
whole run (models loaded before the clock starts), the contenders' order rotating from round to
round so a load change on a shared machine hits them alike. Printed per contender: processing
frames/s (median and range over rounds), the real-time factor (frames/s over the video's own fps),
the CPU time per frame (all threads; it depends far less on other jobs than the frames/s: a video
keeps real time on two free cores when it is under 2 / fps, and on one under 1 / fps),
faces detected, tracks, long tracks (over 2 s), and against the labels made by eye
(``bench/labels/crowd_1080p.json``, ``bench/video_scoring.py``): ID switches, fragments, tracks
holding two people, labels missed; then the median per-round ratio of new to old frames/s.
``--parts`` adds the new code with one choice undone at a time, to show what each buys.

``--recall`` adds what each way of searching a 1080p frame finds, against the photo detector's
whole-frame plus full-resolution tiled pass, by face size, on the video's detection frames
(``--every``), with the time each takes per detection frame.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import check_baseline_src  # noqa: E402
from video_scoring import long_tracks, score_timeline  # noqa: E402

from faceprint import settings  # noqa: E402

LABELS = Path(__file__).parent / "labels" / "crowd_1080p.json"
SIZE_BINS = (0, 40, 60, 80, 100_000)  # face box short side, px
# the new code with one choice undone (--parts): the photo detector's full pass on every detection
# frame instead of FrameDetector's search; detection not started ahead; both
PARTS = ("full pass", "no ahead", "full pass, no ahead")

_CHILD = """
import json, sys
import faceprint
from faceprint.video import track_video
if sys.argv[1]:
    assert faceprint.__file__.startswith(sys.argv[1]), faceprint.__file__
video, variant = sys.argv[2], sys.argv[3]
if variant in ("full pass", "full pass, no ahead"):  # the photo detector on every detection frame
    from faceprint.video.frame_detect import FrameDetector
    FrameDetector.find = lambda self, rgb: list(self.pipe.detector(rgb))
if variant in ("no ahead", "full pass, no ahead"):  # detection in the caller's thread, when the frame's turn comes
    from faceprint.video.frame_detect import FrameDetector
    FrameDetector.ahead = lambda self, frames, every: iter(frames)
track_video(video, max_frames=10)  # models loaded, caches warm
import time
for line in sys.stdin:
    cpu = time.process_time()
    timeline = track_video(video, detect_every=int(line))
    cpu = time.process_time() - cpu
    out = timeline.to_dict(boxes=True)
    out["cpu_ms_per_frame"] = cpu * 1e3 / max(timeline.frames, 1)
    out["processing_fps"] = timeline.processing_fps
    out["faces_detected"] = sum(t.detections for t in timeline.tracks)
    print(json.dumps(out), flush=True)
"""


class Contender:
    """``track_video`` of one copy of faceprint's src in a child process kept for the whole run."""

    def __init__(self, src: Path | None, video: Path, variant: str = "") -> None:
        env = dict(os.environ)
        if src is not None:
            env["PYTHONPATH"] = str(src.resolve())
        self.child = subprocess.Popen([sys.executable, "-c", _CHILD, str(src.resolve()) if src else "", str(video),
                                       variant],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)

    def run(self, every: int) -> dict[str, Any]:
        assert self.child.stdin is not None and self.child.stdout is not None
        self.child.stdin.write(f"{every}\n")
        self.child.stdin.flush()
        line = self.child.stdout.readline()
        if not line:
            sys.exit("a contender's child process ended early (its error is above)")
        return json.loads(line)

    def close(self) -> None:
        if self.child.stdin is not None:
            self.child.stdin.close()
        self.child.wait(timeout=30)


def speed_rounds(video: Path, baseline: Path | None, rounds: int, every: int, labels: Path | None,
                 parts: bool = False) -> None:
    contenders = {"new": Contender(None, video)}
    if parts:
        for variant in PARTS:
            contenders[f"new: {variant}"] = Contender(None, video, variant)
    if baseline is not None:
        contenders["old"] = Contender(baseline, video)
    names = list(contenders)
    fps: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    last: dict[str, dict[str, Any]] = {}
    try:
        for index in range(rounds):
            order = names[index % len(names):] + names[: index % len(names)]
            for name in order:
                last[name] = contenders[name].run(every)
                fps[name].append(last[name]["processing_fps"])
                cpu[name].append(last[name]["cpu_ms_per_frame"])
            print(f"  round {index + 1}: " + ", ".join(f"{n} {fps[n][-1]:.1f} frames/s" for n in names), flush=True)
    finally:
        for contender in contenders.values():
            contender.close()
    video_fps = last[names[0]]["fps"] or 25.0
    print(f"\nload average after the rounds: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores); "
          f"the video: {last[names[0]]['frames']} frames at {video_fps:g} fps, detection every {every} frames")
    width = max(len(n) for n in names)
    header = f"{'':>{width}} {'frames/s median (range)':>24} {'x real time':>11} {'CPU ms/frame':>12} {'faces':>6} {'tracks':>6} {'> 2 s':>5}"
    if labels is not None:
        header += f" {'ID switches':>11} {'fragments':>9} {'mixed':>5} {'missed':>6}"
    print(header)
    for name in names:
        data, rates = last[name], fps[name]
        row = (f"{name:>{width}} {statistics.median(rates):>9.1f} ({min(rates):.1f}-{max(rates):.1f}){'':>6}"
               f" {statistics.median(rates) / video_fps:>10.2f}x {statistics.median(cpu[name]):>12.1f}"
               f" {data['faces_detected']:>6} {len(data['tracks']):>6}"
               f" {long_tracks(data):>5}")
        if labels is not None:
            score = score_timeline(data, labels)
            row += f" {score.id_switches:>11} {score.fragments:>9} {score.mixed_tracks:>5} {score.missed:>3}/{score.labels}"
        print(row)
    base = "old" if "old" in fps else None
    for name in names:
        if base is not None and name != base:
            ratios = [n / o for n, o in zip(fps[name], fps[base])]
            print(f"{name} / old frames/s: {statistics.median(ratios):.2f}x "
                  f"(per-round ratios {min(ratios):.2f}-{max(ratios):.2f})")
    if labels is not None:
        print(f"(labels: {labels}; ID switches, fragments and mixed tracks by bench/video_scoring.py)")


def recall(video: Path, every: int) -> None:
    """Faces found by each way of searching the frame, against the photo detector's full pass."""
    import numpy as np

    from faceprint.pipeline.pipeline import Pipeline, PipelineConfig
    from faceprint.video.frame_detect import FrameDetector
    from faceprint.video.reader import VideoReader

    pipe = Pipeline(PipelineConfig())
    variants = {
        "whole frame only (960 px)": dict(sweep=0, windows=False),
        "+ windows around small faces": dict(sweep=0),
        "+ 1 tile a frame (no windows)": dict(sweep=1, windows=False),
        "+ windows + 1 tile (default)": dict(),
        "+ windows + 2 tiles": dict(sweep=2),
    }
    finders: dict[str, FrameDetector] = {}
    found = {k: np.zeros(len(SIZE_BINS) - 1, int) for k in variants}
    extra = dict.fromkeys(variants, 0)
    seconds = dict.fromkeys(["full pass", *variants], 0.0)
    total = np.zeros(len(SIZE_BINS) - 1, int)
    frames = 0
    with VideoReader(video) as reader:
        for frame in reader:
            if frame.index % every:
                continue
            if not finders:
                finders = {k: FrameDetector(pipe, frame.rgb.shape[1], frame.rgb.shape[0], **v) for k, v in variants.items()}
            frames += 1
            start = time.perf_counter()
            reference = [f.box for f in pipe.detector(frame.rgb)]
            seconds["full pass"] += time.perf_counter() - start
            sizes = [int(np.digitize(min(b[2] - b[0], b[3] - b[1]), SIZE_BINS)) - 1 for b in reference]
            for size in sizes:
                total[size] += 1
            for name in variants:  # in turn on the same frame, so load hits them alike
                start = time.perf_counter()
                got = [f.box for f in finders[name].find(frame.rgb)]
                seconds[name] += time.perf_counter() - start
                for box, size in zip(reference, sizes):
                    found[name][size] += any(_iou(box, g) > 0.5 for g in got)
                extra[name] += sum(all(_iou(box, g) <= 0.5 for box in reference) for g in got)
    bins = [f"{a}-{b} px" if b < 100_000 else f"{a}+ px" for a, b in zip(SIZE_BINS, SIZE_BINS[1:])]
    print(f"\nfaces found on {frames} detection frames (every {every}) vs the photo detector's full pass "
          f"(whole frame + full-resolution tiles), by box short side; IoU > 0.5; load average {os.getloadavg()[0]:.1f}")
    print(f"{'search':<32}" + "".join(f"{b:>10}" for b in bins) + f"{'all':>9}{'others':>7}{'ms/frame':>9}"
          f"{'full-res px':>12}")
    print(f"{'full pass (photo detector)':<32}" + "".join(f"{t:>10}" for t in total) + f"{total.sum():>9}{'':>7}"
          f"{seconds['full pass'] * 1e3 / frames:>9.0f}{'100 %':>12}")
    for name in variants:
        share = finders[name].stats.fine_share if finders else 0.0
        print(f"{name:<32}" + "".join(f"{f:>10}" for f in found[name])
              + f"{found[name].sum() / max(total.sum(), 1):>8.1%}{extra[name]:>7}"
              + f"{seconds[name] * 1e3 / frames:>9.0f}{share:>11.0%}")
    print("(others: faces the full pass did not find; ms/frame: per detection frame, detector only, no landmarks)")


def _iou(a: Any, b: Any) -> float:
    w, h = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, help="default: $FACEPRINT_DATA/video/crowd_1080p.mp4")
    parser.add_argument("--baseline", type=Path, metavar="SRC",
                        help="also run this copy of src/ (the code before a change), interleaved")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--every", type=int, default=5, help="detection every N frames (the default of both)")
    parser.add_argument("--labels", type=Path, default=LABELS, help="labels made by eye ('' for none)")
    parser.add_argument("--recall", action="store_true", help="also the faces each way of searching a frame finds")
    parser.add_argument("--parts", action="store_true",
                        help="also the new code with one choice undone: " + "; ".join(PARTS))
    parser.add_argument("--no-rounds", action="store_true", help="only --recall")
    args = parser.parse_args()
    check_baseline_src(args.baseline)
    video = args.video
    if video is None:
        data = settings.data_dir()
        video = data / "video" / "crowd_1080p.mp4" if data is not None else None
    if video is None or not video.is_file():
        sys.exit("crowd_1080p.mp4 not found: set FACEPRINT_DATA to the folder holding video/, or give --video")
    labels = args.labels if args.labels and str(args.labels) and args.labels.is_file() else None
    if not args.no_rounds:
        speed_rounds(video, args.baseline, args.rounds, args.every, labels, args.parts)
    if args.recall:
        recall(video, args.every)


if __name__ == "__main__":
    main()

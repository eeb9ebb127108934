"""Frames per second of `faceprint video` when the detector runs every 1, 5 and 10 frames.

    nice python bench/bench_video.py --frames 60 --repeats 3

Builds a 640x480 video from LFW photos (two people side by side, drifting 2 px a frame, then two
others after a cut halfway), enrols the four from OTHER photos into a temporary gallery, and runs
the whole thing (read, detect, embed, track, name by vote) at each setting. The settings are
interleaved in each repeat so machine load hits them alike; it prints the median frames/s of
each, its speed relative to detecting every frame, where the time goes (ms per frame in each
step), and whether the timeline named the right people on the right frames.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import lfw_sample  # noqa: E402

PAIRS = [("Colin_Powell", "Serena_Williams"), ("Tony_Blair", "Gerhard_Schroeder")]
SETTINGS = (1, 5, 10)


def build_video(lfw: Path, path: Path, frames: int, fps: float = 25.0) -> list[tuple[str, int, int]]:
    """Write the video; returns (name, first frame, last frame) of each face shown."""
    import cv2

    from faceprint.images import load_image

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (640, 480))
    half = frames // 2
    truth = []
    for part, pair in enumerate(PAIRS):
        photos = [load_image(lfw / name / f"{name}_0001.jpg")[30:230, 30:230] for name in pair]
        span = range(half) if part == 0 else range(half, frames)
        truth += [(name, span[0], span[-1]) for name in pair]
        for i, _ in enumerate(span):
            canvas = np.full((480, 640, 3), 110, np.uint8)
            for k, photo in enumerate(photos):
                x, y = 40 + 320 * k + abs(2 * i % 120 - 60), 120 + (i % 5)
                canvas[y : y + 200, x : x + 200] = photo
            writer.write(np.ascontiguousarray(canvas[:, :, ::-1]))
    writer.release()
    return truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from faceprint.gallery import Gallery
    from faceprint.video import track_video

    lfw = lfw_sample(1)[0].parent.parent  # exits with a message when LFW is absent
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "bench.avi"
        truth = build_video(lfw, video, args.frames)
        gallery = Gallery(Path(tmp) / "g.db")
        for pair in PAIRS:
            for name in pair:
                gallery.enrol(name, [lfw / name / f"{name}_{k:04d}.jpg" for k in (2, 3, 4)])
        track_video(video, gallery, detect_every=1, max_frames=3)  # load the models
        fps: dict[int, list[float]] = {n: [] for n in SETTINGS}
        stages: dict[int, list[dict[str, float]]] = {n: [] for n in SETTINGS}
        named: dict[int, str] = {}
        for _ in range(args.repeats):
            for every in SETTINGS:
                timeline = track_video(video, gallery, detect_every=every)
                fps[every].append(timeline.processing_fps)
                stages[every].append({k: v * 1e3 / timeline.frames for k, v in timeline.stage_s.items()})
                got = sorted((t.name, t.first_frame, t.last_frame) for t in timeline.tracks)
                named[every] = "exact" if got == sorted(truth) else f"{got}"
        gallery.close()
    print(f"{args.frames} frames of 640x480 with 2 faces each, {len(truth)} faces in all; "
          f"median of {args.repeats} interleaved runs")
    keys = ["read", "detect", "embed", "track+identify", "follow"]
    print(f"{'detect every':>12} {'frames/s':>9} {'vs every 1':>11}  " + " ".join(f"{k:>14}" for k in keys)
          + "  timeline (names, first/last frame)")
    base = statistics.median(fps[1])
    for every in SETTINGS:
        median = statistics.median(fps[every])
        ms = [statistics.median(s.get(k, 0.0) for s in stages[every]) for k in keys]
        print(f"{every:>12} {median:>9.1f} {median / base:>10.2f}x  " + " ".join(f"{m:>11.1f} ms" for m in ms)
              + f"  {named[every]}")
    print("(ms columns: median time per frame of the video spent in each step)")


if __name__ == "__main__":
    main()

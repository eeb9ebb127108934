"""Speed of dlib alone vs the fused dlib+mobilefacenet model (its default chips placed with dlib's 68
landmarks, and the 5-point placement before) vs the face_recognition library, on the same LFW images,
interleaved round by round in one process (needs `faceprint models install mobilefacenet
--accept-licence` and `pip install --no-deps face-recognition==1.3.0`).

    python bench/bench_fusion.py --images 300 --rounds 5

Prints images/s as the median over rounds and the median of per-round ratios to face_recognition,
then per-stage milliseconds of each faceprint configuration.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).parent))
from _common import lfw_sample  # noqa: E402
from bench_pipeline import face_recognition_all_faces, interleaved, print_rates  # noqa: E402

CONFIGS = {  # name -> (model, align_points; "" is the model's default)
    "faceprint dlib": ("dlib", ""),
    "faceprint dlib+mobilefacenet": ("dlib+mobilefacenet", ""),
    "faceprint dlib+mobilefacenet, 5 points": ("dlib+mobilefacenet", "5"),
}


def faceprint_one_process(model: str, points: str) -> Callable[[list[Path]], int]:
    import faceprint

    def run(files: list[Path]) -> int:
        return sum(len(r.faces) for r in faceprint.embed_many(files, model=model, align_points=points))

    return run


def main() -> None:
    from faceprint.eval.speed import stage_timings
    from faceprint.pipeline.pipeline import PipelineConfig

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    files = lfw_sample(args.images)
    print(f"{len(files)} LFW images, {args.rounds} rounds, one process, flip averaging on, "
          f"load average {os.getloadavg()[0]:.1f}")
    contenders = {"face_recognition": face_recognition_all_faces}
    contenders.update({name: faceprint_one_process(*config) for name, config in CONFIGS.items()})
    print_rates(interleaved(files, args.rounds, contenders), "face_recognition", 40)
    print("\nper-stage ms per image (100 images, one process):")
    for name, (model, points) in CONFIGS.items():
        stages = stage_timings(files[:100], PipelineConfig(model=model, align_points=points))
        print(f"  {name:<40}" + ", ".join(f"{k} {v:.1f}" for k, v in stages["ms_per_image"].items()))


if __name__ == "__main__":
    main()

"""Speed of dlib alone vs the fused dlib+mobilefacenet model vs the face_recognition library, on the
same LFW images in one run (needs `faceprint models install mobilefacenet --accept-licence` and
`pip install --no-deps face-recognition==1.3.0`).

    python bench/bench_fusion.py --images 300
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import lfw_sample  # noqa: E402
from bench_pipeline import bench_face_recognition  # noqa: E402


def main() -> None:
    from faceprint.eval.speed import stage_timings
    from faceprint.pipeline.pipeline import PipelineConfig

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=300)
    args = parser.parse_args()
    files = lfw_sample(args.images)
    n = len(files)
    base = n / bench_face_recognition(files)["total"]
    print(f"{n} LFW images, one process, flip averaging on")
    print(f"  {'face_recognition (HOG, 5-point, jitter 1)':<44}{base:>8.1f} images/s  (1.0x)")
    # the fused model's default places its chips with dlib's 68 landmarks (align_points="68");
    # "5" is the placement before, to show what the 68 cost
    for model, points in (("dlib", ""), ("dlib+mobilefacenet", ""), ("dlib+mobilefacenet", "5"), ("dlib", "")):
        r = stage_timings(files, PipelineConfig(model=model, align_points=points))
        rate = r["images_per_second"]
        stages = ", ".join(f"{k} {v:.1f}" for k, v in r["ms_per_image"].items())
        name = f"faceprint {model}" + (f" (align_points {points})" if points else "")
        print(f"  {name:<44}{rate:>8.1f} images/s  ({rate / base:.1f}x)   ms/image: {stages}")


if __name__ == "__main__":
    main()

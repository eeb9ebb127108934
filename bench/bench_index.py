"""Photos/s of `faceprint index` (Ray Data, 1 and 2 embedding actors) against `embed_many` in
one process, on the same LFW photos, interleaved in rounds; prints the median of the rounds and
each side's ratio to `embed_many` (needs pip install 'faceprint[scale]').

    nice python bench/bench_index.py --images 200 --repeats 3

Ray starts once, before the rounds (about 10 s, not counted). Each index run is timed end to
end into a fresh folder: listing, read tasks, the actor pool's start and model load, embedding
and writing Parquet; "first part" is the time until the first part was written (the pool's start).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import lfw_sample  # noqa: E402


def main() -> None:
    import ray

    import faceprint
    from faceprint.scale.ray_index import index_photos, start_ray

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    files = lfw_sample(args.images)
    n = len(files)
    # logical CPUs: one per actor and one for the read tasks (an actor pool taking every CPU stalls)
    start_ray(num_cpus=max(os.cpu_count() or 1, max(args.workers) + 1))
    faceprint.embed_many(files[:4])  # load the in-process models once, as a long-lived process would
    sides = ["embed_many"] + [f"index, {w} worker{'s' * (w > 1)}" for w in args.workers]
    rates: dict[str, list[float]] = {side: [] for side in sides}
    ratios: dict[str, list[float]] = {side: [] for side in sides}
    first_part: dict[str, list[float]] = {side: [] for side in sides}
    print(f"{n} LFW photos, {os.cpu_count()} CPUs, {args.repeats} rounds (order rotated each round)", flush=True)
    for round_number in range(args.repeats):
        order = sides[round_number % len(sides):] + sides[: round_number % len(sides)]
        seconds: dict[str, float] = {}
        for side in order:
            start = time.perf_counter()
            if side == "embed_many":
                faceprint.embed_many(files)
            else:
                workers = int(side.split(", ")[1].split()[0])
                marks: list[float] = []
                with tempfile.TemporaryDirectory() as out:
                    index_photos(files, out, workers=workers,
                                 progress=lambda done, total: marks.append(time.perf_counter()) if done else None)
                first_part[side].append(marks[0] - start if marks else float("nan"))
            seconds[side] = time.perf_counter() - start
            rates[side].append(n / seconds[side])
        for side in sides:
            ratios[side].append(seconds["embed_many"] / seconds[side])
        print(f"  round {round_number + 1}: " + ", ".join(f"{s} {n / seconds[s]:.1f}/s" for s in sides), flush=True)
    print("median of the rounds:")
    for side in sides:
        extra = (f", first part after {statistics.median(first_part[side]):.1f} s" if first_part[side] else "")
        print(f"  {side:<20}{statistics.median(rates[side]):>7.1f} photos/s   "
              f"x{statistics.median(ratios[side]):.2f} embed_many{extra}")
    ray.shutdown()


if __name__ == "__main__":
    main()

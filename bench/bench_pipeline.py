"""End-to-end speed: the face_recognition library vs faceprint on the same images, interleaved.

    pip install --no-deps face-recognition==1.3.0    # the reference, beside dlib-bin
    python bench/bench_pipeline.py --images 300 --rounds 5
    python bench/bench_pipeline.py --baseline /tmp/before/src --spinning   # before/after, one run

The images are dealt into rounds; in each round every contender embeds every face of that round's
images, in an order that rotates from round to round, so a load change on the shared machine hits
all sides alike. Printed: images/s per contender and round, and the median over rounds of each
contender's ratio to face_recognition (which runs on one core). Then per-stage milliseconds, the
per-face embedding speed against dlib's own network, and the peak RSS of `faceprint verify`.
Models are loaded (and worker pools started) before the clock starts, on both sides.

Read the ratios with the load average printed: Linux gives each session (autogroup) an equal
share of a busy machine, so when other sessions keep every core busy, extra workers or threads
add no CPU and the ratios then compare CPU per image; the gain from more cores shows only where
cores are free.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import lfw_sample  # noqa: E402


def face_recognition_all_faces(files: list[Path]) -> int:
    """face_recognition as its users call it: HOG (upsample 1), 5-point landmarks, every face."""
    import face_recognition

    faces = 0
    for path in files:
        image = face_recognition.load_image_file(str(path))
        faces += len(face_recognition.face_encodings(image, face_recognition.face_locations(image)))
    return faces


def faceprint_many(workers: int) -> Callable[[list[Path]], int]:
    import faceprint

    def run(files: list[Path]) -> int:
        return sum(len(r.faces) for r in faceprint.embed_many(files, workers=workers))

    return run


def faceprint_loop(files: list[Path]) -> int:
    """A Python loop over the per-image facade, as a user would write it."""
    import faceprint

    return sum(len(faceprint.embed(path)) for path in files)


def faceprint_loop_spinning() -> Callable[[list[Path]], int]:
    """The per-image loop with ONNX Runtime's own default of spinning pool threads (faceprint makes
    them sleep), to measure that choice in the same run."""
    from faceprint.images import load_image
    from faceprint.models.dlib_resnet import ort_session
    from faceprint.pipeline.pipeline import Pipeline

    pipe = Pipeline()
    sessions = pipe.embedder.network.sessions
    sessions.default = ort_session(sessions.model_bytes, spinning=True)

    def run(files: list[Path]) -> int:
        faces = 0
        for path in files:
            rgb = load_image(path)
            faces += len(pipe.embed(rgb, pipe.detect(rgb)))
        return faces

    return run


_BASELINE_CHILD = """
import json, sys
import faceprint
assert faceprint.__file__.startswith(sys.argv[1]), faceprint.__file__
for line in sys.stdin:
    results = faceprint.embed_many(json.loads(line), workers=int(sys.argv[2]))
    print(sum(len(r.faces) for r in results), flush=True)
"""


def baseline_many(src: Path, workers: int) -> Callable[[list[Path]], int]:
    """``embed_many`` of another copy of faceprint's ``src`` folder (the code before a change), in a
    child process kept for the whole run, so before and after are interleaved in one run."""
    src = src.resolve()
    child = subprocess.Popen([sys.executable, "-c", _BASELINE_CHILD, str(src), str(workers)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             env=dict(os.environ, PYTHONPATH=str(src)))

    def run(files: list[Path]) -> int:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(json.dumps([str(f) for f in files]) + "\n")
        child.stdin.flush()
        return int(child.stdout.readline())

    return run


def interleaved(files: list[Path], rounds: int, contenders: dict[str, Callable[[list[Path]], int]]) -> dict:
    chunks = [files[i::rounds] for i in range(rounds)]
    for run in contenders.values():  # warm-up: models loaded, pools spawned, embed_many's helper-thread
        run(files[:40])             # session built (it starts above batch_size=32 images)
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    faces: dict[str, int] = {name: 0 for name in contenders}
    names = list(contenders)
    for index, chunk in enumerate(chunks):
        order = names[index % len(names):] + names[: index % len(names)]
        for name in order:
            start = time.perf_counter()
            faces[name] += contenders[name](chunk)
            rates[name].append(len(chunk) / (time.perf_counter() - start))
        print(f"  round {index + 1}: " + ", ".join(f"{n} {rates[n][-1]:.1f}" for n in names), flush=True)
    return {"rates": rates, "faces": faces}


def print_rates(result: dict, base_name: str, width: int) -> None:
    """Each contender's median images/s over the rounds and its median per-round ratio to ``base_name``."""
    base = result["rates"][base_name]
    print(f"\nimages/s (median of rounds) and the median of the per-round ratios to {base_name}")
    for name, rates in result["rates"].items():
        ratios = [r / b for r, b in zip(rates, base)]
        print(f"  {name:<{width}}{statistics.median(rates):>8.1f} images/s  {statistics.median(ratios):>5.2f}x"
              f"  (ratios {min(ratios):.2f}-{max(ratios):.2f}; faces embedded {result['faces'][name]})")


def embedding_per_face(files: list[Path], count: int = 50) -> dict:
    import dlib

    import faceprint
    from faceprint.models import weights
    from faceprint.models.dlib_resnet import DlibResNet

    chips = [c.image for f in files[: count * 2] for c in faceprint.align(f)[:1]][:count]
    recogniser = dlib.face_recognition_model_v1(str(weights.locate(weights.DLIB_RESNET)))
    start = time.perf_counter()
    for chip in chips:
        recogniser.compute_face_descriptor(chip)
    dlib_ms = (time.perf_counter() - start) / len(chips) * 1e3
    network = DlibResNet()
    batch = np.stack(chips)
    network(batch[:4])
    start = time.perf_counter()
    network(batch)
    return {"dlib_ms": dlib_ms, "ours_ms": (time.perf_counter() - start) / len(chips) * 1e3, "faces": len(chips)}


def peak_rss_verify(files: list[Path]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run([sys.executable, "-m", "faceprint.cli.main", "verify", str(files[0]), str(files[1])],
                   check=True, capture_output=True)
    return max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-loop", action="store_true", help="skip the per-image facade loop")
    parser.add_argument("--baseline", type=Path, metavar="SRC",
                        help="also run embed_many (1 process and --workers) from this copy of src/ "
                             "(e.g. the code before a change: git archive HEAD src | tar -x -C /tmp/before)")
    parser.add_argument("--spinning", action="store_true",
                        help="add the per-image loop with ONNX Runtime threads that spin (ONNX Runtime's default)")
    args = parser.parse_args()
    files = lfw_sample(args.images)
    print(f"{len(files)} LFW images, {args.rounds} rounds, {os.cpu_count()} CPU cores, "
          f"load average {os.getloadavg()[0]:.1f}")

    contenders: dict[str, Callable[[list[Path]], int]] = {}
    if importlib.util.find_spec("face_recognition") is not None:
        contenders["face_recognition"] = face_recognition_all_faces
    else:
        print("face_recognition is not installed: ratios are to faceprint's embed_many in 1 process")
    contenders["embed_many 1 process"] = faceprint_many(1)
    if args.workers > 1:
        contenders[f"embed_many {args.workers} workers"] = faceprint_many(args.workers)
    if args.baseline is not None:
        contenders["baseline embed_many 1 process"] = baseline_many(args.baseline, 1)
        if args.workers > 1:
            contenders[f"baseline embed_many {args.workers} workers"] = baseline_many(args.baseline, args.workers)
    if not args.no_loop:
        contenders["loop over faceprint.embed"] = faceprint_loop
    if args.spinning:
        contenders["same loop, ORT spinning"] = faceprint_loop_spinning()
    rss = peak_rss_verify(files)  # first: RUSAGE_CHILDREN keeps the largest child, worker pools included
    result = interleaved(files, args.rounds, contenders)
    print(f"load average after the rounds: {os.getloadavg()[0]:.1f}")

    print_rates(result, "face_recognition" if "face_recognition" in contenders else "embed_many 1 process", 28)

    for name, rates in result["rates"].items():  # before/after, round by round
        before = result["rates"].get("baseline " + name)
        if before is not None:
            ratios = [r / b for r, b in zip(rates, before)]
            print(f"  {name} / baseline: {statistics.median(ratios):.2f}x (ratios {min(ratios):.2f}-{max(ratios):.2f})")

    from faceprint.eval.speed import stage_timings
    from faceprint.pipeline.pipeline import PipelineConfig

    stages = stage_timings(files[:100], PipelineConfig())
    print("\nfaceprint per-stage ms per image (100 images, one process): "
          + ", ".join(f"{k} {v:.1f}" for k, v in stages["ms_per_image"].items()))
    per_face = embedding_per_face(files)
    print(f"embedding per face: dlib {per_face['dlib_ms']:.1f} ms, faceprint batched "
          f"{per_face['ours_ms']:.2f} ms ({per_face['dlib_ms'] / per_face['ours_ms']:.1f}x), {per_face['faces']} faces")
    print(f"peak RSS of `faceprint verify`: {rss:.0f} MB")


if __name__ == "__main__":
    main()

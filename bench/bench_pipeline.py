"""End-to-end and per-stage speed: the face_recognition library vs faceprint, same images, one run.

    pip install --no-deps face-recognition==1.3.0    # the reference, beside dlib-bin
    python bench/bench_pipeline.py --images 500

Prints per-stage milliseconds per image, end-to-end images/s, per-face embedding speed against
dlib's own network, peak RSS of a `faceprint verify` run, and the ratios.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import lfw_sample, timer  # noqa: E402


def bench_face_recognition(files: list[Path]) -> dict:
    import face_recognition

    t: dict = {}
    found = 0
    start = time.perf_counter()
    for path in files:
        with timer(t, "decode"):
            image = face_recognition.load_image_file(str(path))
        with timer(t, "detect"):
            boxes = face_recognition.face_locations(image)  # HOG, upsample 1
        with timer(t, "landmarks+embed"):
            vectors = face_recognition.face_encodings(image, boxes[:1])
        found += bool(vectors)
    t["total"] = time.perf_counter() - start
    t["found"] = found
    return t


def bench_faceprint_stages(files: list[Path], flip: bool) -> dict:
    from faceprint.eval.speed import stage_timings
    from faceprint.pipeline.pipeline import PipelineConfig

    r = stage_timings(files, PipelineConfig(flip=flip))
    n = len(files)
    t = {k: v * n / 1e3 for k, v in r["ms_per_image"].items()}
    t["total"] = n / r["images_per_second"]
    t["found"] = r["faces_embedded"]
    return t


def bench_faceprint_batch(files: list[Path], workers: int) -> dict:
    from faceprint.pipeline.batch import embed_paths
    from faceprint.pipeline.pipeline import Pipeline, PipelineConfig

    pipe = Pipeline(PipelineConfig())
    if workers == 1:
        pipe.detector, pipe.embedder
    start = time.perf_counter()
    vectors, _ = embed_paths(pipe, files, workers=workers)
    return {"total": time.perf_counter() - start, "found": sum(v is not None for v in vectors.values())}


def bench_embedding_per_face(files: list[Path], count: int = 50) -> dict:
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
    ours_ms = (time.perf_counter() - start) / len(chips) * 1e3
    return {"dlib_ms": dlib_ms, "ours_ms": ours_ms, "faces": len(chips)}


def peak_rss_verify(files: list[Path]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run([sys.executable, "-m", "faceprint.cli.main", "verify", str(files[0]), str(files[1])],
                   check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(after, before) / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    files = lfw_sample(args.images)
    n = len(files)
    print(f"{n} LFW images, {os.cpu_count()} CPU cores")

    rss = peak_rss_verify(files)
    fr = bench_face_recognition(files)
    fp = bench_faceprint_stages(files, flip=True)
    fp_noflip_total = bench_faceprint_stages(files, flip=False)["total"]
    batch1 = bench_faceprint_batch(files, 1)
    batchw = bench_faceprint_batch(files, args.workers) if args.workers > 1 else batch1
    per_face = bench_embedding_per_face(files)

    print("\nper-stage ms per image")
    print(f"{'stage':<18}{'face_recognition':>18}{'faceprint (flip)':>18}")
    print(f"{'decode':<18}{fr['decode'] / n * 1e3:>18.1f}{fp['decode'] / n * 1e3:>18.1f}")
    print(f"{'detect':<18}{fr['detect'] / n * 1e3:>18.1f}{fp['detect'] / n * 1e3:>18.1f}")
    print(f"{'landmarks+align':<18}{'':>18}{fp['landmarks+align'] / n * 1e3:>18.1f}")
    print(f"{'embed':<18}{fr['landmarks+embed'] / n * 1e3:>18.1f}{fp['embed'] / n * 1e3:>18.1f}")
    print(f"(face_recognition's embed column includes its landmarks; faces found: "
          f"face_recognition {fr['found']}, faceprint {fp['found']})")

    base = n / fr["total"]
    print("\nend-to-end images/s")
    rows = [("face_recognition (HOG, 5-point, jitter 1)", base),
            ("faceprint stages, flip, 1 process", n / fp["total"]),
            ("faceprint stages, no flip, 1 process", n / fp_noflip_total),
            ("faceprint embed_paths, flip, 1 process", n / batch1["total"]),
            (f"faceprint embed_paths, flip, {args.workers} workers", n / batchw["total"])]
    for name, rate in rows:
        print(f"  {name:<48}{rate:>8.1f}  ({rate / base:.1f}x)")
    print(f"\nembedding per face: dlib {per_face['dlib_ms']:.1f} ms, faceprint batched "
          f"{per_face['ours_ms']:.2f} ms ({per_face['dlib_ms'] / per_face['ours_ms']:.1f}x), "
          f"{per_face['faces']} faces")
    print(f"peak RSS of `faceprint verify`: {rss:.0f} MB")


if __name__ == "__main__":
    main()

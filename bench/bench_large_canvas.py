"""Every face in a large photo: recall by face size and seconds per megapixel, faceprint vs dlib HOG.

    python bench/bench_large_canvas.py                       # about 3-5 minutes on 2 busy cores
    python bench/bench_large_canvas.py --compare-scales      # + the tiled pass at scales 1.0/0.8/0.6
    python bench/bench_large_canvas.py --hog-canvases 0      # faceprint only
    python bench/bench_large_canvas.py --native-sizes        # YuNet's recall at 28-48 px, no resizing
    python bench/bench_large_canvas.py --tiles 768,1024,1536 # CPU s/Mpx by tile side

LFW faces (the central 0.45 of each 250 px image, about brow to chin) resized to 40, 60, 90, 150,
250 and 400 px are pasted at random, non-overlapping places into 4000x3000 and 6000x4000 canvases
whose background is a blurred, enlarged mosaic of LFW photo corners (texture and colour, no face).
A pasted face is found when a detection has IoU >= 0.3 with its square or its centre inside it; a
detection that finds no pasted face is a false positive. Each canvas is searched by faceprint's
default detector (``yunet``: boxes and keypoints, not dlib's landmarks or embeddings) and, on the
first ``--hog-canvases`` canvases, by dlib's HOG with upsample 1 as ``face_recognition`` runs it
(``dlib.get_frontal_face_detector()(image, 1)``), interleaved canvas by canvas. Both run on one
thread unless FACEPRINT_THREADS says otherwise (dlib's HOG has one). Times are medians over
``--repeats`` runs per canvas (HOG: one run; it takes 10-25 s a canvas).

Last, photos of at most 1280 px must not get slower: 1280x960 canvases with six faces, timed with
the default detector and with the whole-photo pass alone (``min_face=0``, the code path of before),
interleaved; printed: the median of per-round ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import lfw_sample  # noqa: E402

SIZES = (40, 60, 90, 150, 250, 400)


@dataclass
class Canvas:
    image: np.ndarray
    truths: list[tuple[int, int, int]] = field(default_factory=list)  # x, y, size

    @property
    def mpx(self) -> float:
        return self.image.shape[0] * self.image.shape[1] / 1e6


def face_crops(files: list[Path]) -> list[np.ndarray]:
    """The central 0.45 of each LFW image: the face, about brow to chin."""
    from faceprint.images import load_image

    crops = []
    for path in files:
        image = load_image(path)
        side = round(image.shape[0] * 0.45)
        top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
        crops.append(image[top : top + side, left : left + side])
    return crops


def background(files: list[Path], width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A blurred, enlarged mosaic of 64 px corners of LFW photos (scene, not face), light noise."""
    import cv2

    from faceprint.images import load_image

    picks = rng.choice(len(files), 6, replace=False)
    patches = []
    for k in picks:
        image = load_image(files[k])
        corner = rng.integers(4)
        y = 0 if corner < 2 else image.shape[0] - 64
        x = 0 if corner % 2 == 0 else image.shape[1] - 64
        patches.append(image[y : y + 64, x : x + 64])
    mosaic = np.concatenate([np.concatenate(patches[:3], axis=1), np.concatenate(patches[3:], axis=1)], axis=0)
    canvas = cv2.resize(mosaic, (width, height), interpolation=cv2.INTER_CUBIC)
    canvas = cv2.GaussianBlur(canvas, (0, 0), width / 300)
    noise = rng.normal(0, 3, canvas.shape)
    return np.clip(canvas + noise, 0, 255).astype(np.uint8)


def make_canvas(crops: list[np.ndarray], bg_files: list[Path], width: int, height: int, per_size: int,
                rng: np.random.Generator, sizes: tuple[int, ...] = SIZES) -> Canvas:
    """``per_size`` faces of each size at random places, no two closer than a fifth of the larger."""
    import cv2

    canvas = Canvas(background(bg_files, width, height, rng))
    for size in sorted(sizes, reverse=True):
        for _ in range(per_size):
            for _attempt in range(1000):
                x, y = int(rng.integers(0, width - size)), int(rng.integers(0, height - size))
                gap = 0.2
                if all(x + size * (1 + gap) < tx or tx + ts * (1 + gap) < x or y + size * (1 + gap) < ty
                       or ty + ts * (1 + gap) < y for tx, ty, ts in canvas.truths):
                    break
            else:
                raise RuntimeError("canvas too small for its faces")
            crop = crops[int(rng.integers(len(crops)))]
            interp = cv2.INTER_AREA if size < crop.shape[0] else cv2.INTER_CUBIC
            canvas.image[y : y + size, x : x + size] = cv2.resize(crop, (size, size), interpolation=interp)
            canvas.truths.append((x, y, size))
    return canvas


def score(canvas: Canvas, boxes: np.ndarray) -> tuple[dict[int, tuple[int, int]], int]:
    """Hits and totals by face size, and false positives, for (N, 4) boxes l, t, r, b."""
    matched = np.zeros(len(boxes), bool)
    by_size: dict[int, tuple[int, int]] = {}
    for x, y, size in canvas.truths:
        hit = False
        if len(boxes):
            l, t, r, b = boxes.T
            iw = np.clip(np.minimum(r, x + size) - np.maximum(l, x), 0, None)
            ih = np.clip(np.minimum(b, y + size) - np.maximum(t, y), 0, None)
            inter = iw * ih
            iou = inter / ((r - l) * (b - t) + size * size - inter)
            cx, cy = (l + r) / 2, (t + b) / 2
            ok = (iou >= 0.3) | ((cx >= x) & (cx <= x + size) & (cy >= y) & (cy <= y + size))
            matched |= ok
            hit = bool(ok.any())
        hits, total = by_size.get(size, (0, 0))
        by_size[size] = (hits + hit, total + 1)
    return by_size, int((~matched).sum())


def faceprint_boxes(detector) -> Callable[[np.ndarray], np.ndarray]:
    def run(image: np.ndarray) -> np.ndarray:
        return np.array([face.box for face in detector(image)], np.float64).reshape(-1, 4)

    return run


@lru_cache(maxsize=1)
def _hog():
    import dlib

    return dlib.get_frontal_face_detector()


def hog_boxes(image: np.ndarray) -> np.ndarray:
    """dlib's HOG with upsample 1, as ``face_recognition.face_locations`` calls it."""
    rects = _hog()(image, 1)
    return np.array([(r.left(), r.top(), r.right(), r.bottom()) for r in rects], np.float64).reshape(-1, 4)


def timed(run: Callable[[np.ndarray], np.ndarray], image: np.ndarray,
          repeats: int) -> tuple[np.ndarray, float, float]:
    """Boxes, median wall seconds and median CPU seconds (this process, all threads)."""
    times, cpu, boxes = [], [], None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        boxes = run(image)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return boxes, statistics.median(times), statistics.median(cpu)


def table(results: dict[str, dict], mpx: dict[str, float]) -> None:
    names = list(results)
    print("\nrecall by face size (pasted LFW faces found / pasted), false positives per canvas, seconds per "
          "Mpx (median over canvases; wall clock and CPU time):")
    head = (f"{'detector':<32}" + "".join(f"{str(s) + ' px':>12}" for s in SIZES)
            + f"{'FP/canvas':>10}{'s/Mpx':>7}{'CPU s/Mpx':>10}{'canvases':>9}")
    print(head)
    for name in names:
        r = results[name]
        cells = []
        for s in SIZES:
            hits, total = r["by_size"].get(s, (0, 0))
            cells.append(f"{hits}/{total} {100 * hits / total:3.0f}%".rjust(12) if total else "-".rjust(12))
        seconds = statistics.median(r["s_per_mpx"]) if r["s_per_mpx"] else float("nan")
        cpu = statistics.median(r["cpu_per_mpx"]) if r["cpu_per_mpx"] else float("nan")
        print(f"{name:<32}" + "".join(cells) + f"{r['fp'] / max(r['canvases'], 1):>10.1f}{seconds:>7.3f}"
              f"{cpu:>10.3f}{r['canvases']:>9}")
    for name in names:
        r = results[name]
        pooled_hits = sum(h for h, _ in r["by_size"].values())
        pooled = sum(t for _, t in r["by_size"].values())
        if pooled:
            print(f"  {name}: {pooled_hits}/{pooled} faces ({100 * pooled_hits / pooled:.1f} %), "
                  f"{r['canvases']} canvases, {mpx.get(name, 0):.0f} Mpx searched")


def small_photos(crops: list[np.ndarray], bg_files: list[Path], rounds: int, rng: np.random.Generator) -> None:
    """Photos <= 1280 px take the single pass of before: time both, interleaved."""
    from faceprint.models.detectors.yunet import YuNetDetector

    default, single = YuNetDetector(), YuNetDetector(min_face=0)
    contenders = {"default": faceprint_boxes(default), "single pass (min_face=0)": faceprint_boxes(single)}
    canvases = [make_canvas(crops, bg_files, 1280, 960, 1, rng, sizes=(60, 90, 150, 250)) for _ in range(4)]
    ms: dict[str, list[float]] = {name: [] for name in contenders}
    ratios = []
    for round_ in range(rounds):
        order = list(contenders) if round_ % 2 == 0 else list(contenders)[::-1]
        spent = {}
        for name in order:
            start = time.perf_counter()
            for canvas in canvases:
                contenders[name](canvas.image)
            spent[name] = (time.perf_counter() - start) / len(canvases)
            ms[name].append(1000 * spent[name])
        ratios.append(spent["default"] / spent["single pass (min_face=0)"])
    same = all(np.array_equal(contenders["default"](c.image), contenders["single pass (min_face=0)"](c.image))
               for c in canvases)
    print(f"\n1280x960 photos, {rounds} rounds of {len(canvases)}: "
          + ", ".join(f"{n} {statistics.median(v):.0f} ms/photo" for n, v in ms.items())
          + f"; median ratio default/single = {statistics.median(ratios):.3f}; same boxes: {same}")


def native_sizes(crops: list[np.ndarray], bg_files: list[Path], rng: np.random.Generator) -> None:
    """YuNet's recall by face size in the image it is given (why the tiled pass's scale is what
    it is): 12 canvases of 960x720 with 25 faces of one size each, one pass at full size."""
    from faceprint.models.detectors.yunet import YuNetDetector

    run = faceprint_boxes(YuNetDetector(min_face=0))
    print("\nYuNet at the image's own size (960x720, no resizing), recall by face size:")
    for size in (28, 32, 36, 40, 48):
        hits = total = false = 0
        for _ in range(12):
            canvas = make_canvas(crops, bg_files, 960, 720, 25, rng, sizes=(size,))
            by_size, fp = score(canvas, run(canvas.image))
            hits, total, false = hits + by_size[size][0], total + by_size[size][1], false + fp
        print(f"  {size} px: {hits}/{total} = {100 * hits / total:.1f} %, {false} false positives", flush=True)


def tile_sizes(crops: list[np.ndarray], bg_files: list[Path], tiles: list[int], rng: np.random.Generator) -> None:
    """CPU time (user and system) per Mpx of the default detector by tile side, one canvas per size."""
    import resource

    from faceprint.models.detectors.yunet import YuNetDetector

    print("\nCPU seconds per Mpx by tile side (user + system = total; one thread):")
    for width, height in ((4000, 3000), (6000, 4000)):
        canvas = make_canvas(crops, bg_files, width, height, 5, rng)
        for tile in tiles:
            run = faceprint_boxes(YuNetDetector(tile=tile))
            before = resource.getrusage(resource.RUSAGE_SELF)
            boxes = run(canvas.image)
            after = resource.getrusage(resource.RUSAGE_SELF)
            user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
            by_size, fp = score(canvas, boxes)
            found = sum(h for h, _ in by_size.values())
            print(f"  {width}x{height} tile {tile}: {user / canvas.mpx:.3f} + {system / canvas.mpx:.3f} = "
                  f"{(user + system) / canvas.mpx:.3f}; found {found}/{len(canvas.truths)}, {fp} FP", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--canvases", default="4000x3000:3,6000x4000:2",
                        help="WxH:count,... (default %(default)s)")
    parser.add_argument("--per-size", type=int, default=5, help="faces of each size per canvas")
    parser.add_argument("--hog-canvases", type=int, default=2,
                        help="HOG runs on this many canvases of each size (slow: 10-25 s each)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of faceprint per canvas")
    parser.add_argument("--compare-scales", action="store_true",
                        help="also the whole-photo pass alone and the tiled pass at scales 0.8 and 0.6 "
                             "(the default tiles at 1.0)")
    parser.add_argument("--small-rounds", type=int, default=5, help="rounds of the <= 1280 px timing (0: skip)")
    parser.add_argument("--native-sizes", action="store_true",
                        help="only YuNet's recall by face size at the image's own size (28-48 px)")
    parser.add_argument("--tiles", default="", help="only CPU s/Mpx by tile side, e.g. 768,1024,1536")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("FACEPRINT_THREADS", "1")

    from faceprint.models.detectors.yunet import YUNET_RELIABLE_PX, YuNetDetector

    rng = np.random.default_rng(args.seed)
    files = lfw_sample(600)
    crops, bg_files = face_crops(files[::2]), files[1::2]
    if args.native_sizes or args.tiles:
        if args.native_sizes:
            native_sizes(crops, bg_files, rng)
        if args.tiles:
            tile_sizes(crops, bg_files, [int(t) for t in args.tiles.split(",")], rng)
        return
    specs = [(int(w), int(h), int(n)) for part in args.canvases.split(",")
             for (w, h), n in [(part.split(":")[0].split("x"), part.split(":")[1])]]

    contenders: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "faceprint yunet (default)": faceprint_boxes(YuNetDetector())}
    if args.compare_scales:
        contenders["yunet whole photo at 960 only"] = faceprint_boxes(YuNetDetector(min_face=0))
        for fine in (0.8, 0.6):
            contenders[f"yunet + tiles at scale {fine}"] = faceprint_boxes(
                YuNetDetector(min_face=YUNET_RELIABLE_PX / fine))
    contenders["dlib HOG, upsample 1"] = hog_boxes
    results = {n: {"by_size": {}, "fp": 0, "canvases": 0, "s_per_mpx": [], "cpu_per_mpx": []} for n in contenders}
    mpx: dict[str, float] = {}
    print(f"threads: FACEPRINT_THREADS={os.environ['FACEPRINT_THREADS']}; faces per size per canvas: "
          f"{args.per_size}; sizes {SIZES} px")
    for width, height, count in specs:
        for index in range(count):
            canvas = make_canvas(crops, bg_files, width, height, args.per_size, rng)
            line = [f"{width}x{height} #{index + 1}:"]
            for name, run in contenders.items():
                is_hog = name.startswith("dlib")
                if is_hog and index >= args.hog_canvases:
                    continue
                boxes, seconds, cpu = timed(run, canvas.image, 1 if is_hog else args.repeats)
                by_size, fp = score(canvas, boxes)
                r = results[name]
                for size, (hits, total) in by_size.items():
                    h0, t0 = r["by_size"].get(size, (0, 0))
                    r["by_size"][size] = (h0 + hits, t0 + total)
                r["fp"] += fp
                r["canvases"] += 1
                r["s_per_mpx"].append(seconds / canvas.mpx)
                r["cpu_per_mpx"].append(cpu / canvas.mpx)
                mpx[name] = mpx.get(name, 0.0) + canvas.mpx
                found = sum(h for h, _ in by_size.values())
                line.append(f"{name.split(' (')[0]} {found}/{len(canvas.truths)} in {seconds:.2f} s")
            print("  " + "; ".join(line), flush=True)
    table(results, mpx)
    if args.small_rounds:
        small_photos(crops, bg_files, args.small_rounds, rng)


if __name__ == "__main__":
    main()

"""Memory of decoding small 16-bit images: the float64 mapping against ``images.load_image``'s
integer one, side by side in one run.

Each file is a few tens of KB (flat or nearly flat grey, PNG compresses it to almost nothing) but
holds millions of pixels. Each way runs in a fresh process: its peak numpy memory (tracemalloc)
and its peak RSS (``ru_maxrss``, the interpreter and its libraries included) are printed.

Usage: python bench/bench_image_16bit.py [--sides 4000,6000]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import io, json, resource, sys, tracemalloc
import numpy as np
from PIL import Image
from faceprint import images

path, way = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
tracemalloc.start()
if way == "float64":
    samples = np.asarray(Image.open(io.BytesIO(data)))
    grey = np.clip(samples.astype(np.float64) / 257.0 + 0.5, 0, 255).astype(np.uint8)
    rgb = np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
else:
    rgb = images.load_image(data)
peak = tracemalloc.get_traced_memory()[1]
print(json.dumps({"numpy_mb": peak / 1e6, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "shape": list(rgb.shape), "checksum": int(rgb.sum(dtype=np.int64))}))
"""


def make_png(side: int, folder: Path) -> Path:
    """A nearly flat 16-bit grey PNG of ``side`` x ``side`` (a faint ramp, so it is not all one value)."""
    import numpy as np
    from PIL import Image

    row = (30000 + np.arange(side) % 64).astype(np.uint16)
    path = folder / f"grey16_{side}.png"
    buffer = io.BytesIO()
    Image.fromarray(np.tile(row, (side, 1))).save(buffer, format="PNG", optimize=True)
    path.write_bytes(buffer.getvalue())
    return path


def measure(path: Path, way: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), way], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", default="4000,6000", help="Image sides to try, comma-separated.")
    args = parser.parse_args()
    print(f"{'image':>22} {'file KB':>8} {'way':>8} {'numpy peak MB':>14} {'RSS peak MB':>12} {'same pixels':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for side in (int(s) for s in args.sides.split(",")):
            path = make_png(side, Path(tmp))
            results = {way: measure(path, way) for way in ("float64", "integer")}
            same = results["float64"]["checksum"] == results["integer"]["checksum"]
            for way, r in results.items():
                print(f"{side}x{side} 16-bit PNG {path.stat().st_size / 1024:>8.0f} {way:>8} {r['numpy_mb']:>14.0f} "
                      f"{r['rss_mb']:>12.0f} {str(same):>12}")


if __name__ == "__main__":
    main()

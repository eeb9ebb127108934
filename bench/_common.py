"""Helpers shared by the benchmarks: the LFW sample and timing."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from faceprint import settings


def lfw_sample(count: int) -> list[Path]:
    """``count`` LFW images spread over the alphabet (every k-th file, sorted): same set each run."""
    data = settings.data_dir()
    if data is None or not (data / "lfw").is_dir():
        sys.exit("LFW not found: set FACEPRINT_DATA to the folder holding lfw/")
    files = sorted((data / "lfw").glob("*/*.jpg"))
    step = max(1, len(files) // count)
    return files[::step][:count]


def check_baseline_src(src: Path | None) -> None:
    """Exit with a message unless ``src`` (a ``--baseline`` option) is None or a src folder holding faceprint/."""
    if src is not None and not (src / "faceprint" / "__init__.py").is_file():
        sys.exit(f"--baseline {src}: not a src folder holding faceprint/")


@contextmanager
def timer(store: dict, key: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    store[key] = store.get(key, 0.0) + time.perf_counter() - start

"""Per-stage timing of the pipeline on a set of images (for `faceprint bench` and bench/)."""

from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from faceprint.errors import FaceprintError
from faceprint.images import load_image
from faceprint.pipeline.pipeline import Pipeline, PipelineConfig


def stage_timings(files: Sequence[Path], config: PipelineConfig,
                  progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Milliseconds per image for decode, detect, landmarks + align and batched embedding, and
    end-to-end images/s (models are loaded before the clock starts).

    Each image takes the pipeline's route (``Pipeline.find_faces`` with the face nearest the
    centre, ``prepare_chips``), timed stage by stage; every chip is embedded in one call at the end.

    Args:
        files: the images to time.
        config: the pipeline settings.
        progress: given 1 per image done.

    Returns:
        A JSON-ready dict: counts, settings, ``ms_per_image`` per stage, ``images_per_second``
        and ``peak_rss_mb``.
    """
    pipe = Pipeline(config)
    pipe.detector, pipe.embedder.embed_prepared  # load outside the timing
    spent = {"decode": 0.0, "detect": 0.0, "landmarks+align": 0.0, "embed": 0.0}
    chips, failed = [], 0
    start = time.perf_counter()
    for path in files:
        t0 = time.perf_counter()
        try:
            image = load_image(path)
        except FaceprintError:
            failed += 1
            continue
        t1 = time.perf_counter()
        raw = pipe.detector(image)
        t2 = time.perf_counter()
        chosen, _ = pipe.find_faces(image, one=True, faces=raw)
        chips.extend(pipe.prepare_chips(image, chosen))
        t3 = time.perf_counter()
        spent["decode"] += t1 - t0
        spent["detect"] += t2 - t1
        spent["landmarks+align"] += t3 - t2
        if progress:
            progress(1)
    t4 = time.perf_counter()
    if chips:
        pipe.embed_chips([chips])
    spent["embed"] = time.perf_counter() - t4
    total = time.perf_counter() - start
    n = max(len(files), 1)
    return {
        "images": len(files), "faces_embedded": len(chips), "unreadable": failed,
        "detector": pipe.config.detector, "model": pipe.config.model, "flip": pipe.config.flip,
        "ms_per_image": {k: round(v / n * 1e3, 2) for k, v in spent.items()},
        "images_per_second": round(len(files) / total, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }

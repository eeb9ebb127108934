"""Many images at once: detect and align one by one, embed in batches, report bad files.

Each source is read and hashed once (``sources``), its faces found by ``Pipeline.find_faces``, and
the faces of many images embedded in one network call (``Pipeline.embed_chips``); ``workers`` > 1
spreads the images over kept worker processes (``pools``), and ``embed_paths`` skips the photos an
``EmbeddingCache`` holds.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from faceprint.errors import BadInput, FaceprintError
from faceprint.pipeline.cache import EmbeddingCache
from faceprint.pipeline.pipeline import Pipeline
from faceprint.pipeline.pools import run_on_pool, worker_pipeline
from faceprint.pipeline.sources import ReadSource, decode, portable, read_error, read_source, source_label
from faceprint.types import NO_FACE_FOUND, Embedding, ImageFaces

log = logging.getLogger(__name__)

# Photos read ahead by ``embed_paths`` (to look them up in the cache by content) are embedded in
# rounds of at most about this many encoded bytes, so a large folder is never held in memory whole.
_READ_AHEAD_BYTES = 1 << 28


def embed_paths(
    pipeline: Pipeline,
    paths: Sequence[Path],
    batch_size: int = 32,
    cache: EmbeddingCache | None = None,
    progress: Callable[[int], None] | None = None,
    workers: int = 1,
) -> tuple[dict[Path, np.ndarray | None], dict[Path, str]]:
    """One embedding per image (the face nearest the centre), None where no face was found.

    The photos are known to hold a face (pairs, labelled folders), so YuNet's fallback applies
    (``Pipeline.detect(expect_face=True)``). Each file is read once: with a ``cache``, photos it
    holds (keyed by content) are not processed again; the rest go through ``embed_sources``
    already read (``ReadSource``), on ``workers`` processes when > 1.

    Args:
        pipeline: the pipeline to embed with.
        paths: the photos.
        batch_size: faces per network call.
        cache: vectors computed before, looked up and updated (and saved) here.
        progress: given the count of images done, as they are.
        workers: processes to spread the images over; 1 runs in this process.

    Returns:
        The vectors (None for a photo without a usable face), and a map of path -> problem for
        bad images and images without a face.
    """
    vectors: dict[Path, np.ndarray | None] = {}
    problems: dict[Path, str] = {}
    todo: list[tuple[Path, object]] = []
    held = 0

    def embed_todo() -> None:
        nonlocal todo, held
        if not todo:
            return
        round_, todo, held = todo, [], 0
        results = embed_sources(pipeline, [s for _, s in round_], batch_size, progress, workers, nearest_only=True)
        for (path, _), result in zip(round_, results):
            vectors[path] = result.faces[0].vector if result.faces else None
            problem = result.problem
            if problem is not None:
                problems[path] = problem
            if cache is not None and result.sha256 is not None and result.error is None:
                cache.put(result.sha256, vectors[path])

    for path in map(Path, paths):
        if cache is None or not cache.entries:
            todo.append((path, path))  # nothing to look up: read once, where it is embedded
            continue
        try:
            data, sha = read_source(path)
        except (OSError, BadInput):  # unreadable, or a NUL byte in the path: embed_sources reports it
            todo.append((path, path))
            continue
        if sha in cache.entries:
            vectors[path] = cache.entries[sha]
            if vectors[path] is None:
                problems[path] = NO_FACE_FOUND
            _tick(progress)
            continue
        todo.append((path, ReadSource(data, sha, str(path))))  # type: ignore[arg-type]
        held += len(data)  # type: ignore[arg-type]
        if held >= _READ_AHEAD_BYTES:
            embed_todo()
    embed_todo()
    if cache is not None:
        cache.save()
    ordered = list(dict.fromkeys(map(Path, paths)))
    return {p: vectors[p] for p in ordered}, {p: problems[p] for p in ordered if p in problems}


def embed_sources(
    pipeline: Pipeline,
    sources: Sequence,
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
    workers: int = 1,
    nearest_only: bool = False,
) -> list[ImageFaces]:
    """Every face of every source, embedded in batches; one ``ImageFaces`` per source, in order.

    Args:
        pipeline: the pipeline to embed with.
        sources: paths, encoded bytes, binary files, arrays, or ``ReadSource`` (read and hashed
            already: not read again).
        batch_size: faces per network call.
        progress: given the count of images done, as they are.
        workers: > 1 spreads the sources over that many single-threaded processes.
        nearest_only: each source is known to hold one face (a pair's photo, a labelled photo):
            only the face nearest the centre, with YuNet's fallback where none reaches its threshold.

    Returns:
        One ``ImageFaces`` per source, in order. A source that cannot be read or decoded is
        reported in its result (``error``), never raised.

    Raises:
        BadInput: worker processes cannot start (``pools.worker_pool``).
    """
    items = list(sources)
    if workers > 1 and len(items) > workers:  # the pool is kept: worth it for a few images each
        items = [portable(source) for source in items]
        return _run_all_faces_pool(pipeline, items, batch_size, workers, progress, nearest_only)
    # a few images are not worth the helper thread (and its network session, built once)
    overlap = _spare_cores() > 0 and len(items) > batch_size
    return _embed_all_faces(pipeline, items, 0, batch_size, progress, overlap=overlap, nearest_only=nearest_only)


# Images waiting for the network are held until their faces are aligned: flush early when their
# pixels pass this many bytes, so a folder of large photos never holds more than about this much.
_PENDING_BYTES = 1 << 27


def _spare_cores() -> int:
    """Cores this process may use beyond the calling thread's."""
    import os

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return cores - 1


def _embed_all_faces(pipeline: Pipeline, sources: Sequence, offset: int, batch_size: int,
                     progress: Callable[[int], None] | None = None, overlap: bool = False,
                     nearest_only: bool = False) -> list[ImageFaces]:
    """Decode, detect and find landmarks in this thread; with ``overlap``, align and embed each
    batch of faces in a helper thread meanwhile (ONNX Runtime and numpy's loops release the GIL),
    so one process keeps two cores busy: on LFW photos the two halves cost about the same
    (per-stage figures: ``python bench/bench_pipeline.py``). Vectors are the same either way: each
    face is aligned and embedded on its own, whatever batch it lands in."""
    signature = pipeline.signature()
    model = pipeline.config.model
    pipeline.embedder  # noqa: B018 (built here, never first in the helper thread)
    results: list[ImageFaces] = []
    waiting: list[tuple[int, np.ndarray, list]] = []  # (index in results, image, detections)
    waiting_faces = waiting_bytes = 0

    def embed_batch(batch: list[tuple[int, np.ndarray, list]]) -> list[tuple[int, list, tuple]]:
        scored = pipeline.embed_chips_scored([pipeline.prepare_chips(image, found) for _, image, found in batch])
        return [(index, found, rows) for (index, _, found), rows in zip(batch, scored)]

    def collect(done: list[tuple[int, list, tuple]]) -> None:
        for index, found, (vectors, scores) in done:
            r = results[index]
            faces = tuple(Embedding(v, model, d, q) for v, d, q in zip(vectors, found, scores))
            results[index] = ImageFaces(r.source, faces, None, r.sha256, r.width, r.height, signature)

    helper = None
    if overlap:
        from concurrent.futures import ThreadPoolExecutor

        from faceprint.models.dlib_resnet import networks_use_threads

        # the network gets the cores detection leaves, on threads that do not spin
        helper = ThreadPoolExecutor(1, thread_name_prefix="faceprint-embed", initializer=networks_use_threads,
                                    initargs=(max(1, _spare_cores()),))
    running = None  # the batch in the helper thread

    def flush() -> None:
        nonlocal waiting, waiting_faces, waiting_bytes, running
        if not waiting:
            return
        batch, waiting, waiting_faces, waiting_bytes = waiting, [], 0, 0
        if running is not None:
            collect(running.result())
            running = None
        if helper is None:
            collect(embed_batch(batch))
        else:
            running = helper.submit(embed_batch, batch)

    try:
        for position, source in enumerate(sources):
            label = source_label(source, offset + position)
            try:
                data, sha = read_source(source)
            except (OSError, BadInput) as exc:
                results.append(ImageFaces(label, error=read_error(exc), signature=signature))
                _tick(progress)
                continue
            try:
                image = decode(data)
                detections, _ = pipeline.find_faces(image, expect_face=nearest_only, one=nearest_only)
            except FaceprintError as exc:
                results.append(ImageFaces(label, error=str(exc), sha256=sha, signature=signature))
                _tick(progress)
                continue
            results.append(ImageFaces(label, (), None, sha, int(image.shape[1]), int(image.shape[0]), signature))
            if detections:
                waiting.append((len(results) - 1, image, list(detections)))
                waiting_faces += len(detections)
                waiting_bytes += image.nbytes
            if waiting_faces >= batch_size or waiting_bytes >= _PENDING_BYTES:
                flush()
            _tick(progress)
        flush()
        if running is not None:
            collect(running.result())
    finally:
        if helper is not None:
            helper.shutdown(wait=True, cancel_futures=True)
    return results


def _worker_embed_all(sources: list, offset: int, batch_size: int, nearest_only: bool) -> list[ImageFaces]:
    """``_embed_all_faces`` in a worker process, on its own pipeline."""
    return _embed_all_faces(worker_pipeline(), sources, offset, batch_size, nearest_only=nearest_only)


def _run_all_faces_pool(pipeline: Pipeline, sources: list, batch_size: int, workers: int,
                        progress: Callable[[int], None] | None, nearest_only: bool = False) -> list[ImageFaces]:
    from concurrent.futures import as_completed

    chunk = max(4, min(batch_size, len(sources) // (workers * 4) or 1))
    starts = list(range(0, len(sources), chunk))

    def submit_all(pool) -> list[ImageFaces]:
        parts: dict[int, list[ImageFaces]] = {}
        futures = {pool.submit(_worker_embed_all, sources[s : s + chunk], s, batch_size, nearest_only): s
                   for s in starts}
        for future in as_completed(futures):
            part = future.result()
            parts[futures[future]] = part
            if progress is not None:
                progress(len(part))
        return [result for s in starts for result in parts[s]]

    return run_on_pool(pipeline, workers, submit_all)


def _tick(progress: Callable[[int], None] | None) -> None:
    if progress is not None:
        progress(1)


def iter_image_files(root: Path) -> Iterable[Path]:
    """Image files under a folder, sorted, recursively.

    Args:
        root: the folder.

    Returns:
        The paths of files with an image suffix (``images.is_image_path``), sorted.
    """
    from faceprint.images import is_image_path

    return sorted(p for p in Path(root).rglob("*") if is_image_path(p))

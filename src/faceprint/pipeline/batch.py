"""Many images at once: detect and align one by one, embed in batches, report bad files."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from faceprint import settings
from faceprint.errors import BadInput, FaceprintError
from faceprint.images import load_image
from faceprint.pipeline.detect import nearest_center
from faceprint.pipeline.pipeline import Pipeline
from faceprint.types import NO_FACE_FOUND, Embedding, ImageFaces

log = logging.getLogger(__name__)


class EmbeddingCache:
    """Vectors keyed by image content (sha256) for one pipeline configuration, kept in an .npz."""

    def __init__(self, pipeline: Pipeline, folder: Path | None = None) -> None:
        # the signature adds what the config does not hold: the model file's stamp, fusion weights,
        # VECTOR_REVISION
        key = json.dumps(asdict(pipeline.config), sort_keys=True) + pipeline.signature()
        digest = hashlib.sha1(key.encode()).hexdigest()[:16]
        label = Path(pipeline.config.model).stem if pipeline.config.model.endswith(".onnx") else pipeline.config.model
        self.path = (folder or settings.cache_dir() / "embeddings") / f"{label}-{digest}.npz"
        self.entries: dict[str, np.ndarray | None] = {}
        self._dirty = False
        if self.path.exists():
            try:
                data = np.load(self.path)
                for k, v, ok in zip(data["keys"], data["vectors"], data["found"]):
                    self.entries[str(k)] = v if ok else None
            except (OSError, ValueError, KeyError) as exc:
                log.warning("ignoring unreadable embedding cache %s (%s)", self.path, exc)

    def put(self, key: str, vector: np.ndarray | None) -> None:
        self.entries[key] = vector
        self._dirty = True

    def save(self) -> None:
        if not self._dirty or not self.entries:
            return
        dim = next((len(v) for v in self.entries.values() if v is not None), 1)
        keys = np.array(list(self.entries))
        vectors = np.stack([v if v is not None else np.zeros(dim, np.float32) for v in self.entries.values()])
        found = np.array([v is not None for v in self.entries.values()])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=keys, vectors=vectors, found=found)
        tmp.replace(self.path)
        self._dirty = False


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
    (``Pipeline.detect(expect_face=True)``). Images found in ``cache`` (keyed by content) are not
    processed again; the rest go through ``embed_sources`` (``workers`` processes when > 1).

    Returns the vectors and a map of path -> problem for bad images and images without a face.
    """
    vectors: dict[Path, np.ndarray | None] = {}
    problems: dict[Path, str] = {}
    todo: list[Path] = []
    for path in map(Path, paths):
        # hashing reads the file: only worth it when there is a cache to look in
        key = _content_key(path) if cache is not None and cache.entries else None
        if cache is not None and key is not None and key in cache.entries:
            vectors[path] = cache.entries[key]
            if vectors[path] is None:
                problems[path] = NO_FACE_FOUND
            _tick(progress)
        else:
            todo.append(path)
    for path, result in zip(todo, embed_sources(pipeline, todo, batch_size, progress, workers, nearest_only=True)):
        vectors[path] = result.faces[0].vector if result.faces else None
        problem = result.problem
        if problem is not None:
            problems[path] = problem
        if cache is not None and result.sha256 is not None and result.error is None:
            cache.put(result.sha256, vectors[path])
    if cache is not None:
        cache.save()
    return vectors, problems


def _content_key(path: Path) -> str | None:
    """The key ``EmbeddingCache`` files an image under: the sha256 of its bytes (``ImageFaces.sha256``)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except (OSError, ValueError):  # unreadable, or a NUL byte in the path: embed_sources reports it
        return None


_WORKER_PIPELINE: Pipeline | None = None


def _init_worker(config) -> None:
    import os

    global _WORKER_PIPELINE
    # One thread per process: yuface's OpenMP and ONNX Runtime otherwise each spin a thread per
    # core, and the processes starve each other (measured: 5 instead of 35 images/s each).
    os.environ["FACEPRINT_THREADS"] = "1"
    os.environ["OMP_NUM_THREADS"] = "1"
    _WORKER_PIPELINE = Pipeline(config)


def worker_pool(pipeline: Pipeline, workers: int):
    """A process pool of ``workers`` single-threaded pipelines for ``pipeline``'s config, kept for reuse.

    Spawning workers and loading their models costs seconds; keeping the pool makes repeated
    ``embed_many`` calls (a service, a benchmark, a loop over folders) pay it once. A pool whose
    workers loaded what the pipeline's signature no longer names (an .onnx model file written again
    at the same path) is replaced. Pools are shut down at interpreter exit, or by
    ``shutdown_worker_pools()``.
    """
    import atexit
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    key, signature = (pipeline.config, workers), pipeline.signature()
    kept = _POOLS.get(key)
    if kept is not None and kept[0] == signature:
        return kept[1]
    if kept is not None:
        _drop_pool(key)
    if not _POOLS:
        atexit.register(shutdown_worker_pools)
    context = multiprocessing.get_context("spawn")  # ONNX Runtime's thread pools do not survive a fork
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(pipeline.config,))
    _POOLS[key] = (signature, pool)
    return pool


def _drop_pool(key) -> None:
    """Forget a kept pool; its workers end once done with what they were given (not waited for)."""
    kept = _POOLS.pop(key, None)
    if kept is not None:
        kept[1].shutdown(wait=False)


def shutdown_worker_pools() -> None:
    """Stop every kept worker pool."""
    while _POOLS:
        _, (_, pool) = _POOLS.popitem()
        pool.shutdown(wait=True, cancel_futures=True)


# (config, workers) -> (the pipeline signature its workers were started for, the pool)
_POOLS: dict = {}


def _pooled(pipeline: Pipeline, workers: int, submit_all):
    """Run ``submit_all(pool)`` on the kept pool; a pool broken by a dead worker is dropped and
    the call retried once on a fresh one."""
    from concurrent.futures.process import BrokenProcessPool

    for attempt in range(2):
        pool = worker_pool(pipeline, workers)
        try:
            return submit_all(pool)
        except BrokenProcessPool:
            _drop_pool((pipeline.config, workers))
            if attempt:
                raise
            log.warning("a worker process died; retrying on a fresh pool")


def embed_sources(
    pipeline: Pipeline,
    sources: Sequence,
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
    workers: int = 1,
    nearest_only: bool = False,
) -> list[ImageFaces]:
    """Every face of every source, embedded in batches; one ``ImageFaces`` per source, in order.

    A source that cannot be read or decoded is reported in its result (``error``), never raised.
    ``workers`` > 1 spreads the sources over that many single-threaded processes.
    ``nearest_only``: each source is known to hold one face (a pair's photo, a labelled photo):
    only the face nearest the centre, with YuNet's fallback where none reaches its threshold.
    """
    items = list(sources)
    if workers > 1 and len(items) > workers:  # the pool is kept: worth it for a few images each
        items = [_portable(source) for source in items]
        return _run_all_faces_pool(pipeline, items, batch_size, workers, progress, nearest_only)
    # a few images are not worth the helper thread (and its network session, built once)
    overlap = _spare_cores() > 0 and len(items) > batch_size
    return _embed_all_faces(pipeline, items, 0, batch_size, progress, overlap=overlap, nearest_only=nearest_only)


def _label(source, index: int) -> str:
    return str(source) if isinstance(source, (str, Path)) or hasattr(source, "__fspath__") else f"<{index}>"


class _Unreadable:
    """A source read in this process that could not be: the reason travels to the worker."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _portable(source):
    """The source as it can travel to a worker process: paths, bytes and arrays as they are;
    anything else (a file object, a memoryview, a wrong type) read here, or why it cannot be."""
    if isinstance(source, (np.ndarray, str, Path, bytes, bytearray)) or hasattr(source, "__fspath__"):
        return source
    try:
        return _read_source(source)[0]
    except (OSError, BadInput) as exc:
        return _Unreadable(_read_error(exc))


def _read_error(exc: OSError | BadInput) -> str:
    return str(exc) if isinstance(exc, BadInput) else f"cannot read ({exc.strerror or exc})"


def _read_source(source) -> tuple[object, str | None]:
    """The input as load_image takes it, and its sha256 when it is encoded bytes.

    Raises OSError for a file that cannot be read, BadInput for anything that is not an image source.
    """
    if isinstance(source, np.ndarray):
        return source, None
    if isinstance(source, _Unreadable):
        raise BadInput(source.reason)
    if isinstance(source, (str, Path)) or hasattr(source, "__fspath__"):
        try:
            data = Path(source).read_bytes()
        except ValueError as exc:  # e.g. a NUL byte in the path
            raise BadInput(f"not a usable path ({exc})") from None
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif hasattr(source, "read"):
        data = source.read()
        if not isinstance(data, (bytes, bytearray)):
            raise BadInput("file object must be opened in binary mode ('rb')")
        data = bytes(data)
    else:
        raise BadInput(f"cannot read an image from a {type(source).__name__}; "
                       "give a path, bytes, a file or an array")
    return data, hashlib.sha256(data).hexdigest()


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
    embedder = pipeline.embedder  # built here, never first in the helper thread
    results: list[ImageFaces] = []
    waiting: list[tuple[int, np.ndarray, list]] = []  # (index in results, image, detections)
    waiting_faces = waiting_bytes = 0

    def embed_batch(batch: list[tuple[int, np.ndarray, list]]) -> list[tuple[int, list, np.ndarray]]:
        vectors = embedder.embed_prepared([embedder.prepare(image, d) for _, image, found in batch for d in found])
        out, start = [], 0
        for index, _, found in batch:
            out.append((index, found, vectors[start : start + len(found)]))
            start += len(found)
        return out

    def collect(done: list[tuple[int, list, np.ndarray]]) -> None:
        for index, found, vectors in done:
            r = results[index]
            faces = tuple(Embedding(v, model, d) for v, d in zip(vectors, found))
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
            label = _label(source, offset + position)
            try:
                data, sha = _read_source(source)
            except (OSError, BadInput) as exc:
                results.append(ImageFaces(label, error=_read_error(exc), signature=signature))
                _tick(progress)
                continue
            try:
                image = load_image(data)
                detections = pipeline.detect(image, expect_face=nearest_only)
                if nearest_only and len(detections) > 1:
                    detections = [detections[nearest_center(detections, image.shape)]]
            except FaceprintError as exc:
                results.append(ImageFaces(label, error=str(exc).replace("<bytes>: ", ""), sha256=sha,
                                          signature=signature))
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
    assert _WORKER_PIPELINE is not None
    return _embed_all_faces(_WORKER_PIPELINE, sources, offset, batch_size, nearest_only=nearest_only)


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

    return _pooled(pipeline, workers, submit_all)


def _tick(progress: Callable[[int], None] | None) -> None:
    if progress is not None:
        progress(1)


def iter_image_files(root: Path) -> Iterable[Path]:
    """Image files under a folder, sorted, recursively."""
    from faceprint.images import is_image_path

    return sorted(p for p in Path(root).rglob("*") if is_image_path(p))

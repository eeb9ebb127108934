"""Worker processes, each with its own single-threaded pipeline, kept for reuse between calls.

Spawning workers and loading their models costs seconds; keeping the pool makes repeated
``embed_many`` calls (a service, a benchmark, a loop over folders) pay it once. Workers are
spawned, not forked (ONNX Runtime's thread pools do not survive a fork), so each one imports the
caller's main module again: a main module it cannot import (a script read from standard input)
is refused before any process starts, with one line that says what to do.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, Callable, TypeVar

from faceprint.errors import BadInput
from faceprint.pipeline.pipeline import Pipeline, PipelineConfig

log = logging.getLogger(__name__)

T = TypeVar("T")

# What to do when worker processes cannot start (the end of every such message).
_WHAT_TO_DO = ("run the code from a .py file whose work starts under `if __name__ == \"__main__\":`, "
               "or use workers=1")

# (config, workers) -> (the pipeline signature its workers were started for, the pool)
_POOLS: dict[tuple[PipelineConfig, int], tuple[str, Any]] = {}
# pools that finished at least one call: a later break is a worker that died, not one that never started
_DELIVERED: set[int] = set()

_WORKER_PIPELINE: Pipeline | None = None


def _init_worker(config: PipelineConfig) -> None:
    """A worker's start: one thread, and the pipeline of ``config``."""
    global _WORKER_PIPELINE
    # One thread per process: yuface's OpenMP and ONNX Runtime otherwise each spin a thread per
    # core, and the processes starve each other (measured: 5 instead of 35 images/s each).
    os.environ["FACEPRINT_THREADS"] = "1"
    os.environ["OMP_NUM_THREADS"] = "1"
    _WORKER_PIPELINE = Pipeline(config)


def worker_pipeline() -> Pipeline:
    """The pipeline of this worker process (for the functions a pool runs).

    Returns:
        The pipeline ``worker_pool`` started this process with.

    Raises:
        RuntimeError: when called outside a worker of ``worker_pool``.
    """
    if _WORKER_PIPELINE is None:
        raise RuntimeError("worker_pipeline() is only available in a process of worker_pool()")
    return _WORKER_PIPELINE


def worker_pool(pipeline: Pipeline, workers: int) -> Any:
    """A process pool of ``workers`` single-threaded pipelines for ``pipeline``'s config, kept for reuse.

    A pool whose workers loaded what the pipeline's signature no longer names (an .onnx model file
    written again at the same path) is replaced. Pools are shut down at interpreter exit, or by
    ``shutdown_worker_pools()``. No process starts before a task is submitted.

    Args:
        pipeline: the pipeline whose configuration each worker loads.
        workers: how many processes.

    Returns:
        A ``concurrent.futures.ProcessPoolExecutor``.

    Raises:
        BadInput: the worker processes could not start: the main module cannot be imported again
            by them (a script read from standard input).
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
    _check_workers_can_start()
    if not _POOLS:
        atexit.register(shutdown_worker_pools)
    context = multiprocessing.get_context("spawn")  # ONNX Runtime's thread pools do not survive a fork
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(pipeline.config,))
    _POOLS[key] = (signature, pool)
    return pool


def _check_workers_can_start() -> None:
    """Refuse, in one line, a pool whose spawned workers would die on start.

    A spawned worker first runs the caller's main module again, from its file: a main module
    read from standard input (``python - <<EOF``) has no file to run. And a main module without
    an ``if __name__ == "__main__":`` guard, run again in a worker, asks for workers itself
    while that worker is starting: the worker then ends quietly, and the parent reports it
    (``run_on_pool``) instead of every worker printing a traceback.
    """
    import multiprocessing

    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise SystemExit(1)  # this process is a worker still starting: its parent says why
    main = sys.modules.get("__main__")
    if main is None or getattr(getattr(main, "__spec__", None), "name", None) is not None:
        return  # run with -m: workers import it by name
    path = getattr(main, "__file__", None)
    if path is None:
        return  # an interactive session or -c: workers start without it
    if not os.path.isabs(path):
        from multiprocessing import process

        path = os.path.join(process.ORIGINAL_DIR or os.getcwd(), path)
    if not os.path.isfile(path):
        raise BadInput(f"worker processes cannot start: they run the main module again, and {main.__file__!r} "
                       f"is not a file they can read; {_WHAT_TO_DO}")


def _drop_pool(key: tuple[PipelineConfig, int]) -> None:
    """Forget a kept pool; its workers end once done with what they were given (not waited for)."""
    kept = _POOLS.pop(key, None)
    if kept is not None:
        _DELIVERED.discard(id(kept[1]))
        kept[1].shutdown(wait=False)


def shutdown_worker_pools() -> None:
    """Stop every kept worker pool, waiting for its processes to end."""
    while _POOLS:
        _, (_, pool) = _POOLS.popitem()
        _DELIVERED.discard(id(pool))
        pool.shutdown(wait=True, cancel_futures=True)


def run_on_pool(pipeline: Pipeline, workers: int, submit_all: Callable[[Any], T]) -> T:
    """Run ``submit_all(pool)`` on the kept pool of ``pipeline``'s config.

    A pool broken by a dead worker is dropped and the call retried once on a fresh one.

    Args:
        pipeline: whose configuration the workers load.
        workers: how many processes.
        submit_all: submits the tasks to the pool it is given and returns their results.

    Returns:
        What ``submit_all`` returns.

    Raises:
        BadInput: the workers could not start (see ``worker_pool``), or died before finishing any
            call twice in a row: the message says why and what to do.
        BrokenProcessPool: a pool that had worked broke twice in a row.
    """
    from concurrent.futures.process import BrokenProcessPool

    for attempt in range(2):
        pool = worker_pool(pipeline, workers)
        try:
            result = submit_all(pool)
        except BrokenProcessPool as exc:
            started = id(pool) in _DELIVERED
            _drop_pool((pipeline.config, workers))
            if attempt and not started:
                raise BadInput(f"worker processes could not start: they ended before doing any work; {_WHAT_TO_DO}") \
                    from exc
            if attempt:
                raise
            log.warning("a worker process %s; retrying on a fresh pool",
                        "died" if started else "ended before doing any work")
        else:
            _DELIVERED.add(id(pool))
            return result
    raise AssertionError("unreachable")  # the loop returns or raises

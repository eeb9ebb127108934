"""Micro-batching with a bounded queue: requests that arrive together are processed together.

Each request puts its item on an ``asyncio.Queue`` of fixed size and awaits a future. One task
takes the first waiting item, gathers whatever else arrives within ``max_wait_s`` (up to
``max_batch`` items) and runs the whole batch in the engine's thread, off the event loop. While a
batch runs, new requests queue up and form the next batch. A full queue refuses at once with
``Busy`` (the service answers 503 with ``Retry-After``) instead of growing memory.

Items may be submitted on behalf of owners (a client's key, its address): each owner may have at
most ``max_per_owner`` items queued or running at once, so that one client cannot take the whole
queue; beyond it that client alone gets ``Busy``, and the others are still served.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from concurrent.futures import Executor
from typing import Callable, Generic, Sequence, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class Busy(Exception):
    """The queue is full: try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: int, waiting: int, why: str = "") -> None:
        why = why or f"the server is busy ({waiting} images waiting)"
        super().__init__(f"{why}; try again in {retry_after} s")
        self.retry_after = retry_after


class Batcher(Generic[T, R]):
    """Gathers items into batches and runs ``process`` on each batch in ``executor``.

    Args:
        process: takes a list of items and returns one result per item, in order; a result that
            is an exception is raised to that item's caller only.
        executor: where ``process`` runs (a one-thread pool keeps the models on one thread).
        max_batch: most items in one batch.
        max_wait_s: how long the first item waits for others to join its batch.
        max_queue: most items waiting (not counting the batch being processed).
        max_per_owner: most items one owner may have queued or being processed; None: ``max_queue``.
    """

    def __init__(self, process: Callable[[list[T]], Sequence[R | BaseException]], executor: Executor,
                 max_batch: int = 16, max_wait_s: float = 0.005, max_queue: int = 64,
                 max_per_owner: int | None = None) -> None:
        self.process = process
        self.executor = executor
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self.max_per_owner = max_per_owner if max_per_owner is not None else max_queue
        self.owned: Counter[str] = Counter()  # items queued or being processed, per owner
        self._queue: asyncio.Queue[tuple[T, asyncio.Future]] | None = None
        self._task: asyncio.Task | None = None
        self._seconds_per_item = 0.05  # running estimate, for Retry-After
        self.batches = 0  # batches processed so far
        self.items = 0  # items processed so far
        self.running = 0  # items in the batch being processed now

    async def start(self) -> None:
        """Start the batching task on the running loop."""
        self._queue = asyncio.Queue(self.max_queue)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="faceprint-batcher")

    async def stop(self) -> None:
        """Stop the task; items still waiting get ``Busy``."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        while self._queue is not None and not self._queue.empty():
            _, future = self._queue.get_nowait()
            if not future.done():
                future.set_exception(Busy(1, 0))

    @property
    def waiting(self) -> int:
        """Items in the queue (not counting the batch being processed)."""
        return self._queue.qsize() if self._queue is not None else 0

    def retry_after(self, extra: int = 0) -> int:
        """Seconds until the queue has likely drained, for a ``Retry-After`` header.

        Args:
            extra: items about to be queued, counted as waiting.

        Returns:
            The estimate, at least 1.
        """
        return max(1, math.ceil((self.waiting + extra) * self._seconds_per_item))

    async def submit(self, item: T) -> R:
        """Queue one item and wait for its result.

        Args:
            item: what ``process`` takes one of.

        Returns:
            Its result.

        Raises:
            Busy: the queue is full.
            Exception: the exception ``process`` gave for this item.
        """
        return (await self.submit_many([item]))[0]

    async def submit_many(self, items: Sequence[T], owners: Sequence[str] = ()) -> list[R]:
        """Queue several items together (all or none) and wait for their results.

        Args:
            items: what ``process`` takes.
            owners: whom they are counted against (e.g. ``key:<id>``, ``addr:<ip>``); each may have
                at most ``max_per_owner`` items queued or being processed.

        Returns:
            One result per item, in order.

        Raises:
            Busy: the queue has no room for all of them, or one of ``owners`` would go beyond its
                share (none is queued).
            RuntimeError: ``start()`` was not called, or the batching task has stopped.
            Exception: the first exception ``process`` gave for one of them.
        """
        if self._queue is None or self._task is None:
            raise RuntimeError("Batcher.start() was not called")
        if self._task.done():
            raise RuntimeError("the batching task has stopped")
        for owner in owners:
            if self.owned[owner] + len(items) > self.max_per_owner:
                log.info("%d images refused: %s has %d queued (share %d)", len(items), owner, self.owned[owner],
                         self.max_per_owner)
                own_wait = max(1, math.ceil(self.owned[owner] * self._seconds_per_item))
                raise Busy(own_wait, self.waiting,
                           f"this client has {self.owned[owner]} images waiting already, the most one client may have "
                           f"is {self.max_per_owner}")
        if self.waiting + len(items) > self.max_queue:
            raise Busy(self.retry_after(len(items)), self.waiting)
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in items]
        for item, future in zip(items, futures):
            self._queue.put_nowait((item, future))
        for owner in owners:
            self.owned[owner] += len(items)
        try:
            return list(await asyncio.gather(*futures))
        except BaseException:
            for future in futures:  # the caller is gone or one item failed: drop the rest quietly
                if not future.done():
                    future.cancel()
                elif not future.cancelled():
                    future.exception()
            raise
        finally:
            for owner in owners:
                self.owned[owner] -= len(items)
                if self.owned[owner] <= 0:
                    del self.owned[owner]

    async def _run(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            deadline = loop.time() + self.max_wait_s
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                    continue
                except asyncio.QueueEmpty:
                    pass
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                except asyncio.TimeoutError:
                    break
            live = [(item, future) for item, future in batch if not future.done()]
            if not live:
                continue
            started = time.perf_counter()
            self.running = len(live)
            try:
                results = await loop.run_in_executor(self.executor, self.process, [item for item, _ in live])
                if len(results) != len(live):
                    raise RuntimeError(f"batch of {len(live)} gave {len(results)} results")
            except Exception as exc:  # a bug in process(): fail this batch, keep serving
                log.exception("batch of %d failed", len(live))
                results = [exc] * len(live)
            finally:
                self.running = 0
            elapsed = time.perf_counter() - started
            self._seconds_per_item = 0.8 * self._seconds_per_item + 0.2 * elapsed / len(live)
            self.batches += 1
            self.items += len(live)
            for (_, future), result in zip(live, results):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)

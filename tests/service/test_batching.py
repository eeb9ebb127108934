"""The engine's queue: requests that arrive together are batched together, a full queue refuses
at once, and the service answers it 503 with Retry-After."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

pytest.importorskip("fastapi", reason="the service needs its extra: pip install 'faceprint[serve]'")
pytest.importorskip("multipart", reason="the service needs python-multipart: pip install 'faceprint[serve]'")

from service_helpers import assert_error  # noqa: E402

from faceprint.service.batching import Batcher, Busy  # noqa: E402


def test_batcher_groups_requests_that_arrive_together():
    from concurrent.futures import ThreadPoolExecutor

    seen: list[int] = []

    def process(items):
        seen.append(len(items))
        time.sleep(0.05)
        return [i * 2 for i in items]

    async def main():
        batcher = Batcher(process, ThreadPoolExecutor(1), max_batch=8, max_wait_s=0.02, max_queue=32)
        await batcher.start()
        results = await asyncio.gather(*(batcher.submit(i) for i in range(20)))
        await batcher.stop()
        return results

    assert asyncio.run(main()) == [i * 2 for i in range(20)]
    assert sum(seen) == 20 and max(seen) == 8 and len(seen) <= 4


def test_batcher_refuses_when_full():
    from concurrent.futures import ThreadPoolExecutor

    gate = threading.Event()

    def process(items):
        gate.wait(5)
        return items

    async def main():
        batcher = Batcher(process, ThreadPoolExecutor(1), max_batch=1, max_wait_s=0.0, max_queue=2)
        await batcher.start()
        first = asyncio.ensure_future(batcher.submit(1))
        while batcher.running == 0:
            await asyncio.sleep(0.01)
        queued = [asyncio.ensure_future(batcher.submit(i)) for i in (2, 3)]
        await asyncio.sleep(0.01)
        with pytest.raises(Busy) as refused:
            await batcher.submit(4)
        assert refused.value.retry_after >= 1
        gate.set()
        done = await asyncio.gather(first, *queued)
        await batcher.stop()
        return done

    assert asyncio.run(main()) == [1, 2, 3]


def test_full_queue_answers_503_with_retry_after(tmp_path, astronaut, running_service):
    photo = astronaut.read_bytes()
    with running_service(tmp_path, max_queue=1, max_batch=1) as started:
        client, key = started["client"], started["reader"]["X-API-Key"]
        svc = client.app.state.service
        gate = threading.Event()
        svc.engine.executor.submit(gate.wait, 30)  # the engine is busy with something long
        answers: list = []

        def call():
            answers.append(client.post("/v1/detect", files={"image": ("a.png", photo)}, headers={"X-API-Key": key}))

        threads = [threading.Thread(target=call) for _ in range(2)]
        threads[0].start()
        deadline = time.monotonic() + 10
        while svc.batcher.running == 0 and time.monotonic() < deadline:  # first one taken into a batch
            time.sleep(0.01)
        threads[1].start()
        while svc.batcher.waiting == 0 and time.monotonic() < deadline:  # second one waits in the queue
            time.sleep(0.01)
        refused = client.post("/v1/detect", files={"image": ("a.png", photo)}, headers={"X-API-Key": key})
        gate.set()
        for t in threads:
            t.join(30)
    assert_error(refused, 503, "busy")
    assert int(refused.headers["retry-after"]) >= 1
    assert [a.status_code for a in answers] == [200, 200]
    assert all(len(a.json()["faces"]) == 1 for a in answers)

"""Worker pools: kept per configuration and signature, replaced when broken, and refused in one
line where the workers could not start."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


def test_a_worker_pool_is_replaced_when_the_signature_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    from faceprint.pipeline import pools
    from faceprint.pipeline.pipeline import Pipeline, PipelineConfig

    monkeypatch.setattr(pools, "_POOLS", {})
    pipe = Pipeline(PipelineConfig(detector="hog"))
    stamp = ["model.onnx|1000|1"]
    monkeypatch.setattr(pipe, "signature", lambda: stamp[0])
    first = pools.worker_pool(pipe, 2)  # no process starts before a task is submitted
    assert pools.worker_pool(pipe, 2) is first
    stamp[0] = "model.onnx|1000|2"  # the model file written again at the same path
    second = pools.worker_pool(pipe, 2)
    assert second is not first and first._shutdown_thread  # the stale pool was shut down
    assert list(pools._POOLS.values()) == [(stamp[0], second)]
    pools.shutdown_worker_pools()


def test_a_broken_pool_is_shut_down_when_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    from concurrent.futures.process import BrokenProcessPool

    from faceprint.pipeline import pools
    from faceprint.pipeline.pipeline import Pipeline, PipelineConfig

    monkeypatch.setattr(pools, "_POOLS", {})
    made = []

    def submit_all(pool):
        made.append(pool)
        if len(made) == 1:
            raise BrokenProcessPool("a worker died")
        return "done"

    assert pools.run_on_pool(Pipeline(PipelineConfig(detector="hog")), 2, submit_all) == "done"
    assert made[0] is not made[1] and made[0]._shutdown_thread and not made[1]._shutdown_thread
    pools.shutdown_worker_pools()


def test_workers_from_a_script_on_standard_input_fail_in_one_line(photos: list[Path]) -> None:
    script = textwrap.dedent(f"""
        import sys
        import faceprint
        try:
            faceprint.embed_many({[str(p) for p in photos]!r}, workers=2)
        except faceprint.FaceprintError as exc:
            print(exc, file=sys.stderr)
            sys.exit(3)
    """)
    done = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "worker processes cannot start" in lines[0] and "workers=1" in lines[0]
    assert 'if __name__ == "__main__":' in lines[0]
    assert "spawn" not in done.stderr and "Traceback" not in done.stderr and "BrokenProcessPool" not in done.stderr

"""A process killed (SIGKILL) in the middle of a re-cluster or a merge leaves an SQLite gallery that
opens, passes ``check`` and holds the people as they were before (each is one transaction)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from faceprint import Gallery

# the child stops inside the transaction (at the given method of the people store) and waits to be killed
CHILD = textwrap.dedent("""
    import sys, time
    from faceprint import Gallery
    from faceprint.gallery import sqlite_people

    def stop(*args, **kwargs):
        print("inside", flush=True)
        time.sleep(120)

    setattr(sqlite_people.SqlitePeople, sys.argv[2], stop)
    with Gallery(sys.argv[1]) as g:
        if sys.argv[3] == "recluster":
            g.people.recluster()
        else:
            people = g.people.list()
            g.people.merge(people[0].id, [people[1].id])
    print("finished", flush=True)
""")


def _clustered(people: int, per_person: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((people, 128))
    vectors = np.repeat(centres / np.linalg.norm(centres, axis=1, keepdims=True), per_person, axis=0)
    vectors = vectors + rng.standard_normal(vectors.shape) * 0.015
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def _state(path: Path) -> list[tuple[int, int | None, bool]]:
    with Gallery(path) as g:
        report = g.check()
        assert report.ok, report.problems
        return [(f.id, f.person_id, f.confirmed) for f in g.faces()]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
@pytest.mark.parametrize("where,what", [("_drop_empty_unnamed", "recluster"), ("_set_apart", "merge")])
def test_sigkill_in_the_middle_leaves_a_sound_gallery(tmp_path: Path, where: str, what: str) -> None:
    path = tmp_path / "g.db"
    with Gallery(path) as g:
        # every face its own person (a tiny threshold), so that a re-cluster moves hundreds of them
        report = g.people.add_embedded(_clustered(40, 10), [f"photo {i}" for i in range(400)], threshold=0.001)
        assert report.new_people == 400
    before = _state(path)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), where, what], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        line = child.stdout.readline().strip()
        assert line == "inside", line
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
    assert _state(path) == before  # opens, passes check, nothing half done
    with Gallery(path) as g:  # and the same change, run to the end, goes through
        if what == "recluster":
            done = g.people.recluster()
            assert done.moved >= 360 and done.people == 40
        else:
            first, second = g.people.list()[:2]
            assert g.people.merge(first.id, [second.id]).faces == 2
        assert g.check().ok

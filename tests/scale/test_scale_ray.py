"""`faceprint index` through Ray Data: a few hundred real LFW photos give the vectors
`embed_many` gives (within 1e-5); a run killed halfway and started again redoes no finished photo
and loses none; bad files are recorded with their error. Skips where Ray is not installed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter

import numpy as np
import pytest

pytest.importorskip("ray")
pytest.importorskip("pyarrow")

PHOTOS = 200


@pytest.fixture(scope="module")
def photo_folder(lfw, tmp_path_factory):
    """200 LFW photos in people/<name>/ folders, plus a corrupt file and a truncated JPEG."""
    root = tmp_path_factory.mktemp("index_photos")
    files = sorted(lfw.glob("*/*.jpg"))[:PHOTOS]
    for path in files:
        (root / path.parent.name).mkdir(exist_ok=True)
        shutil.copy(path, root / path.parent.name / path.name)
    (root / "bad").mkdir()
    (root / "bad" / "broken.jpg").write_bytes(b"this is not a JPEG")
    (root / "bad" / "truncated.jpg").write_bytes(files[0].read_bytes()[:600])
    return root


def _start(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "faceprint.cli.main", "index", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _kill_session(leader: subprocess.Popen) -> None:
    """SIGKILL the run and every process of its session (the driver and the Ray it started)."""
    import psutil

    members = [p for p in psutil.process_iter(["pid"]) if _session(p.pid) == leader.pid]
    for process in members:
        try:
            process.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    leader.wait(timeout=60)
    psutil.wait_procs(members, timeout=30)


def _session(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:
        return None


@pytest.mark.slow
def test_index_equals_embed_many_and_resumes_after_a_kill(photo_folder, tmp_path):
    import faceprint
    from faceprint.pipeline.batch import iter_image_files
    from faceprint.scale.parquet_io import IndexFolder, read_index

    out = tmp_path / "index"
    files = [str(p) for p in iter_image_files(photo_folder)]
    assert len(files) == PHOTOS + 2

    # 1. a run killed once a few parts are written
    first = _start(photo_folder, "--out", out, "--files-per-task", "8")
    deadline = time.monotonic() + 300
    while len(IndexFolder(out).part_files()) < 3 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert first.poll() is None, f"the run ended before it could be killed: {first.communicate()[1][-2000:]}"
    _kill_session(first)
    before = read_index(out)
    done_paths = set(before["path"].to_pylist())
    assert 0 < len(done_paths) < len(files)

    # 2. started again: goes on, redoes nothing finished
    second = subprocess.run([sys.executable, "-m", "faceprint.cli.main", "index", photo_folder, "--out", out],
                            capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    summary = json.loads(second.stdout)
    assert summary["photos_done_before"] == len(done_paths)
    assert summary["photos_indexed"] == len(files) - len(done_paths)
    assert summary["errors"] == 2 and summary["photos_listed"] == len(files)

    table = read_index(out)
    rows = table.to_pylist()
    assert {r["path"] for r in rows} == set(files)  # none lost
    per_photo = Counter(r["path"] for r in rows)
    for path, count in per_photo.items():  # none done twice: each photo's rows are its faces, once each
        faces = sorted(r["face"] for r in rows if r["path"] == path)
        assert faces == (list(range(count)) if faces[0] >= 0 else [-1]), path

    # 3. the same numbers as the single-process path
    reference = {r.source: r for r in faceprint.embed_many(files)}
    compared = 0
    for row in rows:
        expected = reference[row["path"]]
        if expected.error is not None:
            assert row["error"] == expected.error and row["face"] == -1 and not row["vector"]
            continue
        assert row["sha256"] == expected.sha256 and row["faces"] == len(expected.faces)
        if row["face"] < 0:
            assert not expected.faces
            continue
        face = expected.faces[row["face"]]
        assert np.abs(np.asarray(row["vector"], np.float32) - face.vector).max() <= 1e-5
        assert np.allclose(row["box"], face.detection.box.as_list(), atol=1e-3)
        assert np.allclose(np.reshape(row["landmarks"], (5, 2)), face.detection.landmarks, atol=1e-3)
        assert row["signature"] == expected.signature and row["model"] == "dlib"
        compared += 1
    assert compared >= PHOTOS  # every photo's faces (some photos hold several)
    bad = {r["path"].rsplit("/", 1)[-1]: r["error"] for r in rows if r["error"]}
    assert set(bad) == {"broken.jpg", "truncated.jpg"}


@pytest.mark.slow
def test_index_refuses_another_pipeline_and_reruns_as_a_no_op(photo_folder, tmp_path):
    import ray

    import faceprint
    from faceprint.errors import BadInput
    from faceprint.scale.parquet_io import read_index
    from faceprint.scale.ray_index import index_photos

    files = sorted(photo_folder.glob("A*/*.jpg"))[:12]
    out = tmp_path / "small"
    try:
        gallery = tmp_path / "people.db"
        first = index_photos(files, out, files_per_task=4, gallery=str(gallery), names_root=photo_folder)
        assert first["photos_indexed"] == len(files) and first["faces"] >= len(files)
        assert first["gallery_added"] == len(files)  # each photo's face nearest the centre, named by folder
        with faceprint.Gallery(gallery) as people:
            assert {s.name for s in people.subjects()} == {p.parent.name for p in files}
        again = index_photos(files, out, files_per_task=4, gallery=str(gallery), names_root=photo_folder)
        assert again["photos_done_before"] == len(files) and again["photos_indexed"] == 0 and again["parts"] == 0
        assert again["gallery_added"] == 0
        # a copy of an indexed photo at a new path: that photo's rows under its own path, not embedded again
        copy = tmp_path / "copies" / files[0].name
        copy.parent.mkdir()
        shutil.copy(files[0], copy)
        third = index_photos([*files, copy], out, files_per_task=4)
        assert (third["photos_same_content"], third["photos_indexed"], third["photos_done_before"]) == (1, 0, len(files))
        assert third["faces"] == 0 and third["parts"] == 1  # nothing embedded; the copy's rows in one part
        rows = read_index(out).to_pylist()
        of = lambda path: [{k: v for k, v in r.items() if k != "path"} for r in rows if r["path"] == str(path)]  # noqa: E731
        assert of(copy) and of(copy) == of(files[0])
        with pytest.raises(BadInput, match="another --out folder"):
            index_photos(files, out, flip=False)
    finally:
        ray.shutdown()


def test_index_refuses_files_per_task_0_before_starting_ray(tmp_path):
    import ray
    from typer.testing import CliRunner

    from faceprint.cli.main import app
    from faceprint.errors import BadInput
    from faceprint.scale.ray_index import index_photos

    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"never read")
    with pytest.raises(BadInput, match="files_per_task must be at least 1"):
        index_photos([photo], tmp_path / "out", files_per_task=0)
    assert not ray.is_initialized() and not (tmp_path / "out").exists()
    run = CliRunner().invoke(app, ["index", str(photo), "--out", str(tmp_path / "out"), "--files-per-task", "0"])
    assert run.exit_code == 2 and "--files-per-task" in run.output and "Traceback" not in run.output
    assert not ray.is_initialized()


def test_a_bad_ray_address_is_a_one_line_error_and_the_gallery_is_closed(lfw, tmp_path, monkeypatch):
    """Ray cannot reach the cluster (ray.init raises ConnectionError after its timeout, 30 s for a
    ray:// address): BadInput naming the address, and the gallery opened before it is closed."""
    import ray
    from typer.testing import CliRunner

    import faceprint.gallery
    from faceprint.cli.main import app

    def unreachable(*args, **kwargs):
        raise ConnectionError("ray client connection timeout")

    monkeypatch.setattr(ray, "init", unreachable)
    closed = []
    real_close = faceprint.gallery.Gallery.close
    monkeypatch.setattr(faceprint.gallery.Gallery, "close", lambda self: (closed.append(self), real_close(self)))
    photos = tmp_path / "photos"
    shutil.copytree(lfw / "Zico", photos / "Zico")
    run = CliRunner().invoke(app, ["index", str(photos), "--out", str(tmp_path / "out"), "--ray", "ray://head:10001",
                                   "--gallery", str(tmp_path / "people.db")])
    assert run.exit_code == 1, run.output
    assert "cannot join the Ray cluster at ray://head:10001 (ray client connection timeout)" in run.output
    assert "Traceback" not in run.output and isinstance(run.exception, SystemExit)
    assert len(closed) == 1
    assert not ray.is_initialized()


@pytest.mark.slow
def test_index_shuts_down_the_ray_it_started_when_it_fails(tmp_path, monkeypatch):
    import ray
    import ray.data

    from faceprint.scale.ray_index import index_photos

    def broken(*args, **kwargs):
        raise RuntimeError("the dataset could not be built")

    monkeypatch.setattr(ray.data, "from_items", broken)
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"never read")
    assert not ray.is_initialized()
    with pytest.raises(RuntimeError, match="could not be built"):
        index_photos([photo], tmp_path / "out", workers=1)
    assert not ray.is_initialized()  # the local Ray this call started is shut down


@pytest.mark.slow
def test_bad_files_get_the_errors_embed_many_gives(lfw, tmp_path, monkeypatch):
    """The same error text as the single-process path, file for file (empty, not an image,
    truncated, too many pixels)."""
    import faceprint
    from faceprint.scale.parquet_io import read_index
    from faceprint.scale.ray_index import index_photos

    good = sorted((lfw / "Zico").glob("*.jpg"))[0]
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.jpg").write_bytes(b"this is not a JPEG")
    (folder / "truncated.jpg").write_bytes(good.read_bytes()[:600])
    shutil.copy(good, folder / "large.jpg")
    files = sorted(str(p) for p in folder.iterdir())
    monkeypatch.setenv("FACEPRINT_MAX_PIXELS", str(250 * 250 - 1))  # LFW photos are 250 x 250
    expected = {r.source: r.error for r in faceprint.embed_many(files)}
    assert all(expected.values()), expected
    index_photos(files, tmp_path / "out", workers=1, files_per_task=2)
    got = {r["path"]: r["error"] for r in read_index(tmp_path / "out").to_pylist()}
    assert got == expected


def test_a_local_ray_that_does_not_come_up_is_tried_again_and_its_processes_killed(monkeypatch):
    """Ray gives its raylet a fixed 30 s to register (CI once missed it on 2 busy cores): the
    failed try's processes are killed and Ray is started again; after the last try, one line."""
    import ray

    from faceprint.errors import FaceprintError
    from faceprint.scale import ray_index

    left_behind: list[subprocess.Popen] = []
    calls = []

    def slow_node(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:  # a raylet that never registered, as Ray leaves it
            left_behind.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"]))
            raise Exception("The current node timed out during startup. This could happen because ...")
        if len(calls) == 2:  # a GCS server that did not write its port file in time
            raise RuntimeError("Timed out waiting for file /tmp/ray/session_x/gcs_server_port_ab12")

    monkeypatch.setattr(ray, "init", slow_node)
    ray_index._start_local_ray(2)  # two CPUs, three tries
    assert len(calls) == 3 and calls[2]["_node_ip_address"] == "127.0.0.1"
    import psutil

    assert not psutil.pid_exists(left_behind[0].pid)  # killed and reaped, not left running for 120 s

    def never(**kwargs):
        raise Exception("The current node timed out during startup.\nmore detail")

    monkeypatch.setattr(ray, "init", never)
    with pytest.raises(FaceprintError, match=r"^Ray did not start on this machine in 2 tries \(The current node "
                                             r"timed out during startup.\); see /tmp/ray"):
        ray_index._start_local_ray(2, attempts=2)

    tries = []

    def refused(**kwargs):  # a failure another try would not mend: one try, then one line
        tries.append(kwargs)
        raise PermissionError("[Errno 13] Permission denied: '/tmp/ray'")

    monkeypatch.setattr(ray, "init", refused)
    with pytest.raises(FaceprintError, match=r"^Ray did not start on this machine \(\[Errno 13\] Permission denied"):
        ray_index._start_local_ray(2)
    assert len(tries) == 1

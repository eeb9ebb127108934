"""Index a folder of photos with Ray Data: list files -> read, hash and validate (tasks) ->
detect, align and embed (an actor pool: models load once per actor, faces embed in batches) ->
Parquet parts written by the driver as batches arrive -> optionally a gallery.

Resumable: a photo whose content hash is in a finished part is not decoded again; bad files are
recorded with their error (and not retried while their content is unchanged). A copy of an
indexed photo at a new path gets the indexed rows under its own path (``photos_same_content``). The vectors are
the single-process path's (``embed_many``): the actor runs the same code on the same bytes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from faceprint.errors import BadInput, FaceprintError, first_line
from faceprint.scale.parquet_io import IndexFolder, result_rows, rows_table

if TYPE_CHECKING:
    import pyarrow as pa

    from faceprint.pipeline.pipeline import PipelineConfig

log = logging.getLogger(__name__)

_DONE_CACHE: dict[str, frozenset[str]] = {}
LOCAL_START_ATTEMPTS = 3
COPY_CHUNK = 2000  # copies of indexed photos per part (their rows are read into memory)


def require_ray() -> None:
    """Raises BadInput naming the extra to install when Ray Data or pyarrow is missing."""
    try:
        import pyarrow  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise BadInput(f"indexing with Ray needs the scale extra ({exc.name} is missing): "
                       "pip install 'faceprint[scale]'") from None


def start_ray(address: str | None = None, num_cpus: int | None = None) -> dict[str, Any]:
    """Join the cluster at ``address``, or start Ray on this machine (loopback only, no dashboard).
    A Ray already initialised in this process is used as it is. ``started`` in the answer says
    whether this call connected or started Ray (so the caller should ``ray.shutdown()`` it).

    Raises:
        BadInput: the cluster at ``address`` could not be reached.
    """
    import ray

    if ray.is_initialized():
        return {"ray": "already running", "cpus": ray.cluster_resources().get("CPU", 0), "started": False}
    if address:
        try:
            ray.init(address=address, logging_level=logging.WARNING)
        except (OSError, ValueError, RuntimeError) as exc:  # ConnectionError, TimeoutError, a bad host name
            first = first_line(exc)
            raise BadInput(f"cannot join the Ray cluster at {address} ({first}): check the address "
                           "(ray://HEAD:10001 or HEAD:6379) and that the cluster is up") from None
        return {"ray": address, "cpus": ray.cluster_resources().get("CPU", 0), "started": True}
    _start_local_ray(num_cpus or os.cpu_count() or 1)
    return {"ray": "local", "cpus": ray.cluster_resources().get("CPU", 0), "started": True}


def _startup_timeout(exc: BaseException) -> bool:
    """Whether Ray gave up waiting for one of its own processes at start-up (the raylet to register,
    the GCS server's port file): what a slow, loaded machine meets, and another try may pass."""
    text = str(exc)
    return "timed out during startup" in text or "Timed out waiting for file" in text


def _start_local_ray(num_cpus: int, attempts: int = LOCAL_START_ATTEMPTS) -> None:
    """``ray.init`` on this machine, tried again when the node does not come up: Ray gives its
    raylet a fixed 30 s to register, and waits a fixed time for its GCS server to write its port
    file, which a loaded machine can miss. The processes a failed try started are killed before
    the next (Ray leaves them running otherwise).

    Raises:
        FaceprintError: Ray did not start in ``attempts`` tries.
    """
    import ray

    for attempt in range(1, attempts + 1):
        before = _child_pids()
        try:
            # the default picks a non-loopback address; a local index needs no traffic beyond loopback
            ray.init(num_cpus=num_cpus, _node_ip_address="127.0.0.1", include_dashboard=False,
                     logging_level=logging.WARNING)
            return
        except Exception as exc:  # Ray raises a bare Exception when its node times out during startup
            ray.shutdown()
            _kill(_child_pids() - before)
            first = first_line(exc)
            if not _startup_timeout(exc):  # another failure: trying again would not help
                raise FaceprintError(f"Ray did not start on this machine ({first}); see "
                                     "/tmp/ray/session_latest/logs") from exc
            if attempt == attempts:
                raise FaceprintError(f"Ray did not start on this machine in {attempts} tries ({first}); "
                                     "see /tmp/ray/session_latest/logs, or pass --address to use a running "
                                     "cluster") from exc
            log.warning("Ray did not start (%s); trying again (%d of %d)", first, attempt + 1, attempts)


def _child_pids() -> set[int]:
    """The processes this one started (and theirs); empty where psutil is not importable (Ray
    ships its own copy, found once Ray is imported)."""
    try:
        import psutil
    except ImportError:
        return set()
    return {child.pid for child in psutil.Process().children(recursive=True)}


def _kill(pids: set[int]) -> None:
    """SIGKILL these processes (a failed Ray start's GCS, raylet and helpers), and wait for them."""
    if not pids:
        return
    import psutil

    processes = []
    for pid in pids:
        try:
            process = psutil.Process(pid)
            process.kill()
            processes.append(process)
        except psutil.Error:
            pass
    psutil.wait_procs(processes, timeout=10)


def _done_set(ref: Any) -> frozenset[str]:
    """The done hashes, fetched once per worker process from the object store."""
    import ray

    key = ref.hex()
    if key not in _DONE_CACHE:
        _DONE_CACHE.clear()
        _DONE_CACHE[key] = ray.get(ref)
    return _DONE_CACHE[key]


def read_and_validate(batch: dict[str, Any], done_ref: Any) -> "pa.Table":
    """Ray task: each path's bytes and content hash, whether it is done already, or why it cannot
    be read. Decoding is left to the actor (``embed_sources``), so a bad image gets the error text
    ``embed_many`` gives it."""
    import pyarrow as pa

    done = _done_set(done_ref)
    rows = []
    for path in batch["path"]:
        path = str(path)
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            rows.append({"path": path, "sha256": None, "data": b"", "error": f"cannot read ({exc.strerror or exc})",
                         "done": False})
            continue
        sha = hashlib.sha256(data).hexdigest()
        if sha in done:
            rows.append({"path": path, "sha256": sha, "data": b"", "error": None, "done": True})
            continue
        rows.append({"path": path, "sha256": sha, "data": data, "error": None, "done": False})
    return pa.Table.from_pylist(rows, schema=pa.schema([("path", pa.string()), ("sha256", pa.string()),
                                                        ("data", pa.binary()), ("error", pa.string()),
                                                        ("done", pa.bool_())]))


class FaceEmbedder:
    """Ray actor: the pipeline's models, loaded once; detects, aligns and embeds a batch of photos
    (``embed_sources``, the code ``embed_many`` runs, on the same bytes)."""

    def __init__(self, config: "PipelineConfig", batch_size: int, threads: int, max_pixels: int) -> None:
        # the driver's image size limit, not the worker machine's environment
        os.environ["FACEPRINT_MAX_PIXELS"] = str(max_pixels)
        if threads:
            # one thread per actor where several share a machine (as embed_many's worker processes)
            os.environ["FACEPRINT_THREADS"] = str(threads)
            os.environ["OMP_NUM_THREADS"] = str(threads)
        from faceprint.pipeline.pipeline import Pipeline

        self.pipeline = Pipeline(config)
        self.signature = self.pipeline.signature()
        self.batch_size = batch_size

    def __call__(self, table: "pa.Table") -> "pa.Table":
        import pyarrow as pa

        from faceprint.pipeline.batch import embed_sources

        rows = table.to_pylist()
        todo = [i for i, row in enumerate(rows) if not row["done"] and row["error"] is None]
        results = dict(zip(todo, embed_sources(self.pipeline, [rows[i]["data"] for i in todo], self.batch_size)))
        model = self.pipeline.config.model
        out, done = [], []
        for i, row in enumerate(rows):
            faces = result_rows(row["path"], results.get(i), row["sha256"], row["error"], model, self.signature)
            out += faces
            done += [row["done"]] * len(faces)
        table = rows_table(out)
        return table.append_column("done", pa.array(done, pa.bool_()))


def _names_for_gallery(paths: Sequence[str], root: Path | None) -> list[str | None]:
    """A face's gallery name: the photo's first folder under PHOTOS (PHOTOS/<name>/...)."""
    names: list[str | None] = []
    for path in paths:
        try:
            parts = Path(path).relative_to(root).parts if root is not None else ()
        except ValueError:
            parts = ()
        names.append(parts[0] if len(parts) > 1 else None)
    return names


def index_photos(
    photos: str | Path | Sequence[str | Path],
    out: str | Path,
    address: str | None = None,
    workers: int | None = None,
    model: str = "dlib",
    detector: str | None = None,
    batch_size: int = 32,
    files_per_task: int = 16,
    gallery: str | None = None,
    names_root: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Index every photo under ``photos`` (a folder, searched recursively, or a list of files)
    into Parquet parts under ``out``; returns a summary.

    Args:
        address: a Ray cluster to join (``ray://host:10001`` or ``host:6379``); None starts Ray here.
        workers: embedding actors (default: one per CPU of the cluster, less one left for the
            read tasks; an actor pool that takes every CPU deadlocks them).
        files_per_task: photos per read task and per actor call; also the size of a part.
        gallery: a gallery (``faceprint.Gallery`` path or URI) to upsert the faces into, each
            photo's face nearest the centre under the name of its folder (PHOTOS/<name>/...).
        names_root: the folder whose sub-folders name the people for ``gallery`` (default:
            ``photos`` when it is a folder).
        progress: called with (photos finished, photos listed) as parts are written.
        **options: PipelineConfig fields (flip, jitter, score_threshold, ...).

    Example:
        >>> summary = index_photos("photos/", "index_out")  # doctest: +SKIP
        >>> summary["faces"], summary["photos_per_second"]  # doctest: +SKIP
    """
    if files_per_task < 1:
        raise BadInput(f"files_per_task must be at least 1, not {files_per_task}")
    if batch_size < 1:
        raise BadInput(f"batch_size must be at least 1, not {batch_size}")
    if workers is not None and workers < 1:
        raise BadInput(f"workers must be at least 1, not {workers}")
    require_ray()
    import ray

    from faceprint import settings
    from faceprint.pipeline.batch import iter_image_files
    from faceprint.pipeline.pipeline import Pipeline, PipelineConfig

    started = time.perf_counter()
    root: Path | None = None
    if isinstance(photos, (str, os.PathLike)):
        root = Path(photos)
        if not root.exists():
            raise BadInput(f"{root}: no such file or folder")
        files = [str(p) for p in iter_image_files(root)] if root.is_dir() else [str(root)]
    else:
        files = [str(p) for p in photos]
    if not files:
        raise BadInput(f"{photos}: no image files found")
    if names_root is not None:
        root = Path(names_root)
    config = PipelineConfig(detector=detector or "", model=model, **options).resolved()
    pipeline = Pipeline(config)
    signature = pipeline.signature()
    folder = IndexFolder(out)
    folder.open(model, signature, asdict(config))
    indexed, parts_before = folder.done()
    target = None
    info: dict[str, Any] = {"started": False}
    try:
        if gallery:
            from faceprint.gallery import Gallery

            target = Gallery(gallery, model=model, **{k: v for k, v in asdict(config).items() if k != "model"})
            if target.signature != signature:
                raise BadInput(f"gallery {gallery} holds pipeline {target.signature}, not {signature}")

        info = start_ray(address, None if address else max(os.cpu_count() or 1, (workers or 1) + 1))
        cpus = int(info["cpus"] or 1)
        actors = workers or max(1, cpus - 1)
        if actors >= cpus:
            log.warning("%d embedding actors on %d CPUs leave none for the read tasks; Ray may stall", actors, cpus)
        threads = 1 if actors > 1 or address else 0

        from ray.data import DataContext

        context = DataContext.get_current()
        context.enable_progress_bars = False  # the driver shows its own progress, per photo
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        done_ref = ray.put(frozenset(indexed))
        dataset = (
            ray.data.from_items([{"path": f} for f in files],
                                override_num_blocks=max(1, -(-len(files) // files_per_task)))
            .map_batches(read_and_validate, batch_size=files_per_task, batch_format="numpy",
                         fn_kwargs={"done_ref": done_ref}, num_cpus=0.5)
            .map_batches(FaceEmbedder, batch_size=files_per_task, batch_format="pyarrow",
                         compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=1,
                         fn_constructor_kwargs={"config": config, "batch_size": batch_size, "threads": threads,
                                                "max_pixels": settings.max_pixels()})
        )
        counts = {"photos_done_before": 0, "photos_indexed": 0, "photos_same_content": 0, "faces": 0, "no_face": 0,
                  "errors": 0, "parts": 0, "gallery_added": 0}
        copies: dict[str, str] = {}  # new path -> content hash indexed already under another path
        finished = 0
        if progress is not None:
            progress(0, len(files))
        try:
            for table in dataset.iter_batches(batch_format="pyarrow", batch_size=None, prefetch_batches=1):
                finished = _write(table, folder, counts, target, root, signature, finished, indexed, copies)
                if progress is not None:
                    progress(finished, len(files))
            _write_copies(copies, folder, counts, target, root, signature)
        except ray.exceptions.RayError as exc:
            first = first_line(exc)
            raise FaceprintError(f"indexing stopped ({first}); the {counts['parts']} part(s) written are kept: "
                                 "run the same command again to go on") from exc
    finally:
        if target is not None:
            target.close()
        if info["started"]:
            ray.shutdown()  # a Ray this call started (or joined) is not left running behind it
    seconds = time.perf_counter() - started
    return {"photos_listed": len(files), **counts, "parts_before": parts_before, "out": str(Path(out)),
            "model": model, "signature": signature, "workers": actors, "ray": info["ray"], "cpus": cpus,
            "seconds": round(seconds, 2),
            "photos_per_second": round(counts["photos_indexed"] / seconds, 2) if seconds else None}


def _write(table: "pa.Table", folder: IndexFolder, counts: dict[str, int], target: Any, root: Path | None,
           signature: str, finished: int, indexed: dict[str, set[str]], copies: dict[str, str]) -> int:
    """One batch from the actors: the new rows as a part, counted (and upserted); returns the
    number of photos finished so far. A skipped photo (its content is indexed) whose path is not
    in the index yet goes in ``copies``, to get the indexed rows under its path."""
    skipped = table.filter(table["done"]).select(["path", "sha256"]).to_pylist()
    skipped_paths = {r["path"] for r in skipped}
    new = table.filter(_not(table["done"])).drop_columns(["done"])
    for row in skipped:
        if row["path"] not in indexed.get(row["sha256"], ()):
            copies[row["path"]] = row["sha256"]
    counts["photos_done_before"] += len(skipped_paths - copies.keys())
    if folder.write_part(new) is not None:
        counts["parts"] += 1
    photos_new = set(new["path"].to_pylist())
    counts["photos_indexed"] += len(photos_new)
    face = new["face"].to_numpy()
    errors = new["error"].is_valid().to_numpy(zero_copy_only=False)
    counts["faces"] += int((face >= 0).sum())
    counts["errors"] += int(errors.sum())
    counts["no_face"] += int(((face < 0) & ~errors).sum())
    if target is not None:
        counts["gallery_added"] += _upsert(target, new, root, signature)
    return finished + len(photos_new) + len(skipped_paths)


def _write_copies(copies: dict[str, str], folder: IndexFolder, counts: dict[str, int], target: Any,
                  root: Path | None, signature: str) -> None:
    """Photos whose content is indexed under another path get that path's rows under their own,
    ``COPY_CHUNK`` photos a part (counted in ``photos_same_content`` only: nothing was embedded)."""
    paths = list(copies)
    for start in range(0, len(paths), COPY_CHUNK):
        same = folder.copied_rows({p: copies[p] for p in paths[start:start + COPY_CHUNK]})
        if folder.write_part(same) is not None:
            counts["parts"] += 1
        if target is not None:
            counts["gallery_added"] += _upsert(target, same, root, signature)
        counts["photos_same_content"] += len(paths[start:start + COPY_CHUNK])


def _not(mask: "pa.ChunkedArray") -> "pa.ChunkedArray":
    import pyarrow.compute as pc

    return pc.invert(mask)


def _upsert(target: Any, table: "pa.Table", root: Path | None, signature: str) -> int:
    """The face nearest the centre of each named photo into ``target``; its content hash is the
    key, so a photo in the gallery already is not added twice."""
    import numpy as np

    rows = table.filter(table["nearest_center"]).select(["path", "sha256", "vector"]).to_pylist()
    names = _names_for_gallery([r["path"] for r in rows], root)
    keep = [i for i, name in enumerate(names) if name is not None]
    if not keep:
        return 0
    vectors = np.stack([np.asarray(rows[i]["vector"], np.float32) for i in keep])
    return target.add_vectors([names[i] for i in keep], vectors, keys=[rows[i]["sha256"] for i in keep],
                              signature=signature, sources=[rows[i]["path"] for i in keep])

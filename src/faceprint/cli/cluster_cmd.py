"""`faceprint cluster PHOTOS`: group the faces of a photo collection into people."""

from __future__ import annotations

import os
import shutil
from contextlib import ExitStack
from pathlib import Path
from typing import Optional

import typer

from faceprint.cli.common import (check_writable, emit, exit_if_nothing_done, expand_inputs, fail, friendly_errors,
                                  log, progress_bar, setup_logging)

UNCLUSTERED = "unclustered"


def cluster(
    photos: list[Path] = typer.Argument(..., help="Photos or folders (searched recursively)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Also make a folder per person here "
                                       "(person_001 is the largest), plus 'unclustered'."),
    link: bool = typer.Option(True, "--link/--copy", help="Fill --out with symbolic links (default) or copies."),
    threshold: Optional[float] = typer.Option(None, "--threshold", "-t", help="Average-linkage cut, Euclidean "
                                              "(default: the model's, 0.39 for dlib, lowered to about 0.355 "
                                              "for collections of thousands of people); lower splits more."),
    min_size: int = typer.Option(2, "--min-size", help="Smallest group kept as a person; faces of smaller "
                                 "groups are listed as unclustered."),
    model: str = typer.Option("dlib", "--model", "-m", help="Embedding model (see `faceprint models`)."),
    detector: Optional[str] = typer.Option(None, "--detector", "-d", help="yunet (default), hog or cnn."),
    workers: int = typer.Option(1, "--workers", "-w", help="Processes embedding in parallel (one per core)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what happens on stderr."),
) -> None:
    """Group every face of a photo collection into people (JSON on stdout).

    Two faces of one photo are never put in one group; faces of poor quality are left unclustered.

    Photos that cannot be read or show no face are listed under "problems"; the rest go on.

    Any number of faces: average linkage on a nearest-neighbour graph (memory grows with the
    faces, not their square); progress bars on stderr for the embedding and the clustering.

    Examples:

      faceprint cluster party/ > people.json

      faceprint cluster party/ --out people/ --workers 2

      faceprint cluster a/ b/ --out people/ --copy --threshold 0.55 --min-size 3
    """
    import faceprint

    setup_logging(verbose)
    with friendly_errors():
        missing = [str(p) for p in photos if not p.exists()]
        if missing:
            fail(f"no such file or folder: {', '.join(missing)}")
        files = expand_inputs(photos)
        if not files:
            fail("no photos to cluster")
        if out is not None and out.exists() and (not out.is_dir() or any(out.iterdir())):
            fail(f"{out}: exists and is not an empty folder; choose a new one")
        if out is not None:
            check_writable(out, folder=True)  # before the embedding, not after it
        with ExitStack() as bars:
            bar: list = []

            def advance(done: int) -> None:
                if not bar:  # opened with the first photo embedded: bad arguments fail without a bar
                    bar.append(bars.enter_context(progress_bar(len(files), "embedding")))
                bar[0](done)

            result = faceprint.cluster(files, threshold=threshold, min_size=min_size, model=model,
                                       detector=detector, workers=workers, progress=advance, cluster_progress=True)
        report = {"photos": len(files), **result.to_dict()}
        if out is not None:
            report["output"] = str(_write_folders(result, out, link))
        emit(report)
        failed = min(len(result.problems), len(files))
        exit_if_nothing_done(len(files) - failed, failed, "no photo could be used (see problems): nothing to cluster")


def _write_folders(result, out: Path, link: bool) -> Path:
    """One folder per cluster (and ``unclustered``) holding the photos, linked or copied."""
    width = max(3, len(str(len(result.clusters))))
    groups = [(f"person_{c.id + 1:0{width}d}", c.sources) for c in result.clusters]
    if result.unclustered:
        groups.append((UNCLUSTERED, list(dict.fromkeys(f.source for f in result.unclustered))))
    out.mkdir(parents=True, exist_ok=True)
    for name, sources in groups:
        folder = out / name
        folder.mkdir()
        used: set[str] = set()
        for number, source in enumerate(sources):
            target = folder / _unique_name(Path(source).name, number, used)
            try:
                if link:
                    os.symlink(Path(source).resolve(), target)
                else:
                    shutil.copy2(source, target)
            except OSError as exc:
                fail(f"{target}: cannot {'link' if link else 'copy'} ({exc.strerror or exc})"
                     + ("; try --copy" if link else ""))
        log.info("%s: %d photos", folder, len(sources))
    return out


def _unique_name(name: str, number: int, used: set[str]) -> str:
    """The photo's own file name, or ``NNN_name`` when two photos of a folder share a name."""
    if name in used:
        name = f"{number:04d}_{name}"
    used.add(name)
    return name

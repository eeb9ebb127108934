"""`faceprint index PHOTOS --out DIR`: every face of a folder of photos into Parquet, with Ray."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from faceprint.cli.common import emit, fail, friendly_errors, setup_logging


def index(
    photos: Path = typer.Argument(..., help="A folder of photos (searched recursively) or one photo."),
    out: Path = typer.Option(..., "--out", "-o", help="Index folder: index.json + parts/*.parquet."),
    ray_address: Optional[str] = typer.Option(None, "--ray", help="Join this Ray cluster (e.g. ray://head:10001 "
                                              "or head:6379); default: start Ray on this machine."),
    gallery: Optional[str] = typer.Option(None, "--gallery", help="Also enrol each photo's face nearest the "
                                          "centre into this gallery, named by its folder (PHOTOS/<name>/...)."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="Embedding actors (default: one per CPU, "
                                          "less one left for the read tasks)."),
    model: str = typer.Option("dlib", "--model", "-m", help="Embedding model (see `faceprint models`)."),
    detector: Optional[str] = typer.Option(None, "--detector", "-d", help="yunet (default where installed), hog, cnn."),
    flip: bool = typer.Option(True, "--flip/--no-flip", help="Average the embedding with its mirror image."),
    files_per_task: int = typer.Option(16, "--files-per-task", min=1, help="Photos per read task, actor call and part."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what happens on stderr."),
) -> None:
    """Index every face of many photos with Ray Data, into Parquet; resumable.

    One Parquet row per face (path, content sha256, box, landmarks, score, model, signature,
    vector), one per photo without a face, one per bad file with its error. Run it again to go on
    where it stopped: photos already indexed (by content) are not embedded again (a copy at a
    new path gets the indexed photo's rows). Prints a summary (photos, faces, errors, photos/s).

    Needs pip install 'faceprint\\[scale]'. On a cluster, PHOTOS must be readable at the same
    path on every node (see docs/scale.md).

    Examples:

      faceprint index photos/ --out photos_index

      faceprint index /mnt/nfs/photos --out /mnt/nfs/index --ray head:6379 --workers 16

      faceprint index people/ --out people_index --gallery people.db
    """
    setup_logging(verbose)
    from faceprint.scale.ray_index import index_photos, require_ray

    with friendly_errors():
        require_ray()
        if not photos.exists():
            fail(f"{photos}: no such file or folder")
        if workers is not None and workers < 1:
            fail("--workers must be 1 or more")
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(TextColumn("indexing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=Console(stderr=True)) as bar:
            task = bar.add_task("indexing", total=None)
            summary = index_photos(photos, out, address=ray_address, workers=workers, model=model,
                                   detector=detector, flip=flip, files_per_task=files_per_task, gallery=gallery,
                                   progress=lambda finished, total: bar.update(task, completed=finished, total=total))
        emit(summary)

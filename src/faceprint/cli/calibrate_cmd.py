"""`faceprint calibrate ROOT`: a threshold fitted on the user's own labelled photos (``faceprint.fit``)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from faceprint.cli.common import check_rate, emit, fail, friendly_errors, setup_logging


def calibrate(
    root: Path = typer.Argument(..., help="Folder with one sub-folder of photos per person."),
    far: float = typer.Option(1e-3, "--far", help="Target false accept rate."),
    model: str = typer.Option("dlib", "--model", "-m", help="Embedding model (see `faceprint models`)."),
    detector: Optional[str] = typer.Option(None, "--detector", "-d",
                                           help="yunet (default where installed), hog, or cnn (slow)."),
    save: bool = typer.Option(False, "--save", help="Use this threshold for verify from now on "
                              "(stored in $FACEPRINT_HOME/thresholds.json; with --gallery, in the gallery)."),
    workers: int = typer.Option(2, "--workers", min=1, help="Processes embedding in parallel."),
    gallery: Optional[Path] = typer.Option(None, "--gallery", "-g", help="Calibrate identification on this gallery "
                                           "instead: ROOT holds probes (enrolled people's other photos, and strangers)."),
    fpir: float = typer.Option(1e-2, "--fpir", help="With --gallery: false positive identification rate to meet."),
    min_quality: Optional[float] = typer.Option(None, "--min-quality", min=0.0, max=1.0,
                                                help="With --gallery: the quality floor under which identify answers "
                                                     "\"unknown\"; probes below it are never named here either "
                                                     "(default: the gallery's floor, 0.1 unless set). --save keeps "
                                                     "it with the threshold."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what happens on stderr."),
) -> None:
    """Choose the threshold that meets a false accept rate on your own labelled photos, with a
    95 % bootstrap interval and the true accept rate it gives.

    With --gallery: the identification threshold that names at most --fpir of strangers searched
    against that gallery, and the DIR (detection and identification rate) it gives; --save keeps it
    in the gallery for `faceprint identify`. Faces below the quality floor count as identify counts
    them (never named), and --save keeps that floor too, so identify decides as calibrated.
    Example: faceprint calibrate probes/ -g team.db --fpir 0.01 --save
    """
    if not 0 <= far < 1:
        fail(f"--far must lie between 0 and 1 (e.g. 0.001), not {far:g}")
    if gallery is not None:
        check_rate(fpir, "--fpir")  # before the gallery is opened and the probes embedded
        return _calibrate_gallery(root, gallery, fpir, save, workers, verbose, min_quality)
    from faceprint.fit.verification import calibrate_folder
    from faceprint.thresholds import save_threshold

    setup_logging(verbose)
    with friendly_errors():
        if not root.is_dir():
            fail(f"{root}: not a folder")
        result = calibrate_folder(root, far, model, detector, workers, progress=True)
        if save:
            result["saved_to"] = str(save_threshold(model, {k: result[k] for k in ("threshold", "far", "tar")}
                                                    | {"source": str(root)}))
        emit(result)


def _calibrate_gallery(root: Path, gallery: Path, fpir: float, save: bool, workers: int, verbose: bool,
                       min_quality: float | None) -> None:
    """The identification threshold of one gallery at an FPIR, and its DIR (``fit.identification``)."""
    from faceprint.fit.identification import calibrate_folder
    from faceprint.gallery import Gallery

    setup_logging(verbose)
    with friendly_errors(), Gallery(gallery, create=False) as g:
        if not root.is_dir():
            fail(f"{root}: not a folder")
        result = calibrate_folder(g, root, fpir, workers, progress=True, min_quality=min_quality)
        if save:
            g.save_threshold({k: result[k] for k in ("threshold", "fpir", "dir", "strangers", "gallery_faces",
                                                     "min_quality")} | {"source": str(root)})
            g.quality_floor(result["min_quality"])
            result["saved_to"] = f"{g.path} (used by `faceprint identify` when no --threshold/--fpir is given)"
        emit(result)

"""`faceprint gallery ...` and `faceprint identify`: a persistent gallery of enrolled people."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from faceprint.cli.common import (check_rate, check_writable, emit, exit_if_nothing_done, expand_inputs, fail,
                                  friendly_errors, setup_logging)
from faceprint.settings import DEFAULT_GALLERY, default_gallery_path

app = typer.Typer(
    help="A persistent gallery of enrolled people (SQLite + a vector index), for `faceprint identify`.\n\n"
         "Example: faceprint gallery enrol people/ -g team.db && faceprint identify crowd.jpg -g team.db",
    no_args_is_help=True)



GalleryOpt = typer.Option(None, "--gallery", "-g",
                          help=f"The gallery file (default: $FACEPRINT_GALLERY or ./{DEFAULT_GALLERY}).")
VerboseOpt = typer.Option(False, "--verbose", "-v")


def _open(path: Optional[Path], create: bool = False, **options):
    from faceprint.gallery import Gallery

    path = path or default_gallery_path()
    return Gallery(path, model=options.pop("model", None), create=create, **options)


@app.command()
def create(
    path: Optional[Path] = typer.Argument(None, help=f"Gallery file to create (default ./{DEFAULT_GALLERY})."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Embedding model (default dlib); a gallery holds one."),
    detector: Optional[str] = typer.Option(None, "--detector", "-d", help="yunet (default), hog or cnn."),
    flip: bool = typer.Option(True, "--flip/--no-flip", help="Average each face with its mirror image."),
    jitter: int = typer.Option(0, "--jitter", min=0, help="Extra jittered views per face (slower)."),
    verbose: bool = VerboseOpt,
) -> None:
    """Create an empty gallery for one model and pipeline setting (enrol creates one too).

    Examples:

        faceprint gallery create team.db

        faceprint gallery create team-mfn.db --model mobilefacenet
    """
    from faceprint.gallery.store import store_exists

    setup_logging(verbose)
    with friendly_errors():
        path = path or default_gallery_path()
        if store_exists(path):
            fail(f"{path} exists already; enrol into it, or give another name")
        options = {"detector": detector} if detector else {}
        with _open(path, create=True, model=model, flip=flip, jitter=jitter, **options) as g:
            emit({"gallery": str(g.path), "model": g.model, "signature": g.signature, "faces": 0})


@app.command()
def enrol(
    inputs: list[Path] = typer.Argument(..., help="A folder tree people/<name>/*.jpg, or photos of one person with --name."),
    name: Optional[str] = typer.Option(None, "--name", "-n", help="Enrol the given photos (or folders of photos) as this person."),
    gallery: Optional[Path] = GalleryOpt,
    model: Optional[str] = typer.Option(None, "--model", "-m",
                                        help="Model for a new gallery (default dlib; an existing one keeps its own)."),
    workers: int = typer.Option(1, "--workers", min=1, help="Processes embedding in parallel."),
    keep_photos: bool = typer.Option(False, "--keep-photos", help="Store the photo files in the gallery too."),
    min_quality: Optional[float] = typer.Option(
        None, "--min-quality", min=0.0, max=1.0,
        help="Refuse photos whose quality score (0-1) is below this (default: the gallery's setting; "
             "none saved: poor photos are enrolled with a note)."),
    save_min_quality: bool = typer.Option(False, "--save-min-quality",
                                          help="Keep --min-quality as the gallery's setting for later enrols."),
    allow_poor: bool = typer.Option(False, "--allow-poor", help="Refuse no photo for its quality (still noted)."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    verbose: bool = VerboseOpt,
) -> None:
    """Enrol people: one face per photo (the one nearest the centre when there are several).

    Enrolling is idempotent: a photo already in the gallery (same content) is skipped, so an
    interrupted enrol can simply be run again. Bad files and photos without a face are listed in
    `problems` and skipped; the rest goes in. Each batch of 64 photos is one transaction.

    Each face gets a quality score from 0 to 1 (size, sharpness, pose: see docs/quality.md). Poor
    photos (below 0.35) are listed in `notes` with their score and why; below --min-quality (or
    the gallery's saved setting) they are refused and listed in `problems`.

    Examples:

        faceprint gallery enrol people/ -g team.db              # people/<name>/*.jpg

        faceprint gallery enrol ada1.jpg ada2.jpg --name "Ada Lovelace" -g team.db

        faceprint gallery enrol people/ -g team.db --min-quality 0.5 --save-min-quality
    """
    from faceprint.errors import BadInput

    setup_logging(verbose)
    with friendly_errors():
        path = gallery or default_gallery_path()
        files: list[Path] = []
        if name is None:  # the inputs are checked before the gallery is opened (or created)
            if len(inputs) != 1 or not inputs[0].is_dir():
                missing = [str(p) for p in inputs if not p.exists()]
                raise BadInput(f"no such file or folder: {', '.join(missing)}" if missing else
                               "give one folder people/<name>/*.jpg, or photos with --name NAME")
        else:
            files = expand_inputs(inputs)
            if not files:
                raise BadInput("no photos found in the given inputs")
        if save_min_quality and min_quality is None:
            raise BadInput("--save-min-quality needs --min-quality X (0-1): the floor to save")
        with _open(path, create=True, model=model) as g:
            if save_min_quality:
                g.min_quality = min_quality
            rule = {"min_quality": min_quality, "allow_poor": allow_poor}
            if name is None:
                report = g.enrol_folder(inputs[0], progress=progress, workers=workers, keep_photos=keep_photos, **rule)
            else:
                report = g.enrol(name, files, progress=progress, workers=workers, keep_photos=keep_photos, **rule)
            document = report.to_dict()
            emit({"gallery": str(g.path), **document, "faces": len(g), "subjects": len(g.subjects())})
        exit_if_nothing_done(report.added + report.skipped_duplicates, len(report.problems),
                             "not one photo went in (see problems)")


app.command("enroll", hidden=True)(enrol)  # the US spelling works too


@app.command("list")
def list_(gallery: Optional[Path] = GalleryOpt, verbose: bool = VerboseOpt) -> None:
    """Subjects with their number of faces.

    Example: faceprint gallery list -g team.db
    """
    setup_logging(verbose)
    with friendly_errors(), _open(gallery) as g:
        emit({"gallery": str(g.path), "model": g.model, "signature": g.signature, "faces": len(g),
              "subjects": [s.to_dict() for s in g.subjects()]})


@app.command()
def show(name: str = typer.Argument(..., help="Subject name."), gallery: Optional[Path] = GalleryOpt,
         verbose: bool = VerboseOpt) -> None:
    """One subject and its faces (ids, source, box, photo sha256).

    Example: faceprint gallery show "Ada Lovelace" -g team.db
    """
    setup_logging(verbose)
    with friendly_errors(), _open(gallery) as g:
        emit({**g.subject(name).to_dict(), "face_records": [f.to_dict() for f in g.faces(name)]})


@app.command()
def rename(name: str = typer.Argument(...), new_name: str = typer.Argument(...),
           gallery: Optional[Path] = GalleryOpt, verbose: bool = VerboseOpt) -> None:
    """Rename a subject.

    Example: faceprint gallery rename "Ada" "Ada Lovelace" -g team.db
    """
    setup_logging(verbose)
    with friendly_errors(), _open(gallery) as g:
        emit(g.rename(name, new_name).to_dict())


@app.command()
def delete(name: Optional[str] = typer.Argument(None, help="Subject to delete with all their faces."),
           face: Optional[int] = typer.Option(None, "--face", help="Delete only this face id instead."),
           gallery: Optional[Path] = GalleryOpt, verbose: bool = VerboseOpt) -> None:
    """Delete a subject (or one face) from the store and the index.

    Examples:

        faceprint gallery delete "Ada Lovelace" -g team.db

        faceprint gallery delete --face 42 -g team.db
    """
    setup_logging(verbose)
    with friendly_errors(), _open(gallery) as g:
        if (name is None) == (face is None):
            fail("give a subject NAME, or --face ID")
        if face is not None:
            g.delete_face(face)
            emit({"deleted_face": face, "faces": len(g)})
        else:
            emit({"deleted": name, "faces_removed": g.delete_subject(name), "faces": len(g)})


@app.command("export")
def export_(output: Path = typer.Argument(..., help="The .npz file to write."), gallery: Optional[Path] = GalleryOpt,
            verbose: bool = VerboseOpt) -> None:
    """Write subjects, faces and vectors (no photos) to one file another gallery can import.

    Example: faceprint gallery export team.npz -g team.db
    """
    setup_logging(verbose)
    with friendly_errors(), _open(gallery) as g:
        emit({"exported": str(g.export(output)), "faces": len(g), "subjects": len(g.subjects())})


@app.command("import")
def import_(source: Path = typer.Argument(..., help="A file written by `faceprint gallery export`."),
            gallery: Optional[Path] = GalleryOpt, verbose: bool = VerboseOpt) -> None:
    """Add an export's subjects and faces (same model and pipeline only; duplicates skipped).

    Example: faceprint gallery import team.npz -g merged.db
    """
    from faceprint.errors import GalleryError
    from faceprint.gallery.store import store_exists
    from faceprint.gallery.transfer import export_settings

    setup_logging(verbose)
    with friendly_errors():
        path = gallery or default_gallery_path()
        options = {}
        if not store_exists(path):  # a new gallery takes the export's model and settings
            try:
                options = export_settings(source)
            except GalleryError as exc:
                fail(str(exc))
        with _open(path, create=True, **options) as g:
            emit({"imported": g.import_(source), "faces": len(g), "subjects": len(g.subjects())})


@app.command()
def check(gallery: Optional[Path] = GalleryOpt, verbose: bool = VerboseOpt) -> None:
    """Verify the store (SQLite integrity, one pipeline signature, unit vectors) and that the index
    holds exactly the store's faces; a stale index is brought up to date. Exit 1 on a problem.

    Example: faceprint gallery check -g team.db
    """
    setup_logging(verbose)
    with friendly_errors(), _open(gallery) as g:
        report = g.check()
        emit({"gallery": str(g.path), **report.to_dict()})
        if not report.ok:
            raise typer.Exit(1)


def identify(
    inputs: list[Path] = typer.Argument(..., help="Photos or folders of photos."),
    gallery: Optional[Path] = GalleryOpt,
    top_k: int = typer.Option(5, "--top-k", "-k", min=1, help="Candidates per face."),
    threshold: Optional[float] = typer.Option(None, "--threshold", "-t", min=0.0,
                                              help="Euclidean distance under which a face is named."),
    fpir: Optional[float] = typer.Option(None, "--fpir", help="Use the default threshold for this false positive "
                                         "identification rate at the gallery's size (default 0.01, or the "
                                         "threshold `faceprint calibrate --gallery --save` kept)."),
    min_quality: Optional[float] = typer.Option(None, "--min-quality", min=0.0, max=1.0,
                                                help="A face whose quality (0-1) is below this is \"unknown\" whatever "
                                                     "its distance (default: the gallery's floor, 0.1 unless "
                                                     "`faceprint calibrate --gallery --save --min-quality` set it)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write results to a .csv or .json file."),
    draw: Optional[Path] = typer.Option(None, "--draw", help="Draw names on the boxes: a file for one photo, a folder for several."),
    verbose: bool = VerboseOpt,
) -> None:
    """Every face in each photo -> its nearest enrolled people, and a name or "unknown" with the
    reason ("poor quality 0.07 < 0.10": too small, blurred or turned to be named safely; or "no
    match within threshold").

    The default threshold keeps strangers out at a stated false positive identification rate
    (1 % unless --fpir) for the gallery's size: a stranger searched against N faces gets up to N
    chances (fewer when people enrol several photos each), so it tightens as the gallery grows. The JSON says which threshold was used and where it came from.

    Examples:

        faceprint identify crowd.jpg -g team.db --draw crowd_named.jpg

        faceprint identify photos/ -g team.db -o names.csv
    """
    from faceprint.cli.common import process_images

    setup_logging(verbose)
    check_rate(fpir, "--fpir")
    with friendly_errors(), _open(gallery) as g:
        files = expand_inputs(inputs)
        if not files:
            fail("no photos found in the given inputs")
        limit, how = (threshold, "given") if threshold is not None else g.threshold_and_source(fpir)
        floor = g.quality_floor() if min_quality is None else min_quality
        if output is not None:
            check_writable(output)  # before the work, not after it
        if draw is not None and len(files) > 1:
            if draw.exists() and not draw.is_dir():
                fail(f"--draw {draw}: with several photos, give a folder (one annotated copy per photo)")
            draw.mkdir(parents=True, exist_ok=True)

        def work(path: Path) -> dict:
            from faceprint.images import load_image

            rgb = load_image(path)
            found = g.identify(rgb, top_k, limit, min_quality=floor)
            if draw is not None:
                target = draw / f"{path.stem}_named.jpg" if len(files) > 1 else draw
                _draw_names(rgb, found, target)
            return {"faces": [f.to_dict() for f in found]}

        results, errors = process_images(files, "identifying", work)
        document = {"gallery": str(g.path), "model": g.model, "threshold": limit, "threshold_from": how,
                    "min_quality": floor, "results": results, "errors": errors}
        if output is not None:
            _write(output, document)
            document = {k: v for k, v in document.items() if k != "results"} | {"written": str(output),
                                                                               "photos": len(results)}
        emit(document)
        exit_if_nothing_done(len(results), len(errors), "no photo could be searched (see errors)")


def _write(path: Path, document: dict) -> None:
    import csv

    from faceprint import jsonout

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        with open(path, "w", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(["image", "face", "left", "top", "right", "bottom", "name", "distance", "threshold",
                          "candidates", "reason"])
            for row in document["results"]:
                for number, face in enumerate(row["faces"]):
                    out.writerow([row["image"], number, *face["face"]["box"], face["name"], face["distance"],
                                  face["threshold"],
                                  ";".join(f"{c['subject']}:{c['distance']:.4f}" for c in face["candidates"]),
                                  face.get("reason", "")])
    else:
        path.write_text(jsonout.dumps(document) + "\n")  # strict JSON, as the CLI prints it


def _draw_names(image, found, path: Path) -> None:
    """Boxes with names (green, with the distance) or "unknown" (red)."""
    from faceprint.cli.draw import GREEN, RED, draw_boxes

    draw_boxes(image, [(f.detection, f"{f.name} {f.distance:.2f}" if f.known else f.name, GREEN if f.known else RED,
                        False) for f in found], path)

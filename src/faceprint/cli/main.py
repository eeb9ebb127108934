"""faceprint's command line: find, align, embed and compare faces, offline.

Every command prints JSON on stdout; errors are one line on stderr and a non-zero exit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from faceprint.cli.common import emit, expand_inputs, fail, friendly_errors, log, progress_bar, setup_logging

app = typer.Typer(
    help=__doc__ + "\nExamples:\n\n  faceprint detect photo.jpg --draw boxes.jpg\n\n"
    "  faceprint verify a.jpg b.jpg\n\n  faceprint embed photos/ > vectors.json",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)

DetectorOpt = typer.Option(None, "--detector", "-d", help="yunet (default where installed), hog, or cnn (slow).")
ModelOpt = typer.Option("dlib", "--model", "-m", help="Embedding model (see `faceprint models`).")
ScoreOpt = typer.Option(None, "--score-threshold", help="Minimum detector score (yunet 0-1, default 0.6).")
UpsampleOpt = typer.Option(None, "--upsample", help="Enlarge the image 2^N times to find small faces.")
MinSizeOpt = typer.Option(0.0, "--min-face-size", help="Ignore faces smaller than this many pixels.")
MaxFacesOpt = typer.Option(None, "--max-faces", help="Keep at most this many faces per image.")
FlipOpt = typer.Option(True, "--flip/--no-flip", help="Average the embedding with its mirror image.")
JitterOpt = typer.Option(0, "--jitter", help="Also average N randomly perturbed copies (slower, dlib-style).")
VerboseOpt = typer.Option(False, "--verbose", "-v", help="Log what happens on stderr.")


def _options(score: Optional[float], upsample: Optional[int], min_size: float, max_faces: Optional[int]) -> dict:
    return {"score_threshold": score, "upsample": upsample, "min_face_size": min_size, "max_faces": max_faces}


@app.command()
def detect(
    images: list[Path] = typer.Argument(..., help="Image files or folders."),
    detector: Optional[str] = DetectorOpt,
    draw: Optional[Path] = typer.Option(None, "--draw", help="Write an annotated copy (a file for one image, "
                                        "a folder for several)."),
    landmarks: int = typer.Option(5, "--landmarks", help="5, or 68 to add the 68-point shape."),
    score_threshold: Optional[float] = ScoreOpt,
    upsample: Optional[int] = UpsampleOpt,
    min_face_size: float = MinSizeOpt,
    max_faces: Optional[int] = MaxFacesOpt,
    verbose: bool = VerboseOpt,
) -> None:
    """Find faces: boxes, scores and landmarks. A photo with no face gives an empty list."""
    setup_logging(verbose)
    _run_detect(images, detector, draw, landmarks, _options(score_threshold, upsample, min_face_size, max_faces))


@app.command()
def landmarks(
    images: list[Path] = typer.Argument(..., help="Image files or folders."),
    detector: Optional[str] = DetectorOpt,
    points: int = typer.Option(68, "--points", help="68 (iBUG 300-W, non-commercial weights) or 5."),
    draw: Optional[Path] = typer.Option(None, "--draw", help="Write an annotated copy."),
    verbose: bool = VerboseOpt,
) -> None:
    """Facial landmarks (68 points by default) for every face."""
    setup_logging(verbose)
    _run_detect(images, detector, draw, points, {})


def _run_detect(images: list[Path], detector: Optional[str], draw: Optional[Path], points: int, options: dict) -> None:
    from faceprint.cli.draw import draw_detections
    from faceprint.errors import FaceprintError
    from faceprint.images import load_image
    from faceprint.pipeline.pipeline import PipelineConfig, get_pipeline

    with friendly_errors():
        files = expand_inputs(images)
        if not files:
            fail("no images to process")
        pipe = get_pipeline(PipelineConfig(detector=detector or "", **options))
        results, errors = [], []
        with progress_bar(len(files), "detecting") as advance:
            for path in files:
                try:
                    image = load_image(path)
                    found = pipe.detect(image, points)
                except FaceprintError as exc:
                    if len(files) == 1:
                        raise
                    log.warning("%s", exc)
                    errors.append({"image": str(path), "error": str(exc)})
                    advance()
                    continue
                results.append({"image": str(path), "width": image.shape[1], "height": image.shape[0],
                                "faces": [d.to_dict() for d in found]})
                if draw is not None:
                    target = draw if len(files) == 1 else draw / f"{path.stem}_faces.jpg"
                    draw_detections(image, found, target)
                advance()
        if len(files) == 1:
            emit(results[0])
        else:
            emit({"images": results, "errors": errors})
        if errors and not results:
            raise typer.Exit(1)


@app.command()
def embed(
    images: list[Path] = typer.Argument(..., help="Image files or folders."),
    model: str = ModelOpt,
    detector: Optional[str] = DetectorOpt,
    one: bool = typer.Option(False, "--one", help="Only the face nearest the centre of each image."),
    flip: bool = FlipOpt,
    jitter: int = JitterOpt,
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also save vectors to an .npz file."),
    verbose: bool = VerboseOpt,
) -> None:
    """L2-normalised embeddings of every face (JSON; --output FILE.npz for numpy)."""
    import numpy as np

    from faceprint.errors import FaceprintError
    from faceprint.images import load_image
    from faceprint.pipeline.detect import nearest_center
    from faceprint.pipeline.pipeline import PipelineConfig, get_pipeline

    setup_logging(verbose)
    with friendly_errors():
        files = expand_inputs(images)
        if not files:
            fail("no images to process")
        pipe = get_pipeline(PipelineConfig(detector=detector or "", model=model, flip=flip, jitter=jitter))
        results, errors, names, vectors = [], [], [], []
        with progress_bar(len(files), "embedding") as advance:
            for path in files:
                try:
                    image = load_image(path)
                    found = pipe.detect(image)
                    if one and found:
                        found = [found[nearest_center(found, image.shape)]]
                    embs = pipe.embed(image, found)
                except FaceprintError as exc:
                    if len(files) == 1:
                        raise
                    log.warning("%s", exc)
                    errors.append({"image": str(path), "error": str(exc)})
                    advance()
                    continue
                results.append({"image": str(path), "embeddings": [e.to_dict() for e in embs]})
                for i, e in enumerate(embs):
                    names.append(f"{path}#{i}")
                    vectors.append(e.vector)
                advance()
        if output is not None:
            np.savez(output, names=np.array(names), vectors=np.array(vectors, dtype=np.float32).reshape(len(names), -1))
        emit(results[0] if len(files) == 1 else {"images": results, "errors": errors})


@app.command()
def verify(
    first: Path = typer.Argument(..., help="First photo."),
    second: Path = typer.Argument(..., help="Second photo."),
    model: str = ModelOpt,
    detector: Optional[str] = DetectorOpt,
    metric: str = typer.Option("euclidean", "--metric", help="euclidean or cosine (1 - cos)."),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="Override the model's calibrated one."),
    flip: bool = FlipOpt,
    jitter: int = JitterOpt,
    verbose: bool = VerboseOpt,
) -> None:
    """Are two photos the same person? Prints distance, threshold and decision.

    With several faces in a photo, the one nearest the centre is used (and a note says so).
    """
    import faceprint

    setup_logging(verbose)
    with friendly_errors():
        result = faceprint.verify(first, second, model=model, detector=detector, metric=metric,
                                  threshold=threshold, flip=flip, jitter=jitter)
        emit(result.to_dict())


@app.command()
def compare(
    known: Path = typer.Argument(..., help="Photo of the known person."),
    candidates: list[Path] = typer.Argument(..., help="Photos or folders to compare with it."),
    model: str = ModelOpt,
    detector: Optional[str] = DetectorOpt,
    metric: str = typer.Option("euclidean", "--metric", help="euclidean or cosine (1 - cos)."),
    verbose: bool = VerboseOpt,
) -> None:
    """Compare one known face with many photos; each gets a distance and a decision."""
    from faceprint.api import decide, embed_face
    from faceprint.errors import FaceprintError

    setup_logging(verbose)
    with friendly_errors():
        files = expand_inputs(candidates)
        reference, notes = embed_face(known, model=model, detector=detector, source=str(known))
        rows = []
        with progress_bar(len(files), "comparing") as advance:
            for path in files:
                try:
                    emb, more = embed_face(path, model=model, detector=detector, source=str(path))
                except FaceprintError as exc:
                    log.warning("%s", exc)
                    rows.append({"image": str(path), "error": str(exc)})
                    advance()
                    continue
                result = decide(reference.vector, emb.vector, model, metric, None, tuple(more))
                rows.append({"image": str(path), **result.to_dict()})
                advance()
        emit({"known": str(known), "notes": notes, "results": rows})


@app.command("models")
def list_models() -> None:
    """List detectors and embedding models, with licences and thresholds."""
    from faceprint import registry

    emit({
        "detectors": [{"name": d.name, "description": d.description, "licence": d.licence,
                       "default": d.name == registry.default_detector()} for d in registry.list_detectors()],
        "models": [{"name": e.name, "description": e.description, "dim": e.dim, "alignment": e.align,
                    "licence": e.licence, "threshold": e.threshold, "calibration": e.calibration}
                   for e in registry.list_embedders()],
    })


def main() -> None:
    app()


if __name__ == "__main__":
    main()

"""faceprint's command line: find, align, embed and compare faces, offline.

Every command prints JSON on stdout; errors are one line on stderr and a non-zero exit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from faceprint.cli.common import (check_writable, emit, exit_if_nothing_done, expand_inputs, fail,
                                  friendly_errors, log, process_images, progress_bar, setup_logging)

app = typer.Typer(
    help=__doc__ + "\nExamples:\n\n  faceprint detect photo.jpg --draw boxes.jpg\n\n"
    "  faceprint verify a.jpg b.jpg\n\n  faceprint embed photos/ > vectors.json",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)

DetectorOpt = typer.Option(None, "--detector", "-d", help="yunet (default where installed), hog, or cnn (slow).")
ModelOpt = typer.Option("dlib", "--model", "-m", help="Embedding model (see `faceprint models`).")
ScoreOpt = typer.Option(None, "--score-threshold", help="Minimum detector score (yunet 0-1, default 0.6).")
UpsampleOpt = typer.Option(None, "--upsample", min=0, max=3,
                           help="Enlarge the image 2^N times (N 0-3) to find small faces.")
MinSizeOpt = typer.Option(0.0, "--min-face-size", min=0.0, help="Ignore faces smaller than this many pixels.")
MaxFacesOpt = typer.Option(None, "--max-faces", min=1, help="Keep at most this many faces per image.")
FlipOpt = typer.Option(True, "--flip/--no-flip", help="Average the embedding with its mirror image.")
JitterOpt = typer.Option(0, "--jitter", min=0, help="Also average N randomly perturbed copies (slower, dlib-style).")
AlignPointsOpt = typer.Option(
    None, "--align-points",
    help="What places each face chip: 5 (dlib's 5-point model; the detector's keypoints for ArcFace chips) or "
         "68 (with dlib's 68 landmarks: better on turned faces, CFP-FP dev dlib 85.8 -> 87.7 %; the 68-point model "
         "is trained on iBUG 300-W, not for commercial use). Default: the model's own (dlib 5; mobilefacenet and "
         "dlib+mobilefacenet 68).")
VerboseOpt = typer.Option(False, "--verbose", "-v", help="Log what happens on stderr.")
MetricOpt = typer.Option("euclidean", "--metric", help="euclidean or cosine (1 - cos).")


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
    from faceprint.images import load_image
    from faceprint.pipeline.pipeline import PipelineConfig, get_pipeline

    with friendly_errors():
        files = expand_inputs(images)
        if not files:
            fail("no images to process")
        pipe = get_pipeline(PipelineConfig(detector=detector or "", **options))
        if draw is not None and len(files) > 1:
            if draw.exists() and not draw.is_dir():
                fail(f"--draw {draw}: with several images, give a folder (one annotated copy per image)")
            check_writable(draw, folder=True)

        def work(path: Path) -> dict:
            image = load_image(path)
            found = pipe.detect(image, points)
            if draw is not None:
                draw_detections(image, found, draw if len(files) == 1 else draw / f"{path.stem}_faces.jpg")
            return {"width": image.shape[1], "height": image.shape[0], "faces": [d.to_dict() for d in found]}

        results, errors = process_images(files, "detecting", work)
        if len(files) == 1:
            emit(results[0])
        else:
            emit({"images": results, "errors": errors})
        exit_if_nothing_done(len(results), len(errors), "no image could be read (see errors)")


@app.command()
def embed(
    images: list[Path] = typer.Argument(..., help="Image files or folders."),
    model: str = ModelOpt,
    detector: Optional[str] = DetectorOpt,
    one: bool = typer.Option(False, "--one", help="Only the face nearest the centre of each image."),
    flip: bool = FlipOpt,
    jitter: int = JitterOpt,
    align_points: Optional[str] = AlignPointsOpt,
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also save vectors to an .npz file."),
    verbose: bool = VerboseOpt,
) -> None:
    """L2-normalised embeddings of every face (JSON; --output FILE.npz for numpy)."""
    import numpy as np

    from faceprint.images import load_image
    from faceprint.pipeline.pipeline import PipelineConfig, get_pipeline

    setup_logging(verbose)
    with friendly_errors():
        files = expand_inputs(images)
        if not files:
            fail("no images to process")
        if output is not None:
            check_writable(output)  # before the work, not after it
        pipe = get_pipeline(PipelineConfig(detector=detector or "", model=model, flip=flip, jitter=jitter,
                                           align_points=align_points or ""))
        names, vectors = [], []

        def work(path: Path) -> dict:
            image = load_image(path)
            found, _ = pipe.find_faces(image, one=one)
            embs = pipe.embed(image, found)
            names.extend(f"{path}#{i}" for i in range(len(embs)))
            vectors.extend(e.vector for e in embs)
            return {"embeddings": [e.to_dict() for e in embs]}

        results, errors = process_images(files, "embedding", work)
        if output is not None:
            output.parent.mkdir(parents=True, exist_ok=True)
            np.savez(output, names=np.array(names), vectors=np.array(vectors, dtype=np.float32).reshape(len(names), -1))
        emit(results[0] if len(files) == 1 else {"images": results, "errors": errors})
        exit_if_nothing_done(len(results), len(errors), "no image could be read (see errors)")


@app.command()
def verify(
    first: Path = typer.Argument(..., help="First photo."),
    second: Path = typer.Argument(..., help="Second photo."),
    model: str = ModelOpt,
    detector: Optional[str] = DetectorOpt,
    metric: str = MetricOpt,
    threshold: Optional[float] = typer.Option(None, "--threshold", min=0.0,
                                              help="Override the model's calibrated one."),
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
    metric: str = MetricOpt,
    verbose: bool = VerboseOpt,
) -> None:
    """Compare one known face with many photos; each gets a distance and a decision."""
    from faceprint.api import decide, embed_face
    from faceprint.errors import FaceprintError
    from faceprint.pipeline.match import check_metric

    setup_logging(verbose)
    with friendly_errors():
        check_metric(metric)  # before any photo is embedded
        files = expand_inputs(candidates)
        if not files:
            fail("no photos to compare with")
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
        failed = sum("error" in r for r in rows)
        exit_if_nothing_done(len(rows) - failed, failed, "no photo could be compared (see results)")


@app.command()
def bench(
    images: list[Path] = typer.Argument(..., help="Image files or folders to time the pipeline on."),
    count: int = typer.Option(200, "--count", "-n", min=1, help="Use at most this many images."),
    model: str = ModelOpt,
    detector: Optional[str] = DetectorOpt,
    flip: bool = FlipOpt,
    verbose: bool = VerboseOpt,
) -> None:
    """Per-stage speed (decode, detect, landmarks+align, batched embed), images/s and peak RSS."""
    from faceprint.eval.speed import stage_timings
    from faceprint.pipeline.pipeline import PipelineConfig

    setup_logging(verbose)
    with friendly_errors():
        files = expand_inputs(images)[:count]
        if not files:
            fail("no images to time")
        with progress_bar(len(files), "timing") as advance:
            timings = stage_timings(files, PipelineConfig(detector=detector or "", model=model, flip=flip), advance)
        emit(timings)
        unreadable = int(timings.get("unreadable") or 0)
        exit_if_nothing_done(len(files) - unreadable, unreadable, "no image could be read: nothing was timed")


def main() -> None:
    app()


def _add_subcommands() -> None:
    from faceprint.cli.classify_cmd import app as classify_app
    from faceprint.cli.cluster_cmd import cluster as cluster_command
    from faceprint.cli.eval_cmd import app as eval_app
    from faceprint.cli.models_cmd import app as models_app
    from faceprint.cli.train_cmd import app as train_app

    app.add_typer(eval_app, name="eval")
    app.add_typer(models_app, name="models")
    app.add_typer(classify_app, name="classify")
    app.add_typer(train_app, name="train")
    app.command("cluster")(cluster_command)
    from faceprint.cli.gallery_cmd import app as gallery_app, identify as identify_command
    app.add_typer(gallery_app, name="gallery")
    app.command("identify")(identify_command)
    from faceprint.cli.people_cmd import add_photos as add_photos_command, app as people_app
    gallery_app.command("add-photos")(add_photos_command)
    app.add_typer(people_app, name="people")
    from faceprint.cli.serve_cmd import keys_app, serve
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")
    from faceprint.cli.video_cmd import video as video_command
    app.command("video")(video_command)
    from faceprint.cli.index_cmd import index as index_command
    app.command("index")(index_command)
    from faceprint.cli.calibrate_cmd import calibrate as calibrate_command
    app.command("calibrate")(calibrate_command)


_add_subcommands()


if __name__ == "__main__":
    main()

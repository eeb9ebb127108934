"""The facade: small functions named for what they return, plain dataclasses out.

Models load on first use and stay cached per process.

Example:
    >>> import faceprint
    >>> faces = faceprint.detect("tests/fixtures/astronaut.png")
    >>> len(faces)
    1
    >>> result = faceprint.verify("a.jpg", "b.jpg")          # doctest: +SKIP
    >>> result.same, result.distance, result.threshold      # doctest: +SKIP
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

import numpy as np

from faceprint.images import ImageSource, load_image
from faceprint.pipeline.match import check_metric, convert_threshold, distance
from faceprint.pipeline.pipeline import Pipeline, PipelineConfig, get_pipeline
from faceprint.pipeline.sources import ReadSource
from faceprint.thresholds import threshold_for
from faceprint.types import Detection, Embedding, FaceChip, ImageFaces, Verification

__all__ = ["load_image", "detect", "align", "embed", "embed_many", "embed_face", "verify", "compare"]


def _pipeline(detector: str | None, model: str, **options) -> Pipeline:
    """The process-wide pipeline of these settings (models load once)."""
    return get_pipeline(PipelineConfig(detector=detector or "", model=model, **options))


def detect(image: ImageSource, detector: str | None = None, landmarks: int = 5, **options) -> list[Detection]:
    """Every face in an image, with box, score and 5 (or also 68) landmarks.

    Args:
        image: a path, encoded bytes, a binary file object or an array (``load_image``).
        detector: ``yunet`` (default where installed), ``hog`` or ``cnn``.
        landmarks: 5, or 68 to add the iBUG 68-point shape.
        **options: ``PipelineConfig`` settings: score_threshold, upsample, min_face_size, max_faces...

    Returns:
        One ``Detection`` per face, highest detector score first (empty if none).

    Raises:
        ImageNotFound, BadImage, ImageTooLarge: the image cannot be read.
        UnknownModel: a detector the registry does not know.
        BadInput: a setting out of range (e.g. ``landmarks`` other than 5 or 68).

    Example:
        >>> [f.box.as_list() for f in detect("tests/fixtures/astronaut.png")]  # doctest: +SKIP
        [[178.0, 63.0, 267.0, 175.0]]
    """
    return _pipeline(detector, "dlib", **options).detect(load_image(image), landmarks)


def align(image: ImageSource, detections: Sequence[Detection] | None = None, kind: str = "dlib150",
          detector: str | None = None) -> list[FaceChip]:
    """Aligned face crops, as the embedding networks take them.

    Args:
        image: a path, encoded bytes, a binary file object or an array.
        detections: the faces to align; None detects them first.
        kind: the chip's layout: ``dlib150``, ``facenet160`` or ``arcface112``.
        detector: the detector to use when ``detections`` is None.

    Returns:
        One ``FaceChip`` per face.

    Raises:
        ImageNotFound, BadImage, ImageTooLarge: the image cannot be read.
        BadInput: an unknown chip ``kind``.

    Example:
        >>> [c.image.shape for c in align("tests/fixtures/astronaut.png")]  # doctest: +SKIP
        [(150, 150, 3)]
    """
    from faceprint.pipeline.align import align_chip

    rgb = load_image(image)
    if detections is None:
        detections = _pipeline(detector, "dlib").detect(rgb)
    return [align_chip(rgb, d, kind) for d in detections]


def embed(image: ImageSource, model: str = "dlib", detector: str | None = None, flip: bool = True,
          jitter: int = 0, **options) -> list[Embedding]:
    """One L2-normalised embedding per face found in the image.

    Args:
        image: a path, encoded bytes, a binary file object or an array.
        model: the embedding model (``faceprint models`` lists them).
        detector: ``yunet`` (default where installed), ``hog`` or ``cnn``.
        flip: average each vector with its mirror image's.
        jitter: also average this many randomly perturbed copies (slower).
        **options: other ``PipelineConfig`` settings (score_threshold, upsample, align_points...).

    Returns:
        One ``Embedding`` per face, highest detector score first (empty if none).

    Raises:
        ImageNotFound, BadImage, ImageTooLarge: the image cannot be read.
        UnknownModel: a model or detector the registry does not know.
        ModelNotAvailable: the model's weights or package are not installed.

    Example:
        >>> [e.vector.shape for e in embed("tests/fixtures/astronaut.png")]  # doctest: +SKIP
        [(128,)]
    """
    pipe = _pipeline(detector, model, flip=flip, jitter=jitter, **options)
    rgb = load_image(image)
    return pipe.embed(rgb, pipe.find_faces(rgb)[0])


def embed_many(sources: Iterable[ImageSource | ReadSource], model: str = "dlib", detector: str | None = None,
               workers: int = 1, progress: bool | Callable[[int], None] = False, batch_size: int = 32,
               flip: bool = True, jitter: int = 0, **options) -> list[ImageFaces]:
    """Every face of every image, embedded in batches: one ``ImageFaces`` per source, in order.

    A missing, corrupt or faceless file is reported in its result (``error`` / ``problem``),
    never raised for the whole batch. Each photo is read and hashed once (``ImageFaces.sha256``).

    Args:
        sources: paths, encoded bytes, binary files, arrays, or ``pipeline.sources.ReadSource``
            (a photo read and hashed already: not read again).
        model: the embedding model.
        detector: ``yunet`` (default where installed), ``hog`` or ``cnn``.
        workers: processes to spread the images over (each single-threaded with its own models);
            1 runs in this process. Worker processes import the caller's main module again: call
            from a file whose work starts under ``if __name__ == "__main__":``.
        progress: True for a progress bar on stderr, or a callable given the count of images done.
        batch_size: faces per network call.
        flip: average each vector with its mirror image's.
        jitter: also average this many randomly perturbed copies (slower).
        **options: other ``PipelineConfig`` settings.

    Returns:
        One ``ImageFaces`` per source, in order.

    Raises:
        ValueError: ``workers`` below 1.
        BadInput: worker processes cannot start (a script read from standard input); the message
            says what to do.
        UnknownModel: a model or detector the registry does not know.

    Example:
        >>> results = embed_many(["a.jpg", "b.jpg"], workers=2)  # doctest: +SKIP
        >>> [(r.source, len(r.faces), r.problem) for r in results]  # doctest: +SKIP
        [('a.jpg', 1, None), ('b.jpg', 0, 'no face found')]
    """
    from faceprint.pipeline.batch import embed_sources
    from faceprint.progress import progress_callbacks

    if workers < 1:
        raise ValueError(f"workers must be >= 1, not {workers}")
    items = list(sources)
    pipe = _pipeline(detector, model, flip=flip, jitter=jitter, **options)
    tick, finish = progress_callbacks(progress, len(items), "embedding")
    try:
        return embed_sources(pipe, items, batch_size, tick if progress else None, workers)
    finally:
        finish()


def embed_face(image: ImageSource, model: str = "dlib", detector: str | None = None, flip: bool = True,
               jitter: int = 0, source: str | None = None, **options) -> tuple[Embedding, list[str]]:
    """The embedding of one face: the one nearest the centre, with a note when there were several.

    The photo is known to hold a face, so YuNet's fallback applies (a face below the detector's
    threshold is taken when none reaches it).

    Args:
        image: a path, encoded bytes, a binary file object or an array.
        model: the embedding model.
        detector: ``yunet`` (default where installed), ``hog`` or ``cnn``.
        flip: average each vector with its mirror image's.
        jitter: also average this many randomly perturbed copies (slower).
        source: the photo's name in notes and errors (default: the path, else "image").
        **options: other ``PipelineConfig`` settings.

    Returns:
        The embedding, and notes (one when the photo held several faces).

    Raises:
        NoFace: the image has no face.
        ImageNotFound, BadImage, ImageTooLarge: the image cannot be read.

    Example:
        >>> face, notes = embed_face("tests/fixtures/astronaut.png")  # doctest: +SKIP
        >>> face.vector.shape, notes  # doctest: +SKIP
        ((128,), [])
    """
    pipe = _pipeline(detector, model, flip=flip, jitter=jitter, **options)
    name = source or (str(image) if isinstance(image, str) else "image")
    return pipe.embed_one(load_image(image), name)


def verify(a: ImageSource, b: ImageSource, model: str = "dlib", detector: str | None = None,
           metric: str = "euclidean", threshold: float | None = None, flip: bool = True,
           jitter: int = 0, **options) -> Verification:
    """Are two photos the same person? One distance, one threshold, one decision.

    Each photo's face nearest the centre is used (``embed_face``).

    Args:
        a: the first photo (path, bytes, file object or array).
        b: the second photo.
        model: the embedding model.
        detector: ``yunet`` (default where installed), ``hog`` or ``cnn``.
        metric: ``euclidean`` or ``cosine`` (1 - cos).
        threshold: the largest distance that still means the same person; default the model's,
            calibrated on LFW View 1 (``thresholds.threshold_for``).
        flip: average each vector with its mirror image's.
        jitter: also average this many randomly perturbed copies (slower).
        **options: other ``PipelineConfig`` settings.

    Returns:
        The ``Verification``: distance, threshold, decision, and notes.

    Raises:
        BadInput: an unknown ``metric`` (checked before any photo is embedded).
        NoFace: a photo has no face.
        ImageNotFound, BadImage, ImageTooLarge: a photo cannot be read.

    Example:
        >>> r = verify("a.jpg", "b.jpg")  # doctest: +SKIP
        >>> r.same, round(r.distance, 3), r.threshold  # doctest: +SKIP
        (True, 0.312, 0.503)
    """
    check_metric(metric)  # before two photos are embedded for nothing
    ea, notes_a = embed_face(a, model, detector, flip, jitter, source=_name(a, "first image"), **options)
    eb, notes_b = embed_face(b, model, detector, flip, jitter, source=_name(b, "second image"), **options)
    return decide(ea.vector, eb.vector, model, metric, threshold, tuple(notes_a + notes_b))


def decide(va: np.ndarray, vb: np.ndarray, model: str, metric: str = "euclidean",
           threshold: float | None = None, notes: tuple[str, ...] = ()) -> Verification:
    """Verification of two embeddings under the model's (or a given) threshold.

    Args:
        va: the first vector.
        vb: the second vector, of the same model.
        model: the model that made them (whose threshold applies).
        metric: ``euclidean`` or ``cosine``.
        threshold: overrides the model's threshold (in ``metric``'s units).
        notes: carried into the result.

    Returns:
        The ``Verification``.

    Raises:
        BadInput: an unknown ``metric``.
    """
    check_metric(metric)
    if threshold is None:
        threshold = convert_threshold(threshold_for(model), metric)
    d = float(distance(va, vb, metric))
    return Verification(d, float(threshold), d <= threshold, metric, model, notes)


def compare(known: ImageSource, candidates: Sequence[ImageSource], model: str = "dlib",
            metric: str = "euclidean", **options) -> list[Verification]:
    """Verify one known face against many candidate photos.

    Args:
        known: the photo of the known person.
        candidates: the photos to compare with it.
        model: the embedding model.
        metric: ``euclidean`` or ``cosine``.
        **options: other ``embed_face`` settings (detector, flip, jitter...).

    Returns:
        One ``Verification`` per candidate, in order.

    Raises:
        BadInput: an unknown ``metric`` (checked before any photo is embedded).
        NoFace: a photo has no face.
        ImageNotFound, BadImage, ImageTooLarge: a photo cannot be read.

    Example:
        >>> [r.same for r in compare("me.jpg", ["a.jpg", "b.jpg"])]  # doctest: +SKIP
        [True, False]
    """
    check_metric(metric)  # before any photo is embedded
    ek, notes = embed_face(known, model, source=_name(known, "known image"), **options)
    results = []
    for index, candidate in enumerate(candidates):
        ec, more = embed_face(candidate, model, source=_name(candidate, f"candidate {index}"), **options)
        results.append(decide(ek.vector, ec.vector, model, metric, None, tuple(notes + more)))
    return results


def _name(source: ImageSource, fallback: str) -> str:
    """A path's name for messages, else ``fallback``."""
    return str(source) if isinstance(source, str) or hasattr(source, "__fspath__") else fallback

"""A gallery's pipeline settings: stored with it when it is made, checked when it is opened.

A gallery holds the vectors of one model and one vector-changing pipeline setting (its
signature); opening it with others would compare vectors that are not comparable.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, fields
from numbers import Integral, Real
from typing import Any, Mapping

from faceprint.errors import BadInput, GalleryMismatch
from faceprint.gallery.store import Store, open_store, store_exists

DEFAULT_MODEL = "dlib"

# the ranges of the settings a gallery is made with (``check_options``): what the CLI's options
# allow, and bounds on the settings that multiply the work of every enrolled photo
MAX_UPSAMPLE = 3  # as --upsample: the image doubled N times, 4**N the pixels
MAX_JITTER = 100  # extra perturbed views per face: N + 1 times the embedding time
MAX_MIN_FACE_SIZE = 10_000.0  # pixels
SCORE_RANGE = (-5.0, 5.0)  # dlib's HOG/CNN scores (SVM margins); YuNet's are 0-1
BOOLEAN_SETTINGS = ("flip", "averaged_landmarks", "mirror_align", "pose_fusion")


def open_with_settings(path: Any, model: str | None, create: bool,
                       options: dict[str, Any]) -> tuple[Store, str, Any, str]:
    """Open a gallery's store (made when missing, with ``create``) and resolve its settings.

    Settings a new gallery could never enrol with are refused before its file is made, and the
    store is closed again when they do not match an existing gallery's.

    Args:
        path: a gallery URI or path.
        model: the model asked for (None: the gallery's own, the default for a new one).
        create: create the gallery when it does not exist.
        options: ``PipelineConfig`` fields asked for.

    Returns:
        ``(store, model, config, signature)``.

    Raises:
        NoGallery: ``create`` is False and there is no gallery.
        GalleryMismatch: the gallery holds vectors of another model or signature.
        UnknownModel: an unknown model or detector for a new gallery.
    """
    if create and not store_exists(path):  # bad settings are refused before a new file is made for nothing
        check_new(model, options)
    store = open_store(path, create=create)
    try:
        return (store, *resolve(store, model, options))
    except BaseException:
        store.close()
        raise


def check_new(model: str | None, options: dict[str, Any]) -> None:
    """Refuse settings a new gallery could never enrol with, before its file is made.

    Args:
        model: the embedding model (None: the default).
        options: ``PipelineConfig`` fields.

    Raises:
        UnknownModel: an unknown model or detector.
        BadInput: a field of a wrong value.
        TypeError: an unknown field.
    """
    from faceprint.pipeline.pipeline import PipelineConfig

    PipelineConfig(model=model or DEFAULT_MODEL, **check_options(options)).resolved()


def check_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Every setting of ``options`` of its type and in its range, before a gallery is made with them
    (from the CLI, the library, or an export file someone else wrote).

    Args:
        options: ``PipelineConfig`` fields other than the model.

    Returns:
        The same settings, as a dict.

    Raises:
        BadInput: a setting of the wrong type or out of its range; the message names it.
        UnknownModel: an unknown detector.
        TypeError: a name that is not a ``PipelineConfig`` field.
    """
    from faceprint import registry
    from faceprint.pipeline.align import ALIGN_POINTS
    from faceprint.pipeline.detect import LANDMARK_BOXES

    options = dict(options)
    detector = options.get("detector", "")
    if not isinstance(detector, str):
        raise _out_of_range("detector", detector, "a detector's name")
    if detector:
        registry.detector_spec(detector)
    for name in BOOLEAN_SETTINGS:
        if name in options and not isinstance(options[name], bool):
            raise _out_of_range(name, options[name], "true or false")
    _integer(options, "upsample", 0, MAX_UPSAMPLE, optional=True)
    _integer(options, "jitter", 0, MAX_JITTER)
    _integer(options, "max_faces", 1, None, optional=True)
    _number(options, "min_face_size", 0.0, MAX_MIN_FACE_SIZE)
    yunet = (detector or registry.default_detector()) == "yunet"
    _number(options, "score_threshold", *((0.0, 1.0) if yunet else SCORE_RANGE), optional=True)
    _number(options, "fallback_score", 0.0, 1.0, optional=True)
    if options.get("landmark_box", LANDMARK_BOXES[0]) not in LANDMARK_BOXES:
        raise _out_of_range("landmark_box", options["landmark_box"], "one of " + ", ".join(LANDMARK_BOXES))
    if options.get("align_points", "") not in ("", *ALIGN_POINTS):
        raise _out_of_range("align_points", options["align_points"], "one of " + ", ".join(ALIGN_POINTS))
    return options


def _integer(options: dict[str, Any], name: str, low: int, high: int | None, optional: bool = False) -> None:
    value = options.get(name)
    if value is None and (optional or name not in options):
        return
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low or (high is not None and value > high):
        expected = f"a whole number from {low}" + (f" to {high}" if high is not None else " up")
        raise _out_of_range(name, value, expected + (", or none" if optional else ""))


def _number(options: dict[str, Any], name: str, low: float, high: float, optional: bool = False) -> None:
    value = options.get(name)
    if value is None and (optional or name not in options):
        return
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or not low <= value <= high:
        raise _out_of_range(name, value, f"a number from {low:g} to {high:g}" + (", or none" if optional else ""))


def _out_of_range(name: str, value: Any, expected: str) -> BadInput:
    shown = repr(value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return BadInput(f"pipeline setting {name}={shown} is not allowed: expected {expected}")


def resolve(store: Store, model: str | None, options: dict[str, Any]) -> tuple[str, Any, str]:
    """The model, resolved ``PipelineConfig`` and signature of the gallery in ``store``.

    A new gallery stores the ones asked for; an existing one keeps its own, with ``options``
    (e.g. ``detector``) laid over them as long as the signature stays the same.

    Args:
        store: the gallery's open store.
        model: the model asked for (None: whatever the gallery holds, the default for a new one).
        options: ``PipelineConfig`` fields asked for.

    Returns:
        ``(model, config, signature)``.

    Raises:
        GalleryMismatch: the gallery holds vectors of another model or signature.
    """
    from faceprint.pipeline.pipeline import Pipeline, PipelineConfig

    stored = store.meta("model")
    if stored is None:
        model = model or DEFAULT_MODEL
        config = PipelineConfig(model=model, **options).resolved()
        signature = Pipeline(config).signature()
        store.set_meta("model", model)
        store.set_meta("signature", signature)
        store.set_meta("pipeline", json.dumps(asdict(config)))
        return model, config, signature
    if model is not None and model != stored:
        raise GalleryMismatch(f"{store.path} holds {stored!r} vectors, not {model!r}: faces of different "
                              f"models are never compared; open it with model={stored!r} or use another gallery")
    saved = saved_settings(store)
    known = {f.name for f in fields(PipelineConfig)} - {"model"}
    merged = {k: v for k, v in saved.items() if k in known}  # a field since removed is ignored
    merged.update(options)
    config = PipelineConfig(model=stored, **merged).resolved()
    signature = Pipeline(config).signature()
    if signature != store.meta("signature"):
        raise GalleryMismatch(
            f"{store.path} was enrolled with pipeline {store.meta('signature')} "
            f"({_describe(saved)}), not {signature} ({_describe(asdict(config))}): "
            "its vectors are not comparable with these; open it with its own settings, or enrol "
            "the photos again into a new gallery")
    return stored, config, signature


def saved_settings(store: Store) -> dict[str, Any]:
    """The pipeline settings stored with the gallery (``PipelineConfig`` fields; {} when none)."""
    return json.loads(store.meta("pipeline") or "{}")


def config_options(config: Any) -> dict[str, Any]:
    """A ``PipelineConfig``'s fields other than the model, as ``Gallery(**options)`` takes them."""
    options = asdict(config)
    options.pop("model")
    return options


def _describe(options: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(options.items()) if v not in (None, ""))

"""A gallery's pipeline settings: stored with it when it is made, checked when it is opened.

A gallery holds the vectors of one model and one vector-changing pipeline setting (its
signature); opening it with others would compare vectors that are not comparable.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import Any

from faceprint.errors import GalleryMismatch
from faceprint.gallery.store import Store, open_store, store_exists

DEFAULT_MODEL = "dlib"


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

    PipelineConfig(model=model or DEFAULT_MODEL, **options).resolved()


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

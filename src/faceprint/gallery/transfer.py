"""A gallery's export file: subjects, faces and vectors (no photos) in one ``.npz`` that another
gallery of the same model and pipeline can import.

The file holds two arrays: ``header`` (UTF-8 JSON: format, version, model, signature, pipeline
settings, subjects, faces) and ``vectors`` (float32, one row per face, in the order of
``header["faces"]``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from faceprint.errors import GalleryError, GalleryMismatch
from faceprint.gallery.private_files import mode_of, open_new
from faceprint.gallery.store import NewFace, Store

FORMAT = "faceprint-gallery"
VERSION = 1


@dataclass(frozen=True)
class Export:
    """What an export file holds, ready to add to a gallery."""

    signature: str
    subjects: list[tuple[str, dict]]
    faces: list[tuple[str, NewFace]]


def write_export(store: Store, path: str | Path, model: str, signature: str, dim: int) -> Path:
    """Write a store's subjects, faces and vectors to ``path`` (atomically: a temporary file, then
    renamed), readable by its owner only (``0600``; an existing file's mode is kept).

    Args:
        store: the gallery's store.
        path: the ``.npz`` file to write.
        model: the gallery's model.
        signature: the gallery's pipeline signature.
        dim: the vectors' dimension (for an empty gallery's empty array).

    Returns:
        ``path``.
    """
    path = Path(path)
    faces = store.faces()
    vectors = [v for _, v in store.vectors()]
    header = {"format": FORMAT, "version": VERSION, "model": model, "signature": signature,
              "pipeline": json.loads(store.meta("pipeline") or "{}"),
              "subjects": [s.to_dict() for s in store.subjects()], "faces": [f.to_dict() for f in faces]}
    array = np.concatenate(vectors) if vectors else np.zeros((0, dim), np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open_new(tmp, mode_of(path)) as fh:  # 0600; a file written over keeps its mode
        np.savez_compressed(fh, header=np.frombuffer(json.dumps(header).encode(), np.uint8), vectors=array)
    tmp.replace(path)
    return path


def read_export(path: str | Path, signature: str) -> Export:
    """The subjects and faces of an export file, for a gallery of the given signature.

    Args:
        path: a file ``write_export`` wrote.
        signature: the importing gallery's pipeline signature.

    Returns:
        Its signature, subjects (name, metadata) and faces (subject name, face).

    Raises:
        GalleryError: not an export, or a damaged one.
        GalleryMismatch: an export of another pipeline signature.
    """
    try:
        with np.load(Path(path)) as data:
            header = json.loads(bytes(data["header"]).decode())
            vectors = data["vectors"]
    except (OSError, ValueError, KeyError) as exc:
        raise GalleryError(f"{path}: not a faceprint gallery export ({exc})") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise GalleryError(f"{path}: not a faceprint gallery export")
    try:
        export = Export(signature=header["signature"],
                        subjects=[(s["name"], s.get("metadata") or {}) for s in header["subjects"]],
                        faces=[(f["subject"], NewFace(vectors[i], f["sha256"], f["box"], f.get("source")))
                               for i, f in enumerate(header["faces"])])
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise GalleryError(f"{path}: a damaged gallery export ({type(exc).__name__}: {exc}); "
                           "export the gallery again") from exc
    if export.signature != signature:
        raise GalleryMismatch(f"{path} holds vectors of {export.signature}, this gallery {signature}: "
                              "they cannot be mixed; import it into a gallery of that model and settings")
    return export


def export_settings(path: str | Path) -> dict[str, Any]:
    """The model and pipeline settings an export was made with (``PipelineConfig`` fields), for
    creating a gallery that can import it, each checked as the CLI's options are: an export may
    come from anyone, and these settings would run on every photo the new gallery enrols.

    Args:
        path: an export file.

    Returns:
        The settings: ``model`` (a registered model's name) and the ``PipelineConfig`` fields the
        export names; fields this version does not have are left out.

    Raises:
        GalleryError: not an export.
        BadInput: a setting of the wrong type or out of its range (the message names it), or a
            model given as a file (a gallery of it is created first, then imported into).
    """
    from faceprint import registry
    from faceprint.errors import BadInput, UnknownModel
    from faceprint.gallery.pipeline_settings import check_options
    from faceprint.pipeline.pipeline import PipelineConfig

    try:
        with np.load(Path(path)) as data:
            header = json.loads(bytes(data["header"]).decode())
        settings = dict(header["pipeline"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GalleryError(f"{path}: not a faceprint gallery export") from exc
    model = settings.pop("model", header.get("model"))
    models = [spec.name for spec in registry.list_embedders()]
    if not isinstance(model, str) or model not in models:
        shown = repr(model) if len(repr(model)) <= 60 else repr(model)[:57] + "..."
        raise BadInput(f"{path}: pipeline setting model={shown} is not allowed: expected one of {', '.join(models)} "
                       "(for a gallery of a model file, create it first with `faceprint gallery create --model "
                       "FILE` and import into it)")
    known = {f.name for f in fields(PipelineConfig)} - {"model"}
    options = {name: value for name, value in settings.items() if name in known}
    try:
        check_options(options)
    except UnknownModel as exc:
        raise BadInput(f"{path}: pipeline setting detector={options.get('detector')!r} is not allowed: {exc}") from None
    except BadInput as exc:
        raise BadInput(f"{path}: {exc}") from None
    return {"model": model, **options}

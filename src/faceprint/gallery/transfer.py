"""A gallery's export file: subjects, faces and vectors (no photos) in one ``.npz`` that another
gallery of the same model and pipeline can import.

The file holds ``header`` (UTF-8 JSON: format, version, model, signature, pipeline settings,
subjects, people, faces, "not this person" links), ``vectors`` (float32, one row per face, in the
order of ``header["faces"]``) and, from version 2, ``thumbnails`` (the faces' JPEG crops, one
after another) with ``thumbnail_ends`` (where each face's ends; equal ends: none). An import
keeps the people: named ones by name, unnamed ones as new unnamed people, each face with its
person, whether the user placed it, and its corrections.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from faceprint.errors import GalleryError, GalleryMismatch
from faceprint.gallery.private_files import mode_of, open_new
from faceprint.gallery.store import NewFace, Store
from faceprint.gallery.writes import COMMIT_BATCH

FORMAT = "faceprint-gallery"
VERSION = 2


@dataclass(frozen=True)
class Export:
    """What an export file holds, ready to add to a gallery."""

    signature: str
    subjects: list[tuple[str, dict]]
    faces: list[tuple[str, NewFace]]
    people: dict[int, dict] = field(default_factory=dict)  # old person id -> {"name", "named", ...}
    persons: list[int | None] = field(default_factory=list)  # each face's old person id
    confirmed: list[bool] = field(default_factory=list)
    links: list[tuple[int, int]] = field(default_factory=list)  # (face row, old person id)


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
    people = store.people_store()
    faces = people.faces(ids=[f.id for f in store.faces()])  # with each face's index, person and placing
    vectors = [v for _, v in store.vectors()]
    header = {"format": FORMAT, "version": VERSION, "model": model, "signature": signature,
              "pipeline": json.loads(store.meta("pipeline") or "{}"),
              "subjects": [s.to_dict() for s in store.subjects()], "faces": [f.to_dict() for f in faces],
              "people": [p.to_dict() for p in people.persons()], "not_this_person": people.cannot_links()}
    array = np.concatenate(vectors) if vectors else np.zeros((0, dim), np.float32)
    thumbs = people.thumbnails_of([f.id for f in faces])
    blobs = [thumbs.get(f.id, b"") for f in faces]
    ends = np.cumsum([len(b) for b in blobs], dtype=np.int64) if blobs else np.zeros(0, np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open_new(tmp, mode_of(path)) as fh:  # 0600; a file written over keeps its mode
        np.savez_compressed(fh, header=np.frombuffer(json.dumps(header).encode(), np.uint8), vectors=array,
                            thumbnails=np.frombuffer(b"".join(blobs), np.uint8), thumbnail_ends=ends)
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
            blob = bytes(data["thumbnails"]) if "thumbnails" in data else b""
            ends = data["thumbnail_ends"].tolist() if "thumbnail_ends" in data else []
    except (OSError, ValueError, KeyError) as exc:
        raise GalleryError(f"{path}: not a faceprint gallery export ({exc})") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise GalleryError(f"{path}: not a faceprint gallery export")
    try:
        starts = [0, *ends[:-1]]
        thumbs = [blob[starts[i]:ends[i]] or None if i < len(ends) else None for i in range(len(header["faces"]))]
        row_of = {f["id"]: i for i, f in enumerate(header["faces"]) if "id" in f}
        export = Export(signature=header["signature"],
                        subjects=[(s["name"], s.get("metadata") or {}) for s in header["subjects"]],
                        faces=[(f["subject"], NewFace(vectors[i], f["sha256"], f["box"], f.get("source"),
                                                      face_index=int(f.get("face_index", 0)), thumbnail=thumbs[i],
                                                      quality=f.get("quality")))
                               for i, f in enumerate(header["faces"])],
                        people={int(p["id"]): p for p in header.get("people", [])},
                        persons=[f.get("person_id") for f in header["faces"]],
                        confirmed=[bool(f.get("confirmed", True)) for f in header["faces"]],
                        links=[(row_of[f], int(p)) for f, p in header.get("not_this_person", []) if f in row_of])
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
        raise GalleryError(f"{path}: a damaged gallery export ({type(exc).__name__}: {exc}); "
                           "export the gallery again") from exc
    if export.signature != signature:
        raise GalleryMismatch(f"{path} holds vectors of {export.signature}, this gallery {signature}: "
                              "they cannot be mixed; import it into a gallery of that model and settings")
    return export


def import_export(store: Store, writer: Any, path: str | Path, signature: str) -> int:
    """Add an export's subjects, people and faces to a gallery (photos it holds already are skipped),
    with each face's person, whether the user placed it, its thumbnail, and the "not this person"
    links; unnamed people come in as new unnamed people.

    Args:
        store: the gallery's store.
        writer: its ``Writer``.
        path: a file ``write_export`` wrote.
        signature: the gallery's pipeline signature.

    Returns:
        The faces added.

    Raises:
        GalleryError: not an export, or a damaged one.
        GalleryMismatch: an export of another pipeline signature.
    """
    from functools import partial

    export = read_export(path, signature)
    unnamed_labels = {p.get("label") for p in export.people.values() if not p.get("named", True)}
    writer.add_missing_subjects([(name, meta) for name, meta in export.subjects if name not in unnamed_labels])
    if not export.people:  # an export of a version without people: faces go to subjects by name
        return writer.commit_all(export.faces)
    people = store.people_store()
    unnamed = [pid for pid, p in export.people.items() if not p.get("named", True)]
    made = dict(zip(unnamed, people.new_unnamed(len(unnamed))))
    named_ids = {s.name: s.id for s in store.subjects()}
    new_pid = {pid: made.get(pid) or named_ids.get(p.get("name") or p.get("label")) for pid, p in export.people.items()}
    rows = [(new_pid.get(old) or named_ids[export.faces[i][0]], export.faces[i][1])
            for i, old in enumerate(export.persons)]
    added = 0
    for start in range(0, len(rows), COMMIT_BATCH):
        added += writer.commit(rows[start:start + COMMIT_BATCH],
                               add=partial(people.add_assigned, confirmed=export.confirmed[start:start + COMMIT_BATCH]))
    writer.searcher.save()
    keys = people.face_ids_of([(export.faces[r][1].sha256, export.faces[r][1].face_index) for r, _ in export.links])
    people.add_links([(keys[(export.faces[r][1].sha256, export.faces[r][1].face_index)], new_pid[p])
                      for r, p in export.links if new_pid.get(p) is not None
                      and (export.faces[r][1].sha256, export.faces[r][1].face_index) in keys])
    writer.change(people.drop_empty_unnamed)
    return added


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

"""Enrolling photos: each read and hashed once, photos a gallery holds already skipped, the rest
embedded with the gallery's own pipeline in batches, one face per photo (the one nearest the
centre), committed one batch at a time. Poor photos (``faceprint.quality``) are reported with their
score and weakest cue, and refused below the gallery's ``min_quality`` (``QualityRule``).
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from faceprint.errors import BadImage, BadInput, GalleryMismatch, NoFace, NothingEnrolled, UnknownSubject
from faceprint.gallery.enrol_quality import POOR, QualityRule, passes
from faceprint.gallery.store import NewFace, Store
from faceprint.gallery.thumbnails import face_thumbnail
from faceprint.gallery.types import EnrolReport
from faceprint.images import ImageSource, is_image_path
from faceprint.pipeline.sources import ReadSource, read_source
from faceprint.progress import progress_callbacks
from faceprint.types import NO_FACE_FOUND

log = logging.getLogger(__name__)

ENROL_BATCH = 64  # photos per transaction: a crash loses at most the batch in flight


@dataclass(frozen=True)
class EnrolItem:
    """One photo to enrol: whose it is, the photo, and what to call it in the report."""

    name: str
    source: ImageSource
    label: str


@dataclass
class _Read:
    """A photo read and hashed: its bytes (or array) and sha256."""

    item: EnrolItem
    data: Any
    sha256: str


@dataclass
class Enrolment:
    """One enrol run's tally; ``report()`` is what the caller gets."""

    added: int = 0
    duplicates: int = 0
    duplicates_of_own: int = 0  # photos enrolled already as the very subject they were given for
    problems: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def report(self) -> EnrolReport:
        """The tally as an ``EnrolReport``."""
        return EnrolReport(added=self.added, skipped_duplicates=self.duplicates, problems=self.problems,
                           notes=self.notes)

    def refuse_if_nothing(self, name: str, store: Store) -> None:
        """For a strict enrol of one subject: raise when nothing went in and nothing was there already.

        Args:
            name: the subject enrolled into.
            store: the gallery's store: a subject it holds already is left as it was by photos
                enrolled as someone else, which is no error.

        Raises:
            BadImage: no photo could be read as an image.
            NoFace: some could, but none held a face, or every face was refused as poor.
            NothingEnrolled: every photo is enrolled already as someone else, and the subject does
                not exist (nothing made it).
        """
        if self.added or self.duplicates_of_own or (self.duplicates and _holds(store, name)):
            return
        if not self.duplicates:
            detail = "; ".join(f"{k}: {v}" for k, v in self.problems.items()) or "nothing to enrol"
            if self.problems and all(v.startswith(POOR) for v in self.problems.values()):
                raise NoFace(f"every photo for {name!r} was refused as poor: {detail}; enrol them anyway with "
                             "allow_poor (--allow-poor) or a lower min_quality (--min-quality)")
            if self.problems and NO_FACE_FOUND not in self.problems.values():
                raise BadImage(f"no photo could be read to enrol into {name!r}: {detail}")
            raise NoFace(f"no photo could be enrolled into {name!r}: {detail}")
        reasons = [*self.notes, *(f"{k}: {v}" for k, v in self.problems.items())]
        detail = "; ".join(reasons) or "every photo is in the gallery already"
        raise NothingEnrolled(f"nothing enrolled into {name!r}: {detail}")


def _holds(store: Store, name: str) -> bool:
    try:
        store.subject(name)
    except UnknownSubject:
        return False
    return True


def items_of(name: str, sources: Sequence[ImageSource] | ImageSource,
             labels: Sequence[str] | None = None) -> list[EnrolItem]:
    """The photos of one person as enrol items.

    Args:
        name: the person.
        sources: photos (paths, bytes, arrays, binary file objects), or one of them.
        labels: what to call each photo in the report (default: a path as it is, ``<input N>``
            for anything else).

    Returns:
        One item per photo.

    Raises:
        BadInput: ``labels`` and ``sources`` differ in length.
    """
    if isinstance(sources, (str, os.PathLike, bytes)):
        sources = [sources]
    if labels is not None and len(labels) != len(sources):
        raise BadInput(f"{len(labels)} labels for {len(sources)} photos")
    named = labels or [_label(s, i) for i, s in enumerate(sources)]
    return [EnrolItem(name, s, label) for s, label in zip(sources, named)]


def folder_items(root: str | Path) -> list[EnrolItem]:
    """Every file of ``root/<name>/`` (sub-folders too) as the photos of ``<name>``: files that are
    not photos are reported by the enrol, not left out silently.

    Args:
        root: a folder of people.

    Returns:
        One item per file, labelled by its path.

    Raises:
        BadInput: ``root`` is not a folder, or holds no person's folder of files.
    """
    from faceprint.images import labelled_folder

    root = Path(root)
    if not root.is_dir():
        raise BadInput(f"{root}: not a folder; expected root/<name>/*.jpg")
    return [EnrolItem(name, p, str(p)) for name, paths in labelled_folder(root, images_only=False).items()
            for p in paths]


def enrol_items(items: Sequence[EnrolItem], pipeline: Any, known: Callable[[list[str]], dict[str, str]],
                commit: Callable[[list[tuple[str, NewFace]]], int], progress: bool | Callable[[int], None] = False,
                workers: int = 1, keep_photos: bool = False, thumbnails: bool = False,
                rule: QualityRule | None = None) -> Enrolment:
    """Enrol photos batch by batch: read and hash, skip the known, embed, commit.

    Args:
        items: the photos.
        pipeline: the gallery's ``Pipeline`` (its signature is the gallery's).
        known: sha256 -> subject name of the given digests the gallery holds already.
        commit: stores one batch of faces (one transaction) and returns how many were added.
        progress: True for a progress bar on stderr, or a callable given the count of photos done.
        workers: processes embedding in parallel.
        keep_photos: keep each photo's bytes with its face.
        thumbnails: keep a small JPEG crop of each face (``faceprint.gallery.thumbnails``).
        rule: what to do with poor photos (default: enrol them with a note).

    Returns:
        The tally of what was done.
    """
    from faceprint.pipeline.batch import embed_sources

    tally = Enrolment()
    rule = rule or QualityRule()
    tick, finish = progress_callbacks(progress, len(items), "enrolling")
    signature = pipeline.signature()
    try:
        for chunk in _read_batches(items, tally, tick):
            owners = known([r.sha256 for r in chunk])
            todo: list[_Read] = []
            seen: set[str] = set()
            for read in chunk:
                name, label = read.item.name, read.item.label
                if read.sha256 in owners or read.sha256 in seen:
                    tally.duplicates += 1
                    owner = owners.get(read.sha256, name)
                    tally.duplicates_of_own += owners.get(read.sha256) == name
                    if owner != name:
                        tally.notes.append(f"{label}: this photo is enrolled already as {owner!r}; not added to {name!r}")
                    tick(1)
                else:
                    seen.add(read.sha256)
                    todo.append(read)
            if not todo:
                continue
            sources = [ReadSource(r.data, r.sha256, r.item.label) if isinstance(r.data, bytes) else r.data
                       for r in todo]
            results = embed_sources(pipeline, sources, progress=tick, workers=workers)
            batch: list[tuple[str, NewFace]] = []
            for read, result in zip(todo, results):
                label = read.item.label
                if result.signature and result.signature != signature:
                    raise GalleryMismatch(f"embedded with {result.signature}, gallery holds {signature}")
                if not result.ok:
                    tally.problems[label] = result.problem or NO_FACE_FOUND
                    continue
                face = result.nearest_center() if len(result.faces) > 1 else result.faces[0]
                if len(result.faces) > 1:
                    tally.notes.append(f"{label}: {len(result.faces)} faces found; enrolled the one nearest the centre")
                if not passes(rule, face, read.data, label, pipeline, tally):
                    continue
                photo = read.data if keep_photos and isinstance(read.data, bytes) else None
                box = face.detection.box.as_list()
                thumb = face_thumbnail(read.data, box) if thumbnails else None
                batch.append((read.item.name, NewFace(face.vector, read.sha256, box, label if not label.startswith("<")
                                                      else None, photo, thumbnail=thumb, quality=face.quality)))
            if batch:
                tally.added += commit(batch)
    finally:
        finish()
    for label, problem in tally.problems.items():
        log.info("enrol: %s: %s", label, problem)
    return tally


def _read_batches(items: Sequence[EnrolItem], tally: Enrolment,
                  tick: Callable[[int], None]) -> Iterator[list[_Read]]:
    """Batches of ``ENROL_BATCH`` readable photos, read and hashed one batch at a time (so that a
    large folder is never held in memory, and photos already enrolled are never embedded)."""
    chunk: list[_Read] = []
    for item in items:
        problem = _unusable(item.source)
        if problem is None:
            try:
                data, digest = _read(item.source)
            except OSError as exc:
                problem = f"cannot read: {exc.strerror or exc}"
        if problem is not None:
            tally.problems[item.label] = problem
            tick(1)
            continue
        chunk.append(_Read(item, data, digest))
        if len(chunk) == ENROL_BATCH:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _unusable(source: ImageSource) -> str | None:
    """Why a path cannot be enrolled without reading it (missing, or not an image by its suffix)."""
    if isinstance(source, (str, os.PathLike)) and not Path(source).is_file():
        return "no such file"
    if isinstance(source, Path) and not is_image_path(source):
        return "not an image file (by its suffix); skipped"
    return None


def _read(source: ImageSource) -> tuple[Any, str]:
    """The photo's bytes (or array) and the sha256 of its content (for an array, of its pixels
    with their shape and type)."""
    if not isinstance(source, (str, os.PathLike, bytes, bytearray, memoryview, np.ndarray)) and not hasattr(source, "read"):
        raise BadInput(f"cannot enrol a {type(source).__name__}: give paths, bytes or arrays")
    data, digest = read_source(source)
    if digest is None:
        array = np.ascontiguousarray(data)
        h = hashlib.sha256(f"{array.shape}|{array.dtype}|".encode())
        h.update(array.tobytes())
        digest = h.hexdigest()
    return data, digest


def _label(source: ImageSource, number: int) -> str:
    return str(source) if isinstance(source, (str, os.PathLike)) else f"<input {number}>"


def add_vectors(writer: Any, gallery_signature: str, names: Sequence[str], vectors: np.ndarray,
                keys: Sequence[str] | None = None, signature: str | None = None,
                sources: Sequence[str | None] | None = None) -> int:
    """Enrol vectors embedded already with the gallery's pipeline (``Gallery.add_vectors``).

    Args:
        writer: the gallery's ``Writer``.
        gallery_signature: the gallery's pipeline signature.
        names: each vector's subject.
        vectors: (N, dim) unit vectors.
        keys: what stands for each photo's sha256 (duplicates skipped); default: the vector's bytes.
        signature: the pipeline signature the vectors were embedded with, to have others refused.
        sources: where each vector came from, kept with its face.

    Returns:
        The faces added.

    Raises:
        GalleryMismatch: vectors of another signature or dimension.
        BadInput: ``names`` and ``vectors`` differ in length.
    """
    if signature is not None and signature != gallery_signature:
        raise GalleryMismatch(f"vectors of {signature} cannot join a gallery of {gallery_signature}")
    return writer.commit_all(vector_faces(names, vectors, keys, sources))


def vector_faces(names: Sequence[str], vectors: np.ndarray, keys: Sequence[str] | None = None,
                 sources: Sequence[str | None] | None = None) -> list[tuple[str, NewFace]]:
    """Faces of vectors embedded already, as a store takes them.

    Args:
        names: each vector's subject.
        vectors: (N, dim) float32 vectors.
        keys: what stands for each photo's sha256; by default the vector's own bytes.
        sources: where each vector came from.

    Returns:
        ``(name, face)`` per vector.

    Raises:
        BadInput: ``names`` and ``vectors`` differ in length.
    """
    vectors = np.atleast_2d(np.asarray(vectors, np.float32))
    if len(names) != len(vectors):
        raise BadInput(f"{len(names)} names for {len(vectors)} vectors")
    if keys is None:
        keys = [hashlib.sha256(v.tobytes()).hexdigest() for v in vectors]
    sources = sources or [None] * len(vectors)
    return [(n, NewFace(v, k, [0.0, 0.0, 0.0, 0.0], s)) for n, v, k, s in zip(names, vectors, keys, sources)]

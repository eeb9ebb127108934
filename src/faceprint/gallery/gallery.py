"""``Gallery``: enrolled people in a persistent store, searched through one searcher. It ties together
``store`` (SQLite or Milvus), ``searcher`` (a local index, or Milvus's), ``writes``, ``enrolment``,
``naming``, ``people``, ``pipeline_settings``, ``upkeep``, ``transfer``.

Example:
    >>> from faceprint import Gallery
    >>> with Gallery("people.db") as g:                         # doctest: +SKIP
    ...     g.enrol_folder("people/", progress=True)            # people/<name>/*.jpg
    ...     [(i.name, i.distance) for i in g.identify("crowd.jpg")]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from faceprint.gallery import enrol_quality, enrolment, naming, pipeline_settings, transfer, upkeep
from faceprint.gallery.naming import decide
from faceprint.gallery.people import AddPhotosReport, People
from faceprint.gallery.searcher import open_searcher
from faceprint.gallery.types import Candidate, CheckReport, EnrolReport, FaceRecord, Identification, Subject
from faceprint.gallery.writes import Writer
from faceprint.images import ImageSource
from faceprint.types import Detection

Progress = bool | Callable[[int], None]


class Gallery:
    """A persistent gallery of one model's face vectors, with enrol, identify and upkeep.

    Args:
        path: an SQLite file (or ``sqlite:///path``) or a Milvus URI (``milvus://host:19530/name``,
            ``milvus-lite:///path/name.db``).
        model: the embedding model; None takes whatever an existing gallery holds, dlib for a new one.
        create: create the gallery when it does not exist.
        **pipeline_options: PipelineConfig fields (detector, flip, jitter, ...); also ``ann_min_faces``
            (faces above which a local index is an HNSW graph) and ``ann`` (False: always exact).

    Raises:
        NoGallery: ``create`` is False and there is no gallery at ``path``.
        GalleryMismatch: the gallery holds vectors of another model or vector-changing setting.
        GalleryError: ``path`` is not a gallery.
        UnknownModel: an unknown model or detector for a new gallery (no file is made).

    Thread-safe: one lock around the gallery's own writes; the searcher locks itself.
    """

    def __init__(self, path: str | Path, model: str | None = None, create: bool = True,
                 **pipeline_options: Any) -> None:
        ann_min_faces = pipeline_options.pop("ann_min_faces", None)
        ann = pipeline_options.pop("ann", None)
        opened = pipeline_settings.open_with_settings(path, model, create, pipeline_options)
        self._store, self.model, self.config, self.signature = opened
        self.path = self._store.path
        self._searcher = open_searcher(self._store, self.signature, ann_min_faces, ann)
        self._writer = Writer(self._store, self._searcher, self.model, self.signature)
        self._count: tuple[int, int] | None = None

    @property
    def pipeline(self) -> Any:
        """The ``Pipeline`` of this gallery's model and settings (loaded once per process)."""
        from faceprint.pipeline.pipeline import get_pipeline

        return get_pipeline(self.config)

    @property
    def dim(self) -> int | None:
        """The dimension of the gallery's vectors (None until the first face)."""
        value = self._store.meta("dim")
        return int(value) if value else None

    def __len__(self) -> int:
        """Faces in the gallery (counted once per store generation: counting scans the table)."""
        generation = self._store.generation()
        cached = self._count
        if cached is None or cached[0] != generation:
            self._count = cached = (generation, self._store.count())
        return cached[1]

    def subjects(self) -> list[Subject]:
        """Every subject with its number of faces, by name."""
        return self._store.subjects()

    def subject(self, name: str) -> Subject:
        """One subject, with its number of faces.

        Args:
            name: the subject's name.

        Raises:
            UnknownSubject: no subject of that name.
        """
        return self._store.subject(name)

    def faces(self, name: str | None = None) -> list[FaceRecord]:
        """Enrolled faces (their vectors stay in the store), oldest first.

        Args:
            name: only this subject's faces (None: everyone's).

        Raises:
            UnknownSubject: ``name`` is not a subject.
        """
        return self._store.faces(name)

    def known_photos(self, digests: Sequence[str]) -> dict[str, str]:
        """sha256 -> subject name, for the photos (by the sha256 of their content) enrolled already.

        Args:
            digests: sha256 hex digests of photo contents.
        """
        return self._store.known_sha256(list(digests))

    def face_vectors(self, chunk: int = 50_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every stored face's ``(ids, vectors)`` (int64, float32 (N, dim)) in chunks by ascending id.

        Args:
            chunk: faces per chunk.
        """
        return self._store.vectors(None, chunk)

    def face_subjects(self, ids: Sequence[int]) -> dict[int, str]:
        """face id -> subject name (ids not in the gallery are left out).

        Args:
            ids: face ids.
        """
        return self._store.face_subjects(ids)

    def index_description(self) -> str:
        """What searches this gallery, in words (e.g. ``"exact (numpy), 12 faces"``)."""
        return self._searcher.describe()

    def add_subject(self, name: str, metadata: dict | None = None) -> Subject:
        """A new subject without faces yet.

        Args:
            name: the new subject's name (one line of text; not "unknown").
            metadata: small plain JSON kept with the subject.

        Raises:
            SubjectExists: the name is taken.
            BadName: the name or metadata is refused.
        """
        return self._store.add_subject(name, metadata)

    def rename(self, name: str, new_name: str) -> Subject:
        """Rename a subject (its faces stay); returns the renamed subject.

        Args:
            name: the subject's name.
            new_name: its new name.

        Raises:
            UnknownSubject: no subject named ``name``.
            SubjectExists: ``new_name`` is taken.
            BadName: ``new_name`` is refused.
        """
        return self._writer.change(lambda: self._store.rename(name, new_name))

    def delete_subject(self, name: str) -> int:
        """Remove a subject and its faces from store and index; returns the number of faces removed.

        Args:
            name: the subject's name.

        Raises:
            UnknownSubject: no subject of that name.
        """
        return len(self._writer.change(lambda: self._store.delete_subject(name), lambda ids: ids, save=True))

    def delete_face(self, face_id: int) -> None:
        """Remove one face from store and index.

        Args:
            face_id: the face's id.

        Raises:
            UnknownFace: no face with that id.
        """
        self._writer.change(lambda: self._store.delete_face(face_id), lambda _: [face_id], save=True)

    def enrol(self, name: str, sources: Sequence[ImageSource], progress: Progress = False, workers: int = 1,
              keep_photos: bool = False, labels: Sequence[str] | None = None, create: bool = True,
              strict: bool = False, min_quality: float | None = None, allow_poor: bool = False) -> EnrolReport:
        """Enrol photos of one person: one face per photo (the one nearest the centre), one transaction
        per batch; photos already in the gallery are skipped, bad and faceless ones reported.

        Args:
            name: the person (created when missing, unless ``create`` is False).
            sources: photos: paths, encoded bytes, arrays or binary file objects.
            progress: True for a progress bar on stderr, or a callable given the count of photos done.
            workers: processes embedding in parallel.
            keep_photos: store the photo bytes with each face (SQLite only).
            labels: what to call each photo in the report (default: its path, or ``<input N>``).
            create: False to refuse a name that is not a subject yet, before anything is embedded.
            strict: raise when nothing went in and no photo was this subject's already.
            min_quality: refuse photos whose quality is below this (default: ``min_quality``).
            allow_poor: refuse no photo for its quality; poor ones are still noted.

        Returns:
            Faces added, photos skipped as duplicates, problems and notes.

        Raises:
            UnknownSubject: ``create`` is False and ``name`` is not a subject.
            BadInput: ``labels`` and ``sources`` differ in length, or a source of the wrong type.
            BadImage: ``strict``, and no photo could be read as an image.
            NoFace: ``strict``, and photos could be read but none held a face.
            NothingEnrolled: ``strict``, every photo is someone else's already, ``name`` no subject.
            GalleryError: the store refuses a photo (``keep_photos`` on Milvus) or the name.
        """
        items = enrolment.items_of(name, sources, labels)
        if not create:
            self._store.subject(name)
        tally = self._enrol(items, progress, workers, keep_photos, min_quality, allow_poor)
        if strict:
            tally.refuse_if_nothing(name, self._store)
        return tally.report()

    def enrol_folder(self, root: str | Path, progress: Progress = False, workers: int = 1,
                     keep_photos: bool = False, min_quality: float | None = None,
                     allow_poor: bool = False) -> EnrolReport:
        """Enrol ``root/<name>/*.jpg``, one folder per person (sub-folders count too; files that
        are not photos are reported), as ``enrol`` does.

        Args:
            root: the folder of people.
            progress: True for a progress bar on stderr, or a callable given the count of photos done.
            workers: processes embedding in parallel.
            keep_photos: store the photo bytes with each face (SQLite only).
            min_quality: refuse photos whose quality is below this (default: ``min_quality``).
            allow_poor: refuse no photo for its quality; poor ones are still noted.

        Returns:
            Faces added, photos skipped as duplicates, problems and notes.

        Raises:
            BadInput: ``root`` is not a folder, or holds no person's folder of files.
        """
        items = enrolment.folder_items(root)
        return self._enrol(items, progress, workers, keep_photos, min_quality, allow_poor).report()

    def add_vectors(self, names: Sequence[str], vectors: np.ndarray, keys: Sequence[str] | None = None,
                    signature: str | None = None, sources: Sequence[str | None] | None = None) -> int:
        """Enrol vectors embedded already with this gallery's pipeline (``enrolment.add_vectors``)."""
        return enrolment.add_vectors(self._writer, self.signature, names, vectors, keys, signature, sources)

    @property
    def min_quality(self) -> float | None:
        """The quality below which enrol refuses a photo; None (the default): it only warns."""
        return enrol_quality.stored_min_quality(self._store)

    @min_quality.setter
    def min_quality(self, value: float | None) -> None:
        enrol_quality.save_min_quality(self._store, value)

    def _enrol(self, items: list[enrolment.EnrolItem], progress: Progress, workers: int, keep_photos: bool,
               min_quality: float | None = None, allow_poor: bool = False) -> enrolment.Enrolment:
        rule = enrolment.QualityRule.of(self._store, min_quality, allow_poor)
        try:
            return enrolment.enrol_items(items, self.pipeline, self.known_photos, self._writer.commit, progress,
                                         workers, keep_photos, thumbnails=self.people.thumbnails, rule=rule)
        finally:
            self._searcher.save()

    def threshold(self, fpir: float | None = None) -> float:
        """The distance under which a probe is named: ``threshold_and_source(fpir)[0]``."""
        return self.threshold_and_source(fpir)[0]

    def threshold_and_source(self, fpir: float | None = None) -> tuple[float, str]:
        """The threshold at ``fpir`` for this gallery's size (None: the calibrated one, else FPIR 1 %) and
        where it comes from (``naming.gallery_threshold``; BadInput: ``fpir`` outside (0, 1))."""
        return naming.gallery_threshold(self._store, self.model, len(self), fpir)

    def quality_floor(self, floor: float | None = None) -> float:
        """The quality under which identify answers "unknown" (``naming.quality_floor``); ``floor`` sets it."""
        return naming.quality_floor(self._store, floor)

    def save_threshold(self, entry: dict[str, Any]) -> None:
        """Keep a calibrated identification threshold with the gallery.

        Args:
            entry: ``{"threshold": float, "gallery_faces": int, ...}`` as calibration reports it.

        Raises:
            KeyError: no ``threshold`` in ``entry``.
        """
        float(entry["threshold"])
        self._store.set_meta("ident_threshold", json.dumps(entry))

    def identify_vectors(self, vectors: np.ndarray, top_k: int = 5,
                         signature: str | None = None) -> list[list[Candidate]]:
        """Top-k subjects of each vector, nearest first, each scored by its nearest face; whatever
        their distance (name a face with ``decide(detection, candidates, gallery.threshold())``).

        Args:
            vectors: (Q, dim) or (dim,) vectors embedded with this gallery's pipeline.
            top_k: subjects per vector.
            signature: the vectors' pipeline signature (``ImageFaces.signature``), to refuse others.

        Raises:
            GalleryMismatch: vectors of another signature or dimension.
        """
        naming.check_signature(signature, self.signature)
        return naming.nearest_subjects(self._searcher, self._store, vectors, top_k)

    def identify(self, image: ImageSource, top_k: int = 5, threshold: float | None = None,
                 min_quality: float | None = None) -> list[Identification]:
        """Every face in a photo: its nearest subjects, and a name or ``"unknown"``.

        Args:
            image: a path, encoded bytes or an array.
            top_k: candidates per face.
            threshold: the distance under which a face is named (default ``threshold()``).
            min_quality: the quality under which a face is "unknown" (default ``quality_floor()``).

        Raises:
            BadImage: the photo cannot be read.
        """
        detections, vectors = naming.embed_photo(self.pipeline, image)
        return self.name_faces(detections, vectors, top_k, threshold, min_quality=min_quality) if detections else []

    def name_faces(self, detections: Sequence[Detection], vectors: np.ndarray, top_k: int = 5,
                   threshold: float | None = None, signature: str | None = None,
                   min_quality: float | None = None) -> list[Identification]:
        """Faces embedded already: each one's nearest subjects and its name, or ``"unknown"``.

        Args:
            detections: the faces.
            vectors: their vectors, row for row.
            top_k: candidates per face.
            threshold: the distance under which a face is named (default ``threshold()``).
            signature: as for ``identify_vectors``.
            min_quality: as for ``identify``.

        Raises:
            GalleryMismatch: vectors of another signature or dimension.
            BadInput: ``min_quality`` outside [0, 1].
        """
        limit = self.threshold() if threshold is None else float(threshold)
        floor = self.quality_floor() if min_quality is None else naming.check_floor(min_quality)
        found = self.identify_vectors(vectors, top_k, signature=signature)
        return [decide(d, c, limit, floor) for d, c in zip(detections, found)]

    def check(self, sample: int = 1000) -> CheckReport:
        """Store and index consistency (the store's integrity, one signature, unit vectors, an
        index of exactly the store's faces); a stale index is brought up to date and said so.

        Args:
            sample: stored faces whose vectors are compared with the index's.
        """
        with self._writer.lock:
            return upkeep.check_gallery(self._store, self._searcher, self.signature, self.dim, sample)

    def export(self, path: str | Path) -> Path:
        """Write people, faces, thumbnails, corrections, vectors (no photos) to ``path``: an ``.npz`` to import."""
        return transfer.write_export(self._store, path, self.model, self.signature, self.dim or 128)

    def import_(self, path: str | Path) -> int:
        """Add an export's people and faces (photos already here are skipped); returns the faces added.

        Args:
            path: a file ``export`` wrote, of this gallery's model and pipeline.

        Raises:
            GalleryError: not an export, or a damaged one (GalleryMismatch: of another model or pipeline).
        """
        return transfer.import_export(self._store, self._writer, path, self.signature)

    @property
    def people(self) -> People:
        """The gallery's people, named and unnamed: list, name, merge, move, re-cluster (``People``)."""
        return People(self)

    def add_photos(self, sources: Sequence[ImageSource], progress: Progress = False, **options: Any) -> AddPhotosReport:
        """Every face of photos and folders, each joining a person or starting one: ``People.add_photos``."""
        return self.people.add_photos(sources, progress, **options)

    def close(self) -> None:
        """Save the index if it changed, and close the store."""
        try:
            self._searcher.close()
        finally:
            self._store.close()

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Gallery({str(self.path)!r}, model={self.model!r})"

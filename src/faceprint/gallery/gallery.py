"""``Gallery``: enrolled people in a persistent store, searched through a vector index.

Example:
    >>> from faceprint import Gallery
    >>> with Gallery("people.db") as g:                         # doctest: +SKIP
    ...     g.enrol_folder("people/", progress=True)            # people/<name>/*.jpg
    ...     [(i.name, i.distance) for i in g.identify("crowd.jpg")]
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from faceprint.errors import BadInput, GalleryError, GalleryMismatch
from faceprint import thresholds
from faceprint.gallery.index import ANN_MIN_FACES, VectorIndex
from faceprint.gallery.store import NewFace, open_store, store_exists
from faceprint.gallery.types import (Candidate, CheckReport, EnrolReport, FaceRecord, Identification,
                                     Subject)
from faceprint.images import ImageSource, is_image_path
from faceprint.progress import progress_callbacks
from faceprint.types import NO_FACE_FOUND, Detection

log = logging.getLogger(__name__)

ENROL_BATCH = 64  # photos per transaction: a crash loses at most the batch in flight


class Gallery:
    """A persistent gallery of one model's face vectors, with enrol, identify and upkeep.

    Args:
        path: the SQLite file (or ``sqlite:///path``); created when missing unless ``create=False``.
        model: the embedding model; None (the default) takes whatever an existing gallery holds,
            and dlib for a new one. Opening a
            gallery with another model or vector-changing pipeline setting raises GalleryMismatch.
        create: create the gallery when it does not exist.
        **pipeline_options: PipelineConfig fields (detector, flip, jitter, ...); also
            ``ann_min_faces`` (size above which search uses the HNSW graph) and ``ann`` (False:
            always exact).

    Thread-safe: one lock around store writes and one around the index.
    """

    def __init__(self, path: str | Path, model: str | None = None, create: bool = True, **pipeline_options: Any) -> None:
        from faceprint.pipeline.pipeline import PipelineConfig

        self._ann_min = int(pipeline_options.pop("ann_min_faces", ANN_MIN_FACES))
        self._ann = pipeline_options.pop("ann", None)
        if create and not store_exists(path):  # bad settings are refused before a new file is made for nothing
            PipelineConfig(model=model or "dlib", **pipeline_options).resolved()
        self._store = open_store(path, create=create)
        self.path = self._store.path
        try:
            stored = self._store.meta("model")
            if stored is None:
                self.model = model or "dlib"
                self._options = dict(pipeline_options)
                self.config = PipelineConfig(model=self.model, **self._options).resolved()
                self.signature = _signature(self.config)
                self._store.set_meta("model", self.model)
                self._store.set_meta("signature", self.signature)
                self._store.set_meta("pipeline", json.dumps(_config_dict(self.config)))
            else:
                saved = json.loads(self._store.meta("pipeline") or "{}")
                asked = dict(pipeline_options)
                if model is not None and model != stored:
                    raise GalleryMismatch(f"{self.path} holds {stored!r} vectors, not {model!r}: faces of different "
                                          f"models are never compared; open it with model={stored!r} or use another gallery")
                self.model = stored
                from dataclasses import fields

                known = {f.name for f in fields(PipelineConfig)} - {"model"}
                merged = {k: v for k, v in saved.items() if k in known}  # a field since removed is ignored
                merged.update(asked)
                self.config = PipelineConfig(model=stored, **merged).resolved()
                self.signature = _signature(self.config)
                if self.signature != self._store.meta("signature"):
                    raise GalleryMismatch(
                        f"{self.path} was enrolled with pipeline {self._store.meta('signature')} "
                        f"({_describe(saved)}), not {self.signature} ({_describe(_config_dict(self.config))}): "
                        "its vectors are not comparable with these; open it with its own settings, or enrol "
                        "the photos again into a new gallery")
        except BaseException:
            self._store.close()
            raise
        self._lock = threading.RLock()
        self._index: VectorIndex | None = None
        self._unsaved = 0
        self._count: tuple[int, int] | None = None

    # -- plumbing -------------------------------------------------------------------------------------
    @property
    def _index_dir(self) -> Path:
        return self.path.with_name(self.path.name + ".index")

    def _pipeline(self):
        from faceprint.pipeline.pipeline import get_pipeline

        return get_pipeline(self.config)

    def _ready_index(self) -> VectorIndex:
        """The index, loaded or built, and brought up to the store's generation."""
        native = self._store.native_index()
        if native is not None:  # the store searches itself (Milvus): no local index
            return native
        with self._lock:
            if self._index is None:
                index = VectorIndex.load(self._index_dir, self.signature, self._ann_min, self._ann)
                if index is None:
                    index = VectorIndex(self.dim or 128, self._ann_min, self._ann)
                self._index = index
            if self._sync():
                self._save_index()  # a (re)build from the store is worth keeping at once
            return self._index

    def _sync(self) -> list[str]:
        """Bring the index up to the store: add faces it lacks, drop faces the store no longer has."""
        index = self._index
        generation = self._store.generation()
        if index.generation == generation:
            return []
        store_ids = self._store.ids()
        index_ids = index.ids()
        missing = np.setdiff1d(store_ids, index_ids, assume_unique=True)
        extra = np.setdiff1d(index_ids, store_ids, assume_unique=True)
        index.remove(extra.tolist())
        for ids, vectors in self._store.vectors(missing.tolist() if len(missing) < len(store_ids) else None):
            if index.dim != vectors.shape[1]:
                if len(index):
                    raise GalleryError(f"{self.path}: vectors of {vectors.shape[1]} and {index.dim} dimensions")
                self._index = index = VectorIndex(vectors.shape[1], self._ann_min, self._ann)
            index.add(ids, vectors)
        index.generation = generation
        self._unsaved += len(missing) + len(extra)
        done = []
        if len(missing) or len(extra):
            done.append(f"index brought up to the store: {len(missing)} faces added, {len(extra)} removed")
            log.info("%s: %s", self.path, done[-1])
        return done

    def _applied(self, before: int, added: tuple[np.ndarray, np.ndarray] | None = None,
                 removed: Sequence[int] = ()) -> None:
        """After our own write: apply it to the index when nothing else changed the store meanwhile."""
        with self._lock:
            index = self._index
            if index is None:
                return
            if index.generation == before and self._store.written_generation == before + 1:
                if added is not None and len(added[0]):
                    index.add(*added)
                index.remove(removed)
                index.generation = self._store.written_generation
                self._unsaved += (0 if added is None else len(added[0])) + len(removed)
            else:
                self._sync()

    def _save_index(self, force: bool = False) -> None:
        with self._lock:
            index = self._index
            if index is None or (not self._unsaved and not force):
                return
            # the exact index is cheap to write; the HNSW graph is written once ~1 % of it changed
            if force or index.kind == "exact" or self._unsaved >= max(1, len(index) // 100):
                index.save(self._index_dir, index.generation, self.signature)
                self._unsaved = 0

    @property
    def dim(self) -> int | None:
        value = self._store.meta("dim")
        return int(value) if value else None

    # -- subjects -------------------------------------------------------------------------------------
    def add_subject(self, name: str, metadata: dict | None = None) -> Subject:
        """A new subject without faces yet (GalleryError if the name exists)."""
        return self._store.add_subject(name, metadata)

    def subjects(self) -> list[Subject]:
        return self._store.subjects()

    def subject(self, name: str) -> Subject:
        """One subject (UnknownSubject when absent)."""
        return self._store.subject(name)

    def rename(self, name: str, new_name: str) -> Subject:
        with self._lock:
            before = self._index.generation if self._index is not None else -2
            subject = self._store.rename(name, new_name)
            self._applied(before)
            return subject

    def delete_subject(self, name: str) -> int:
        """Remove a subject and its faces from store and index; returns the number of faces removed."""
        with self._lock:
            before = self._index.generation if self._index is not None else -2
            ids = self._store.delete_subject(name)
            self._applied(before, removed=ids)
            self._save_index()
            return len(ids)

    def faces(self, name: str | None = None) -> list[FaceRecord]:
        return self._store.faces(name)

    def delete_face(self, face_id: int) -> None:
        with self._lock:
            before = self._index.generation if self._index is not None else -2
            self._store.delete_face(face_id)
            self._applied(before, removed=[face_id])
            self._save_index()

    def __len__(self) -> int:
        """Faces in the gallery (counted once per store generation: COUNT(*) scans the table)."""
        generation = self._store.generation()
        cached = self._count
        if cached is None or cached[0] != generation:
            self._count = cached = (generation, self._store.count())
        return cached[1]

    # -- enrol ----------------------------------------------------------------------------------------
    def enrol(self, name: str, sources: Sequence[ImageSource], progress: bool | Callable[[int], None] = False,
              workers: int = 1, keep_photos: bool = False, labels: Sequence[str] | None = None) -> EnrolReport:
        """Enrol photos of one person (created if missing): one face per photo, the one nearest the
        centre when there are several. Photos already in the gallery (same content) are skipped;
        bad files and faceless photos are reported in ``problems`` and the rest goes in.
        ``labels``: what to call each source in ``problems`` and ``notes`` (default: a path as it
        is, ``<input N>`` for bytes, arrays and file objects)."""
        if isinstance(sources, (str, os.PathLike, bytes)):
            sources = [sources]
        if labels is not None and len(labels) != len(sources):
            raise BadInput(f"{len(labels)} labels for {len(sources)} photos")
        named = labels or [_label(s, i) for i, s in enumerate(sources)]
        return self._enrol_items([(name, s, label) for s, label in zip(sources, named)], progress, workers,
                                 keep_photos)

    def enrol_folder(self, root: str | Path, progress: bool | Callable[[int], None] = False, workers: int = 1,
                     keep_photos: bool = False) -> EnrolReport:
        """Enrol ``root/<name>/*.jpg`` (any image format; sub-folders of a person's folder count too)."""
        root = Path(root)
        if not root.is_dir():
            raise BadInput(f"{root}: not a folder; expected root/<name>/*.jpg")
        items = []
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            items += [(folder.name, p, str(p)) for p in sorted(folder.rglob("*")) if p.is_file()]
        if not items:
            raise BadInput(f"{root}: no photos found; expected one sub-folder of photos per person (root/<name>/*.jpg)")
        return self._enrol_items(items, progress, workers, keep_photos)

    def _enrol_items(self, items: list[tuple[str, ImageSource, str]], progress, workers: int,
                     keep_photos: bool) -> EnrolReport:
        from faceprint.api import embed_many

        added = duplicates = 0
        problems: dict[str, str] = {}
        notes: list[str] = []
        tick, finish = progress_callbacks(progress, len(items), "enrolling")

        def batches():
            """Batches of ENROL_BATCH readable photos, hashed one batch at a time (so that photos
            already enrolled are skipped without being embedded again). A path's bytes are kept
            only for ``keep_photos``: the embedder reads the file again."""
            chunk = []
            for name, source, label in items:
                if isinstance(source, (str, os.PathLike)) and not Path(source).is_file():
                    problems[label] = "no such file"
                    tick(1)
                    continue
                if isinstance(source, Path) and not is_image_path(source):
                    problems[label] = "not an image file (by its suffix); skipped"
                    tick(1)
                    continue
                try:
                    digest, data = _digest(source)
                except OSError as exc:
                    problems[label] = f"cannot read: {exc.strerror or exc}"
                    tick(1)
                    continue
                if hasattr(source, "read"):  # a file object is read once, by the hash
                    source = data
                elif isinstance(source, (str, os.PathLike)) and not keep_photos:
                    data = None
                chunk.append((name, source, label, digest, data))
                if len(chunk) == ENROL_BATCH:
                    yield chunk
                    chunk = []
            if chunk:
                yield chunk

        try:
            for chunk in batches():
                known = self._store.known_sha256([c[3] for c in chunk])
                todo, seen = [], set()
                for name, source, label, digest, data in chunk:
                    if digest in known or digest in seen:
                        duplicates += 1
                        owner = known.get(digest, name)
                        if owner != name:
                            notes.append(f"{label}: this photo is enrolled already as {owner!r}; not added to {name!r}")
                        tick(1)
                    else:
                        seen.add(digest)
                        todo.append((name, source, label, digest, data))
                if not todo:
                    continue
                results = embed_many([c[1] for c in todo], model=self.model, workers=workers,
                                     progress=lambda n: tick(n), **_embed_options(self.config))
                batch: list[tuple[str, NewFace]] = []
                for (name, source, label, digest, data), result in zip(todo, results):
                    if result.signature and result.signature != self.signature:
                        raise GalleryMismatch(f"embedded with {result.signature}, gallery holds {self.signature}")
                    if not result.ok:
                        problems[label] = result.problem or NO_FACE_FOUND
                        continue
                    face = result.nearest_center() if len(result.faces) > 1 else result.faces[0]
                    if len(result.faces) > 1:
                        notes.append(f"{label}: {len(result.faces)} faces found; enrolled the one nearest the centre")
                    batch.append((name, NewFace(face.vector, digest, face.detection.box.as_list(),
                                                label if not label.startswith("<") else None,
                                                data if keep_photos else None)))
                if batch:
                    added += self._commit(batch)
        finally:
            finish()
            self._save_index()
        for label, problem in problems.items():
            log.info("enrol: %s: %s", label, problem)
        return EnrolReport(added=added, skipped_duplicates=duplicates, problems=problems, notes=notes)

    def _commit(self, batch: list[tuple[str, NewFace]]) -> int:
        """One transaction for the batch, then the same faces into the index."""
        dims = {int(np.asarray(f.vector).size) for _, f in batch}
        dim = self.dim
        if dim is None:
            dim = dims.pop() if len(dims) == 1 else None
            if dim is None:
                raise GalleryError(f"one batch of vectors of several sizes {sorted(dims)}")
            self._store.set_meta("dim", str(dim))
        elif dims != {dim}:
            raise GalleryMismatch(f"{self.path} holds {dim}-d vectors, these are {sorted(dims)}-d")
        with self._lock:
            before = self._index.generation if self._index is not None else -2
            new_ids = self._store.add_faces(batch, self.model, self.signature)
            keep = [i for i, fid in enumerate(new_ids) if fid is not None]
            ids = np.array([new_ids[i] for i in keep], np.int64)
            vectors = np.stack([batch[i][1].vector for i in keep]).astype(np.float32) if keep else None
            self._applied(before, (ids, vectors) if keep else None)
        return len(keep)

    def add_vectors(self, names: Sequence[str], vectors: np.ndarray, keys: Sequence[str] | None = None,
                    signature: str | None = None, sources: Sequence[str | None] | None = None) -> int:
        """Enrol vectors embedded already with this gallery's pipeline (pass ``signature`` to have
        others refused). ``keys`` play the photo sha256's part (duplicates skipped); by default the
        vector's own bytes. Returns the faces added."""
        if signature is not None and signature != self.signature:
            raise GalleryMismatch(f"vectors of {signature} cannot join a gallery of {self.signature}")
        vectors = np.atleast_2d(np.asarray(vectors, np.float32))
        if len(names) != len(vectors):
            raise BadInput(f"{len(names)} names for {len(vectors)} vectors")
        if keys is None:
            keys = [hashlib.sha256(v.tobytes()).hexdigest() for v in vectors]
        sources = sources or [None] * len(vectors)
        added = 0
        for start in range(0, len(vectors), 10_000):
            stop = start + 10_000
            added += self._commit([(n, NewFace(v, k, [0.0, 0.0, 0.0, 0.0], s)) for n, v, k, s in
                                   zip(names[start:stop], vectors[start:stop], keys[start:stop], sources[start:stop])])
        self._save_index()
        return added

    # -- identify -------------------------------------------------------------------------------------
    def threshold(self, fpir: float | None = None) -> float:
        """The distance under which a probe is named: the one calibrated on this gallery
        (`faceprint calibrate --gallery`) if saved, else the model's default for this gallery's size
        at FPIR ``fpir`` (default 1 %)."""
        return self.threshold_and_source(fpir)[0]

    def threshold_and_source(self, fpir: float | None = None) -> tuple[float, str]:
        """``threshold(fpir)`` and where it comes from, in words."""
        if fpir is not None:
            thresholds.check_fpir(fpir)  # before the saved threshold is looked at: a bad rate is refused either way
        saved = self._store.meta("ident_threshold")
        if fpir is None and saved:
            entry = json.loads(saved)
            then, now = int(entry.get("gallery_faces") or 0), len(self)
            if then and not then / 2 <= now <= then * 2:  # a stranger's chances grow with the gallery
                log.warning("%s: the saved threshold was calibrated at %d faces and the gallery holds %d; "
                            "run `faceprint calibrate --gallery` again", self.path, then, now)
                return float(entry["threshold"]), f"calibrated on this gallery at {then} faces (now {now}: stale)"
            return float(entry["threshold"]), "calibrated on this gallery"
        faces, fpir = max(len(self), 1), thresholds.DEFAULT_FPIR if fpir is None else fpir
        return thresholds.identification_threshold(self.model, faces, fpir), f"default for {faces} faces at FPIR {fpir:g}"

    def save_threshold(self, entry: dict[str, Any]) -> None:
        """Keep a calibrated identification threshold (``entry["threshold"]``) with the gallery."""
        float(entry["threshold"])
        self._store.set_meta("ident_threshold", json.dumps(entry))

    def identify_vectors(self, vectors: np.ndarray, top_k: int = 5,
                         signature: str | None = None) -> list[list[Candidate]]:
        """Top-k subjects for each vector (embedded already with this gallery's pipeline), nearest first.

        Each subject is scored by its nearest face. Candidates come back whatever their distance:
        name a face with ``decide(detection, candidates, gallery.threshold())``. Pass ``signature``
        (``ImageFaces.signature``) to have vectors of another pipeline refused (GalleryMismatch).
        """
        if signature is not None and signature != self.signature:
            raise GalleryMismatch(f"vectors of {signature} searched in a gallery of {self.signature}: refused, "
                                  "they are not comparable")
        q = np.atleast_2d(np.asarray(vectors, np.float32))
        if q.size == 0:
            return [[] for _ in range(len(q))]
        with self._lock:
            index = self._ready_index()
            if len(index) and q.shape[1] != index.dim:
                raise GalleryMismatch(f"{q.shape[1]}-d vectors searched in a gallery of {index.dim}-d vectors")
            total = len(index)
            if total == 0:
                return [[] for _ in range(len(q))]
            fetch = min(total, max(4 * top_k, 16))
            while True:
                ids, dists = index.search(q, fetch)
                names = self._store.face_subjects(ids[ids >= 0].tolist())
                out = [_top_subjects(ids[r], dists[r], names, top_k) for r in range(len(q))]
                short = any(len(c) < top_k for c in out)
                if not short or fetch >= total:
                    return out
                fetch = min(total, fetch * 4)  # a few subjects own all the nearest faces: look further

    def identify(self, image: ImageSource, top_k: int = 5, threshold: float | None = None) -> list[Identification]:
        """Every face in the photo: its nearest subjects, and the name of the first one when its
        distance is within the threshold, else ``"unknown"``."""
        from faceprint.images import load_image

        pipe = self._pipeline()
        rgb = load_image(image)
        embeddings = pipe.embed(rgb, pipe.detect(rgb))
        if not embeddings:
            return []
        return self.name_faces([e.detection for e in embeddings], np.stack([e.vector for e in embeddings]), top_k,
                               threshold)

    def name_faces(self, detections: Sequence[Detection], vectors: np.ndarray, top_k: int = 5,
                   threshold: float | None = None, signature: str | None = None) -> list[Identification]:
        """Faces embedded already (``signature`` as in ``identify_vectors``): each one's nearest
        subjects and its name, or ``"unknown"`` beyond ``threshold`` (default ``threshold()``)."""
        limit = self.threshold() if threshold is None else float(threshold)
        found = self.identify_vectors(vectors, top_k, signature=signature)
        return [decide(d, c, limit) for d, c in zip(detections, found)]

    # -- upkeep ---------------------------------------------------------------------------------------
    def check(self, sample: int = 1000) -> CheckReport:
        """Store and index consistency: SQLite integrity, one signature, sound vectors, and the
        index holding exactly the store's faces with the same vectors (a stale index is brought up
        to date and said so in ``repaired``)."""
        problems = list(self._store.integrity())
        signatures = self._store.signatures()
        for sig, count in signatures.items():
            if sig != self.signature:
                problems.append(f"{count} faces were embedded with {sig}, not the gallery's {self.signature}")
        bad = 0
        dim = self.dim
        for ids, vectors in self._store.vectors():
            if dim is not None and vectors.shape[1] != dim:
                problems.append(f"{len(ids)} faces have {vectors.shape[1]}-d vectors, the gallery {dim}-d")
                continue
            norms = np.linalg.norm(vectors, axis=1)
            bad += int(np.sum(~np.isfinite(norms) | (np.abs(norms - 1.0) > 1e-3)))
        if bad:
            problems.append(f"{bad} stored vectors are not unit length")
        repaired: list[str] = []
        with self._lock:
            native = self._store.native_index() is not None  # Milvus: the store is its own index
            on_disk = None if native else VectorIndex.load(self._index_dir, self.signature, self._ann_min, self._ann)
            generation = self._store.generation()
            if on_disk is None and len(self) and not native:
                repaired.append("no usable index on disk: built from the store")
            elif on_disk is not None and on_disk.generation != generation:
                repaired.append(f"index on disk was at store generation {on_disk.generation}, store at {generation}: updated")
            if self._index is None:
                self._index = on_disk
            index = self._ready_index()
            store_ids = self._store.ids()
            index_ids = index.ids()
            missing = np.setdiff1d(store_ids, index_ids)
            extra = np.setdiff1d(index_ids, store_ids)
            if len(missing):
                problems.append(f"{len(missing)} stored faces are missing from the index (e.g. {missing[:5].tolist()})")
            if len(extra):
                problems.append(f"the index holds {len(extra)} faces the store does not (e.g. {extra[:5].tolist()})")
            rng = np.random.default_rng(0)
            # a store that is its own index would only be compared with itself
            picks = [] if native or not len(store_ids) else rng.choice(store_ids, size=min(sample, len(store_ids)),
                                                                      replace=False)
            differ = 0
            for ids, vectors in self._store.vectors(list(picks)) if len(picks) else ():
                for fid, vec in zip(ids, vectors):
                    got = index.vector(int(fid))
                    if got is not None and not np.allclose(got, vec, atol=1e-6):
                        differ += 1
            if differ:
                problems.append(f"{differ} of {len(picks)} sampled faces have another vector in the index than in the store")
            if repaired:
                self._save_index(force=True)
        return CheckReport(ok=not problems, problems=problems, faces=len(store_ids), subjects=len(self.subjects()),
                           index=index.describe(), repaired=repaired)

    def export(self, path: str | Path) -> Path:
        """Write subjects, faces and vectors (no photos) to one ``.npz`` another gallery can import."""
        path = Path(path)
        faces = self._store.faces()
        vectors = [v for _, v in self._store.vectors()]
        dim = self.dim or 128
        header = {"format": "faceprint-gallery", "version": 1, "model": self.model, "signature": self.signature,
                  "pipeline": json.loads(self._store.meta("pipeline") or "{}"),
                  "subjects": [s.to_dict() for s in self.subjects()], "faces": [f.to_dict() for f in faces]}
        array = np.concatenate(vectors) if vectors else np.zeros((0, dim), np.float32)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, header=np.frombuffer(json.dumps(header).encode(), np.uint8), vectors=array)
        tmp.replace(path)
        return path

    def import_(self, path: str | Path) -> int:
        """Add the subjects and faces of an export (same model and pipeline only); returns faces added.
        Faces already here (same photo content) are skipped."""
        try:
            with np.load(Path(path)) as data:
                header = json.loads(bytes(data["header"]).decode())
                vectors = data["vectors"]
        except (OSError, ValueError, KeyError) as exc:
            raise GalleryError(f"{path}: not a faceprint gallery export ({exc})") from exc
        if not isinstance(header, dict) or header.get("format") != "faceprint-gallery":
            raise GalleryError(f"{path}: not a faceprint gallery export")
        try:
            signature = header["signature"]
            subjects = [(s["name"], s.get("metadata") or {}) for s in header["subjects"]]
            batch = [(f["subject"], NewFace(vectors[i], f["sha256"], f["box"], f.get("source")))
                     for i, f in enumerate(header["faces"])]
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise GalleryError(f"{path}: a damaged gallery export ({type(exc).__name__}: {exc}); "
                               "export the gallery again") from exc
        if signature != self.signature:
            raise GalleryMismatch(f"{path} holds vectors of {signature}, this gallery {self.signature}: "
                                  "they cannot be mixed; import it into a gallery of that model and settings")
        existing = {s.name for s in self.subjects()}
        for name, metadata in subjects:
            if name not in existing:
                self._store.add_subject(name, metadata)
        added = 0
        for start in range(0, len(batch), 10_000):
            added += self._commit(batch[start:start + 10_000])
        self._save_index()
        return added

    def close(self) -> None:
        """Save the index if it changed, and close the store."""
        try:
            self._save_index(force=self._unsaved > 0)
        finally:
            self._store.close()

    def __enter__(self) -> "Gallery":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Gallery({str(self.path)!r}, model={self.model!r})"


def decide(detection, candidates: list[Candidate], threshold: float) -> Identification:
    """Name the face after its first candidate when within the threshold, else ``"unknown"``."""
    best = candidates[0] if candidates else None
    named = best is not None and best.distance <= threshold
    return Identification(detection=detection, name=best.subject if named else "unknown",
                          distance=None if best is None else best.distance, candidates=candidates,
                          threshold=float(threshold))


def _top_subjects(ids: np.ndarray, dists: np.ndarray, names: dict[int, str], k: int) -> list[Candidate]:
    out: list[Candidate] = []
    seen: set[str] = set()
    for fid, d in zip(ids, dists):
        name = names.get(int(fid))
        if fid < 0 or name is None or name in seen:
            continue
        seen.add(name)
        out.append(Candidate(subject=name, distance=float(d), face_id=int(fid)))
        if len(out) == k:
            break
    return out


def _signature(config) -> str:
    from faceprint.pipeline.pipeline import Pipeline

    return Pipeline(config).signature()


def _config_dict(config) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(config)


def _embed_options(config) -> dict[str, Any]:
    options = _config_dict(config)
    options.pop("model")
    return options


def _describe(options: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(options.items()) if v not in (None, ""))


def _label(source: ImageSource, number: int) -> str:
    return str(source) if isinstance(source, (str, os.PathLike)) else f"<input {number}>"


def _digest(source: ImageSource) -> tuple[str, bytes | None]:
    """sha256 of the photo's content (encoded bytes; for arrays the pixels with their shape)."""
    if isinstance(source, (str, os.PathLike)):
        data = Path(source).read_bytes()
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, np.ndarray):
        array = np.ascontiguousarray(source)
        h = hashlib.sha256(f"{array.shape}|{array.dtype}|".encode())
        h.update(array.tobytes())
        return h.hexdigest(), None
    elif hasattr(source, "read"):
        data = source.read()
    else:
        raise BadInput(f"cannot enrol a {type(source).__name__}: give paths, bytes or arrays")
    return hashlib.sha256(data).hexdigest(), data


def gallery_split_metrics(path: Path, pipeline, gallery_vectors: np.ndarray, gallery_labels: list[str],
                          known: np.ndarray, known_labels: list[str], unknown: np.ndarray, fpir: float,
                          in_memory: dict[str, Any] | None = None) -> dict[str, Any]:
    """``faceprint eval ident --through-gallery``: enrol the split's gallery vectors into a new
    persistent gallery, search the probes through its index, and compare with the in-memory figures."""
    from faceprint.gallery.identify import gallery_metrics as _gallery_metrics

    if Path(path).exists():
        raise GalleryError(f"{path} exists already: give a new path for the evaluation gallery")
    config = pipeline.config
    options = {k: v for k, v in _config_dict(config).items() if k != "model"}
    with Gallery(path, model=config.model, **options) as g:
        g.add_vectors(list(gallery_labels), gallery_vectors, signature=pipeline.signature(),
                      keys=[f"eval-{i}" for i in range(len(gallery_labels))])
        out = _gallery_metrics(g, known, known_labels, unknown, fpir)
        out["index"] = g._ready_index().describe()
    if in_memory is not None:
        keys = [k for k in out if k.startswith(("rank", "dir_at_fpir", "open_set_threshold"))]
        # distances are float32 here (2 - 2 a.b) and float64 in memory: they agree to ~1e-6
        out["same_as_in_memory"] = all(abs(out[k] - in_memory.get(k, np.nan)) <= 1e-5 for k in keys)
    out["gallery"] = str(path)
    return out

"""``Gallery.people``: the people of a photo library, named or not, kept in the gallery.

Photos added with ``add_photos`` bring every face they hold; each new face joins the person of
its nearest neighbours or starts an unnamed person (``"person 17"``), in time proportional to
the new faces (``faceprint.gallery.people_assign``). Unnamed people are subjects like any other:
listed, shown, found by identify; naming one makes it a named subject. Corrections (name,
merge, move, "not this person", delete) are kept, and a full ``recluster`` keeps every one of
them (``faceprint.gallery.people_recluster``).

Example:
    >>> from faceprint import Gallery
    >>> with Gallery("photos.db") as g:                           # doctest: +SKIP
    ...     g.add_photos(["library/"], progress=True)
    ...     for person in g.people.list(named=False):
    ...         print(person.label, person.faces)
    ...     g.people.name(17, "Grandma")
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Callable, Sequence

from faceprint.errors import BadInput
from faceprint.gallery.people_types import AddPhotosReport, Person, ReclusterReport
from faceprint.gallery.store import NewFace
from faceprint.gallery.types import FaceRecord

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

Progress = bool | Callable[[int], None]
PHOTO_BATCH = 64  # photos embedded and committed at a time: a crash loses at most this batch
EMBEDDED_BATCH = 1000  # faces of add_embedded placed and committed at a time (bounds its memory)
THUMBNAILS_META = "thumbnails"


class People:
    """The people of one gallery. Thread-safe: every change runs under the gallery's write lock.

    Args:
        gallery: the open ``Gallery`` (its store, writer, searcher and pipeline).
    """

    def __init__(self, gallery: Any) -> None:
        self._gallery = gallery
        self._store = gallery._store
        self._writer = gallery._writer
        self._ps = self._store.people_store()

    # -- settings -----------------------------------------------------------------------------------
    @property
    def thumbnails(self) -> bool:
        """Whether faces enrolled or added get a thumbnail (on unless turned off for this gallery)."""
        return self._store.meta(THUMBNAILS_META) != "off"

    @thumbnails.setter
    def thumbnails(self, on: bool) -> None:
        self._store.set_meta(THUMBNAILS_META, "on" if on else "off")

    def threshold(self, threshold: float | None = None, adding: bool = False) -> float:
        """A threshold checked, or the model's default: for a re-cluster its clustering threshold,
        for new faces (``adding``) the distance under which a stored face counts as a neighbour
        (``people_assign.neighbour_threshold``).

        Args:
            threshold: a Euclidean distance between unit vectors, or None.
            adding: the default for adding faces rather than for a re-cluster.

        Raises:
            BadInput: a threshold outside (0, 2).
        """
        if threshold is None:
            from faceprint.clustering.api import default_threshold
            from faceprint.gallery.people_assign import neighbour_threshold

            model = self._gallery.model
            return float(neighbour_threshold(model) if adding else default_threshold(model))
        value = float(threshold)
        if not 0.0 < value < 2.0:
            raise BadInput(f"threshold must lie between 0 and 2 (Euclidean distance of unit vectors), not {threshold}")
        return value

    # -- reading ------------------------------------------------------------------------------------
    def list(self, named: bool | None = None) -> list[Person]:
        """People: named ones by name, then unnamed ones, largest first.

        Args:
            named: True for named people only, False for unnamed ones only, None for all.
        """
        return self._ps.persons(named)

    def get(self, person_id: int) -> Person:
        """One person.

        Args:
            person_id: the person's id.

        Raises:
            UnknownSubject: no person with that id.
        """
        return self._ps.person(int(person_id))

    def faces(self, person_id: int) -> list[FaceRecord]:
        """A person's faces, oldest first.

        Args:
            person_id: the person's id.

        Raises:
            UnknownSubject: no person with that id.
        """
        return self._ps.faces(int(person_id))

    def face(self, face_id: int) -> FaceRecord:
        """One face.

        Args:
            face_id: the face's id.

        Raises:
            UnknownFace: no face with that id.
        """
        from faceprint.errors import UnknownFace

        found = self._ps.faces(ids=[int(face_id)])
        if not found:
            raise UnknownFace(f"no face with id {face_id} in {self._store.path}")
        return found[0]

    def thumbnail(self, face_id: int) -> bytes | None:
        """A face's thumbnail (a small JPEG), None when none was kept.

        Args:
            face_id: the face's id.

        Raises:
            UnknownFace: no face with that id.
        """
        return self._ps.thumbnail(int(face_id))

    def not_this_links(self) -> list[tuple[int, int]]:
        """Every "not this person" correction, as (face id, person id)."""
        return self._ps.cannot_links()

    # -- corrections --------------------------------------------------------------------------------
    def name(self, person_id: int, name: str) -> Person:
        """Name an unnamed person, or rename a named one; their faces count as confirmed from then on.

        Args:
            person_id: the person's id.
            name: the name (one line; not "unknown", not of the form "person <number>").

        Raises:
            UnknownSubject: no person with that id.
            SubjectExists: another person has the name (the message says how to merge them).
            BadName: the name is refused.
        """
        return self._writer.change(lambda: self._ps.name(int(person_id), name))

    def merge(self, into_id: int, other_ids: Sequence[int]) -> Person:
        """Merge people into one. The merged person keeps ``into_id``'s name, or a named other's when it
        has none. A face marked "not this person" for one of them, or a second face of one photo,
        goes to a new unnamed person instead.

        Args:
            into_id: the person kept.
            other_ids: the people merged into it (removed).

        Raises:
            UnknownSubject: an id is no person.
            BadInput: no others, or ``into_id`` among them.
        """
        return self._writer.change(lambda: self._ps.merge(int(into_id), [int(i) for i in other_ids]))[0]

    def move(self, face_ids: Sequence[int], to_person_id: int | None) -> Person:
        """Move faces to another person, or to a new unnamed person (None: a split).

        Args:
            face_ids: the faces.
            to_person_id: the person they go to; None for a new unnamed person.

        Returns:
            The person they are in now.

        Raises:
            UnknownFace: a face id is not in the gallery.
            UnknownSubject: ``to_person_id`` is no person.
            BadInput: no faces, or two faces of one photo would share the person.
        """
        return self._writer.change(lambda: self._ps.move([int(i) for i in face_ids],
                                                         None if to_person_id is None else int(to_person_id)))

    def not_this_person(self, face_id: int) -> int:
        """Say that a face is not its person: it leaves them for a new unnamed person, and
        incremental assignment, re-clustering and merges never put it back with them.

        Args:
            face_id: the face.

        Returns:
            The id of the person the face left.

        Raises:
            UnknownFace: no face with that id.
        """
        return int(self._writer.change(lambda: self._ps.not_this_person(int(face_id))))

    def delete_face(self, face_id: int) -> None:
        """Remove a face from the gallery (an unnamed person left without faces goes too).

        Args:
            face_id: the face.

        Raises:
            UnknownFace: no face with that id.
        """
        self._gallery.delete_face(int(face_id))

    # -- adding photos ------------------------------------------------------------------------------
    def add_photos(self, sources: Sequence[Any] | Any, progress: Progress = False, workers: int = 1,
                   thumbnails: bool | None = None, keep_photos: bool = False,
                   threshold: float | None = None) -> AddPhotosReport:
        """Add every face of each photo; each face joins a person or starts an unnamed one.

        Args:
            sources: photos (paths, encoded bytes) and folders of photos (searched recursively).
            progress: True for a progress bar on stderr, or a callable given the count of photos done.
            workers: processes embedding in parallel.
            thumbnails: keep a small crop of each face (None: the gallery's setting, on by default).
            keep_photos: keep each photo's bytes with its faces (SQLite only).
            threshold: the distance under which a stored face counts as a new face's neighbour
                (default: the model's, ``people_assign.NEIGHBOUR_THRESHOLDS``).

        Returns:
            Faces stored, how many of them joined a person and how many people they started;
            photos already in the gallery or met earlier in this call, and photos that could not be used.

        Raises:
            BadInput: a source of the wrong type, or a folder without photos.
        """
        from faceprint.gallery.people_photos import batches, decoded, photo_items, read_photo, thumbnail_of
        from faceprint.pipeline.batch import embed_sources
        from faceprint.pipeline.sources import ReadSource
        from faceprint.progress import progress_callbacks

        items = photo_items(sources)
        limit = self.threshold(threshold, adding=True)
        keep_thumbs = self.thumbnails if thumbnails is None else bool(thumbnails)
        pipeline = self._gallery.pipeline
        totals = {"photos": 0, "faces": 0, "joined": 0, "new": 0, "dups": 0}
        problems: dict[str, str] = {}
        face_ids: list[int] = []
        seen: set[str] = set()  # photos of this call: a repeat counts as a duplicate
        tick, finish = progress_callbacks(progress, len(items), "adding photos")
        try:
            for chunk in batches(items, PHOTO_BATCH):
                reads = []
                for label, source in chunk:
                    try:
                        reads.append((label, *read_photo(source)))
                    except (OSError, BadInput) as exc:
                        problems[label] = f"cannot read: {getattr(exc, 'strerror', None) or exc}"
                        tick(1)
                known = set(self._store.known_sha256([sha for _, _, sha in reads])) | seen
                todo = []
                for label, data, sha in reads:
                    if sha not in known:
                        known.add(sha)
                        todo.append((label, data, sha))
                seen.update(sha for _, _, sha in todo)
                totals["dups"] += len(reads) - len(todo)
                tick(len(reads) - len(todo))
                if not todo:
                    continue
                results = embed_sources(pipeline, [ReadSource(d, s, label) if isinstance(d, bytes) else d
                                                   for label, d, s in todo], progress=tick, workers=workers)
                faces: list[NewFace] = []
                for (label, data, sha), result in zip(todo, results):
                    if not result.ok:
                        problems[label] = result.problem or "no face found"
                        continue
                    totals["photos"] += 1
                    image = decoded(data) if keep_thumbs else None
                    for index, emb in enumerate(result.faces):
                        box = emb.detection.box.as_list()
                        faces.append(NewFace(emb.vector, sha, box, label if not label.startswith("<") else None,
                                             data if keep_photos and isinstance(data, bytes) else None, index,
                                             thumbnail_of(image, box), getattr(emb, "quality", None)))
                report = self._add_faces(faces, limit)
                for key in ("faces", "joined", "new"):
                    totals[key] += report[key]
                face_ids += report["ids"]
        finally:
            finish()
            self._gallery._searcher.save()
        return AddPhotosReport(photos=totals["photos"], faces=totals["faces"], joined=totals["joined"],
                               new_people=totals["new"], skipped_duplicates=totals["dups"], problems=problems,
                               face_ids=face_ids)

    def add_embedded(self, vectors: np.ndarray, photos: Sequence[str], face_indexes: Sequence[int] | None = None,
                     sources: Sequence[str | None] | None = None, threshold: float | None = None) -> AddPhotosReport:
        """Add faces embedded already with this gallery's pipeline, each joining a person or starting one;
        placed and committed ``EMBEDDED_BATCH`` faces at a time.

        Args:
            vectors: (N, dim) unit vectors.
            photos: each face's photo (its sha256, or any key standing for the photo).
            face_indexes: each face's index in its photo (default: 0, 1, ... per photo, in order).
            sources: where each face came from.
            threshold: the neighbour distance (default: the model's, as for ``add_photos``).

        Returns:
            Faces added and where they went.

        Raises:
            BadInput: lengths that differ.
        """
        from faceprint.gallery.people_assign import embedded_faces

        faces = embedded_faces(vectors, photos, face_indexes, sources)
        limit = self.threshold(threshold, adding=True)
        totals: dict[str, Any] = {"faces": 0, "joined": 0, "new": 0, "ids": []}
        try:
            for start in range(0, len(faces), EMBEDDED_BATCH):
                report = self._add_faces(faces[start:start + EMBEDDED_BATCH], limit)
                for key in totals:
                    totals[key] += report[key]
        finally:
            self._gallery._searcher.save()
        return AddPhotosReport(photos=len(set(photos)), faces=totals["faces"], joined=totals["joined"],
                               new_people=totals["new"], skipped_duplicates=0, face_ids=totals["ids"])

    def _add_faces(self, faces: list[NewFace], threshold: float) -> dict[str, Any]:
        """Place and store one batch of new faces (one transaction), under the write lock."""
        import numpy as np

        from faceprint.gallery.people_assign import assign_new

        if not faces:
            return {"faces": 0, "joined": 0, "new": 0, "ids": []}
        searcher = self._gallery._searcher
        with self._writer.lock:
            stored = len(searcher)
            persons = assign_new(np.stack([f.vector for f in faces]), [f.sha256 for f in faces], searcher.search,
                                 self._ps.face_persons, self._ps.person_sizes, threshold, gallery_faces=stored)
            got: list[int | None] = []

            def add(*args: Any, **kwargs: Any) -> list[int | None]:
                got[:] = self._ps.add_assigned(*args, **kwargs)
                return got

            added = self._writer.commit(list(zip(persons, faces)), add=add)
            ids = list(self._writer.last_ids)
        kept = [p for p, fid in zip(persons, got) if fid is not None]  # faces stored (not held already)
        new = len({p for p in kept if p < 0})
        return {"faces": added, "joined": len(kept) - new, "new": new, "ids": ids}

    # -- re-clustering ------------------------------------------------------------------------------
    def recluster(self, threshold: float | None = None, progress: Progress = False) -> ReclusterReport:
        """Cluster every face again, keeping every correction and every name: faces the user placed
        stay where they are and pull their cluster to their person, "not this person" links hold,
        and two faces of one photo never share a person. Applied in one step: a process killed in
        the middle leaves the people as they were.

        Args:
            threshold: the clustering threshold (default: the model's, lowered for collections
                of many people as ``faceprint.cluster`` does: ``clustering.api.adaptive_cut``).
            progress: True for a progress bar on stderr, or a callable given counts of work done.

        Returns:
            Faces, people, faces moved, people started and removed, the threshold, the time taken.
        """
        from faceprint.gallery.people_recluster import CutUsed, cluster_labels, inputs, link_pairs, plan_recluster
        from faceprint.progress import progress_callbacks
        from faceprint.quality import is_poor

        limit = self.threshold(threshold)
        used = CutUsed(self._gallery.model, limit, lowered=threshold is None)
        start = time.perf_counter()
        with self._writer.lock:
            ids, persons, photos, confirmed = self._ps.assignments()
            if not ids:
                return ReclusterReport(0, len(self.list()), 0, 0, 0, limit, time.perf_counter() - start)
            vectors, groups, seeds = inputs(self._store, ids, persons, photos, confirmed)
            links = self._ps.cannot_links()
            tick, finish = progress_callbacks(progress, 2 * len(ids), "clustering")  # neighbours, then merges
            try:
                scored = self._ps.qualities()
                labels = cluster_labels(vectors, limit, groups, seeds, link_pairs(ids, persons, links),
                                        tick if progress else None, [scored.get(i) for i in ids], used.adapt)
            finally:
                finish()
            poor = [q is not None and is_poor(float(q)) for q in (scored.get(i) for i in ids)]
            moves = plan_recluster(ids, persons, photos, confirmed, [int(x) for x in labels], self._ps.named_ids(),
                                   links, poor)
            made, removed = self._writer.change(lambda: self._ps.reassign(moves))
            people = len(self.list())
        return ReclusterReport(faces=len(ids), people=people, moved=len(moves), new_people=made,
                               removed_people=removed, threshold=used.value, seconds=time.perf_counter() - start)


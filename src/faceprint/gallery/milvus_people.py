"""People in a Milvus gallery: the same operations as ``faceprint.gallery.sqlite_people``, kept in
three collections beside the gallery's own (made on first use, so galleries made before need
no migration):

- ``<prefix>_facemeta``: per face, where it differs from an enrolled face: its index in its photo,
  whether clustering (not the user) placed it, its quality and its thumbnail (base64 JPEG);
- ``<prefix>_unnamed``: the ids of unnamed people (subjects labelled ``person <id>``);
- ``<prefix>_links``: "not this person" links (face id, person id).

Milvus has no transactions, so every change is ordered so that a process killed between two
requests leaves a gallery whose faces keep every rule (at worst an empty unnamed person, which
``check`` reports, a face set apart on its own, or a correction not yet recorded): markers before the subjects they mark,
links removed before a face enters the person they bar, faces that would break a rule set apart
before the others move, and in a re-cluster, faces that share a photo with another moving face
moved apart first. ``drop_empty_unnamed`` (and the next re-cluster) tidies what is left over.
"""

from __future__ import annotations

import base64
import json
from collections import Counter, defaultdict
from typing import Any, Sequence

from faceprint.errors import BadInput, SubjectExists, UnknownFace
from faceprint.gallery.milvus_people_read import FACE_FIELDS, MilvusPeopleReader
from faceprint.gallery.names import check_person_name
from faceprint.gallery.people_types import Person, merge_group, merge_others, unnamed_label
from faceprint.gallery.store import NewFace, utc_now


class MilvusPeople(MilvusPeopleReader):
    """The people operations of one ``MilvusStore``: its look-ups (``MilvusPeopleReader``) and
    every change, each ordered as the module says.

    Args:
        store: the open ``MilvusStore``.
    """

    # -- plumbing of changes ------------------------------------------------------------------------
    def _upsert_meta(self, rows: list[dict]) -> None:
        if rows:
            self.store._call("upsert", self.store.client.upsert, self.store._collections["facemeta"], rows)

    def _set_person(self, rows: list[dict], person: int) -> None:
        """Upsert face rows into ``person`` (the rows as read, with all their fields)."""
        if rows:
            for r in rows:
                r["subject_id"] = int(person)
                r["vector"] = [float(v) for v in r["vector"]]
            self.store._call("upsert", self.store.client.upsert, self.store._collections["faces"], rows)

    def _confirm(self, ids: Sequence[int], value: int = 1) -> None:
        """Mark faces as placed by the user (1) or by clustering (0)."""
        meta = self._meta_of(ids)
        rows = []
        for fid in ids:
            old = meta.get(int(fid))
            if old is None and value == 1:
                continue  # no row: an enrolled face, confirmed already
            thumb = self.store._in("facemeta", "id", [int(fid)], ["thumbnail", "has_thumbnail"]) if old else []
            rows.append({"id": int(fid), "face_index": int(old["face_index"]) if old else 0, "confirmed": value,
                         "quality": old["quality"] if old else "",
                         "has_thumbnail": int(thumb[0]["has_thumbnail"]) if thumb else 0,
                         "thumbnail": thumb[0]["thumbnail"] if thumb else "", "_v": [0.0, 0.0]})
        self._upsert_meta(rows)

    def _new_people(self, count: int) -> list[int]:
        """``count`` new unnamed people: markers first, then the subjects (a crash leaves a marker
        without a subject, which nothing reads)."""
        if count <= 0:
            return []
        s = self.store
        with s._strong_reads():
            first = s._take_ids("next_subject_id", count)
        ids = list(range(first, first + count))
        s._call("upsert", s.client.upsert, s._collections["unnamed"], [{"id": i, "_v": [0.0, 0.0]} for i in ids])
        s._call("insert", s.client.upsert, s._collections["subjects"],
                [{"id": i, "name": unnamed_label(i), "metadata": "{}", "created": utc_now(), "_v": [0.0, 0.0]}
                 for i in ids])
        return ids

    def _changed(self) -> None:
        self.store._owners.clear()
        self.store._bump()


    # -- writing ------------------------------------------------------------------------------------
    def add_assigned(self, faces: Sequence[tuple[int, NewFace]], model: str, signature: str,
                     confirmed: Sequence[bool] | None = None) -> list[int | None]:
        """Insert faces, each into a person (an id, or ``-k`` for the k-th new unnamed person); see
        ``SqlitePeople.add_assigned``. People first, then each face's facemeta row, then the faces."""
        import numpy as np

        s = self.store
        if not faces:
            return []
        if any(f.photo is not None for _, f in faces):
            from faceprint.errors import GalleryError

            raise GalleryError(f"{s.path}: a Milvus gallery does not keep photos; add them without keep_photos")
        vectors = np.stack([np.asarray(f.vector, np.float32).ravel() for _, f in faces])
        with s.lock, s._strong_reads():
            if not s._has_faces():
                s._create_faces(int(vectors.shape[1]))
            held = set(self.face_ids_of([(f.sha256, f.face_index) for _, f in faces]))
            keep, seen = [], set()
            for i, (_, f) in enumerate(faces):
                key = (f.sha256, int(f.face_index))
                if key not in held and key not in seen:
                    seen.add(key)
                    keep.append(i)
            if not keep:
                return [None] * len(faces)
            wanted = sorted({faces[i][0] for i in keep if faces[i][0] < 0}, reverse=True)
            made = dict(zip(wanted, self._new_people(len(wanted))))
            first = s._take_ids("next_face_id", len(keep))
            ids = {i: first + n for n, i in enumerate(keep)}
            created = utc_now()
            meta, rows = [], []
            for i in keep:
                person, f = faces[i]
                placed = bool(confirmed[i]) if confirmed is not None else False
                if f.face_index or not placed or f.thumbnail or f.quality is not None:
                    meta.append(_meta_row(ids[i], f, placed))
                rows.append({"id": ids[i], "vector": vectors[i].tolist(), "subject_id": int(made.get(person, person)),
                             "sha256": f.sha256, "box": json.dumps([round(float(v), 2) for v in f.box]),
                             "source": (f.source or "")[:4096], "created": created, "signature": signature})
            self._upsert_meta(meta)
            s._call("insert", s.client.insert, s._collections["faces"], rows)
            s._unflushed += len(rows)
            self._changed()
        return [ids.get(i) for i in range(len(faces))]

    def new_unnamed(self, count: int) -> list[int]:
        with self.store.lock, self.store._strong_reads():
            return self._new_people(count)

    def add_links(self, links: Sequence[tuple[int, int]]) -> None:
        if links:
            s = self.store
            s._call("upsert", s.client.upsert, s._collections["links"],
                    [{"key": f"{int(f)}:{int(p)}", "face_id": int(f), "subject_id": int(p), "created": utc_now(),
                      "_v": [0.0, 0.0]} for f, p in links])

    def name(self, person_id: int, name: str) -> Person:
        """Name a person (see ``SqlitePeople.name``): faces confirmed, the name written, then the marker
        removed (a crash between the two leaves a named subject still marked, which ``problems`` reports
        and a retry tidies)."""
        s = self.store
        name = check_person_name(name)
        with s.lock, s._strong_reads():
            who = self.person(person_id)
            other = s._query("subjects", f"name == {json.dumps(name)}", ["id"])
            if other and int(other[0]["id"]) != who.id:
                raise SubjectExists(f"{name!r} is person {other[0]['id']} already; merge the two instead "
                                    f"(`faceprint people merge {other[0]['id']} {person_id}`)")
            self._confirm([int(r["id"]) for r in s._subject_faces(who.id, ["id"])] if s._has_faces() else [])
            row = s._in("subjects", "id", [who.id], ["id", "metadata", "created"])[0]
            s._insert_subject(who.id, name, json.loads(row.get("metadata") or "{}"), row["created"])
            s._call("delete", s.client.delete, s._collections["unnamed"], ids=[who.id])
            self._changed()
        return self.person(person_id)

    def merge(self, into: int, others: Sequence[int]) -> tuple[Person, list[int]]:
        """Merge people (see ``SqlitePeople.merge``): rule-breaking faces set apart first, then the
        others' faces moved, links copied, and the others removed (faces before subjects)."""
        s = self.store
        others = merge_others(into, others)
        with s.lock, s._strong_reads():
            keep, named = merge_group(into, others, self.persons(ids=[into, *others]), s.path)
            group = [into, *others]
            rows = s._in("faces", "subject_id", group, FACE_FIELDS) if s._has_faces() else []
            links = [(f, p) for f, p in self.cannot_links() if p in group]
            barred = {f for f, _ in links}
            meta = self._meta_of([int(r["id"]) for r in rows])
            order = sorted(rows, key=lambda r: (int(meta.get(int(r["id"]), {}).get("confirmed", 1)) == 0, int(r["id"])))
            apart, seen = [], set()
            for r in order:
                if int(r["id"]) in barred or r["sha256"] in seen:
                    apart.append(r)
                else:
                    seen.add(r["sha256"])
            for r, pid in zip(apart, self._new_people(len(apart))):
                self._set_person([r], pid)
                self._confirm([int(r["id"])], 0)
            away = {int(r["id"]) for r in apart}
            self._set_person([r for r in rows if int(r["subject_id"]) != into and int(r["id"]) not in away], into)
            self._confirm([int(r["id"]) for r in rows if int(r["id"]) not in away])
            self.add_links([(f, into) for f, _ in links])
            stale = [f"{f}:{p}" for f, p in links if p in others]
            if stale:
                s._call("delete", s.client.delete, s._collections["links"], ids=stale)
            s._call("delete", s.client.delete, s._collections["unnamed"], ids=others)
            s._call("delete", s.client.delete, s._collections["subjects"], ids=others)
            if not keep.named and named:
                row = s._in("subjects", "id", [into], ["id", "metadata", "created"])[0]
                s._insert_subject(into, named[0].name, json.loads(row.get("metadata") or "{}"), row["created"])
                s._call("delete", s.client.delete, s._collections["unnamed"], ids=[into])
            self._changed()
        return self.person(into), sorted(int(r["id"]) for r in apart)

    def move(self, face_ids: Sequence[int], to: int | None) -> Person:
        """Move faces (see ``SqlitePeople.move``): links to the target removed before the faces enter it."""
        s = self.store
        ids = sorted({int(i) for i in face_ids})
        if not ids:
            raise BadInput("name at least one face to move")
        with s.lock, s._strong_reads():
            rows = self._face_rows(ids)
            found = {int(r["id"]) for r in rows}
            missing = [i for i in ids if i not in found]
            if missing:
                raise UnknownFace(f"no face with id {missing[0]} in {s.path}")
            photos = [r["sha256"] for r in rows]
            if to is not None:
                target = self.person(int(to)).id
                there = [r for r in s._subject_faces(target, ["id", "sha256"]) if int(r["id"]) not in found]
                clash = next((r for r in there if r["sha256"] in set(photos)), None)
            else:
                clash = None
            if clash is not None or len(set(photos)) < len(photos):
                raise BadInput("two faces of one photo cannot be one person"
                               + (f" (face {clash['id']} is of the same photo, in that person already)" if clash else ""))
            if to is None:
                target = self._new_people(1)[0]
            sources = {int(r["subject_id"]) for r in rows} - {target}
            s._call("delete", s.client.delete, s._collections["links"], ids=[f"{i}:{target}" for i in ids])
            self._set_person(rows, target)
            self._confirm(ids)
            for pid in sources:
                self._confirm([int(r["id"]) for r in s._subject_faces(pid, ["id"])])
            self._drop_if_empty(sources)
            self._changed()
        return self.person(target)

    def not_this_person(self, face_id: int) -> int:
        """See ``SqlitePeople.not_this_person``: a new person, the face moved, then the link."""
        s = self.store
        with s.lock, s._strong_reads():
            rows = self._face_rows([int(face_id)]) if s._has_faces() else []
            if not rows:
                raise UnknownFace(f"no face with id {face_id} in {s.path}")
            old = int(rows[0]["subject_id"])
            self._set_person(rows, self._new_people(1)[0])
            self._confirm([int(face_id)], 0)
            self.add_links([(int(face_id), old)])
            self._drop_if_empty([old])
            self._changed()
        return old

    def _drop_if_empty(self, person_ids: Sequence[int]) -> int:
        s = self.store
        unnamed = self._unnamed()
        empty = [p for p in set(person_ids) if p in unnamed and not s._face_count(p)]
        if empty:
            s._call("delete", s.client.delete, s._collections["subjects"], ids=empty)
            s._call("delete", s.client.delete, s._collections["unnamed"], ids=empty)
        return len(empty)

    def drop_empty_unnamed(self) -> int:
        with self.store.lock, self.store._strong_reads():
            held = {int(r["subject_id"]) for r in self._all("faces", ["subject_id"])}
            removed = self._drop_if_empty([p for p in self._unnamed() if p not in held])
            if removed:
                self._changed()
        return removed

    def reassign(self, moves: dict[int, int]) -> tuple[int, int]:
        """Apply a re-cluster: faces sharing a photo with another moving face go apart first (each to
        its own new person), then every face to its person; emptied unnamed people (the temporary
        ones included) are removed."""
        s = self.store
        with s.lock, s._strong_reads():
            rows = {int(r["id"]): r for r in self._face_rows(list(moves))}
            before = {fid: int(r["subject_id"]) for fid, r in rows.items()}
            photos = Counter(r["sha256"] for r in rows.values())
            shared = [fid for fid, r in rows.items() if photos[r["sha256"]] > 1]
            tmp = self._new_people(len(shared))
            for fid, pid in zip(shared, tmp):
                self._set_person([rows[fid]], pid)
            wanted = sorted({p for p in moves.values() if p < 0}, reverse=True)
            made = dict(zip(wanted, self._new_people(len(wanted))))
            by_target: dict[int, list[dict]] = defaultdict(list)
            for fid, person in moves.items():
                if fid in rows:
                    by_target[made.get(person, person)].append(rows[fid])
            for person, group in by_target.items():
                self._set_person(group, person)
            held = {int(r["subject_id"]) for r in self._all("faces", ["subject_id"])}
            left = {p for p in self._unnamed() if p not in held}  # empty people an earlier stop left
            removed = self._drop_if_empty(set(before.values()) | set(tmp) | left)
            self._changed()
        return len(made), removed


def _meta_row(face_id: int, face: NewFace, confirmed: bool) -> dict:
    thumb = base64.b64encode(face.thumbnail).decode() if face.thumbnail else ""
    if len(thumb) > 65_000:
        thumb = ""  # larger than a Milvus VARCHAR holds: no thumbnail
    return {"id": int(face_id), "face_index": int(face.face_index), "confirmed": int(bool(confirmed)),
            "quality": "" if face.quality is None else f"{float(face.quality):.4f}", "has_thumbnail": int(bool(thumb)),
            "thumbnail": thumb, "_v": [0.0, 0.0]}


def store_face_meta(store: Any, faces: Sequence[tuple[int, NewFace]]) -> None:
    """Keep the thumbnails, qualities and face indexes of faces a Milvus store just added (enrolled
    faces: placed by the user).

    Args:
        store: the ``MilvusStore``.
        faces: (face id, face) pairs.
    """
    rows = [_meta_row(fid, f, True) for fid, f in faces if f.thumbnail or f.quality is not None or f.face_index]
    if rows:
        store.people_store()._upsert_meta(rows)


def forget(store: Any, face_ids: Sequence[int] = (), person_id: int | None = None,
           emptied: int | None = None) -> None:
    """After faces or a subject left a Milvus store: their people rows go too (links, facemeta,
    the unnamed marker), and an unnamed person left without faces. Nothing to do where people
    were never used.

    Args:
        store: the ``MilvusStore``.
        face_ids: faces removed.
        person_id: a subject removed.
        emptied: a person that may have no faces left.
    """
    have = set(store._call("list_collections", store.client.list_collections))
    if f"{store.prefix}_links" not in have:
        return
    people = store.people_store()
    ids = [int(i) for i in face_ids]
    if ids:
        store._call("delete", store.client.delete, store._collections["facemeta"], ids=ids)
    where = [f"face_id in [{','.join(map(str, ids))}]"] if ids else []
    where += [f"subject_id == {int(person_id)}"] if person_id is not None else []
    if where:
        store._call("delete", store.client.delete, store._collections["links"], filter=" or ".join(where))
    if person_id is not None:
        store._call("delete", store.client.delete, store._collections["unnamed"], ids=[int(person_id)])
    if emptied is not None:
        people._drop_if_empty([int(emptied)])


def renamed(store: Any, person_id: int) -> None:
    """After a Milvus subject was renamed: it is a named person now, its faces placed by the user.

    Args:
        store: the ``MilvusStore``.
        person_id: the subject renamed.
    """
    have = set(store._call("list_collections", store.client.list_collections))
    if f"{store.prefix}_unnamed" not in have:
        return
    people = store.people_store()
    store._call("delete", store.client.delete, store._collections["unnamed"], ids=[int(person_id)])
    people._confirm([int(r["id"]) for r in store._subject_faces(int(person_id), ["id"])] if store._has_faces() else [])

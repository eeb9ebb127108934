"""Reading people from a Milvus gallery (see ``faceprint.gallery.milvus_people``, which adds the
changes): the three people collections made on first use, and every look-up."""

from __future__ import annotations

import base64
import json
from collections import Counter
from typing import Any, Sequence

from faceprint.errors import UnknownFace, UnknownSubject
from faceprint.gallery.people_types import Person, unnamed_label
from faceprint.gallery.types import FaceRecord

FACE_FIELDS = ["id", "vector", "subject_id", "sha256", "box", "source", "created", "signature"]


class MilvusPeopleReader:
    """The people look-ups of one ``MilvusStore`` (``MilvusPeople`` adds the changes).

    Args:
        store: the open ``MilvusStore``.
    """

    def __init__(self, store: Any) -> None:
        self.store = store
        names = {k: f"{store.prefix}_{k}" for k in ("facemeta", "unnamed", "links")}
        store._collections.update(names)
        with store.lock:
            have = set(store._call("list_collections", store.client.list_collections))
            missing = [k for k in names if names[k] not in have]
            for key in missing:
                self._create(key)
            if missing:
                store._load(*(names[k] for k in missing))
            elif not getattr(store, "_people_loaded", False):
                store._load(*names.values())
            store._people_loaded = True

    def _create(self, key: str) -> None:
        from pymilvus import DataType, MilvusClient

        s = self.store
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        if key == "links":
            schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
            schema.add_field("face_id", DataType.INT64)
            schema.add_field("subject_id", DataType.INT64)
            schema.add_field("created", DataType.VARCHAR, max_length=64)
        else:
            schema.add_field("id", DataType.INT64, is_primary=True)
        if key == "facemeta":
            schema.add_field("face_index", DataType.INT64)
            schema.add_field("confirmed", DataType.INT64)
            schema.add_field("quality", DataType.VARCHAR, max_length=32)
            schema.add_field("has_thumbnail", DataType.INT64)
            schema.add_field("thumbnail", DataType.VARCHAR, max_length=65535)
        schema.add_field("_v", DataType.FLOAT_VECTOR, dim=2)
        params = s.client.prepare_index_params()
        params.add_index("_v", index_type="FLAT", metric_type="L2")
        s._create(s._collections[key], schema, params, {"subject_id": "INT64"} if key == "links" else {})

    # -- plumbing -----------------------------------------------------------------------------------
    def _rows(self, key: str, filter: str, fields: list[str]) -> list[dict]:
        return self.store._query(key, filter, fields, limit=16_384)

    def _all(self, key: str, fields: list[str]) -> list[dict]:
        """Every row of a collection, paged by id (face ids for faces and facemeta, person ids else)."""
        s = self.store
        if key == "links":
            return self._rows("links", "face_id >= 0", fields)  # links stay few
        if key == "faces" and not s._has_faces():
            return []
        end = int(s.meta("next_face_id" if key in ("faces", "facemeta") else "next_subject_id") or 1)
        fields = list(dict.fromkeys(["id", *fields]))
        out: list[dict] = []
        for start in range(0, end, 16_000):
            out += s._query(key, f"id >= {start} and id < {start + 16_000}", fields)
        return out

    def _meta_of(self, ids: Sequence[int]) -> dict[int, dict]:
        rows = self.store._in("facemeta", "id", [int(i) for i in ids], ["id", "face_index", "confirmed", "quality"])
        return {int(r["id"]): r for r in rows}

    def _unnamed(self) -> set[int]:
        return {int(r["id"]) for r in self._all("unnamed", ["id"])}

    def _face_rows(self, ids: Sequence[int]) -> list[dict]:
        return self.store._in("faces", "id", [int(i) for i in ids], FACE_FIELDS)

    # -- reading ------------------------------------------------------------------------------------
    def persons(self, named: bool | None = None, ids: Sequence[int] | None = None) -> list[Person]:
        """People, named ones by name first, then unnamed ones by size (as ``SqlitePeople.persons``)."""
        s = self.store
        with s.lock:
            if ids is not None:
                subjects = s._in("subjects", "id", [int(i) for i in ids], ["id", "name"])
            else:
                subjects = self._all("subjects", ["id", "name"])
            unnamed = self._unnamed()
            counts: Counter = Counter()
            covers: dict[int, int] = {}
            if s._has_faces():
                faces = (s._in("faces", "subject_id", [int(r["id"]) for r in subjects], ["id", "subject_id"])
                         if ids is not None else self._all("faces", ["subject_id"]))
                for r in faces:
                    sid = int(r["subject_id"])
                    counts[sid] += 1
                    covers[sid] = min(covers.get(sid, int(r["id"])), int(r["id"]))
                thumbs = {int(r["id"]) for r in self._rows("facemeta", "has_thumbnail == 1", ["id"])} if counts else set()
                for r in faces:
                    fid, sid = int(r["id"]), int(r["subject_id"])
                    if fid in thumbs and (covers.get(-sid) is None or fid < covers[-sid]):
                        covers[-sid] = fid
        out = [Person(id=int(r["id"]), name=None if int(r["id"]) in unnamed else r["name"], label=r["name"],
                      faces=counts.get(int(r["id"]), 0), cover=covers.get(-int(r["id"]), covers.get(int(r["id"]))))
               for r in subjects]
        if named is not None:
            out = [p for p in out if p.named == named]
        return sorted(out, key=lambda p: (not p.named, p.name or "", -p.faces, p.id))

    def person(self, person_id: int) -> Person:
        found = self.persons(ids=[int(person_id)])
        if not found:
            raise UnknownSubject(f"no person with id {person_id} in {self.store.path}; `faceprint people list` shows them")
        return found[0]

    def faces(self, person_id: int | None = None, ids: Sequence[int] | None = None) -> list[FaceRecord]:
        s = self.store
        fields = ["id", "subject_id", "sha256", "box", "created", "source"]
        with s.lock:
            if ids is None:
                who = self.person(int(person_id))
                rows = s._subject_faces(who.id, fields) if s._has_faces() else []
                names = {who.id: who.label}
            else:
                rows = s._in("faces", "id", [int(i) for i in ids], fields) if s._has_faces() else []
                sids = sorted({int(r["subject_id"]) for r in rows})
                names = {int(r["id"]): r["name"] for r in s._in("subjects", "id", sids, ["id", "name"])}
            meta = self._meta_of([int(r["id"]) for r in rows])
        out = []
        for r in sorted(rows, key=lambda r: int(r["id"])):
            m = meta.get(int(r["id"]), {})
            out.append(FaceRecord(id=int(r["id"]), subject=names.get(int(r["subject_id"]), "?"), sha256=r["sha256"],
                                  box=json.loads(r["box"]), created=r["created"], source=r["source"] or None,
                                  face_index=int(m.get("face_index", 0)), person_id=int(r["subject_id"]),
                                  confirmed=bool(int(m.get("confirmed", 1))),
                                  quality=float(m["quality"]) if m.get("quality") else None))
        return out

    def thumbnail(self, face_id: int) -> bytes | None:
        s = self.store
        if not s._has_faces() or not s._in("faces", "id", [int(face_id)], ["id"]):
            raise UnknownFace(f"no face with id {face_id} in {s.path}")
        rows = s._in("facemeta", "id", [int(face_id)], ["thumbnail"])
        return base64.b64decode(rows[0]["thumbnail"]) if rows and rows[0]["thumbnail"] else None

    def thumbnails_of(self, face_ids: Sequence[int]) -> dict[int, bytes]:
        rows = self.store._in("facemeta", "id", [int(i) for i in face_ids], ["id", "thumbnail"])
        return {int(r["id"]): base64.b64decode(r["thumbnail"]) for r in rows if r["thumbnail"]}

    def face_persons(self, ids: Sequence[int]) -> dict[int, tuple[int, str]]:
        if not ids or not self.store._has_faces():
            return {}
        rows = self.store._in("faces", "id", [int(i) for i in ids], ["id", "subject_id", "sha256"])
        return {int(r["id"]): (int(r["subject_id"]), r["sha256"]) for r in rows}

    def person_sizes(self, person_ids: Sequence[int]) -> dict[int, int]:
        if not person_ids or not self.store._has_faces():
            return {}
        rows = self.store._in("faces", "subject_id", sorted({int(p) for p in person_ids}), ["subject_id"])
        return dict(Counter(int(r["subject_id"]) for r in rows))

    def cannot_links(self) -> list[tuple[int, int]]:
        return sorted((int(r["face_id"]), int(r["subject_id"])) for r in self._all("links", ["face_id", "subject_id"]))

    def assignments(self) -> tuple[list[int], list[int], list[str], list[bool]]:
        rows = sorted(self._all("faces", ["subject_id", "sha256"]), key=lambda r: int(r["id"]))
        unconfirmed = {int(r["id"]) for r in self._rows("facemeta", "confirmed == 0", ["id"])}
        return ([int(r["id"]) for r in rows], [int(r["subject_id"]) for r in rows], [r["sha256"] for r in rows],
                [int(r["id"]) not in unconfirmed for r in rows])

    def qualities(self) -> dict[int, float]:
        """face id -> quality, for the faces that were scored."""
        return {int(r["id"]): float(r["quality"]) for r in self._all("facemeta", ["quality"]) if r["quality"]}

    def named_ids(self) -> set[int]:
        return {int(r["id"]) for r in self._all("subjects", ["id"])} - self._unnamed()

    def face_ids_of(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        if not keys or not self.store._has_faces():
            return {}
        rows = self.store._in("faces", "sha256", sorted({k[0] for k in keys}), ["id", "sha256"])
        meta = self._meta_of([int(r["id"]) for r in rows])
        held = {(r["sha256"], int(meta.get(int(r["id"]), {}).get("face_index", 0))): int(r["id"]) for r in rows}
        return {k: held[(k[0], int(k[1]))] for k in keys if (k[0], int(k[1])) in held}

    def problems(self) -> list[str]:
        """Broken people rules (as ``SqlitePeople.problems``)."""
        s = self.store
        with s.lock:
            faces = self._all("faces", ["subject_id", "sha256"])
            subjects = {int(r["id"]): r["name"] for r in self._all("subjects", ["id", "name"])}
            person_of = {int(r["id"]): int(r["subject_id"]) for r in faces}
            meta = {int(r["id"]): int(r["face_index"]) for r in self._all("facemeta", ["face_index"])}
            out = [f"face {f} is in person {p}, whom it was marked not to be" for f, p in self.cannot_links()
                   if person_of.get(f) == p]
            out += [f"a 'not this person' link points to a missing face or person ({f}, {p})"
                    for f, p in self.cannot_links() if f not in person_of or p not in subjects]
            groups = Counter((int(r["subject_id"]), r["sha256"]) for r in faces)
            out += [f"person {p} holds {c} faces of photo {sha[:12]}" for (p, sha), c in groups.items() if c > 1]
            keys = Counter((r["sha256"], meta.get(int(r["id"]), 0)) for r in faces)
            out += [f"face {i} of photo {sha[:12]} is stored {c} times" for (sha, i), c in keys.items() if c > 1]
            out += [f"unnamed person {p} is labelled {subjects[p]!r}" for p in self._unnamed()
                    if p in subjects and subjects[p] != unnamed_label(p)]
            held = set(person_of.values())
            out += [f"unnamed person {p} has no faces" for p in sorted(self._unnamed()) if p in subjects and p not in held]
        return out

"""People in an SQLite gallery: schema v3 (several faces per photo, thumbnails, named and unnamed
people, "not this person" links) and every people change as ONE transaction, so that a process
killed in the middle leaves the gallery as it was before the change or after it.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Sequence

from faceprint.errors import BadInput, SubjectExists, UnknownFace, UnknownSubject
from faceprint.gallery.names import check_person_name
from faceprint.gallery.people_types import Person, merge_group, merge_others, unnamed_label
from faceprint.gallery.sqlite_schema import FACE_COLUMNS, face_record
from faceprint.gallery.store import NewFace, utc_now
from faceprint.gallery.types import FaceRecord


class SqlitePeople:
    """The people operations of one ``SqliteStore`` (its connection and lock).

    Args:
        store: the open ``SqliteStore``.
    """

    def __init__(self, store: Any) -> None:
        self.store = store
        self.db: sqlite3.Connection = store.db

    # -- reading ------------------------------------------------------------------------------------
    def persons(self, named: bool | None = None, ids: Sequence[int] | None = None) -> list[Person]:
        """People, named ones by name first, then unnamed ones by size.

        Args:
            named: only named (True) or only unnamed (False) people; None: all.
            ids: only these people.
        """
        where, args = [], []
        if named is not None:
            where.append("s.named = ?")
            args.append(int(named))
        if ids is not None:
            where.append(f"s.id IN ({','.join(str(int(i)) for i in ids) or 'NULL'})")
        query = ("SELECT s.id, s.name, s.named, COUNT(f.id), MIN(CASE WHEN f.thumbnail IS NOT NULL THEN f.id END), "
                 "MIN(f.id) FROM subjects s LEFT JOIN faces f ON f.subject_id = s.id "
                 f"{'WHERE ' + ' AND '.join(where) if where else ''} GROUP BY s.id "
                 "ORDER BY s.named DESC, CASE WHEN s.named THEN s.name END, COUNT(f.id) DESC, s.id")
        with self.store.lock:
            rows = self.db.execute(query, args).fetchall()
        return [Person(id=r[0], name=r[1] if r[2] else None, label=r[1], faces=r[3], cover=r[4] or r[5]) for r in rows]

    def person(self, person_id: int) -> Person:
        """One person.

        Raises:
            UnknownSubject: no person with that id.
        """
        found = self.persons(ids=[person_id])
        if not found:
            raise UnknownSubject(f"no person with id {person_id} in {self.store.path}; `faceprint people list` shows them")
        return found[0]

    def faces(self, person_id: int | None = None, ids: Sequence[int] | None = None) -> list[FaceRecord]:
        """A person's faces (or the given faces), oldest first.

        Raises:
            UnknownSubject: no person with that id.
        """
        query = f"SELECT {FACE_COLUMNS} FROM faces f JOIN subjects s ON s.id = f.subject_id"
        with self.store.lock:
            if ids is not None:
                rows = self.store.rows_in(query + " WHERE f.id IN ({marks})", [int(i) for i in ids])
                return [face_record(r) for r in sorted(rows)]
            self.person(int(person_id))
            rows = self.db.execute(f"{query} WHERE f.subject_id = ? ORDER BY f.id", (int(person_id),)).fetchall()
        return [face_record(r) for r in rows]

    def thumbnail(self, face_id: int) -> bytes | None:
        """The face's JPEG thumbnail, None when none was kept.

        Raises:
            UnknownFace: no face with that id.
        """
        with self.store.lock:
            row = self.db.execute("SELECT thumbnail FROM faces WHERE id=?", (int(face_id),)).fetchone()
        if row is None:
            raise UnknownFace(f"no face with id {face_id} in {self.store.path}")
        return row[0]

    def face_persons(self, ids: Sequence[int]) -> dict[int, tuple[int, str]]:
        """face id -> (person id, photo sha256) for the given faces (unknown ids left out)."""
        rows = self.store.rows_in("SELECT id, subject_id, sha256 FROM faces WHERE id IN ({marks})", [int(i) for i in ids])
        return {r[0]: (r[1], r[2]) for r in rows}

    def person_sizes(self, person_ids: Sequence[int]) -> dict[int, int]:
        """person id -> faces, for the given people."""
        return dict(self.store.rows_in("SELECT subject_id, COUNT(*) FROM faces WHERE subject_id IN ({marks}) "
                                       "GROUP BY subject_id", sorted({int(i) for i in person_ids})))

    def cannot_links(self) -> list[tuple[int, int]]:
        """Every (face id, person id) "not this person" link."""
        with self.store.lock:
            return [(r[0], r[1]) for r in self.db.execute("SELECT face_id, subject_id FROM cannot_link ORDER BY face_id")]

    def assignments(self) -> tuple[list[int], list[int], list[str], list[bool]]:
        """Every face's ``(ids, person ids, photo sha256s, confirmed)``, by face id."""
        with self.store.lock:
            rows = self.db.execute("SELECT id, subject_id, sha256, confirmed FROM faces ORDER BY id").fetchall()
        return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [bool(r[3]) for r in rows]

    def qualities(self) -> dict[int, float]:
        """face id -> quality, for the faces that were scored."""
        with self.store.lock:
            return dict(self.db.execute("SELECT id, quality FROM faces WHERE quality IS NOT NULL").fetchall())

    def named_ids(self) -> set[int]:
        """The ids of the named people."""
        with self.store.lock:
            return {r[0] for r in self.db.execute("SELECT id FROM subjects WHERE named = 1")}

    # -- writing: each method is one transaction ---------------------------------------------------
    def _new_person(self) -> int:
        while True:
            cur = self.db.execute("INSERT INTO subjects(name, metadata, created, named) VALUES (?, '{}', ?, 0)",
                                  (f"\x00new {utc_now()}", utc_now()))
            pid = int(cur.lastrowid)
            try:
                self.db.execute("UPDATE subjects SET name=? WHERE id=?", (unnamed_label(pid), pid))
                return pid
            except sqlite3.IntegrityError:  # a subject named before the form was reserved has the label: next id
                self.db.execute("DELETE FROM subjects WHERE id=?", (pid,))

    def _drop_empty_unnamed(self, person_ids: Sequence[int]) -> int:
        removed = 0
        for pid in set(person_ids):
            removed += self.db.execute("DELETE FROM subjects WHERE id=? AND named=0 AND NOT EXISTS "
                                       "(SELECT 1 FROM faces WHERE subject_id=?)", (pid, pid)).rowcount
        return removed

    def add_assigned(self, faces: Sequence[tuple[int, NewFace]], model: str, signature: str,
                     confirmed: Sequence[bool] | None = None) -> list[int | None]:
        """Insert faces, each into a person: an existing person's id, or ``-k`` for the k-th new unnamed
        person of this batch (k >= 1). One transaction.

        Args:
            faces: (person, face) pairs.
            model: the gallery's model.
            signature: the gallery's pipeline signature.
            confirmed: whether the user placed each face (default: none did: clustering placed them).

        Returns:
            The new face ids, None where the face (photo and index) was in the gallery already.
        """
        import numpy as np

        out: list[int | None] = []
        with self.store._write():
            made: dict[int, int] = {}
            for row, (person, face) in enumerate(faces):
                if person < 0 and person not in made:
                    made[person] = self._new_person()
                pid = made.get(person, person)
                vec = np.ascontiguousarray(face.vector, dtype=np.float32)
                cur = self.db.execute(
                    "INSERT OR IGNORE INTO faces(subject_id, embedding, dim, model, signature, sha256, face_index, box, "
                    "source, created, photo, thumbnail, quality, confirmed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (pid, vec.tobytes(), int(vec.size), model, signature, face.sha256, int(face.face_index),
                     json.dumps([round(float(v), 2) for v in face.box]), face.source, utc_now(), face.photo,
                     face.thumbnail, face.quality, int(bool(confirmed[row])) if confirmed is not None else 0))
                out.append(int(cur.lastrowid) if cur.rowcount else None)
            self._drop_empty_unnamed(list(made.values()))
            if any(i is not None for i in out):
                self.store._bump()
        return out

    def new_unnamed(self, count: int) -> list[int]:
        """``count`` new unnamed people (without faces yet); one transaction."""
        with self.store._write():
            return [self._new_person() for _ in range(count)]

    def add_links(self, links: Sequence[tuple[int, int]]) -> None:
        """Record (face id, person id) "not this person" links; one transaction."""
        with self.store._write():
            self.db.executemany("INSERT OR IGNORE INTO cannot_link(face_id, subject_id, created) VALUES (?, ?, ?)",
                                [(int(f), int(p), utc_now()) for f, p in links])

    def face_ids_of(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """(photo sha256, face index) -> face id, for the faces the gallery holds."""
        out: dict[tuple[str, int], int] = {}
        with self.store.lock:
            for sha, index in keys:
                row = self.db.execute("SELECT id FROM faces WHERE sha256=? AND face_index=?", (sha, int(index))).fetchone()
                if row is not None:
                    out[(sha, int(index))] = row[0]
        return out

    def thumbnails_of(self, face_ids: Sequence[int]) -> dict[int, bytes]:
        """face id -> thumbnail, for the given faces that have one."""
        return dict(self.store.rows_in("SELECT id, thumbnail FROM faces WHERE thumbnail IS NOT NULL AND id IN ({marks})",
                                       [int(i) for i in face_ids]))

    def name(self, person_id: int, name: str) -> Person:
        """Name (or rename) a person; their faces count as confirmed from then on.

        Raises:
            UnknownSubject: no such person.
            SubjectExists: another person has that name.
            BadName: the name is refused.
        """
        name = check_person_name(name)
        with self.store._write():
            self.person(person_id)
            try:
                self.db.execute("UPDATE subjects SET name=?, named=1 WHERE id=?", (name, int(person_id)))
            except sqlite3.IntegrityError:
                other = self.db.execute("SELECT id FROM subjects WHERE name=?", (name,)).fetchone()[0]
                raise SubjectExists(f"{name!r} is person {other} already; merge the two instead "
                                    f"(`faceprint people merge {other} {person_id}`)") from None
            self.db.execute("UPDATE faces SET confirmed=1 WHERE subject_id=?", (int(person_id),))
            self.store._bump()
        return self.person(person_id)

    def merge(self, into: int, others: Sequence[int]) -> tuple[Person, list[int]]:
        """Merge people into one (keeping ``into``'s name, else the first named other's). Faces that
        would break a rule (a face marked "not this person" for one of them, a second face of one
        photo) go to new unnamed people instead. One transaction.

        Returns:
            The merged person and the ids of the faces set apart.

        Raises:
            UnknownSubject: one of the ids is no person.
            BadInput: ``into`` among ``others``, or no others.
        """
        others = merge_others(into, others)
        with self.store._write():
            keep, named = merge_group(into, others, self.persons(ids=[into, *others]), self.store.path)
            marks = ",".join(str(o) for o in others)
            self.db.execute(f"UPDATE faces SET subject_id=?, confirmed=1 WHERE subject_id IN ({marks})", (into,))
            self.db.execute("UPDATE faces SET confirmed=1 WHERE subject_id=?", (into,))
            self.db.execute(f"INSERT OR IGNORE INTO cannot_link(face_id, subject_id, created) SELECT face_id, ?, created "
                            f"FROM cannot_link WHERE subject_id IN ({marks})", (into,))
            self.db.execute(f"DELETE FROM subjects WHERE id IN ({marks})")
            if not keep.named and named:
                self.db.execute("UPDATE subjects SET name=?, named=1 WHERE id=?", (named[0].name, into))
            apart = self._set_apart(into)
            self.store._bump()
        return self.person(into), apart

    def _set_apart(self, person_id: int) -> list[int]:
        """Faces of a person that break a rule, each moved to a new unnamed person: faces marked "not
        this person" for it, and every face but the first (confirmed first) of a photo."""
        rows = self.db.execute("SELECT f.id FROM faces f JOIN cannot_link c ON c.face_id = f.id AND c.subject_id = f.subject_id "
                               "WHERE f.subject_id=?", (person_id,)).fetchall()
        apart = [r[0] for r in rows]
        seen: set[str] = set()
        for fid, sha in self.db.execute("SELECT id, sha256 FROM faces WHERE subject_id=? ORDER BY confirmed DESC, id",
                                        (person_id,)).fetchall():
            if fid in apart:
                continue
            if sha in seen:
                apart.append(fid)
            seen.add(sha)
        for fid in apart:
            self.db.execute("UPDATE faces SET subject_id=?, confirmed=0 WHERE id=?", (self._new_person(), fid))
        return sorted(apart)

    def move(self, face_ids: Sequence[int], to: int | None) -> Person:
        """Move faces to a person (None: a new unnamed person). The moved faces and the faces left
        behind count as confirmed (the user has looked at both). One transaction.

        Raises:
            UnknownFace: a face id is not in the gallery.
            UnknownSubject: ``to`` is no person.
            BadInput: no faces, or two faces of one photo would share the person.
        """
        ids = sorted({int(i) for i in face_ids})
        if not ids:
            raise BadInput("name at least one face to move")
        with self.store._write():
            where = self.face_persons(ids)
            missing = [i for i in ids if i not in where]
            if missing:
                raise UnknownFace(f"no face with id {missing[0]} in {self.store.path}")
            target = self._new_person() if to is None else self.person(int(to)).id
            photos = [sha for _, sha in where.values()]
            marks = ",".join(str(i) for i in ids)
            clash = self.db.execute(f"SELECT id, sha256 FROM faces WHERE subject_id=? AND id NOT IN ({marks}) AND sha256 IN "
                                    f"({','.join('?' * len(photos))})", (target, *photos)).fetchone()
            if clash is not None or len(set(photos)) < len(photos):
                raise BadInput("two faces of one photo cannot be one person"
                               + (f" (face {clash[0]} is of the same photo, in that person already)" if clash else ""))
            sources = {pid for pid, _ in where.values()} - {target}
            self.db.execute(f"UPDATE faces SET subject_id=?, confirmed=1 WHERE id IN ({marks})", (target,))
            self.db.execute(f"DELETE FROM cannot_link WHERE subject_id=? AND face_id IN ({marks})", (target,))
            for pid in sources:
                self.db.execute("UPDATE faces SET confirmed=1 WHERE subject_id=?", (pid,))
            self._drop_empty_unnamed(list(sources))
            self.store._bump()
        return self.person(target)

    def not_this_person(self, face_id: int) -> int:
        """Record that a face is not its person's, and move it to a new unnamed person. One transaction.

        Returns:
            The id of the person the face left.

        Raises:
            UnknownFace: no face with that id.
        """
        with self.store._write():
            row = self.db.execute("SELECT subject_id FROM faces WHERE id=?", (int(face_id),)).fetchone()
            if row is None:
                raise UnknownFace(f"no face with id {face_id} in {self.store.path}")
            self.db.execute("INSERT OR IGNORE INTO cannot_link(face_id, subject_id, created) VALUES (?, ?, ?)",
                            (int(face_id), row[0], utc_now()))
            self.db.execute("UPDATE faces SET subject_id=?, confirmed=0 WHERE id=?", (self._new_person(), int(face_id)))
            self._drop_empty_unnamed([row[0]])
            self.store._bump()
        return int(row[0])

    def drop_empty_unnamed(self) -> int:
        """Remove unnamed people without faces; returns how many. One transaction."""
        with self.store._write():
            removed = self.db.execute("DELETE FROM subjects WHERE named=0 AND NOT EXISTS "
                                      "(SELECT 1 FROM faces WHERE subject_id=subjects.id)").rowcount
            if removed:
                self.store._bump()
        return removed

    def reassign(self, moves: dict[int, int], faces_of_new: int = 0) -> tuple[int, int]:
        """Apply a re-cluster in ONE transaction: ``moves`` face id -> person id (an existing one, or
        ``-k`` for the k-th new unnamed person); empty unnamed people are removed afterwards.

        Returns:
            ``(new people, unnamed people removed)``.
        """
        with self.store._write():
            made: dict[int, int] = {}
            before = {r[0]: r[1] for r in self.db.execute("SELECT id, subject_id FROM faces")} if moves else {}
            for fid, person in moves.items():
                if person < 0 and person not in made:
                    made[person] = self._new_person()
                self.db.execute("UPDATE faces SET subject_id=? WHERE id=?", (made.get(person, person), int(fid)))
            removed = self._drop_empty_unnamed(list(set(before.values())))
            self.store._bump()
        return len(made), removed

    def problems(self) -> list[str]:
        """Broken people rules: a "not this person" face in that person, two faces of one photo in
        one person, links to missing faces or people, unnamed labels that do not match their id,
        unnamed people without faces."""
        with self.store.lock:
            out = [f"face {r[0]} is in person {r[1]}, whom it was marked not to be" for r in self.db.execute(
                "SELECT f.id, f.subject_id FROM faces f JOIN cannot_link c ON c.face_id=f.id AND c.subject_id=f.subject_id")]
            out += [f"person {r[0]} holds {r[2]} faces of photo {r[1][:12]}" for r in self.db.execute(
                "SELECT subject_id, sha256, COUNT(*) FROM faces GROUP BY subject_id, sha256 HAVING COUNT(*) > 1")]
            out += [f"a 'not this person' link points to a missing face or person ({r[0]}, {r[1]})" for r in self.db.execute(
                "SELECT face_id, subject_id FROM cannot_link c WHERE NOT EXISTS (SELECT 1 FROM faces WHERE id=c.face_id) "
                "OR NOT EXISTS (SELECT 1 FROM subjects WHERE id=c.subject_id)")]
            out += [f"unnamed person {r[0]} is labelled {r[1]!r}" for r in self.db.execute(
                "SELECT id, name FROM subjects WHERE named=0") if r[1] != unnamed_label(r[0])]
            out += [f"unnamed person {r[0]} has no faces" for r in self.db.execute(
                "SELECT id FROM subjects s WHERE named=0 AND NOT EXISTS (SELECT 1 FROM faces WHERE subject_id=s.id)")]
        return out

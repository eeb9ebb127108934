"""An SQLite gallery store (stdlib ``sqlite3``): subjects and their face vectors in one file.

WAL journal, one transaction per batch of faces, a schema version with migrations. Photos are
kept only when asked (``keep_photos``).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from faceprint.errors import GalleryError, SubjectExists, UnknownFace, UnknownSubject
from faceprint.gallery.names import check_lookup_name, check_metadata, check_name, check_person_name
from faceprint.gallery.private_files import create_private
from faceprint.gallery.sqlite_people import SqlitePeople
from faceprint.gallery.sqlite_schema import FACE_COLUMNS, face_record, migrate_2_to_3
from faceprint.gallery.store import NewFace, NoGallery, id_vector_arrays, utc_now
from faceprint.gallery.types import FaceRecord, Subject

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3
IN_CHUNK = 900  # values bound in one IN list: SQLite limits the parameters of a statement

_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS subjects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    metadata TEXT NOT NULL DEFAULT '{}',
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS faces (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subject_id INTEGER NOT NULL REFERENCES subjects(id) ON DELETE CASCADE,
    embedding BLOB NOT NULL,
    dim INTEGER NOT NULL,
    model TEXT NOT NULL,
    signature TEXT NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,
    box TEXT NOT NULL,
    source TEXT,
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS faces_subject ON faces(subject_id);
"""


def _migrate_1_to_2(db: sqlite3.Connection) -> None:
    # v2: optional photo bytes (kept only when the user asks), and a change counter for the index
    db.execute("ALTER TABLE faces ADD COLUMN photo BLOB")
    db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('generation', '0')")


MIGRATIONS = {1: _migrate_1_to_2, 2: migrate_2_to_3}


class SqliteStore:
    """Subjects and faces in one SQLite file; safe to share between threads (one write lock).

    Args:
        path: the SQLite file.
        create: create it when missing.

    Raises:
        NoGallery: ``create`` is False and the file does not exist.
        GalleryError: the file is not a faceprint gallery, or of a newer schema.
    """

    scheme = "sqlite"

    def __init__(self, path: Path, create: bool = True) -> None:
        self.path = Path(path)
        if not self.path.exists():
            if not create:
                raise NoGallery(f"{self.path}: no gallery here; create it with `faceprint gallery create {self.path}`")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # 0600, whatever the umask: SQLite gives its -wal and -shm files the database's mode
            create_private(self.path)
        self.lock = threading.RLock()
        try:
            self.db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30.0, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise GalleryError(f"{self.path}: not a faceprint gallery ({exc}); give another path") from exc

    # -- schema ---------------------------------------------------------------------------------------
    def _migrate(self) -> None:
        with self.lock:
            tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if tables and "meta" not in tables:
                raise GalleryError(f"{self.path}: an SQLite file that is not a faceprint gallery")
            self.db.execute("BEGIN IMMEDIATE")
            try:
                if not tables:
                    for statement in filter(str.strip, _SCHEMA_V1.split(";")):
                        self.db.execute(statement)
                    self.db.execute("INSERT INTO meta(key, value) VALUES ('schema_version', '1')")
                    self.db.execute("INSERT INTO meta(key, value) VALUES ('created', ?)", (utc_now(),))
                version = int(self._meta("schema_version") or 1)
                if version > SCHEMA_VERSION:
                    raise GalleryError(f"{self.path}: gallery schema {version} is newer than this faceprint "
                                       f"understands ({SCHEMA_VERSION}); upgrade faceprint")
                while version < SCHEMA_VERSION:
                    log.info("%s: migrating gallery schema %d -> %d", self.path, version, version + 1)
                    MIGRATIONS[version](self.db)
                    version += 1
                    self.db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(version),))
                self.db.execute("COMMIT")
            except BaseException:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else row[0]

    def meta(self, key: str) -> str | None:
        with self.lock:
            return self._meta(key)

    def set_meta(self, key: str, value: str) -> None:
        with self.lock:
            self.db.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                            (key, value))

    def generation(self) -> int:
        """A counter bumped by every change of faces: an index built at another value is stale."""
        return int(self.meta("generation") or 0)

    def _bump(self) -> None:
        self.db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'")

    def _write(self):
        return _Transaction(self)

    # -- subjects -------------------------------------------------------------------------------------
    def _subject_row(self, name: str) -> tuple:
        row = self.db.execute("SELECT s.id, s.name, s.metadata, s.created, "
                              "(SELECT COUNT(*) FROM faces f WHERE f.subject_id = s.id) "
                              "FROM subjects s WHERE s.name=?", (name,)).fetchone()
        if row is None:
            # a name no subject can have is a BadName (400), as on every backend; the look-up itself is
            # harmless here (a bound parameter), so a name stored by an older faceprint stays reachable
            check_lookup_name(name)
            raise UnknownSubject(f"no subject named {name!r} in {self.path}")
        return row

    @staticmethod
    def _subject(row: tuple) -> Subject:
        return Subject(id=row[0], name=row[1], metadata=json.loads(row[2] or "{}"), created=row[3], faces=row[4])

    def add_subject(self, name: str, metadata: dict | None = None) -> Subject:
        name, metadata = check_name(name), check_metadata(metadata)
        with self._write():
            try:
                self.db.execute("INSERT INTO subjects(name, metadata, created) VALUES (?, ?, ?)",
                                (name, json.dumps(metadata), utc_now()))
            except sqlite3.IntegrityError:
                raise SubjectExists(f"subject {name!r} exists already in {self.path}; enrol more photos into it instead") from None
            return self._subject(self._subject_row(name))

    def subjects(self) -> list[Subject]:
        with self.lock:
            rows = self.db.execute("SELECT s.id, s.name, s.metadata, s.created, COUNT(f.id) FROM subjects s "
                                   "LEFT JOIN faces f ON f.subject_id = s.id GROUP BY s.id ORDER BY s.name").fetchall()
        return [self._subject(r) for r in rows]

    def subject(self, name: str) -> Subject:
        with self.lock:
            return self._subject(self._subject_row(name))

    def rename(self, name: str, new_name: str) -> Subject:
        new_name = check_person_name(new_name)
        with self._write():
            self._subject_row(name)
            try:
                self.db.execute("UPDATE subjects SET name=?, named=1 WHERE name=?", (new_name, name))
                self.db.execute("UPDATE faces SET confirmed=1 WHERE subject_id=(SELECT id FROM subjects WHERE name=?)",
                                (new_name,))  # a name given is the user's word on these faces
            except sqlite3.IntegrityError:
                raise SubjectExists(f"cannot rename {name!r}: subject {new_name!r} exists already") from None
            self._bump()  # candidates carry names: cached search results must not outlive a rename
            return self._subject(self._subject_row(new_name))

    def delete_subject(self, name: str) -> list[int]:
        """Delete a subject and its faces; returns the ids of the faces removed."""
        with self._write():
            sid = self._subject_row(name)[0]
            ids = [r[0] for r in self.db.execute("SELECT id FROM faces WHERE subject_id=?", (sid,))]
            self.db.execute("DELETE FROM faces WHERE subject_id=?", (sid,))
            self.db.execute("DELETE FROM subjects WHERE id=?", (sid,))
            self._bump()
            return ids

    # -- faces ----------------------------------------------------------------------------------------
    def add_faces(self, batch: Sequence[tuple[str, NewFace]], model: str, signature: str) -> list[int | None]:
        """Insert one batch of faces in ONE transaction (all or nothing); subjects are created as needed.

        Returns the new face ids, None where the photo (its sha256) was in the gallery already.
        """
        out: list[int | None] = []
        with self._write():
            sids: dict[str, int] = {}
            for name, face in batch:
                if name not in sids:
                    row = self.db.execute("SELECT id FROM subjects WHERE name=?", (name,)).fetchone()
                    if row is None:
                        cur = self.db.execute("INSERT INTO subjects(name, metadata, created) VALUES (?, '{}', ?)",
                                              (check_name(name), utc_now()))
                        sids[name] = int(cur.lastrowid)
                    else:
                        sids[name] = int(row[0])
                vec = np.ascontiguousarray(face.vector, dtype=np.float32)
                cur = self.db.execute(
                    "INSERT OR IGNORE INTO faces(subject_id, embedding, dim, model, signature, sha256, face_index, box, "
                    "source, created, photo, thumbnail, quality) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (sids[name], vec.tobytes(), int(vec.size), model, signature, face.sha256, int(face.face_index),
                     json.dumps([round(float(v), 2) for v in face.box]), face.source, utc_now(), face.photo,
                     face.thumbnail, face.quality))
                out.append(int(cur.lastrowid) if cur.rowcount else None)
            if any(i is not None for i in out):
                self._bump()
        return out

    def faces(self, name: str | None = None) -> list[FaceRecord]:
        with self.lock:
            query = f"SELECT {FACE_COLUMNS} FROM faces f JOIN subjects s ON s.id = f.subject_id"
            if name is None:
                rows = self.db.execute(query + " ORDER BY f.id").fetchall()
            else:
                sid = self._subject_row(name)[0]
                rows = self.db.execute(query + " WHERE f.subject_id=? ORDER BY f.id", (sid,)).fetchall()
        return [face_record(r) for r in rows]

    def delete_face(self, face_id: int) -> None:
        with self._write():
            row = self.db.execute("SELECT subject_id FROM faces WHERE id=?", (int(face_id),)).fetchone()
            if row is None:
                raise UnknownFace(f"no face with id {face_id} in {self.path}")
            self.db.execute("DELETE FROM faces WHERE id=?", (int(face_id),))
            self.db.execute("DELETE FROM subjects WHERE id=? AND named=0 AND NOT EXISTS "
                            "(SELECT 1 FROM faces WHERE subject_id=?)", (row[0], row[0]))  # an emptied unnamed person
            self._bump()

    def rows_in(self, query: str, values: Sequence[Any]) -> list[tuple]:
        """The rows of ``query`` for ``values``, bound to its ``{marks}`` (``... IN ({marks})``) a
        chunk at a time: SQLite limits the parameters of one statement.

        Args:
            query: SQL with one ``{marks}`` placeholder.
            values: the values of the IN list.

        Returns:
            Every chunk's rows, in the order of the chunks.
        """
        values = list(values)
        rows: list[tuple] = []
        with self.lock:
            for start in range(0, len(values), IN_CHUNK):
                part = values[start:start + IN_CHUNK]
                rows += self.db.execute(query.format(marks=",".join("?" * len(part))), part).fetchall()
        return rows

    def face_subjects(self, ids: Sequence[int]) -> dict[int, str]:
        """face id -> subject name for the given ids (ids not in the store are left out)."""
        return dict(self.rows_in("SELECT f.id, s.name FROM faces f JOIN subjects s ON s.id = f.subject_id "
                                 "WHERE f.id IN ({marks})", [int(i) for i in ids]))

    def known_sha256(self, digests: Sequence[str]) -> dict[str, str]:
        """sha256 -> subject name for the digests already in the gallery."""
        return dict(self.rows_in("SELECT f.sha256, s.name FROM faces f JOIN subjects s ON s.id = f.subject_id "
                                 "WHERE f.sha256 IN ({marks})", digests))

    def photo(self, face_id: int) -> bytes | None:
        with self.lock:
            row = self.db.execute("SELECT photo FROM faces WHERE id=?", (int(face_id),)).fetchone()
        if row is None:
            raise UnknownFace(f"no face with id {face_id} in {self.path}")
        return row[0]

    def ids(self) -> np.ndarray:
        with self.lock:
            return np.array([r[0] for r in self.db.execute("SELECT id FROM faces ORDER BY id")], dtype=np.int64)

    def vectors(self, ids: Sequence[int] | None = None, chunk: int = 50_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) in chunks, by ascending id: all faces, or the given ids."""
        if ids is not None:
            wanted = sorted(int(i) for i in ids)
            for start in range(0, len(wanted), IN_CHUNK):  # a chunk at a time, unlocked in between
                rows = self.rows_in("SELECT id, embedding FROM faces WHERE id IN ({marks}) ORDER BY id",
                                    wanted[start:start + IN_CHUNK])
                if rows:
                    yield id_vector_arrays([r[0] for r in rows], [r[1] for r in rows])
            return
        last = -1
        while True:
            with self.lock:
                rows = self.db.execute("SELECT id, embedding FROM faces WHERE id > ? ORDER BY id LIMIT ?",
                                       (last, chunk)).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield id_vector_arrays([r[0] for r in rows], [r[1] for r in rows])

    def signatures(self) -> dict[str, int]:
        """signature -> number of faces stored with it (one key in a healthy gallery)."""
        with self.lock:
            return dict(self.db.execute("SELECT signature, COUNT(*) FROM faces GROUP BY signature").fetchall())

    def count(self) -> int:
        with self.lock:
            return int(self.db.execute("SELECT COUNT(*) FROM faces").fetchone()[0])

    def integrity(self) -> list[str]:
        """Problems SQLite itself sees in the file (empty when sound)."""
        with self.lock:
            rows = [r[0] for r in self.db.execute("PRAGMA integrity_check")]
            fk = self.db.execute("PRAGMA foreign_key_check").fetchall()
        problems = [] if rows == ["ok"] else [f"sqlite integrity: {r}" for r in rows]
        return problems + [f"face row {r[1]} points to a missing subject" for r in fk]

    def people_store(self) -> SqlitePeople:
        """The people operations of this store (``faceprint.gallery.sqlite_people``)."""
        return SqlitePeople(self)

    def close(self) -> None:
        with self.lock:
            self.db.close()


class _Transaction:
    """``with``: the store's lock, BEGIN IMMEDIATE ... COMMIT (ROLLBACK on any error)."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store

    def __enter__(self) -> None:
        self.store.lock.acquire()
        try:
            self.store.db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.store.lock.release()
            raise

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.store.db.execute("COMMIT" if exc_type is None else "ROLLBACK")
        finally:
            self.store.lock.release()

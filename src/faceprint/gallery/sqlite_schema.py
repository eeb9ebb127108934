"""SQLite gallery schema v3: several faces per photo, thumbnails, named and unnamed people, and
"not this person" links; and how a face row is read."""

from __future__ import annotations

import json
import sqlite3

from faceprint.gallery.types import FaceRecord

_FACES_V3 = """
CREATE TABLE faces_v3 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subject_id INTEGER NOT NULL REFERENCES subjects(id) ON DELETE CASCADE,
    embedding BLOB NOT NULL,
    dim INTEGER NOT NULL,
    model TEXT NOT NULL,
    signature TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    face_index INTEGER NOT NULL DEFAULT 0,
    box TEXT NOT NULL,
    source TEXT,
    created TEXT NOT NULL,
    photo BLOB,
    thumbnail BLOB,
    quality REAL,
    confirmed INTEGER NOT NULL DEFAULT 1,
    UNIQUE (sha256, face_index)
)"""


def migrate_2_to_3(db: sqlite3.Connection) -> None:
    """Schema v3: faces keyed by (photo sha256, face index) with a thumbnail, a quality and a
    ``confirmed`` flag (placed by the user); subjects with a ``named`` flag; ``cannot_link`` rows
    (face, person: "not this person"). Runs inside the caller's transaction.

    Args:
        db: the open connection, in a transaction.
    """
    seq = db.execute("SELECT seq FROM sqlite_sequence WHERE name='faces'").fetchone()
    db.execute(_FACES_V3)
    db.execute("INSERT INTO faces_v3(id, subject_id, embedding, dim, model, signature, sha256, box, source, created, "
               "photo) SELECT id, subject_id, embedding, dim, model, signature, sha256, box, source, created, photo "
               "FROM faces")
    db.execute("DROP TABLE faces")
    db.execute("ALTER TABLE faces_v3 RENAME TO faces")
    if seq is not None:  # ids of deleted faces are never given again
        db.execute("UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name='faces'", (int(seq[0]),))
    db.execute("CREATE INDEX faces_subject ON faces(subject_id)")
    db.execute("ALTER TABLE subjects ADD COLUMN named INTEGER NOT NULL DEFAULT 1")
    db.execute("CREATE TABLE cannot_link (face_id INTEGER NOT NULL REFERENCES faces(id) ON DELETE CASCADE, "
               "subject_id INTEGER NOT NULL REFERENCES subjects(id) ON DELETE CASCADE, created TEXT NOT NULL, "
               "PRIMARY KEY (face_id, subject_id))")
    db.execute("CREATE INDEX cannot_link_subject ON cannot_link(subject_id)")


FACE_COLUMNS = ("f.id, s.name, f.sha256, f.box, f.created, f.source, f.face_index, f.subject_id, f.confirmed, "
                 "f.quality")


def face_record(row: tuple) -> FaceRecord:
    """A ``FaceRecord`` of a row of ``FACE_COLUMNS``."""
    return FaceRecord(id=row[0], subject=row[1], sha256=row[2], box=json.loads(row[3]), created=row[4],
                      source=row[5], face_index=row[6], person_id=row[7], confirmed=bool(row[8]), quality=row[9])

"""Persistent galleries: enrolled people in SQLite or Milvus, searched through an exact or HNSW index."""

from faceprint.gallery.gallery import Gallery
from faceprint.gallery.naming import decide
from faceprint.gallery.sqlite_store import SqliteStore
from faceprint.gallery.store import Store, open_store
from faceprint.gallery.types import (
           Candidate,
           CheckReport,
           EnrolReport,
           FaceRecord,
           Identification,
           Subject,
)

__all__ = ["Gallery", "decide", "Store", "SqliteStore", "open_store", "Candidate", "CheckReport", "EnrolReport",
           "FaceRecord", "Identification", "Subject"]

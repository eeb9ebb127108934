"""Persistent galleries: enrolled people in SQLite, searched through an exact or HNSW index."""

from faceprint.gallery.gallery import Gallery, decide
from faceprint.gallery.store import SqliteStore, Store, open_store
from faceprint.gallery.types import Candidate, CheckReport, EnrolReport, FaceRecord, Identification, Subject

__all__ = ["Gallery", "decide", "Store", "SqliteStore", "open_store", "Candidate", "CheckReport", "EnrolReport",
           "FaceRecord", "Identification", "Subject"]

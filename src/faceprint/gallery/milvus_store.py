"""A gallery store on Milvus (the ``Store`` of ``faceprint.gallery.store``), searched by Milvus's own ANN index.

``pip install 'faceprint[milvus]'`` brings ``pymilvus`` and ``milvus-lite`` (an embedded Milvus
in a local folder, the stand-in for a cluster in tests and on one machine). URIs:

- ``milvus://host:19530/team`` (or ``milvus+https://...``): a Milvus server or cluster; ``team``
  prefixes the three collections (default ``faceprint``); a token comes from
  ``$FACEPRINT_MILVUS_TOKEN``.
- ``milvus-lite:///path/team.db`` (or ``milvus:///path/team.db``): milvus-lite in that folder.
- ``?consistency=Bounded`` after either: Milvus's consistency level (default ``Strong``).

Three collections: ``<prefix>_meta`` (key/value), ``<prefix>_subjects`` and ``<prefix>_faces``
(vector, subject id, photo sha256, box, source, signature), with an HNSW index on the vector
(same M / efConstruction / efSearch as the local index) and indexes on the looked-up scalars of
the kind the server supports (INVERTED from Milvus 2.4, Trie / STL_SORT on 2.3; none, logged, where
it takes neither). Tested against milvus-lite 3 and a Milvus 2.3.5 standalone server. Milvus has
no transactions and no unique constraints, so this store keeps its invariants itself: it assumes
ONE writing process per gallery (any number of readers), writes faces before bumping counters
readers rely on, deletes faces before their subject, and
``integrity()`` (``gallery check``) reports what a crash between two requests can leave behind
(faces of a missing subject, a sha256 stored twice). Photos are not kept (no blob type).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from faceprint.errors import GalleryError, GalleryUnavailable, SubjectExists, UnknownFace, UnknownSubject
from faceprint.gallery.index import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M
from faceprint.gallery.milvus_people import MilvusPeople, forget, renamed, store_face_meta
from faceprint.gallery.names import check_lookup_name, check_metadata, check_name, check_person_name
from faceprint.gallery.store import NewFace, NoGallery, id_vector_arrays, parse_milvus_uri, utc_now
from faceprint.gallery.types import FaceRecord, Subject

log = logging.getLogger(__name__)

# scalar index kinds to try in turn when the first choice is refused, per field type
LEGACY_SCALAR_INDEX = {"VARCHAR": ("INVERTED", "Trie"), "INT64": ("INVERTED", "STL_SORT")}
LITE_FLUSH_ROWS = 2000     # milvus-lite: seal the in-memory table after this many new faces
IN_CHUNK = 1000            # ids/digests per `in [...]` filter
SCAN_BATCH = 16_000        # ids per page of a full scan (Milvus caps a query at 16,384 rows)

_lite_lock = threading.Lock()
_lite_users: dict[str, int] = {}  # milvus-lite folder -> open stores in this process


def milvus_available(lite: bool = False) -> bool:
    """True when ``pymilvus`` (and with ``lite``, ``milvus_lite`` for ``milvus-lite://`` galleries)
    can be imported (``pip install 'faceprint[milvus]'``)."""
    import importlib.util

    try:
        return all(importlib.util.find_spec(name) is not None
                   for name in ("pymilvus", "milvus_lite")[: 2 if lite else 1])
    except ValueError:  # a module set to None in sys.modules (how tests hide a package)
        return False


def _milvus_errors() -> tuple[type[BaseException], ...]:
    """What pymilvus raises for a failed call: its own errors, gRPC's, and the connection's."""
    import grpc
    from pymilvus.exceptions import MilvusException

    return MilvusException, grpc.RpcError, ConnectionError, TimeoutError


def _quote(text: str) -> str:
    """A string literal for a Milvus filter expression (double quotes, backslash escapes)."""
    return json.dumps(str(text), ensure_ascii=False)


class MilvusStore:
    """Subjects and faces in three Milvus collections; thread-safe within one process (one lock).

    Args:
        uri: a Milvus gallery URI (see the module docstring).
        create: create the collections when they do not exist.

    Raises:
        NoGallery: ``create`` is False and there is no gallery there.
        GalleryUnavailable: Milvus cannot be reached.
        GalleryError: pymilvus is missing, or the collections are not a faceprint gallery.
    """

    scheme = "milvus"

    def __init__(self, uri: str, create: bool = True) -> None:
        try:
            from pymilvus import MilvusClient
        except ImportError as exc:
            raise GalleryError(f"{uri}: a Milvus gallery needs pymilvus; pip install 'faceprint[milvus]'") from exc
        spec = parse_milvus_uri(uri)
        self.uri = spec["uri"]  # canonical: a URI that went through a pathlib.Path has lost a slash
        self.consistency = spec["consistency"]
        self.prefix = spec["prefix"]
        self.lock = threading.RLock()
        self._local = threading.local()  # per thread: inside _strong_reads()
        self._lite: str | None = None
        self._dim: int | None = None
        self._unflushed = 0
        self._owners: dict[int, int] = {}  # face id -> subject id, from searches
        self._counted = (-1, 0)            # (generation, faces) of the last count
        self._scalar_index: dict[str, str | None] | None = None  # field type -> index type, per server
        self._version = ""
        self._generation = -1                       # the generation last read
        self._names: tuple[int, dict[int, str]] = (-1, {})  # (generation, subject id -> name) seen
        self._collections = {k: f"{self.prefix}_{k}" for k in ("meta", "subjects", "faces")}
        if spec["lite"] is not None:
            folder = spec["lite"].expanduser().absolute()
            self.path: Path | str = folder
            if not folder.exists() and not create:
                raise NoGallery(f"{folder}: no gallery here; create it with `faceprint gallery create milvus-lite://{folder}`")
            folder.parent.mkdir(parents=True, exist_ok=True)
            if _lite_locked(folder):
                raise GalleryError(f"{folder}: another process has this milvus-lite gallery open (it serves a folder "
                                   "to one process at a time); close it, or use a Milvus server for several processes")
            address = str(folder)
            self._lite = str(folder)
        else:
            self.path = self.uri
            address = spec["address"]
        try:
            self.client = MilvusClient(address, token=os.environ.get("FACEPRINT_MILVUS_TOKEN", ""), timeout=30)
        except Exception as exc:  # pymilvus raises MilvusException / ConnectionConfigException
            hint = ("milvus-lite serves a folder to one process at a time: is another one using it? (pip install "
                    "'faceprint[milvus]' if milvus-lite is missing)") if self._lite else "is the server up and the address right?"
            raise GalleryUnavailable(f"{self.uri}: cannot reach Milvus ({_message(exc)}); {hint}") from exc
        if self._lite:
            with _lite_lock:
                _lite_users[self._lite] = _lite_users.get(self._lite, 0) + 1
        try:
            self._open(create)
        except BaseException:
            self.close()
            raise

    # -- plumbing -------------------------------------------------------------------------------------
    def _call(self, what: str, fn, *args, **kwargs):
        """``fn(*args, **kwargs)``; what Milvus or the connection to it raises becomes
        GalleryUnavailable (the service's 503). Anything else is a bug here and is not disguised."""
        try:
            return fn(*args, **kwargs)
        except _milvus_errors() as exc:
            raise GalleryUnavailable(f"{self.path}: Milvus {what} failed ({_message(exc)})") from exc

    def _open(self, create: bool) -> None:
        have = set(self._call("list_collections", self.client.list_collections))
        meta, subjects, faces = (self._collections[k] for k in ("meta", "subjects", "faces"))
        if meta not in have:
            if not create:
                raise NoGallery(f"{self.path}: no gallery {self.prefix!r} here; create it with `faceprint gallery create`")
            if subjects in have or faces in have:
                raise GalleryError(f"{self.path}: collections {self.prefix}_* exist but are not a faceprint gallery")
            self._create_small(subjects, [("name", 512), ("metadata", 65535), ("created", 64)], index=["name"])
            self._create_small(meta, [("value", 65535)], key="key")
            self._load(subjects, meta)
            self._rows_meta({"schema_version": "1", "created": utc_now(), "generation": "0", "next_face_id": "1",
                             "next_subject_id": "1"})
        else:
            self._load(meta, subjects)  # a released collection answers no query (milvus-lite reopens so)
            version = int(self.meta("schema_version") or 1)
            if version > 1:
                raise GalleryError(f"{self.path}: Milvus gallery schema {version} is newer than this faceprint "
                                   "understands (1); upgrade faceprint")
        if faces in have:
            self._has_faces()

    def _create_small(self, name: str, fields: list[tuple[str, int]], key: str | None = None,
                      index: Sequence[str] = ()) -> None:
        """A collection of plain rows (Milvus wants a vector field in each: a 2-d zero vector)."""
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        if key is None:
            schema.add_field("id", DataType.INT64, is_primary=True)
        else:
            schema.add_field(key, DataType.VARCHAR, is_primary=True, max_length=512)
        for field, length in fields:
            schema.add_field(field, DataType.VARCHAR, max_length=length)
        schema.add_field("_v", DataType.FLOAT_VECTOR, dim=2)
        params = self.client.prepare_index_params()
        params.add_index("_v", index_type="FLAT", metric_type="L2")
        self._create(name, schema, params, {field: "VARCHAR" for field in index})

    def _create(self, name: str, schema, params, scalars: dict[str, str]) -> None:
        """Create a collection, its vector index and an index on each of ``scalars`` (field ->
        ``"VARCHAR"`` or ``"INT64"``) of a type the server supports (``_load`` loads it)."""
        # indexes without pymilvus's wait (it polls every 0.5 s): an empty collection's are ready at once
        self._call("create_collection", self.client.create_collection, name, schema=schema,
                   consistency_level=self.consistency)
        self._call("create_index", self.client.create_index, name, params, sync=False)
        for field, kind in scalars.items():
            self._create_scalar_index(name, field, kind)

    def _load(self, *names: str, timeout_s: float = 120.0) -> None:
        """Load collections, all at once: a Milvus server takes seconds per load (pymilvus's own
        wait would load one after the other, polling every 0.5 s)."""
        from pymilvus.client.types import LoadState

        for name in names:
            self._call("load_collection", self.client.load_collection, name, _async=True)
        deadline = time.monotonic() + timeout_s
        waiting = list(names)
        while waiting:
            state = self._call("get_load_state", self.client.get_load_state, waiting[0])["state"]
            if state == LoadState.Loaded:
                waiting.pop(0)
            elif state == LoadState.NotExist or time.monotonic() > deadline:
                raise GalleryUnavailable(f"{self.path}: Milvus did not load collection {waiting[0]} "
                                         f"({state.name} after {timeout_s:.0f} s); is the server short of memory?")
            else:
                time.sleep(0.05)

    def _create_scalar_index(self, collection: str, field: str, kind: str) -> None:
        """An index on a looked-up scalar: INVERTED on Milvus 2.4+, Trie (VARCHAR) or STL_SORT (INT64)
        before; a server that refuses both gets none (queries still work, by scanning), logged."""
        if self._scalar_index is None:
            self._scalar_index = scalar_index_types(self._server_version())
        choices = list(dict.fromkeys(t for t in (self._scalar_index.get(kind), *LEGACY_SCALAR_INDEX[kind]) if t))
        for index_type in choices:
            params = self.client.prepare_index_params()
            params.add_index(field, index_type=index_type)
            try:
                self.client.create_index(collection, params, sync=False)
            except _milvus_errors() as exc:
                if not _refused_index(exc):
                    raise GalleryUnavailable(f"{self.path}: Milvus create_index failed ({_message(exc)})") from exc
                log.info("%s: Milvus %s has no %s index on %s fields (%s); trying the next kind", self.path,
                         self._version or "?", index_type, kind, _message(exc))
                continue
            if index_type != self._scalar_index.get(kind):
                self._scalar_index[kind] = index_type  # what this server takes: ask it first next time
            return
        self._scalar_index[kind] = None
        log.warning("%s: Milvus %s accepts none of %s as an index on %s field %s.%s; it is left unindexed "
                    "(look-ups scan it)", self.path, self._version or "?", "/".join(choices), kind, collection, field)

    def _server_version(self) -> str:
        """The server's version as it reports it (``v2.3.5-lite``, ``2.4.13``, ``milvus_lite-3.2.2``)."""
        try:
            self._version = str(self.client.get_server_version())
        except Exception as exc:  # noqa: BLE001 (unknown: the index kinds are then tried in turn)
            log.info("%s: the Milvus server does not say its version (%s)", self.path, _message(exc))
            self._version = ""
        return self._version

    def _create_faces(self, dim: int) -> None:
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_field("subject_id", DataType.INT64)
        schema.add_field("sha256", DataType.VARCHAR, max_length=128)
        schema.add_field("box", DataType.VARCHAR, max_length=256)
        schema.add_field("source", DataType.VARCHAR, max_length=4096)
        schema.add_field("created", DataType.VARCHAR, max_length=64)
        schema.add_field("signature", DataType.VARCHAR, max_length=512)
        params = self.client.prepare_index_params()
        params.add_index("vector", index_type="HNSW", metric_type="L2",
                         params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION})
        self._create(self._collections["faces"], schema, params, {"subject_id": "INT64", "sha256": "VARCHAR"})
        self._load(self._collections["faces"])
        if self.meta("dim") is None:
            self._rows_meta({"dim": str(dim)})
        self._dim = dim

    def _has_faces(self) -> bool:
        """Whether the faces collection exists (another client may have created it since we opened)."""
        if self._dim is None:
            dim = self.meta("dim")
            faces = self._collections["faces"]
            if dim and self._call("has_collection", self.client.has_collection, faces):
                self._load(faces)
                self._dim = int(dim)
        return self._dim is not None

    @contextlib.contextmanager
    def _strong_reads(self) -> Iterator[None]:
        """Reads inside are Strong whatever the gallery's level: a writer's read-modify-writes (id
        counters, the generation) and its duplicate and name checks must see its own last writes."""
        depth = getattr(self._local, "strong", 0)
        self._local.strong = depth + 1
        try:
            yield
        finally:
            self._local.strong = depth

    def _query(self, collection: str, filter: str, fields: list[str], limit: int | None = None) -> list[dict]:
        kwargs: dict = {"limit": limit} if limit else {}
        if self.consistency != "Strong" and getattr(self._local, "strong", 0):
            kwargs["consistency_level"] = "Strong"
        return self._call("query", self.client.query, self._collections[collection], filter=filter,
                          output_fields=fields, **kwargs)

    def _scan(self, collection: str, fields: list[str], filter: str | None = None,
              batch: int = SCAN_BATCH) -> Iterator[list[dict]]:
        """Every row in pages of ids: ids come from this store's counters, so ranges of ``batch``
        ids page through a collection in key order, under Milvus's 16,384-row window per query."""
        counter = "next_face_id" if collection == "faces" else "next_subject_id"
        end = int(self.meta(counter) or 1)
        fields = list(dict.fromkeys(["id", *fields]))
        for start in range(0, end, batch):
            where = f"id >= {start} and id < {start + batch}" + (f" and ({filter})" if filter else "")
            rows = self._query(collection, where, fields)
            if rows:
                yield sorted(rows, key=lambda r: int(r["id"]))

    def _subject_faces(self, sid: int, fields: list[str]) -> list[dict]:
        """The face rows of one subject (one query; a full scan past Milvus's 16,384-row window)."""
        where = f"subject_id == {int(sid)}"
        rows = self._query("faces", where, list(dict.fromkeys(["id", *fields])), limit=16_384)
        if len(rows) >= 16_384:
            rows = [r for page in self._scan("faces", fields, where) for r in page]
        return sorted(rows, key=lambda r: int(r["id"]))

    def _in(self, collection: str, field: str, values: Sequence, fields: list[str]) -> list[dict]:
        out: list[dict] = []
        for start in range(0, len(values), IN_CHUNK):
            part = values[start:start + IN_CHUNK]
            literal = ",".join(_quote(v) if isinstance(v, str) else str(int(v)) for v in part)
            out += self._query(collection, f"{field} in [{literal}]", fields)
        return out

    # -- meta -----------------------------------------------------------------------------------------
    def _rows_meta(self, values: dict[str, str]) -> None:
        self._call("upsert", self.client.upsert, self._collections["meta"],
                   [{"key": k, "value": str(v), "_v": [0.0, 0.0]} for k, v in values.items()])

    def meta(self, key: str) -> str | None:
        with self.lock:
            rows = self._in("meta", "key", [key], ["value"])
        return rows[0]["value"] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.lock:
            self._rows_meta({key: value})

    def generation(self) -> int:
        """A counter bumped by every change of faces or names."""
        self._generation = int(self.meta("generation") or 0)
        return self._generation

    def _bump(self) -> None:
        with self._strong_reads():
            generation = self.generation() + 1
        self._rows_meta({"generation": str(generation)})
        self._generation, self._names = generation, (-1, {})

    def _take_ids(self, counter: str, n: int) -> int:
        """Reserve ``n`` ids; the counter moves first, so a crash wastes ids but never reuses one."""
        with self._strong_reads():
            first = int(self.meta(counter) or 1)
        self._rows_meta({counter: str(first + n)})
        return first

    # -- subjects -------------------------------------------------------------------------------------
    def _subject_row(self, name: str) -> dict:
        check_lookup_name(name)
        rows = self._query("subjects", f"name == {_quote(name)}", ["id", "name", "metadata", "created"])
        if not rows:
            raise UnknownSubject(f"no subject named {name!r} in {self.path}")
        return rows[0]

    def _face_count(self, subject_id: int) -> int:
        if not self._has_faces():
            return 0
        rows = self._query("faces", f"subject_id == {int(subject_id)}", ["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    @staticmethod
    def _subject(row: dict, faces: int) -> Subject:
        return Subject(id=int(row["id"]), name=row["name"], metadata=json.loads(row.get("metadata") or "{}"),
                       created=row["created"], faces=faces)

    def add_subject(self, name: str, metadata: dict | None = None) -> Subject:
        name, metadata = check_name(name), check_metadata(metadata)
        with self.lock, self._strong_reads():
            if self._query("subjects", f"name == {_quote(name)}", ["id"]):
                raise SubjectExists(f"subject {name!r} exists already in {self.path}; enrol more photos into it instead")
            sid = self._take_ids("next_subject_id", 1)
            self._insert_subject(sid, name, metadata)
            return self._subject(self._subject_row(name), 0)

    def _insert_subject(self, sid: int, name: str, metadata: dict, created: str | None = None) -> None:
        self._insert_subjects([(sid, name)], metadata, created)

    def _insert_subjects(self, subjects: Sequence[tuple[int, str]], metadata: dict, created: str | None = None) -> None:
        """(id, name) rows in one request (one request per subject would bound an enrol by round trips)."""
        created = created or utc_now()
        self._call("insert", self.client.upsert, self._collections["subjects"],
                   [{"id": int(sid), "name": name, "metadata": json.dumps(metadata), "created": created,
                     "_v": [0.0, 0.0]} for sid, name in subjects])

    def subjects(self) -> list[Subject]:
        with self.lock:
            rows = [r for page in self._scan("subjects", ["id", "name", "metadata", "created"]) for r in page]
            counts: Counter = Counter()
            if self._has_faces():
                for page in self._scan("faces", ["subject_id"]):
                    counts.update(int(r["subject_id"]) for r in page)
        return sorted((self._subject(r, counts.get(int(r["id"]), 0)) for r in rows), key=lambda s: s.name)

    def subject(self, name: str) -> Subject:
        check_lookup_name(name)
        with self.lock:
            row = self._subject_row(name)
            return self._subject(row, self._face_count(row["id"]))

    def rename(self, name: str, new_name: str) -> Subject:
        name, new_name = check_lookup_name(name), check_person_name(new_name)
        with self.lock, self._strong_reads():
            row = self._subject_row(name)
            if new_name != name and self._query("subjects", f"name == {_quote(new_name)}", ["id"]):
                raise SubjectExists(f"cannot rename {name!r}: subject {new_name!r} exists already")
            renamed(self, int(row["id"]))  # a person named: no longer unnamed (marker first)
            self._insert_subject(row["id"], new_name, json.loads(row.get("metadata") or "{}"), row["created"])
            self._bump()
            return self._subject(self._subject_row(new_name), self._face_count(row["id"]))

    def delete_subject(self, name: str) -> list[int]:
        """Delete a subject and its faces (faces first: a crash between leaves an empty subject,
        never faces without one); returns the ids of the faces removed."""
        check_lookup_name(name)
        with self.lock, self._strong_reads():
            sid = int(self._subject_row(name)["id"])
            ids: list[int] = []
            if self._has_faces():
                ids = [int(r["id"]) for r in self._subject_faces(sid, ["id"])]
                if ids:
                    self._call("delete", self.client.delete, self._collections["faces"], ids=ids)
            self._call("delete", self.client.delete, self._collections["subjects"], ids=[sid])
            forget(self, ids, sid)
            self._bump()
            return ids

    # -- faces ----------------------------------------------------------------------------------------
    def add_faces(self, batch: Sequence[tuple[str, NewFace]], model: str, signature: str) -> list[int | None]:
        """Insert one batch of faces (one insert request); subjects are created as needed.

        Returns the new face ids, None where the photo (its sha256) was in the gallery already.
        """
        if not batch:
            return []
        for name in dict.fromkeys(name for name, _ in batch):  # before any call: a filter cannot take them
            check_lookup_name(name)
        if any(face.photo is not None for _, face in batch):
            raise GalleryError(f"{self.path}: a Milvus gallery does not keep photos; enrol without keep_photos "
                               "(keep the photos in your own storage)")
        vectors = np.stack([np.asarray(face.vector, np.float32).ravel() for _, face in batch])
        with self.lock, self._strong_reads():
            if not self._has_faces():
                self._create_faces(int(vectors.shape[1]))
            elif vectors.shape[1] != self._dim:
                raise GalleryError(f"{self.path} holds {self._dim}-d vectors, these are {vectors.shape[1]}-d")
            known = set(self.known_sha256([face.sha256 for _, face in batch]))
            sids: dict[str, int] = {}
            names = list(dict.fromkeys(name for name, _ in batch))
            for row in self._in("subjects", "name", names, ["id", "name"]):
                sids[row["name"]] = int(row["id"])
            new_names = [check_name(n) for n in names if n not in sids]
            out: list[int | None] = []
            rows = []
            fresh = [i for i, (_, face) in enumerate(batch) if face.sha256 not in known]
            seen: set[str] = set()
            keep = []
            for i in fresh:
                digest = batch[i][1].sha256
                if digest not in seen:
                    seen.add(digest)
                    keep.append(i)
            first = self._take_ids("next_face_id", len(keep)) if keep else 0
            if new_names:
                sid = self._take_ids("next_subject_id", len(new_names))
                sids.update((name, sid + offset) for offset, name in enumerate(new_names))
                self._insert_subjects([(sids[name], name) for name in new_names], {})
            ids = {i: first + n for n, i in enumerate(keep)}
            created = utc_now()
            for i in keep:
                name, face = batch[i]
                rows.append({"id": ids[i], "vector": vectors[i].tolist(), "subject_id": sids[name],
                             "sha256": face.sha256, "box": json.dumps([round(float(v), 2) for v in face.box]),
                             "source": (face.source or "")[:4096], "created": created, "signature": signature})
            if rows:
                self._call("insert", self.client.insert, self._collections["faces"], rows)
                store_face_meta(self, [(ids[i], batch[i][1]) for i in keep])
                self._bump()
                self._unflushed += len(rows)
                if self._lite and self._unflushed >= LITE_FLUSH_ROWS:
                    # milvus-lite scans its in-memory table row by row in Python on every search:
                    # seal it into an indexed segment once it is large (a cluster seals by itself)
                    self._call("flush", self.client.flush, self._collections["faces"])
                    self._unflushed = 0
            out = [ids.get(i) for i in range(len(batch))]
        return out

    def _face_rows(self, rows: list[dict], names: dict[int, str] | None = None) -> list[FaceRecord]:
        if names is None:
            sids = sorted({int(r["subject_id"]) for r in rows})
            names = {int(r["id"]): r["name"] for r in self._in("subjects", "id", sids, ["id", "name"])}
        return sorted((FaceRecord(id=int(r["id"]), subject=names.get(int(r["subject_id"]), "?"), sha256=r["sha256"],
                                  box=json.loads(r["box"]), created=r["created"], source=r["source"] or None,
                                  person_id=int(r["subject_id"])) for r in rows), key=lambda f: f.id)

    def faces(self, name: str | None = None) -> list[FaceRecord]:
        fields = ["id", "subject_id", "sha256", "box", "created", "source"]
        if name is not None:
            check_lookup_name(name)
        with self.lock:
            if name is not None:
                row = self._subject_row(name)
                if not self._has_faces():
                    return []
                rows = self._subject_faces(int(row["id"]), fields)
                return self._face_rows(rows, {int(row["id"]): row["name"]})
            if not self._has_faces():
                return []
            rows = [r for page in self._scan("faces", fields) for r in page]
            return self._face_rows(rows)

    def delete_face(self, face_id: int) -> None:
        with self.lock, self._strong_reads():
            rows = self._in("faces", "id", [int(face_id)], ["id", "subject_id"]) if self._has_faces() else []
            if not rows:
                raise UnknownFace(f"no face with id {face_id} in {self.path}")
            self._call("delete", self.client.delete, self._collections["faces"], ids=[int(face_id)])
            forget(self, [int(face_id)], emptied=int(rows[0]["subject_id"]))
            self._bump()

    def face_subjects(self, ids: Sequence[int]) -> dict[int, str]:
        """face id -> subject name for the given ids (ids not in the store are left out)."""
        ids = [int(i) for i in ids]
        if not ids or not self._has_faces():
            return {}
        with self.lock:
            # owners seen in a search stay true until the generation moves (people moves change them)
            if self._names[0] != self._generation:
                self._owners.clear()
            owners = {i: self._owners[i] for i in ids if i in self._owners}
            rest = [i for i in ids if i not in owners]
            if rest:
                owners.update((int(r["id"]), int(r["subject_id"])) for r in self._in("faces", "id", rest, ["id", "subject_id"]))
            # names as of the generation last read (a search reads it first, through count()): each
            # read of a server at Strong consistency waits for its next time tick
            if self._names[0] != self._generation or len(self._names[1]) > 100_000:
                self._names = (self._generation, {})
            names = self._names[1]
            missing = sorted(set(owners.values()) - names.keys())
            if missing:
                names.update((int(r["id"]), r["name"]) for r in self._in("subjects", "id", missing, ["id", "name"]))
        return {fid: names[sid] for fid, sid in owners.items() if sid in names}

    def known_sha256(self, digests: Sequence[str]) -> dict[str, str]:
        """sha256 -> subject name for the digests already in the gallery."""
        digests = list(dict.fromkeys(digests))
        if not digests or not self._has_faces():
            return {}
        with self.lock:
            rows = self._in("faces", "sha256", digests, ["sha256", "subject_id"])
            sids = sorted({int(r["subject_id"]) for r in rows})
            names = {int(r["id"]): r["name"] for r in self._in("subjects", "id", sids, ["id", "name"])}
        return {r["sha256"]: names.get(int(r["subject_id"]), "?") for r in rows}

    def photo(self, face_id: int) -> bytes | None:
        """Always None (a Milvus gallery keeps no photos); UnknownFace when the face is absent."""
        if not self._has_faces() or not self._in("faces", "id", [int(face_id)], ["id"]):
            raise UnknownFace(f"no face with id {face_id} in {self.path}")
        return None

    def ids(self) -> np.ndarray:
        if not self._has_faces():
            return np.zeros(0, np.int64)
        with self.lock:
            ids = [int(r["id"]) for page in self._scan("faces", ["id"]) for r in page]
        return np.array(sorted(ids), np.int64)

    def vectors(self, ids: Sequence[int] | None = None, chunk: int = 50_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) in chunks, by ascending id: all faces, or the given ids."""
        if not self._has_faces():
            return
        if ids is not None:
            wanted = sorted(int(i) for i in ids)
            for start in range(0, len(wanted), IN_CHUNK):
                with self.lock:
                    rows = self._in("faces", "id", wanted[start:start + IN_CHUNK], ["id", "vector"])
                if rows:
                    yield _sorted_arrays(rows)
            return
        pending: list[dict] = []
        last = -1
        with self.lock:
            pages = list(self._scan("faces", ["id", "vector"]))
        for page in pages:
            pending += page
            if len(pending) >= chunk:
                got = _sorted_arrays(pending)
                if got[0][0] <= last:  # pages must come in key order for export to line up
                    raise GalleryError(f"{self.path}: Milvus returned faces out of key order")
                last = int(got[0][-1])
                yield got
                pending = []
        if pending:
            got = _sorted_arrays(pending)
            if got[0][0] <= last:
                raise GalleryError(f"{self.path}: Milvus returned faces out of key order")
            yield got

    def signatures(self) -> dict[str, int]:
        """signature -> number of faces stored with it (one key in a healthy gallery)."""
        if not self._has_faces():
            return {}
        with self.lock:
            return dict(Counter(r["signature"] for page in self._scan("faces", ["signature"]) for r in page))

    def count(self) -> int:
        """Faces in the gallery (recounted only when the generation moved: counting scans in milvus-lite)."""
        if not self._has_faces():
            return 0
        with self.lock:
            generation = self.generation()
            if self._counted[0] != generation:
                rows = self._query("faces", "", ["count(*)"])
                self._counted = (generation, int(rows[0]["count(*)"]) if rows else 0)
            return self._counted[1]

    def integrity(self) -> list[str]:
        """What Milvus cannot rule out by itself: orphans, duplicates, a missing or unbuilt index."""
        problems: list[str] = []
        with self.lock:
            subjects = [r for page in self._scan("subjects", ["id", "name"]) for r in page]
            names = Counter(r["name"] for r in subjects)
            problems += [f"subject name {n!r} is stored {c} times" for n, c in names.items() if c > 1]
            if not self._has_faces():
                return problems
            sids = {int(r["id"]) for r in subjects}
            orphans = 0
            digests: Counter = Counter()
            for page in self._scan("faces", ["subject_id", "sha256"]):
                orphans += sum(int(r["subject_id"]) not in sids for r in page)
                digests.update(r["sha256"] for r in page)
            if orphans:
                problems.append(f"{orphans} faces belong to a subject that is not in the gallery")
            twice = sum(1 for c in digests.values() if c > 1)
            if twice and f"{self.prefix}_facemeta" in self._call("list_collections", self.client.list_collections):
                twice = 0  # photos with several faces: the people check counts (photo, face index) instead
            if twice:
                problems.append(f"{twice} photos (sha256) are stored more than once")
            try:
                index = self.client.describe_index(self._collections["faces"], "vector")
            except Exception as exc:  # noqa: BLE001 (reported as a problem)
                index = None
                problems.append(f"the vector index cannot be described ({_message(exc)})")
            if index is not None and str(index.get("index_type", "")).upper() != "HNSW":
                problems.append(f"the vector index is {index.get('index_type')!r}, not HNSW")
        return problems

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(face ids, Euclidean distances), each (Q, k), nearest first; ids are -1 where fewer exist."""
        q = np.atleast_2d(np.asarray(queries, np.float32))
        ids = np.full((len(q), k), -1, np.int64)
        dists = np.full((len(q), k), np.inf, np.float32)
        if not self._has_faces() or k <= 0:
            return ids, dists
        hits = self._call("search", self.client.search, self._collections["faces"], data=q.tolist(), limit=int(k),
                          anns_field="vector", output_fields=["subject_id"],
                          search_params={"metric_type": "L2", "params": {"ef": max(HNSW_EF_SEARCH, int(k))}})
        owners = {}
        for row, found in enumerate(hits):
            for col, hit in enumerate(list(found)[:k]):
                ids[row, col] = int(hit["id"])
                dists[row, col] = float(hit["distance"])
                owners[int(hit["id"])] = int(hit["entity"]["subject_id"])
        if len(self._owners) > 100_000:
            self._owners.clear()
        self._owners.update(owners)
        # Milvus's L2 is the squared distance
        return ids, np.sqrt(np.maximum(dists, 0.0), where=np.isfinite(dists), out=dists)

    def people_store(self) -> MilvusPeople:
        """The people operations of this store (``faceprint.gallery.milvus_people``; made once)."""
        if getattr(self, "_people", None) is None:
            self._people = MilvusPeople(self)
        return self._people

    def close(self) -> None:
        """Close the client; the last store of a milvus-lite folder in this process stops its server."""
        try:
            self.client.close()
        except Exception:  # noqa: BLE001 (closing twice, or a server gone already)
            pass
        if self._lite:
            with _lite_lock:
                users = _lite_users.get(self._lite, 0) - 1
                if users > 0:
                    _lite_users[self._lite] = users
                else:
                    _lite_users.pop(self._lite, None)
                    try:
                        from milvus_lite.server_manager import server_manager_instance

                        server_manager_instance.release_server(self._lite)
                    except ImportError:
                        pass
            self._lite = None


class MilvusSearcher:
    """The searcher of a Milvus gallery: Milvus's own HNSW index, which is the store itself, so
    there is nothing to keep in sync, save or repair.

    Args:
        store: the open Milvus store.
        signature, ann_min_faces, ann: what a local index cache takes; unused here.
    """

    kind = "milvus"

    def __init__(self, store: MilvusStore, signature: str = "", ann_min_faces: int | None = None,
                 ann: bool | None = None) -> None:
        self.store = store

    @property
    def dim(self) -> int:
        """The vectors' dimension (0 while no face was stored)."""
        return self.store._dim or 0

    def __len__(self) -> int:
        return self.store.count()

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(face ids, Euclidean distances), each (Q, k), nearest first; ids are -1 where fewer exist."""
        return self.store.search(queries, k)

    def describe(self) -> str:
        """What searches the gallery, in words."""
        return (f"milvus HNSW (M={HNSW_M}, ef={HNSW_EF_SEARCH}), {len(self)} faces, "
                f"consistency {self.store.consistency}")

    def mark(self) -> int:
        """A token taken before the gallery's own write (nothing to track here)."""
        return 0

    def written(self, mark: int, changed: bool, added: tuple[np.ndarray, np.ndarray] | None = None,
                removed: Sequence[int] = ()) -> None:
        """After the gallery's own write: Milvus indexes its rows itself."""

    def save(self, force: bool = False) -> None:
        """Nothing to save: Milvus persists its index."""

    def close(self) -> None:
        """Nothing to close: the store closes the client."""

    def check(self, sample: int = 1000) -> tuple[list[str], list[str], int]:
        """(problems, repairs, faces): the store's own ``integrity()`` covers the index."""
        return [], [], len(self.store.ids())


def _lite_locked(folder: Path) -> bool:
    """Whether another process holds milvus-lite's lock on ``folder`` (checked first, so the user
    gets one line instead of milvus-lite's logged traceback)."""
    lock = folder / "LOCK"
    if not lock.exists():
        return False
    try:
        import fcntl

        from milvus_lite.server_manager import server_manager_instance
    except ImportError:
        return False
    if str(folder) in server_manager_instance._servers:  # ours: this process serves it already
        return False
    with open(lock, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
    return False


def scalar_index_types(version: str) -> dict[str, str | None]:
    """The scalar index to ask a Milvus server for first, by its version.

    Args:
        version: what ``get_server_version()`` answered (``v2.3.5-lite``, ``2.4.13``,
            ``milvus_lite-3.2.2``; empty when unknown).

    Returns:
        ``{"VARCHAR": index type, "INT64": index type}``: INVERTED from Milvus 2.4 (and for
        milvus-lite and versions not understood), Trie and STL_SORT before.
    """
    match = re.match(r"^v?(\d+)\.(\d+)", version.strip())
    if match and (int(match.group(1)), int(match.group(2))) < (2, 4):
        return {"VARCHAR": "Trie", "INT64": "STL_SORT"}
    return {"VARCHAR": "INVERTED", "INT64": "INVERTED"}


def _refused_index(exc: BaseException) -> bool:
    """Whether Milvus refused an index for its type (not a connection failure)."""
    text = _message(exc).lower()
    return any(word in text for word in ("index type", "invalid parameter", "not supported", "unsupported",
                                         "invalid index"))


def _message(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return " ".join(str(text).split())[:300]


def _sorted_arrays(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    rows = sorted(rows, key=lambda r: int(r["id"]))
    return id_vector_arrays([r["id"] for r in rows], [r["vector"] for r in rows])

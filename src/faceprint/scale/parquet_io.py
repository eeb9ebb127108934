"""An index folder of Parquet parts: one row per face (or one per photo without a face, or per
bad file, with its error), written part by part so that a run killed halfway keeps what it
finished, and a manifest naming the pipeline that shaped the vectors.

Layout of ``DIR``::

    index.json            # format, model, pipeline signature and settings
    parts/part-*.parquet  # rows, see ``COLUMNS``; each part is written whole (tmp file + rename)
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from faceprint.errors import BadInput

if TYPE_CHECKING:
    import pyarrow as pa

    from faceprint.types import ImageFaces

log = logging.getLogger(__name__)

FORMAT = "faceprint-index-1"
COLUMNS = {
    "path": "the photo's path as listed",
    "sha256": "the file's content hash (null when it could not be read)",
    "face": "the face's number in its photo (detector order), -1 on a row for a photo without a face or a bad file",
    "faces": "how many faces the photo holds",
    "nearest_center": "this face is the one nearest the photo's centre",
    "width": "photo width in pixels (after EXIF orientation)",
    "height": "photo height in pixels",
    "box": "left, top, right, bottom in pixels",
    "score": "detector score",
    "landmarks": "the 5 landmarks as x0, y0, ..., x4, y4 in pixels",
    "model": "embedding model",
    "signature": "pipeline signature: vectors of different signatures are never compared",
    "vector": "L2-normalised embedding (float32)",
    "error": "why a bad file gave nothing (null otherwise)",
}


def schema() -> "pa.Schema":
    import pyarrow as pa

    return pa.schema([
        ("path", pa.string()), ("sha256", pa.string()), ("face", pa.int32()), ("faces", pa.int32()),
        ("nearest_center", pa.bool_()), ("width", pa.int32()), ("height", pa.int32()),
        ("box", pa.list_(pa.float32())), ("score", pa.float32()), ("landmarks", pa.list_(pa.float32())),
        ("model", pa.string()), ("signature", pa.string()), ("vector", pa.list_(pa.float32())),
        ("error", pa.string()),
    ])


def result_rows(path: str, result: "ImageFaces | None", sha256: str | None, error: str | None,
                model: str, signature: str) -> list[dict[str, Any]]:
    """The rows of one photo: one per face, or one row with ``face`` -1 (no face, or ``error``)."""
    empty = {"path": path, "sha256": sha256, "face": -1, "faces": 0, "nearest_center": False, "width": None,
             "height": None, "box": [], "score": None, "landmarks": [], "model": model, "signature": signature,
             "vector": [], "error": error}
    if result is None:
        return [empty]
    if result.error is not None:
        return [{**empty, "error": result.error}]
    size = {"width": result.width, "height": result.height}
    if not result.faces:
        return [{**empty, **size}]
    nearest = result.nearest_center()
    centre = next(i for i, face in enumerate(result.faces) if face is nearest)
    rows = []
    for number, face in enumerate(result.faces):
        d = face.detection
        rows.append({**empty, **size, "face": number, "faces": len(result.faces), "nearest_center": number == centre,
                     "box": [float(v) for v in d.box.as_list()], "score": float(d.score),
                     "landmarks": np.asarray(d.landmarks, np.float32).reshape(-1).tolist(),
                     "vector": np.asarray(face.vector, np.float32)})
    return rows


def rows_table(rows: Iterable[dict[str, Any]]) -> "pa.Table":
    import pyarrow as pa

    return pa.Table.from_pylist(list(rows), schema=schema())


class IndexFolder:
    """The output folder of ``faceprint index``: manifest, finished parts, and what is done."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.parts = self.root / "parts"
        self.manifest_path = self.root / "index.json"

    def open(self, model: str, signature: str, settings: dict[str, Any]) -> None:
        """Create the folder, or check that it holds vectors of this pipeline.

        Raises:
            BadInput: the folder was indexed with another model or pipeline setting.
        """
        self.parts.mkdir(parents=True, exist_ok=True)
        for leftover in self.parts.glob("*.tmp"):  # a part being written when a run was killed
            leftover.unlink()
        if self.manifest_path.exists():
            manifest = json.loads(self.manifest_path.read_text())
            if manifest.get("signature") != signature:
                raise BadInput(f"{self.root} holds vectors of pipeline {manifest.get('signature')} "
                               f"({manifest.get('model')}), not {signature}: use another --out folder, "
                               "or the settings it was made with")
            return
        manifest = {"format": FORMAT, "model": model, "signature": signature, "settings": settings,
                    "columns": COLUMNS}
        tmp = self.manifest_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        tmp.replace(self.manifest_path)

    def part_files(self) -> list[Path]:
        return sorted(self.parts.glob("part-*.parquet"))

    def done(self) -> tuple[dict[str, set[str]], int]:
        """What is indexed already: content hash -> the paths indexed with it (faces, faceless
        photos and bad files alike), and the number of finished parts. An unreadable part (cut
        short by a crash outside the atomic rename, or damaged since) is set aside and its photos
        are done again."""
        import pyarrow.parquet as pq

        indexed: dict[str, set[str]] = {}
        parts = 0
        for part in self.part_files():
            try:
                table = pq.read_table(part, columns=["sha256", "path"])
            except Exception as exc:  # noqa: BLE001 (pyarrow raises several kinds for a damaged file)
                log.warning("setting aside unreadable part %s (%s); its photos will be indexed again", part, exc)
                part.rename(part.with_suffix(".bad"))
                continue
            for sha, path in zip(table.column("sha256").to_pylist(), table.column("path").to_pylist()):
                if sha is not None:
                    indexed.setdefault(sha, set()).add(path)
            parts += 1
        return indexed, parts

    def copied_rows(self, copies: dict[str, str]) -> "pa.Table":
        """Rows for photos whose content is indexed already under another path (``copies``: new
        path -> content hash): the rows of one indexed path with that content (the first by
        name), under the new path. The same bytes give the same rows, so nothing is embedded again."""
        rows = self.read(filters=[("sha256", "in", sorted(set(copies.values())))]).to_pylist()
        source: dict[str, str] = {}
        for row in rows:
            source[row["sha256"]] = min(source.get(row["sha256"], row["path"]), row["path"])
        by_hash: dict[str, list[dict[str, Any]]] = {}
        for row in sorted(rows, key=lambda r: r["face"]):
            if row["path"] == source[row["sha256"]]:
                by_hash.setdefault(row["sha256"], []).append(row)
        return rows_table({**row, "path": path} for path, sha in copies.items() for row in by_hash.get(sha, ()))

    def write_part(self, table: "pa.Table") -> Path | None:
        """Write ``table`` as one new part, whole or not at all (tmp file, fsync, rename)."""
        import pyarrow.parquet as pq

        if table.num_rows == 0:
            return None
        name = f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        tmp = self.parts / f"{name}.tmp"
        pq.write_table(table, tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        final = self.parts / f"{name}.parquet"
        tmp.replace(final)
        return final

    def read(self, columns: list[str] | None = None, filters: list | None = None) -> "pa.Table":
        """Every row of every finished part (those ``filters`` keep: pyarrow's DNF filters)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        tables = [pq.read_table(p, columns=columns, filters=filters) for p in self.part_files()]
        if not tables:
            full = schema()
            return full.empty_table() if columns is None else pa.schema([full.field(c) for c in columns]).empty_table()
        return pa.concat_tables(tables)


def read_index(root: str | Path) -> "pa.Table":
    """The rows of an index folder written by ``faceprint index`` (see ``COLUMNS``).

    Example:
        >>> table = read_index("index_out")  # doctest: +SKIP
        >>> faces = table.filter(table["face"] >= 0)  # doctest: +SKIP
        >>> vectors = np.stack(faces["vector"].to_numpy(zero_copy_only=False))  # doctest: +SKIP
    """
    folder = IndexFolder(root)
    if not folder.manifest_path.exists():
        raise BadInput(f"{root}: not an index folder (no index.json); make one with `faceprint index PHOTOS --out {root}`")
    return folder.read()

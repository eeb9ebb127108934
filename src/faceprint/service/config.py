"""The service's settings: one dataclass, filled from arguments or ``FACEPRINT_SERVE_*`` variables.

Uvicorn starts worker processes from an import string, so ``faceprint serve`` hands the settings
to them through the environment (``to_env`` / ``from_env``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

from faceprint import log_format, settings

ENV_PREFIX = "FACEPRINT_SERVE_"


@dataclass(frozen=True)
class ServiceConfig:
    """Everything that shapes a running service.

    Attributes:
        gallery: the SQLite gallery file (created when missing), or a gallery URI kept as given
            (``milvus://host:19530/name``, ``milvus-lite:///path/name.db``, ``sqlite:///path``).
        keys: the API key file (``faceprint keys create`` writes it).
        model: the embedding model; empty: the gallery's own (``dlib`` for a new gallery). A gallery
            holds vectors of one model only, so another model than its own is refused.
        max_body_bytes: largest request body; larger ones get 413 before anything is decoded.
        max_batch: most images embedded together in one batch.
        batch_wait_ms: how long the first request of a batch waits for others to join it.
        max_queue: images waiting for the engine; beyond it requests get 503 with Retry-After.
        max_files: most photos in one enrol request.
        max_pixels: largest photo in pixels (width x height), read from its header before it is
            queued; larger ones get 413. Detection time grows with pixels, not bytes.
        max_buffered_bytes: most bytes of request bodies held at once, all clients together
            (beyond it: 503 with Retry-After); 0: 16 x ``max_body_bytes``.
        body_timeout_s: how long a request body may take to start arriving; with
            ``min_body_bytes_per_s``, a body that falls behind is dropped with 408.
        min_body_bytes_per_s: the slowest average rate a body may arrive at beyond
            ``body_timeout_s``; 0: a whole body must arrive within ``body_timeout_s``.
        max_uploads_per_key: requests with a body one API key may have in flight at once (one
            more: 429 with Retry-After, before its body is read).
        max_uploads_per_address: the same per client address; 0: no limit per address, nor a
            share of the queue per address (behind a proxy that does not pass on the client's
            address, all clients share the proxy's).
        max_queue_per_client: images one client (its key, and its address) may have waiting for
            or in the engine; beyond it that client gets 503 with Retry-After, others are served.
        log_format: ``text`` or ``json`` (one JSON object per line), for the server's log and the
            audit file.
        audit_log: a file of its own for the audit lines (created 0600, appended to); empty: they
            go to the server's log (stderr) with the rest.
        warm: load the models at start-up (``/readyz`` answers 503 until they are loaded); False:
            the first requests load them (``/readyz`` is 200 once the gallery is open).

    Raises:
        ValueError: a count or limit below 1 (``max_buffered_bytes``, ``min_body_bytes_per_s``,
            ``max_uploads_per_address``: below 0), ``body_timeout_s`` not above 0, a
            ``max_buffered_bytes`` below ``max_body_bytes`` (0 excepted), a ``max_queue_per_client``
            below 2, or an unknown ``log_format``.

    Example:
        >>> config = ServiceConfig(gallery="people.db", keys="keys.json", warm=False)  # doctest: +SKIP
    """

    gallery: Path | str = Path()
    keys: Path = Path()
    model: str = ""
    max_body_bytes: int = 20 * 1024 * 1024
    max_batch: int = 16
    batch_wait_ms: float = 5.0
    max_queue: int = 64
    max_files: int = 20
    max_pixels: int = 24_000_000
    max_buffered_bytes: int = 0
    body_timeout_s: float = 10.0
    min_body_bytes_per_s: int = 32 * 1024
    max_uploads_per_key: int = 4
    max_uploads_per_address: int = 8
    max_queue_per_client: int = 16
    log_format: str = "text"
    audit_log: str = ""
    warm: bool = True

    def __post_init__(self) -> None:
        from faceprint.service.keys import default_keys_path

        if self.gallery == Path():
            object.__setattr__(self, "gallery", settings.default_gallery_path())
        if self.keys == Path():
            object.__setattr__(self, "keys", default_keys_path())
        object.__setattr__(self, "gallery", _gallery_location(self.gallery))
        object.__setattr__(self, "keys", Path(self.keys).expanduser().absolute())
        for name in ("max_body_bytes", "max_batch", "max_queue", "max_files", "max_pixels", "max_uploads_per_key",
                     "max_queue_per_client"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("max_buffered_bytes", "min_body_bytes_per_s", "max_uploads_per_address"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more")
        if not self.body_timeout_s > 0:
            raise ValueError("body_timeout_s must be above 0")
        if 0 < self.max_buffered_bytes < self.max_body_bytes:  # else every large upload is "busy" for ever
            raise ValueError("max_buffered_bytes must be 0 (16 x max_body_bytes) or at least max_body_bytes")
        if self.max_queue_per_client < 2:  # a verify queues two images at once
            raise ValueError("max_queue_per_client must be at least 2")
        object.__setattr__(self, "log_format", log_format.check_format(self.log_format))

    def to_env(self) -> dict[str, str]:
        """The settings as environment variables, for uvicorn's worker processes (``from_env`` reads them).

        Returns:
            ``FACEPRINT_SERVE_<FIELD>`` -> value as text, for every field.
        """
        return {ENV_PREFIX + f.name.upper(): str(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "ServiceConfig":
        """The defaults, overridden by any ``FACEPRINT_SERVE_<FIELD>`` variable.

        Args:
            environ: the variables to read; None: ``os.environ``.

        Returns:
            The settings.

        Raises:
            ValueError: a variable's value is not of its field's type (``MAX_FILES=many``), or out of range.
        """
        env = os.environ if environ is None else environ
        config = cls()
        changes: dict[str, object] = {}
        for f in fields(cls):
            value = env.get(ENV_PREFIX + f.name.upper())
            if value is None:
                continue
            current = getattr(config, f.name)
            if isinstance(current, bool):
                changes[f.name] = value.strip().lower() in ("1", "true", "yes", "on")
            elif isinstance(current, Path):
                changes[f.name] = Path(value)
            else:
                changes[f.name] = type(current)(value)
        return replace(config, **changes)


def _gallery_location(gallery: Path | str) -> Path | str:
    """A gallery file as an absolute path; a URI (Milvus, milvus-lite, ``sqlite:``) as text, as
    given (``gallery.store.open_store`` also reads the form a ``Path`` collapses)."""
    from faceprint.gallery.store import is_milvus_uri

    text = str(gallery)
    if is_milvus_uri(text) or text.startswith("sqlite:"):
        return text
    return Path(gallery).expanduser().absolute()

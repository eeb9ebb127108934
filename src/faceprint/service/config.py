"""The service's settings: one dataclass, filled from arguments or ``FACEPRINT_SERVE_*`` variables.

Uvicorn starts worker processes from an import string, so ``faceprint serve`` hands the settings
to them through the environment (``to_env`` / ``from_env``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

from faceprint import settings

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
        warm: load the models at start-up (``/readyz`` answers 503 until they are loaded); False:
            the first requests load them (``/readyz`` is 200 once the gallery is open).

    Raises:
        ValueError: ``max_body_bytes``, ``max_batch``, ``max_queue`` or ``max_files`` below 1.

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
    warm: bool = True

    def __post_init__(self) -> None:
        from faceprint.service.keys import default_keys_path

        if self.gallery == Path():
            object.__setattr__(self, "gallery", settings.default_gallery_path())
        if self.keys == Path():
            object.__setattr__(self, "keys", default_keys_path())
        object.__setattr__(self, "gallery", _gallery_location(self.gallery))
        object.__setattr__(self, "keys", Path(self.keys).expanduser().absolute())
        for name in ("max_body_bytes", "max_batch", "max_queue", "max_files"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")

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

"""API keys for the service: three scopes, stored hashed, compared in constant time.

A key looks like ``fpk_<id>_<secret>``: the id (8 hex digits) finds the entry, the whole key's
sha256 is what is stored and compared (``hmac.compare_digest``). The secret carries 256 random
bits, so a plain sha256 is enough (a slow password hash protects guessable secrets, not these).
The file is JSON, written atomically with mode 0600, and re-read when it changes on disk, so
``faceprint keys revoke`` takes effect on a running server without a restart.

There is no default key: a fresh store accepts nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from faceprint import settings
from faceprint.errors import BadInput, FaceprintError

log = logging.getLogger(__name__)

SCOPES = ("admin", "recognise", "metrics")
"""``admin`` may change the gallery (and do everything the others do); ``recognise`` only reads and
recognises; ``metrics`` only reads ``/metrics`` (a scraper's key, which can do nothing else)."""

PREFIX = "fpk_"
_DUMMY_HASH = hashlib.sha256(b"no such key").hexdigest()


class KeyStoreError(FaceprintError):
    """The key file cannot be read or written."""


def default_keys_path() -> Path:
    """``$FACEPRINT_KEYS``, else ``$FACEPRINT_HOME/service_keys.json``."""
    env = os.environ.get("FACEPRINT_KEYS")
    return Path(env).expanduser() if env else settings.home_dir() / "service_keys.json"


@dataclass(frozen=True)
class ApiKey:
    """One stored key (never the key itself: only its hash)."""

    id: str
    scope: str
    name: str
    created: str
    sha256: str

    def allows(self, scope: str) -> bool:
        """True when this key may do what ``scope`` allows (admin may do everything)."""
        return self.scope == "admin" or self.scope == scope

    def to_dict(self) -> dict[str, str]:
        """Id, scope, name and creation time (never the hash)."""
        return {"id": self.id, "scope": self.scope, "name": self.name, "created": self.created}


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class KeyStore:
    """The keys of one service, in a JSON file.

    Args:
        path: the key file; None: ``default_keys_path()``. A missing file holds no keys.

    Example:
        >>> store = KeyStore(tmp_path / "keys.json")            # doctest: +SKIP
        >>> key, entry = store.create("admin", name="ops")       # doctest: +SKIP
        >>> store.authenticate(key).scope                        # doctest: +SKIP
        'admin'
    """

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else default_keys_path()
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._keys: dict[str, ApiKey] = {}

    # -- reading --------------------------------------------------------------------------------------
    def _load(self) -> dict[str, ApiKey]:
        """The keys on disk, re-read only when the file changed (size or mtime)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._keys = None, {}
            return self._keys
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            try:
                raw = json.loads(self.path.read_text())
                keys = {k["id"]: ApiKey(k["id"], k["scope"], k.get("name", ""), k.get("created", ""), k["sha256"])
                        for k in raw.get("keys", [])}
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                raise KeyStoreError(f"{self.path}: unreadable key file ({exc}); fix or delete it and create "
                                    "keys again with `faceprint keys create`") from exc
            self._stamp, self._keys = stamp, keys
        return self._keys

    def list(self) -> list[ApiKey]:
        """Every key, oldest first.

        Returns:
            The stored entries (never the keys themselves).

        Raises:
            KeyStoreError: the key file cannot be read.
        """
        with self._lock:
            return sorted(self._load().values(), key=lambda k: (k.created, k.id))

    def authenticate(self, key: str | None) -> ApiKey | None:
        """The entry of a valid key, compared in constant time.

        Args:
            key: the key a client sent.

        Returns:
            Its entry; None for anything else (missing, malformed, revoked).

        Raises:
            KeyStoreError: the key file cannot be read.
        """
        if not key:
            return None
        with self._lock:
            keys = self._load()
        parts = key.split("_")
        entry = keys.get(parts[1]) if len(parts) == 3 and key.startswith(PREFIX) else None
        # compare even when there is no entry, so timing says nothing about which ids exist
        ok = hmac.compare_digest(_hash(key), entry.sha256 if entry else _DUMMY_HASH)
        return entry if ok and entry is not None else None

    # -- writing --------------------------------------------------------------------------------------
    def create(self, scope: str, name: str = "") -> tuple[str, ApiKey]:
        """A new key, written to the file at once.

        Args:
            scope: ``admin``, ``recognise`` or ``metrics`` (``SCOPES``).
            name: a label to tell keys apart.

        Returns:
            The key (to show once: only its hash is stored) and its entry.

        Raises:
            faceprint.errors.BadInput: an unknown scope.
            KeyStoreError: the key file cannot be read or written.
        """
        if scope not in SCOPES:
            raise BadInput(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
        with self._lock:
            keys = dict(self._load())
            key_id = secrets.token_hex(4)
            while key_id in keys:
                key_id = secrets.token_hex(4)
            key = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32).replace('_', 'Z')}"
            entry = ApiKey(key_id, scope, name, datetime.now(timezone.utc).isoformat(timespec="seconds"), _hash(key))
            keys[key_id] = entry
            self._save(keys)
        log.info("created %s key %s", scope, key_id)
        return key, entry

    def revoke(self, key_id: str) -> ApiKey:
        """Remove a key; a running server refuses it from its next request on.

        Args:
            key_id: the key's id (``faceprint keys list`` shows it) or the key itself.

        Returns:
            The removed entry.

        Raises:
            faceprint.errors.BadInput: no key with that id.
            KeyStoreError: the key file cannot be read or written.
        """
        if key_id.startswith(PREFIX) and key_id.count("_") == 2:
            key_id = key_id.split("_")[1]
        with self._lock:
            keys = dict(self._load())
            if key_id not in keys:
                raise BadInput(f"no key with id {key_id!r} in {self.path}; `faceprint keys list` shows the ids")
            entry = keys.pop(key_id)
            self._save(keys)
        log.info("revoked key %s", key_id)
        return entry

    def _save(self, keys: dict[str, ApiKey]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        data = json.dumps({"version": 1, "keys": [asdict(k) for k in keys.values()]}, indent=2) + "\n"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise KeyStoreError(f"{self.path}: cannot write the key file ({exc.strerror or exc})") from exc
        self._stamp = None  # re-read on next use (mtime granularity could hide a quick second write)
        self._keys = keys

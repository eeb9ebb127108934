"""`faceprint serve` (the REST API and web page) and `faceprint keys` (its API keys)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from faceprint.cli.common import emit, fail, friendly_errors, setup_logging
from faceprint.log_format import JsonFormatter, server_logging_config

if TYPE_CHECKING:
    from faceprint.service.config import ServiceConfig

KeysOpt = typer.Option(None, "--keys", help="The API key file (default $FACEPRINT_KEYS or "
                       "$FACEPRINT_HOME/service_keys.json).")

keys_app = typer.Typer(
    help="API keys of `faceprint serve`: admin (may change the gallery) or recognise (read-only).\n\n"
    "Examples:\n\n  faceprint keys create --scope admin --name ops\n\n"
    "  faceprint keys create --scope recognise --name kiosk\n\n"
    "  faceprint keys create --scope metrics --name prometheus\n\n  faceprint keys list\n\n"
    "  faceprint keys revoke 3f9a1c2e",
    no_args_is_help=True,
)


def serve(
    gallery: Optional[Path] = typer.Option(None, "--gallery", "-g", help="The SQLite gallery (created when missing; "
                                           "default $FACEPRINT_GALLERY or ./faceprint-gallery.db)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, "--port", "-p", help="TCP port."),
    workers: int = typer.Option(1, "--workers", "-w", help="Server processes, each with its own models and batcher."),
    keys: Optional[Path] = KeysOpt,
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Embedding model of a NEW gallery (an existing "
                                        "one keeps its own)."),
    max_body_mb: Optional[float] = typer.Option(None, "--max-body-mb", help="Largest request in MB (larger: 413; "
                                                "default $FACEPRINT_SERVE_MAX_BODY_BYTES or 20)."),
    max_queue: Optional[int] = typer.Option(None, "--max-queue", help="Images waiting for the models before requests "
                                            "get 503 (default $FACEPRINT_SERVE_MAX_QUEUE or 64)."),
    max_batch: Optional[int] = typer.Option(None, "--max-batch", help="Most images embedded together (default "
                                            "$FACEPRINT_SERVE_MAX_BATCH or 16)."),
    max_pixels: Optional[int] = typer.Option(None, "--max-pixels", help="Largest photo in pixels, width x height, "
                                             "read from its header before it is queued (larger: 413; detection time "
                                             "grows with pixels; default $FACEPRINT_SERVE_MAX_PIXELS or 24000000)."),
    max_buffered_mb: Optional[float] = typer.Option(None, "--max-buffered-mb", help="Request bodies held at once, "
                                                    "all clients together, in MB (beyond: 503; default "
                                                    "$FACEPRINT_SERVE_MAX_BUFFERED_BYTES or 16 x --max-body-mb)."),
    body_timeout: Optional[float] = typer.Option(None, "--body-timeout", help="Seconds a request body may take to "
                                                 "start arriving; a body that stalls or falls below "
                                                 "--min-body-rate-kb after that gets 408 (default "
                                                 "$FACEPRINT_SERVE_BODY_TIMEOUT_S or 10)."),
    min_body_rate_kb: Optional[float] = typer.Option(None, "--min-body-rate-kb", help="Slowest average upload rate in "
                                                     "KB/s beyond --body-timeout (0: the whole body within "
                                                     "--body-timeout; default 32)."),
    uploads_per_key: Optional[int] = typer.Option(None, "--uploads-per-key", help="Requests with a body one API key "
                                                  "may have in flight at once (one more: 429, before its body is "
                                                  "read; default $FACEPRINT_SERVE_MAX_UPLOADS_PER_KEY or 4)."),
    uploads_per_address: Optional[int] = typer.Option(None, "--uploads-per-address", help="The same per client "
                                                      "address (0: no limit, e.g. behind a proxy that does not pass "
                                                      "on client addresses; default 8)."),
    queue_per_client: Optional[int] = typer.Option(None, "--queue-per-client", help="Images one client (key, and "
                                                   "address) may have waiting for the models; beyond it that client "
                                                   "gets 503, others are served (default 16)."),
    log_format: Optional[str] = typer.Option(None, "--log-format", help="text, or json: one JSON object per line "
                                             "(time, level, logger, message, audit fields) for log collectors "
                                             "(default $FACEPRINT_SERVE_LOG_FORMAT or text)."),
    audit_log: Optional[Path] = typer.Option(None, "--audit-log", help="Write the audit lines (admin actions, refused "
                                             "keys) to this file only, created 0600 (default "
                                             "$FACEPRINT_SERVE_AUDIT_LOG, else the log on stderr)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what happens on stderr."),
) -> None:
    """Serve the REST API (/v1, docs at /docs) and the web page (/) on one gallery.

    Needs `pip install 'faceprint\\[serve]'`. Every /v1 request needs an API key: create one first.

    Examples:

      faceprint keys create --scope admin

      faceprint serve --gallery people.db --port 8000

      curl -H "X-API-Key: $KEY" -F image=@photo.jpg http://127.0.0.1:8000/v1/identify
    """
    setup_logging(verbose)
    with friendly_errors():
        from importlib.util import find_spec

        missing = [m for m in ("fastapi", "uvicorn", "multipart") if find_spec(m) is None]
        if missing:
            fail(f"the service needs its extra ({', '.join(missing)} missing): pip install 'faceprint[serve]'")
        from faceprint.service.keys import KeyStore

        if workers < 1:
            fail("--workers must be at least 1")
        given = {"gallery": gallery, "keys": keys, "model": model, "max_queue": max_queue, "max_batch": max_batch,
                 "max_body_bytes": None if max_body_mb is None else int(max_body_mb * 1024 * 1024),
                 "max_pixels": max_pixels, "body_timeout_s": body_timeout,
                 "max_buffered_bytes": None if max_buffered_mb is None else int(max_buffered_mb * 1024 * 1024),
                 "min_body_bytes_per_s": None if min_body_rate_kb is None else int(min_body_rate_kb * 1024),
                 "max_uploads_per_key": uploads_per_key, "max_uploads_per_address": uploads_per_address,
                 "max_queue_per_client": queue_per_client, "log_format": log_format,
                 "audit_log": None if audit_log is None else str(audit_log.expanduser().absolute())}
        try:
            config = build_config(given)
        except ValueError as exc:
            fail(f"{exc} (check the options and the FACEPRINT_SERVE_* variables)")
        setup_logging(verbose, config.log_format)
        _check_audit_file(config.audit_log)
        _check_gallery(config)
        if not KeyStore(config.keys).list():
            _notice(f"warning: no API keys in {config.keys}: every /v1 request will get 401. "
                    "Create one: faceprint keys create --scope admin", config.log_format)
        os.environ.update(config.to_env())
        _notice(f"faceprint: gallery {config.gallery}, web page and API on http://{host}:{port}/ "
                f"(docs: /docs)", config.log_format)
        import uvicorn

        uvicorn.run("faceprint.service.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                    log_level="info" if verbose else "warning", timeout_graceful_shutdown=10,
                    log_config=server_logging_config(config.log_format, logging.DEBUG if verbose else logging.WARNING))


def build_config(given: dict[str, object]) -> "ServiceConfig":
    """The service's settings from the environment and the command line.

    Args:
        given: option name -> value; None for an option not given.

    Returns:
        The ``FACEPRINT_SERVE_*`` settings (``ServiceConfig.from_env``) with the options given on
        top, so a variable the user set survives unless an option overrides it.

    Raises:
        ValueError: a variable's or an option's value is invalid.
    """
    from dataclasses import replace

    from faceprint.service.config import ServiceConfig

    return replace(ServiceConfig.from_env(), **{k: v for k, v in given.items() if v is not None})


def _notice(text: str, log_format: str) -> None:
    """A line for the operator on stderr, in the log's format (a JSON log stays all JSON)."""
    if log_format == "json":
        record = logging.LogRecord("faceprint.serve", logging.WARNING if text.startswith("warning") else logging.INFO,
                                   __file__, 0, "%s", (text,), None)
        text = JsonFormatter().format(record)
    typer.echo(text, err=True)


def _check_audit_file(path: str) -> None:
    """Create the audit file (0600) now, so a folder that is missing or not writable is one line."""
    if not path:
        return
    from faceprint.service.audit import create_file

    try:
        create_file(path)
    except OSError as exc:
        fail(f"--audit-log {path}: cannot write it ({exc.strerror}); give a file in a writable folder")


def _check_gallery(config) -> None:
    """Open the gallery once here, so a wrong file or model is one line, not a server traceback."""
    from faceprint.gallery import Gallery

    gallery = Gallery(config.gallery, model=config.model or None, create=True)
    gallery.close()


@keys_app.command("create")
def keys_create(
    scope: str = typer.Option(..., "--scope", "-s", help="admin (may change the gallery), recognise (read-only) or metrics (only GET /metrics, for a scraper)."),
    name: str = typer.Option("", "--name", "-n", help="A label to tell keys apart (who or what uses it)."),
    keys: Optional[Path] = KeysOpt,
) -> None:
    """Create a key and print it once (it is stored only as a hash: keep it now)."""
    from faceprint.service.keys import KeyStore

    with friendly_errors():
        store = KeyStore(keys)
        key, entry = store.create(scope, name)
        emit({"key": key, **entry.to_dict(), "file": str(store.path)})


@keys_app.command("list")
def keys_list(keys: Optional[Path] = KeysOpt) -> None:
    """The keys that exist: id, scope, name, created (never the keys themselves)."""
    from faceprint.service.keys import KeyStore

    with friendly_errors():
        store = KeyStore(keys)
        emit({"file": str(store.path), "keys": [k.to_dict() for k in store.list()]})


@keys_app.command("revoke")
def keys_revoke(
    key_id: str = typer.Argument(..., help="The key's id (from `faceprint keys list`) or the key itself."),
    keys: Optional[Path] = KeysOpt,
) -> None:
    """Revoke a key: a running server refuses it from its next request on."""
    from faceprint.service.keys import KeyStore

    with friendly_errors():
        entry = KeyStore(keys).revoke(key_id)
        emit({"revoked": entry.to_dict()})

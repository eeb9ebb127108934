"""Shared CLI plumbing: error reporting, JSON output, progress bars, input expansion."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import typer

from faceprint import jsonout
from faceprint.errors import FaceprintError

log = logging.getLogger("faceprint.cli")


def emit(obj: Any) -> None:
    """Print a JSON document on stdout (strict JSON: NaN and infinities become null)."""
    sys.stdout.write(jsonout.dumps(obj) + "\n")


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def os_error_message(exc: OSError) -> str:
    """One line for a file the system refused: which path, why, and what to check."""
    if exc.strerror and exc.filename:
        where = f"{exc.filename} -> {exc.filename2}" if exc.filename2 else str(exc.filename)
        return f"{where}: {exc.strerror}; check that the path exists and you may read and write there"
    return str(exc) or type(exc).__name__


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn faceprint's exceptions, and files the system refuses (OSError), into one line on
    stderr and a non-zero exit, no traceback."""
    try:
        yield
    except FaceprintError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(os_error_message(exc))
    except KeyboardInterrupt:
        fail("interrupted", 130)


def check_writable(path: Path, folder: bool = False) -> None:
    """Fail now, before minutes of work, when ``path`` (a file, or a folder with ``folder``) cannot be written:
    a scratch file is created and removed in its nearest existing folder; nothing else is made. Raises OSError."""
    import errno

    if not folder and path.is_dir():
        raise OSError(errno.EISDIR, "is a folder; give a file name", str(path))
    where = path if folder else path.parent
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        handle, scratch = tempfile.mkstemp(dir=where, prefix=".faceprint-write-test-")
    except OSError as exc:  # name the user's path, not the scratch file
        raise OSError(exc.errno, f"cannot write there ({exc.strerror or exc})", str(path)) from exc
    os.close(handle)
    os.unlink(scratch)


def check_rate(value: Optional[float], option: str) -> None:
    """A rate option (--fpir, --far) must lie strictly between 0 and 1."""
    if value is not None and not 0 < value < 1:
        fail(f"{option} must lie strictly between 0 and 1 (e.g. 0.01), not {value:g}")


def exit_if_nothing_done(done: int, failed: int, message: str | None = None) -> None:
    """Exit 1 (after the JSON was printed) when every input failed (``failed`` of them, ``done``
    none): a script must see the failure. ``message``, if any, is the one-line error on stderr."""
    if failed and not done:
        if message:
            typer.echo(f"error: {message}", err=True)
        raise typer.Exit(1)


def expand_inputs(inputs: list[Path]) -> list[Path]:
    """Files as given; folders replaced by the image files they contain (recursively)."""
    from faceprint.pipeline.batch import iter_image_files

    out: list[Path] = []
    for item in inputs:
        if item.is_dir():
            found = list(iter_image_files(item))
            if not found:
                log.warning("%s: no image files in this folder", item)
            out.extend(found)
        else:
            out.append(item)
    return out


@contextmanager
def progress_bar(total: int, description: str, enabled: bool = True) -> Iterator[Any]:
    """A Rich progress bar on stderr; yields ``advance(n)``. Hidden for a single item."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    if not enabled or total <= 1:
        yield lambda n=1: None
        return
    console = Console(stderr=True)
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=console, transient=False) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n=1: progress.advance(task, n)


def process_images(files: list[Path], description: str,
                   work: Callable[[Path], dict[str, Any]]) -> tuple[list[dict], list[dict]]:
    """Run ``work`` on each file with a progress bar. A bad file is logged and recorded in the
    errors list, and the rest go on; with a single file the error propagates (one-line exit)."""
    results, errors = [], []
    with progress_bar(len(files), description) as advance:
        for path in files:
            try:
                results.append({"image": str(path), **work(path)})
            except (FaceprintError, OSError) as exc:
                if isinstance(exc, FaceprintError):
                    message = str(exc)
                else:  # a read() error names no file: say which photo it was
                    message = os_error_message(exc) if exc.filename else f"{path}: {exc.strerror or exc}"
                if len(files) == 1:
                    if isinstance(exc, FaceprintError):
                        raise
                    fail(message)
                log.warning("%s", message)
                errors.append({"image": str(path), "error": message})
            advance()
    return results, errors


def setup_logging(verbose: bool, log_format: str = "text") -> None:
    """Log on stderr: warnings and errors, everything with ``verbose``.

    Args:
        verbose: log DEBUG and up (else WARNING and up).
        log_format: ``text`` (``LEVEL logger: message``) or ``json`` (one JSON object per line);
            a second call replaces the first one's handler.

    Raises:
        ValueError: an unknown ``log_format``.
    """
    from faceprint.log_format import formatter

    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "faceprint_cli", False)]:
        root.removeHandler(old)
    if root.handlers:  # configured by whoever runs the CLI (an embedding program, pytest): theirs stays
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    handler.faceprint_cli = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)

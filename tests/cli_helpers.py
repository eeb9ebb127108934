"""Running the command line as a user runs it, and reading what it wrote: shared by the CLI tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

CLI = [sys.executable, "-m", "faceprint.cli.main"]
UNWRITABLE = Path("/proc/faceprint-tests/out")  # no one, root included, may create files under /proc


def run(*args: object, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    """``faceprint ARGS...`` in a fresh process, with ``env`` added to the environment.

    Args:
        *args: The command line after ``faceprint``; paths and numbers are turned into strings.
        cwd: The folder to run in (the current one when None).
        **env: Environment variables to set for this run.

    Returns:
        The finished process, with its stdout and stderr as text.
    """
    environment = {**os.environ, **env}
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd,
                          env=environment)


def one_line_error(out: subprocess.CompletedProcess, *words: str) -> None:
    """Assert a failure as a user should see it: a non-zero exit, no traceback, and an error that
    names the problem.

    Args:
        out: The finished CLI process.
        *words: Text each of which must appear in its stderr.

    Raises:
        AssertionError: When the exit is zero, a traceback was printed or a word is missing.
    """
    assert out.returncode != 0, out.stdout[:500]
    assert "Traceback" not in out.stderr, out.stderr[-2000:]
    for word in words:
        assert word in out.stderr, out.stderr[-2000:]


def strict_json(text: str) -> Any:
    """JSON as strict parsers read it: NaN or Infinity is an error.

    Args:
        text: The JSON document.

    Returns:
        The parsed document.

    Raises:
        ValueError: When the text holds NaN, Infinity or -Infinity, or is not JSON.
    """
    def refuse(name: str):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)

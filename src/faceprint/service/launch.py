"""Run ``faceprint serve`` in a child process on a free local port, for tests and benchmarks.

Example:
    >>> with LocalServer(gallery="g.db", keys="keys.json") as server:   # doctest: +SKIP
    ...     httpx.get(server.url + "/readyz").json()
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence


class _PortTaken(Exception):
    """Another process took the port between free_port() and the server's bind."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalServer:
    """``faceprint serve`` on 127.0.0.1 in a child process; ``start()`` returns once ``/readyz`` is 200.

    Args:
        gallery, keys: the gallery and key files.
        port: a port, or None for a free one.
        extra: more ``faceprint serve`` arguments.
        log: file that receives the server's stdout and stderr (default: beside the gallery).
        env: extra environment variables.
    """

    def __init__(self, gallery: str | Path, keys: str | Path, port: int | None = None, extra: Sequence[str] = (),
                 log: str | Path | None = None, env: dict[str, str] | None = None) -> None:
        self.gallery = Path(gallery)
        self.keys = Path(keys)
        self.port = port or free_port()
        self.extra = list(extra)
        self.log_path = Path(log) if log else self.gallery.with_name(self.gallery.name + f".server-{self.port}.log")
        self.env = env or {}
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 120.0) -> "LocalServer":
        """Start the server and wait until it is ready (another free port if this one was taken)."""
        for attempt in range(3):
            try:
                return self._start(timeout)
            except _PortTaken:
                self.port = free_port()
        return self._start(timeout)

    def _start(self, timeout: float) -> "LocalServer":
        import httpx

        command = [sys.executable, "-m", "faceprint.cli.main", "serve", "--gallery", str(self.gallery),
                   "--keys", str(self.keys), "--host", "127.0.0.1", "--port", str(self.port), *self.extra]
        env = {**os.environ, **self.env}
        self._log = open(self.log_path, "ab")
        self._log_start = self._log.tell()
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._close_log()
                if "address already in use" in self.log_tail():
                    raise _PortTaken()
                raise RuntimeError(f"faceprint serve exited with {self.process.returncode}: {self.log_tail()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"faceprint serve was not ready within {timeout:.0f} s: {self.log_tail()}")

    def log_tail(self, chars: int = 2000) -> str:
        """The end of what the server wrote since its last start."""
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(getattr(self, "_log_start", 0))
                return handle.read().decode(errors="replace")[-chars:]
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flushing (what a crash or the OOM killer does)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self._close_log()

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM and wait (SIGKILL if it does not stop in time)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._close_log()

    def _close_log(self) -> None:
        log = getattr(self, "_log", None)
        if log is not None and not log.closed:
            log.close()

    def __enter__(self) -> "LocalServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

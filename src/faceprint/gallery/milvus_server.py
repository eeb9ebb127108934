"""A Milvus standalone server on 127.0.0.1 in a child process, for tests, benchmarks and trials.

The PyPI package ``milvus`` (Linux x86_64 only; ``pip install milvus``, in the ``dev`` extra)
bundles the Milvus 2.3 standalone binary with an embedded etcd and local storage. This module
starts it with every port it lets us choose on a free loopback port (the client port, each
component's gRPC port, the metrics/health port, and the embedded etcd's client and peer ports,
which the package itself leaves at 2379/2380) and its data in one folder; the server is the same
Milvus a cluster runs, reached as ``milvus://127.0.0.1:PORT/name``.

Milvus 2.3's component gRPC servers and its metrics port bind every interface (``*:port``)
whatever the configuration says; only etcd binds loopback. Use it on a machine whose firewall
keeps those ports in, as a test server, not as a deployment.

Example:
    >>> with LocalMilvusServer("/tmp/milvus-data") as server:   # doctest: +SKIP
    ...     Gallery(server.uri("team")).add_vectors(["ann"], vectors)
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from faceprint.errors import GalleryError

log = logging.getLogger(__name__)

# Milvus components whose gRPC port and advertised address the server's config sets
COMPONENTS = ("rootCoord", "proxy", "queryCoord", "queryNode", "indexCoord", "indexNode", "dataCoord", "dataNode")


# Quicker ticks for tests: a Strong-consistency request waits for the next time tick (200 ms by
# default) and a load for the query coordinator's next check (1 s): a test's dozens of small
# requests on fresh collections spend most of their time there. Not for measuring a deployment.
TEST_SETTINGS: dict[str, object] = {"proxy.timeTickInterval": 20, "queryCoord.checkInterval": 100,
                                    "queryCoord.distPullInterval": 100}


class MilvusServerUnavailable(GalleryError):
    """The ``milvus`` package is missing, or its server did not start."""


def local_milvus_available() -> bool:
    """Whether the ``milvus`` package (the bundled standalone server) can be imported.

    Returns:
        True when ``LocalMilvusServer`` can start a server here.
    """
    import importlib.util

    try:
        return importlib.util.find_spec("milvus") is not None
    except ValueError:  # a module set to None in sys.modules (how tests hide a package)
        return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalMilvusServer:
    """The ``milvus`` package's standalone server, on loopback ports, with its data in ``base_dir``.

    Args:
        base_dir: folder for the server's binaries, config, logs and data (created).
        port: the client port, or None for a free one.
        startup_timeout_s: how long ``start()`` waits for the server to report healthy.
        settings: Milvus configuration values by dotted key (``{"proxy.timeTickInterval": 50}``;
            only keys the package's config template has), e.g. ``TEST_SETTINGS``.
    """

    def __init__(self, base_dir: str | Path, port: int | None = None, startup_timeout_s: float = 120.0,
                 settings: dict[str, object] | None = None) -> None:
        self.base_dir = Path(base_dir).absolute()
        self.port = port or _free_port()
        self.startup_timeout_s = startup_timeout_s
        self.settings = dict(settings or {})
        self.health_port = 0
        self._server = None
        self._watchdog: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        """The client address (``http://127.0.0.1:PORT``), as pymilvus takes it."""
        return f"http://127.0.0.1:{self.port}"

    def uri(self, name: str = "faceprint") -> str:
        """A faceprint gallery URI on this server.

        Args:
            name: the gallery's name (its collections' prefix).

        Returns:
            ``milvus://127.0.0.1:PORT/name``.
        """
        return f"milvus://127.0.0.1:{self.port}/{name}"

    @property
    def pid(self) -> int | None:
        """The server process's id while it runs."""
        proc = self._server.server_proc if self._server is not None else None
        return proc.pid if proc is not None else None

    @property
    def log_dir(self) -> Path:
        """Where the server writes its logs."""
        return self.base_dir / "logs"

    def start(self) -> LocalMilvusServer:
        """Start the server and wait until its health check answers.

        Returns:
            self.

        Raises:
            MilvusServerUnavailable: the ``milvus`` package is missing, or the server exited or
                did not become healthy in time (the message quotes its log's last lines).
        """
        try:
            from milvus import MilvusServer, MilvusServerConfig
        except ImportError as exc:
            raise MilvusServerUnavailable("starting a local Milvus server needs the 'milvus' package "
                                          "(Linux x86_64): pip install milvus") from exc
        self.base_dir.mkdir(parents=True, exist_ok=True)
        default = MilvusServerConfig()
        config = MilvusServerConfig(template=str(self._template(default.template_text)), data_dir=str(self.base_dir))
        config.glog_conf_file = default.glog_conf_file  # set only when the package's own template is used
        ports = {key: _free_port() for key in config.configurable_items if key.endswith("_port")}
        ports["proxy_port"] = self.port
        config.update(**ports)
        for component in COMPONENTS:  # advertise loopback to the other components, not the first NIC
            config.set(f"{component}.ip", "127.0.0.1")
        for key, value in self.settings.items():
            config.set(key, value)
        self._write_etcd_config(ports["etcd_port"])
        server = MilvusServer(config, wait_for_started=False)
        server.webservice_port = _free_port()  # the metrics and /healthz port (9091 by default)
        self._server = server
        server.start()
        self._watchdog = _watch_parent(server.server_proc.pid)
        self.health_port = server.webservice_port
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        log.info("Milvus %s up on 127.0.0.1:%d (pid %s, data in %s)", self.version(), self.port, self.pid, self.base_dir)
        return self

    def _template(self, text: str) -> Path:
        """The package's config template plus ``etcd.config.path`` (the embedded etcd's own
        config, the only way to move etcd off 2379/2380)."""
        anchor = "  use:\n    embed: true"
        if anchor not in text:
            raise MilvusServerUnavailable("this version of the 'milvus' package has an unexpected config template; "
                                          "pip install 'milvus>=2.3.5,<2.4'")
        path = self.base_dir / "milvus.yaml.template"
        etcd = self.base_dir / "etcd.yaml"
        path.write_text(text.replace(anchor, f"  config:\n    path: {etcd}\n{anchor}"), encoding="utf-8")
        return path

    def _write_etcd_config(self, client_port: int) -> None:
        peer = f"http://127.0.0.1:{_free_port()}"
        client = f"http://127.0.0.1:{client_port}"
        (self.base_dir / "etcd.yaml").write_text(
            "name: faceprint-local\n"
            f"data-dir: {self.base_dir / 'data' / 'etcd.data'}\n"
            f"listen-client-urls: {client}\nadvertise-client-urls: {client}\n"
            f"listen-peer-urls: {peer}\ninitial-advertise-peer-urls: {peer}\n"
            f"initial-cluster: faceprint-local={peer}\n"
            "initial-cluster-state: new\n", encoding="utf-8")

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        url = f"http://127.0.0.1:{self.health_port}/healthz"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through $http_proxy
        while time.monotonic() < deadline:
            proc = self._server.server_proc
            if proc is None or proc.poll() is not None:
                raise MilvusServerUnavailable(f"the Milvus server exited at start ({self._log_tail()}); "
                                              f"see its logs in {self.log_dir}")
            try:
                with opener.open(url, timeout=2) as resp:
                    if b"OK" in resp.read():
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise MilvusServerUnavailable(f"the Milvus server was not healthy after {self.startup_timeout_s:.0f} s "
                                      f"({self._log_tail()}); see its logs in {self.log_dir}")

    def _log_tail(self, lines: int = 3) -> str:
        try:
            text = (self.log_dir / "milvus-stderr.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return " | ".join(text[-lines:])[-600:] or "empty log"

    def version(self) -> str:
        """The server's version as it reports it (e.g. ``v2.3.5-lite``), or ``"?"``.

        Returns:
            The version string.
        """
        try:
            from pymilvus import MilvusClient

            client = MilvusClient(self.address, timeout=10)
            try:
                return str(client.get_server_version())
            finally:
                client.close()
        except Exception:  # noqa: BLE001 (a label only)
            return "?"

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout_s``); the data folder stays.

        Args:
            timeout_s: how long to wait for a clean exit.
        """
        server, self._server = self._server, None
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None and watchdog.poll() is None:
            watchdog.kill()
            watchdog.wait(timeout=5)
        if server is None:
            return
        proc = server.server_proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("Milvus server (pid %d) did not stop in %.0f s; killing it", proc.pid, timeout_s)
                proc.kill()
                proc.wait(timeout=10)
        server.server_proc = None
        server.stop()  # closes its log files

    def __enter__(self) -> LocalMilvusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _watch_parent(server_pid: int) -> subprocess.Popen:
    """A small process in a session of its own that ends the server when this process is gone
    (killed with SIGKILL, say, where ``stop`` never runs), so no server is left holding its ports."""
    script = (f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 2; done; kill {server_pid} 2>/dev/null; "
              f"sleep 10; kill -9 {server_pid} 2>/dev/null")
    return subprocess.Popen(["sh", "-c", script], start_new_session=True, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

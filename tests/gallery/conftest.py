"""A real Milvus server for the gallery tests: the ``milvus`` package's standalone Milvus 2.3,
started once per test session on 127.0.0.1 (free ports, a temporary data folder, quicker time
ticks: ``TEST_SETTINGS``) and stopped at the end. Tests that use it skip with a reason where the
package is missing (it is Linux x86_64 only: ``pip install milvus``, in the ``dev`` extra)."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path
from typing import Iterator

import pytest

_server_galleries = itertools.count()  # one gallery name (collection prefix) per use of the server


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory) -> Iterator[object]:
    """The running ``LocalMilvusServer`` (its ``uri(name)`` makes a gallery URI on it)."""
    from faceprint.gallery.milvus_server import TEST_SETTINGS, LocalMilvusServer, local_milvus_available
    from faceprint.gallery.milvus_store import milvus_available

    if not milvus_available():
        pytest.skip("pymilvus not installed: pip install -e '.[milvus]'")
    if not local_milvus_available():
        pytest.skip("the 'milvus' package (a Milvus standalone server, Linux x86_64) is not installed: pip install milvus")
    server = LocalMilvusServer(Path(tmp_path_factory.mktemp("milvus-server")), settings=TEST_SETTINGS)
    server.start()
    try:
        yield server
    finally:
        server.stop(timeout_s=2)
        shutil.rmtree(server.base_dir, ignore_errors=True)  # ~250 MB of unpacked binaries, then the data



@pytest.fixture
def uri(request: pytest.FixtureRequest, tmp_path: Path):
    """``uri(backend, name="g")``: a gallery URI on ``sqlite``, ``milvus-lite`` or ``milvus-server``,
    the same for the same name within a test (a fresh gallery per test; the real server is started
    on first use). Milvus backends skip where pymilvus/milvus-lite is missing."""
    from faceprint.gallery.milvus_store import milvus_available

    made: dict[tuple[str, str], str] = {}

    def make(backend: str, name: str = "g") -> str:
        if (backend, name) not in made:
            if backend != "sqlite" and not milvus_available(lite=True):
                pytest.skip("pymilvus/milvus-lite not installed: pip install -e '.[milvus]'")
            if backend == "milvus-server":
                made[backend, name] = request.getfixturevalue("milvus_server").uri(f"t{next(_server_galleries)}")
            elif backend == "milvus-lite":
                made[backend, name] = f"milvus-lite://{tmp_path / (name + '.db')}"
            else:
                made[backend, name] = str(tmp_path / f"{name}.db")
        return made[backend, name]

    return make

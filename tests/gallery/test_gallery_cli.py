"""The gallery through the CLI: a gallery's model comes from the gallery on both backends, and
files the system refuses (unwritable outputs, an unreadable probe, a damaged export) are one-line
errors, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from markers import needs_mfn


@pytest.fixture(scope="module")
def two_people(lfw: Path, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("people")
    for name in ("Colin_Powell", "Serena_Williams"):
        (root / name).mkdir()
        for p in sorted((lfw / name).glob("*.jpg"))[1:3]:
            (root / name / p.name).write_bytes(p.read_bytes())
    return root


def _cli(*args: str, code: int = 0) -> dict:
    from typer.testing import CliRunner

    from faceprint.cli.main import app

    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == code, result.output
    return json.loads(result.stdout) if code == 0 else {"output": result.output}


@needs_mfn
@pytest.mark.parametrize("backend", ["sqlite", "milvus-lite"])
def test_cli_enrol_into_a_gallery_created_with_another_model(backend: str, two_people: Path, tmp_path: Path) -> None:
    if backend == "milvus-lite":
        from faceprint.gallery.milvus_store import milvus_available

        if not milvus_available(lite=True):
            pytest.skip("pymilvus/milvus-lite not installed: pip install -e '.[milvus]'")
        uri = f"milvus-lite://{tmp_path / 'g.db'}"
    else:
        uri = str(tmp_path / "g.db")
    assert _cli("gallery", "create", uri, "--model", "mobilefacenet")["model"] == "mobilefacenet"
    out = _cli("gallery", "create", uri, code=1)["output"]
    assert "exists already" in out
    out = _cli("gallery", "enrol", str(two_people), "-g", uri, "--no-progress")
    assert out["added"] == 4 and out["subjects"] == 2
    listing = _cli("gallery", "list", "-g", uri)
    assert listing["model"] == "mobilefacenet" and listing["faces"] == 4
    export = tmp_path / "g.npz"
    _cli("gallery", "export", str(export), "-g", uri)
    # import into a new gallery of the same backend: it takes the export's model
    target = uri.replace("g.db", "h.db")
    assert _cli("gallery", "import", str(export), "-g", target)["imported"] == 4
    assert _cli("gallery", "list", "-g", target)["model"] == "mobilefacenet"


# -- files the system refuses: one line, no traceback ----------------------------------------------------

@pytest.fixture(scope="module")
def small_gallery(two_people: Path, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("g") / "team.db"
    _cli("gallery", "enrol", str(two_people), "-g", str(path), "--no-progress")
    return path


def test_unwritable_outputs_are_one_line_errors(small_gallery: Path, lfw: Path) -> None:
    probe = str(sorted((lfw / "Colin_Powell").glob("*.jpg"))[5])
    for args in (["identify", probe, "-g", str(small_gallery), "-o", "/proc/nope/names.json"],
                 ["identify", probe, "-g", str(small_gallery), "--draw", "/proc/nope/named.jpg"],
                 ["gallery", "export", "/proc/nope/x.npz", "-g", str(small_gallery)]):
        out = _cli(*args, code=1)["output"]
        assert "error: " in out and "/proc/nope" in out, out


def test_unreadable_probe_is_a_one_line_error(small_gallery: Path, lfw: Path) -> None:
    unreadable = Path("/proc/self/mem")  # a regular file that read() refuses (EIO), even for root
    try:
        unreadable.read_bytes()
        pytest.skip("/proc/self/mem is readable here")
    except OSError:
        pass
    out = _cli("identify", str(unreadable), "-g", str(small_gallery), code=1)["output"]
    assert "error: " in out and "mem" in out
    # among several photos, the unreadable one is listed and the rest identified
    probe = str(sorted((lfw / "Colin_Powell").glob("*.jpg"))[5])
    out = _cli("identify", probe, str(unreadable), "-g", str(small_gallery))
    assert len(out["results"]) == 1 and out["errors"][0]["image"] == str(unreadable)


def test_damaged_export_header_is_a_gallery_error(small_gallery: Path, tmp_path: Path) -> None:
    from faceprint import Gallery
    from faceprint.errors import GalleryError

    good = tmp_path / "good.npz"
    _cli("gallery", "export", str(good), "-g", str(small_gallery))
    with np.load(good) as data:
        header, vectors = json.loads(bytes(data["header"]).decode()), data["vectors"]
    for broken in ({k: v for k, v in header.items() if k != "signature"},
                   {**header, "faces": [{"subject": "x"}]}):
        bad = tmp_path / "bad.npz"
        np.savez(bad, header=np.frombuffer(json.dumps(broken).encode(), np.uint8), vectors=vectors)
        with Gallery(small_gallery) as g, pytest.raises(GalleryError, match="damaged gallery export"):
            g.import_(bad)
        out = _cli("gallery", "import", str(bad), "-g", str(small_gallery), code=1)["output"]
        assert "damaged gallery export" in out

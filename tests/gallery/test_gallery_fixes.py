"""Regression tests for the gallery review fixes: the quantile curve, the CLI's model default,
friendly OS errors, per-batch hashing in enrol."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from faceprint import thresholds as ident


@pytest.mark.parametrize("model", ["dlib", "dlib+mobilefacenet", "mobilefacenet"])
def test_quantile_follows_the_stored_table_inside_its_range(model: str) -> None:
    entry = ident._identification_table()["models"][model]
    grid_p = entry["quantiles"]["p"]
    grid_t = entry["quantiles"]["t"]
    for p, t in zip(grid_p, grid_t):  # at the grid points: the stored empirical quantiles
        assert ident.quantile(entry, p) == pytest.approx(t, abs=1e-9), p
    ps = sorted(grid_p)
    fine = np.clip(np.exp(np.linspace(math.log(ps[0]), math.log(ps[-1]), 400)), ps[0], ps[-1])
    values = [ident.quantile(entry, float(p)) for p in fine]
    assert all(a <= b + 1e-12 for a, b in zip(values, values[1:]))  # monotone between them
    lo, hi = sorted(grid_t)[0], sorted(grid_t)[-1]
    assert all(lo - 1e-9 <= v <= hi + 1e-9 for v in values)
    # below the grid: the probit tail, still below the smallest empirical quantile
    assert ident.quantile(entry, ps[0] / 10) < min(grid_t)


# -- a gallery's model comes from the gallery ------------------------------------------------------------

def _mfn_installed() -> bool:
    try:
        from faceprint.models import mobilefacenet

        return mobilefacenet.installed_model_path().is_file()
    except Exception:  # noqa: BLE001 (not installed, in any way)
        return False


needs_mfn = pytest.mark.skipif(not _mfn_installed(), reason="mobilefacenet not installed: faceprint models install mobilefacenet")


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
def test_python_gallery_default_model_is_the_stored_one(tmp_path: Path) -> None:
    from faceprint import Gallery

    path = tmp_path / "mfn.db"
    with Gallery(path, model="mobilefacenet") as g:
        signature = g.signature
    with Gallery(path) as g:  # was: GalleryMismatch "holds 'mobilefacenet' vectors, not 'dlib'"
        assert g.model == "mobilefacenet" and g.signature == signature
    with Gallery(tmp_path / "new.db") as g:  # a new gallery without a model: dlib
        assert g.model == "dlib"


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


# -- enrol hashes one batch at a time --------------------------------------------------------------------

def test_enrol_folder_hashes_per_batch_not_all_up_front(lfw: Path, tmp_path: Path, monkeypatch) -> None:
    """100k photos must not all be read into memory before the first batch is embedded."""
    import faceprint.api
    from faceprint import Gallery
    from faceprint.gallery import gallery as gallery_module

    people = tmp_path / "people"
    count = 0
    for folder in sorted(p for p in lfw.iterdir() if p.is_dir()):
        if count >= gallery_module.ENROL_BATCH + 10:
            break
        (people / folder.name).mkdir(parents=True)
        for p in sorted(folder.glob("*.jpg"))[:2]:
            (people / folder.name / p.name).write_bytes(p.read_bytes())
            count += 1
    hashed, kept, at_first_embed = [], [], []
    real_digest = gallery_module._digest

    def counting_digest(source):
        hashed.append(source)
        return real_digest(source)

    class Stop(Exception):
        pass

    def first_embed(sources, **kwargs):
        at_first_embed.append(len(hashed))
        kept.extend(sources)
        raise Stop

    monkeypatch.setattr(gallery_module, "_digest", counting_digest)
    monkeypatch.setattr(faceprint.api, "embed_many", first_embed)
    with Gallery(tmp_path / "g.db") as g, pytest.raises(Stop):
        g.enrol_folder(people)
    assert at_first_embed == [gallery_module.ENROL_BATCH], (at_first_embed, count)
    assert all(isinstance(s, Path) for s in kept)  # paths: the embedder reads them, no bytes held


def test_keep_photos_still_stores_the_photo(lfw: Path, tmp_path: Path) -> None:
    from faceprint import Gallery

    photo = sorted((lfw / "Serena_Williams").glob("*.jpg"))[1]
    with Gallery(tmp_path / "g.db") as g:
        assert g.enrol("Serena", [photo], keep_photos=True).added == 1
        (face,) = g.faces("Serena")
        assert g._store.photo(face.id) == photo.read_bytes()


def test_enrol_names_problems_by_the_labels_given(tmp_path: Path, astronaut: Path) -> None:
    from faceprint.errors import BadInput
    from faceprint.gallery import Gallery

    with Gallery(tmp_path / "g.db") as g:
        report = g.enrol("Eileen", [astronaut.read_bytes(), b"not a photo"], labels=["eileen.png", "notes.txt"])
        assert report.added == 1 and set(report.problems) == {"notes.txt"}
        with pytest.raises(BadInput, match="2 labels for 1 photos"):
            g.enrol("Eileen", [b"x"], labels=["a", "b"])


def test_a_calibrated_threshold_says_when_the_gallery_has_outgrown_it(tmp_path: Path) -> None:
    from faceprint.gallery import Gallery

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with Gallery(tmp_path / "g.db") as g:
        g.add_vectors([f"p{i}" for i in range(10)], vectors[:10])
        g.save_threshold({"threshold": 0.3, "gallery_faces": 10})
        assert g.threshold_and_source() == (0.3, "calibrated on this gallery")
        g.add_vectors([f"q{i}" for i in range(30)], vectors[10:])
        threshold, source = g.threshold_and_source()
        assert threshold == 0.3 and "stale" in source and "10 faces" in source

"""Shared fixtures. Real faces come from ../shared/data (or $FACEPRINT_DATA); tests that need it
skip with a reason when it is absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceprint import settings

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    root = settings.data_dir()
    if root is None or not (root / "lfw").is_dir():
        pytest.skip("shared face data not found: set FACEPRINT_DATA to the folder holding lfw/")
    return root


@pytest.fixture(scope="session")
def lfw(data_dir: Path) -> Path:
    return data_dir / "lfw"


@pytest.fixture(scope="session")
def astronaut() -> Path:
    return FIXTURES / "astronaut.png"


@pytest.fixture(scope="session")
def group_photo(lfw: Path) -> np.ndarray:
    """A 2x3 grid of six different people's LFW photos: one composed multi-face image."""
    from faceprint.images import load_image

    names = ["Aaron_Peirsol", "Angelina_Jolie", "Colin_Powell", "George_W_Bush", "Serena_Williams", "Tony_Blair"]
    tiles = [load_image(lfw / n / f"{n}_0001.jpg") for n in names]
    rows = [np.concatenate(tiles[i : i + 3], axis=1) for i in (0, 3)]
    return np.concatenate(rows, axis=0)


@pytest.fixture(scope="session")
def copy_celeba_people(data_dir: Path):
    """A function making a small training folder: ``per_person`` CelebA 112x112 crops of each of
    the first ``people`` identities that have that many, copied under ``root``; it returns the
    people's folders in ``root``."""
    import shutil

    source = data_dir / "celeba_112" / "images"

    def copy(root: Path, people: int, per_person: int = 8) -> list[Path]:
        chosen = sorted(p for p in source.iterdir() if p.is_dir() and len(list(p.glob("*.jpg"))) >= per_person)
        for person in chosen[:people]:
            (root / person.name).mkdir()
            for image in sorted(person.glob("*.jpg"))[:per_person]:
                shutil.copy(image, root / person.name / image.name)
        return [root / p.name for p in chosen[:people]]

    return copy


@pytest.fixture(scope="session")
def running_service():
    """A function: ``running_service(root, **ServiceConfig options)``, a context manager that starts
    the service on a fresh gallery in ``root`` (or the ``gallery`` option's) with one admin and one recognise key, waits until it
    is ready and yields ``{"client", "admin", "reader", "root", "keys", "app"}`` (keys as headers)."""
    import time
    from contextlib import contextmanager

    @contextmanager
    def run(root: Path, **options):
        from fastapi.testclient import TestClient

        from faceprint.service.app import create_app
        from faceprint.service.config import ServiceConfig
        from faceprint.service.keys import KeyStore

        keys = KeyStore(root / "keys.json")
        admin, _ = keys.create("admin", "test admin")
        reader, _ = keys.create("recognise", "test reader")
        config = ServiceConfig(gallery=options.pop("gallery", root / "gallery.db"), keys=root / "keys.json", **options)
        with TestClient(create_app(config)) as client:
            deadline = time.monotonic() + 60.0
            while client.get("/readyz").status_code != 200:
                if time.monotonic() > deadline:
                    raise AssertionError("service not ready")
                time.sleep(0.05)
            yield {"client": client, "admin": {"X-API-Key": admin}, "reader": {"X-API-Key": reader}, "root": root,
                   "keys": keys, "app": client.app}

    return run

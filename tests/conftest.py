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

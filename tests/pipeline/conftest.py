"""Fixtures of the pipeline's tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def photos(lfw: Path) -> list[Path]:
    """One LFW photo each of three people."""
    return [lfw / n / f"{n}_0001.jpg" for n in ("Colin_Powell", "Serena_Williams", "Tony_Blair")]


@pytest.fixture(scope="module")
def photo(lfw: Path) -> Path:
    """One LFW photo of one face."""
    return lfw / "Colin_Powell" / "Colin_Powell_0001.jpg"

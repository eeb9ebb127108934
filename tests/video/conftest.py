"""Fixtures shared by the video tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def crowd(data_dir: Path) -> Path:
    """The real 1080p street video of the shared data (skips where it is absent)."""
    path = data_dir / "video" / "crowd_1080p.mp4"
    if not path.is_file():
        pytest.skip("video/crowd_1080p.mp4 not in the shared data")
    return path

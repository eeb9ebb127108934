"""``FACEPRINT_MAX_PIXELS``: a bad value is one BadInput line that says what to set, never a
ValueError traceback or a silently replaced value; Python's digit grouping is taken."""

from __future__ import annotations

import pytest

from faceprint import settings
from faceprint.errors import BadInput


def test_a_bad_max_pixels_variable_says_what_to_set(monkeypatch):
    for bad in ("abc", "-5", "0", "1.5"):
        monkeypatch.setenv("FACEPRINT_MAX_PIXELS", bad)
        with pytest.raises(BadInput, match="FACEPRINT_MAX_PIXELS"):
            settings.max_pixels()
    monkeypatch.setenv("FACEPRINT_MAX_PIXELS", "1_000_000")
    assert settings.max_pixels() == 1_000_000
    monkeypatch.delenv("FACEPRINT_MAX_PIXELS")
    assert settings.max_pixels() == settings.DEFAULT_MAX_PIXELS


def test_max_pixels_takes_python_digit_grouping_only(monkeypatch):
    monkeypatch.setenv("FACEPRINT_MAX_PIXELS", "1_000_000")
    assert settings.max_pixels() == 1_000_000
    for bad in ("_5", "5_", "1__0"):
        monkeypatch.setenv("FACEPRINT_MAX_PIXELS", bad)
        with pytest.raises(BadInput, match="FACEPRINT_MAX_PIXELS"):
            settings.max_pixels()

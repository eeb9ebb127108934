"""Skip markers shared by test files of several folders."""

from __future__ import annotations

import pytest


def _mfn_installed() -> bool:
    try:
        from faceprint.models import mobilefacenet

        return mobilefacenet.installed_model_path().is_file()
    except Exception:  # noqa: BLE001 (not installed, in any way)
        return False


needs_mfn = pytest.mark.skipif(not _mfn_installed(), reason="mobilefacenet not installed: faceprint models install mobilefacenet")

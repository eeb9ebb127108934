"""Fixtures of the service's tests (the shared ones, ``running_service`` among them, are in
``tests/conftest.py``)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def env(tmp_path_factory, running_service):
    """A service on a fresh gallery for each test module, with one key of each scope; requests
    over 3 MB are refused (413)."""
    with running_service(tmp_path_factory.mktemp("service"), max_body_bytes=3 * 1024 * 1024) as started:
        yield started

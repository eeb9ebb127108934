"""schemathesis against the service's OpenAPI schema: generated requests to every operation, on a
running `faceprint serve`, never get a 5xx, and answers match the documented statuses and bodies.

Valid (positive) and invalid (negative) data for each operation; bounded to a few examples each,
so it takes well under a minute.
"""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="the service needs its extra: pip install 'faceprint[serve]'")
schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed: pip install schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402

MAX_EXAMPLES = 12


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    from faceprint.service.keys import KeyStore
    from faceprint.service.launch import LocalServer

    root = tmp_path_factory.mktemp("schema")
    key, _ = KeyStore(root / "keys.json").create("admin", "schemathesis")
    with LocalServer(root / "gallery.db", root / "keys.json") as server:
        server.key = key
        yield server


@pytest.mark.slow
def test_no_server_errors(running):
    import itertools

    from hypothesis import given
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

    schema = schemathesis.openapi.from_url(running.url + "/openapi.json")
    checks = [not_a_server_error, status_code_conformance, response_schema_conformance]
    tested, failures, statuses = [], [], []
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation, mode in itertools.product(operations, (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case) -> None:
            response = case.call(headers={"X-API-Key": running.key}, timeout=60)
            statuses.append(response.status_code)
            case.validate_response(response, checks=checks)

        try:
            check()
        except Unsatisfiable:  # nothing to make invalid (a route without parameters or body)
            assert mode == GenerationMode.NEGATIVE and operation.path in ("/healthz", "/readyz"), operation.label
        except Exception as exc:  # collect every operation's failure, then report them together
            failures.append(f"{operation.label} ({mode.value} data): {exc}")
        tested.append(operation.label)
    assert len(set(tested)) >= 14, tested
    assert len(statuses) >= 5 * len(tested)  # requests were really made, and answered
    assert any(200 <= s < 300 for s in statuses) and any(400 <= s < 500 for s in statuses)
    assert not failures, "\n\n".join(failures)

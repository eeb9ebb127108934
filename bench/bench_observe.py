"""What metrics and the audit log cost a request: the observer's own work per request (matching
the route template, counting, writing an audit line) timed in a loop; the same keyed requests
through an app with the observer and through one without it, interleaved in rounds (the fastest
round of each: the machine is shared); and the time of one `/metrics` scrape on a gallery of many
subjects.

    nice python bench/bench_observe.py --requests 400 --rounds 5 --subjects 2000

Requests go through Starlette's in-process test client (no sockets), with its overhead in both
sides alike. The models are never loaded (`warm=False`, routes that do not use them). Audit lines
are made but not printed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def build(root: Path, observed: bool):
    from faceprint.service.app import create_app
    from faceprint.service.config import ServiceConfig
    from faceprint.service.observe import RequestObserver

    app = create_app(ServiceConfig(gallery=root / "gallery.db", keys=root / "keys.json", warm=False))
    if not observed:
        app.user_middleware = [m for m in app.user_middleware if m.cls is not RequestObserver]
    return app


def per_request_us(client, headers: dict[str, str], n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        # an admin action that fails (404): audited, counted, no model, no gallery change
        answer = client.delete(f"/v1/subjects/nobody-{i}", headers=headers)
        assert answer.status_code == 404, answer.text
    return (time.perf_counter() - started) / n * 1e6


def observer_work_us(app, n: int) -> float:
    """The observer's work for one audited request (route match, metrics, audit line), in a loop."""
    from faceprint.service.audit import AuditRecord
    from faceprint.service.observe import RequestObserver, RouteTable

    observer = RequestObserver(None, app.state.metrics, _audit_log())
    observer.routes = RouteTable(app)
    scope = {"type": "http", "method": "DELETE", "path": "/v1/subjects/Ada Lovelace", "root_path": "",
             "client": ("127.0.0.1", 5000), "headers": [(b"x-api-key", b"fpk_0123abcd_x")]}
    started = time.perf_counter()
    for _ in range(n):
        route, params = observer.routes.match(scope)
        observer._done(scope, route, params, 404, AuditRecord(key_id="0123abcd", admin=True), 0.001)
    return (time.perf_counter() - started) / n * 1e6


def _audit_log():
    from faceprint.service.audit import AuditLog

    return AuditLog()


def main() -> None:
    import logging

    from fastapi.testclient import TestClient

    from faceprint.gallery import Gallery
    from faceprint.service.keys import KeyStore

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--subjects", type=int, default=2000)
    args = parser.parse_args()
    logging.getLogger("faceprint.audit").addHandler(logging.NullHandler())
    logging.getLogger("faceprint.audit").propagate = False  # the lines are made, not printed
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        key, _ = KeyStore(root / "keys.json").create("admin", "bench")
        headers = {"X-API-Key": key}
        with Gallery(root / "gallery.db", create=True) as gallery:
            for i in range(args.subjects):
                gallery.add_subject(f"person {i:05d}")
        with TestClient(build(root, True)) as on, TestClient(build(root, False)) as off:
            per_request_us(on, headers, 20), per_request_us(off, headers, 20)  # warm up
            work = statistics.median(observer_work_us(on.app, 2000) for _ in range(args.rounds))
            with_observer, without = [], []
            for _ in range(args.rounds):
                with_observer.append(per_request_us(on, headers, args.requests))
                without.append(per_request_us(off, headers, args.requests))
            scrapes = []
            for _ in range(args.rounds):
                started = time.perf_counter()
                text = on.get("/metrics", headers=headers).text
                scrapes.append((time.perf_counter() - started) * 1e3)
        a, b = min(with_observer), min(without)
        print(f"observer's own work {work:8.1f} us/request (route match, metrics, audit line; median of rounds)")
        print(f"requests: {args.requests} x {args.rounds} rounds, DELETE /v1/subjects/<unknown> (404, audited)")
        print(f"with observer       {a:8.0f} us/request (fastest round)")
        print(f"without observer    {b:8.0f} us/request (fastest round)")
        print(f"/metrics scrape  {statistics.median(scrapes):8.1f} ms with {args.subjects} subjects "
              f"({len(text.splitlines())} lines)")


if __name__ == "__main__":
    main()

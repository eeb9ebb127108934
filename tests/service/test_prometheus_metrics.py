"""Prometheus metrics at ``GET /metrics``: admin keys only, counters that move with the requests,
labels by route template (never a name from a path), a registry per app."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("fastapi", reason="the service needs its extra: pip install 'faceprint[serve]'")
pytest.importorskip("multipart", reason="the service needs python-multipart: pip install 'faceprint[serve]'")
pytest.importorskip("prometheus_client", reason="metrics need prometheus-client: pip install 'faceprint[serve]'")

from service_helpers import assert_error, blank_jpeg, named_photo  # noqa: E402

SECRET_NAME = "Zelda Quuxworth"


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition text (0.0 when it is absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" ([0-9.e+-]+)$"
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def scrape(env) -> str:
    answer = env["client"].get("/metrics", headers={"Authorization": "Bearer " + env["admin"]["X-API-Key"]})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return answer.text


def test_metrics_need_an_admin_key(env):
    c = env["client"]
    assert_error(c.get("/metrics"), 401, "unauthorised")
    assert_error(c.get("/metrics", headers={"X-API-Key": "fpk_00000000_nope"}), 401, "unauthorised")
    assert_error(c.get("/metrics", headers=env["reader"]), 403, "forbidden")
    assert c.get("/metrics", headers=env["admin"]).status_code == 200
    # a scraper's key: /metrics and nothing else
    scraper = {"X-API-Key": env["keys"].create("metrics", "test scraper")[0]}
    assert c.get("/metrics", headers=scraper).status_code == 200
    assert_error(c.get("/v1/subjects", headers=scraper), 403, "forbidden")
    assert_error(c.post("/v1/detect", files={"image": ("a.jpg", blank_jpeg())}, headers=scraper), 403, "forbidden")
    # an operator's endpoint, not part of the API's schema
    assert "/metrics" not in c.get("/openapi.json").json()["paths"]


def test_requests_move_the_counters(env, lfw):
    c, admin, reader = env["client"], env["admin"], env["reader"]
    before = scrape(env)
    detect = {"method": "POST", "route": "/v1/detect", "status": "200"}
    assert c.post("/v1/detect", files={"image": ("a.jpg", blank_jpeg())}, headers=reader).status_code == 200
    assert c.post("/v1/detect", files={"image": ("a.jpg", blank_jpeg())}, headers=reader).status_code == 200
    photo = named_photo(lfw, "Colin_Powell", 1)
    answer = c.post(f"/v1/subjects/{SECRET_NAME}/faces", files={"images": photo}, headers=admin)
    assert answer.status_code == 201, answer.text
    assert c.get(f"/v1/subjects/{SECRET_NAME}", headers=reader).status_code == 200
    assert c.get("/v1/subjects/Nobody%20Here", headers=reader).status_code == 404
    after = scrape(env)

    assert sample(after, "faceprint_http_requests_total", **detect) == sample(before, "faceprint_http_requests_total",
                                                                              **detect) + 2
    assert sample(after, "faceprint_http_request_duration_seconds_count", method="POST", route="/v1/detect") >= 2
    # by the route's template: both names are counted under one label, neither appears
    show = {"method": "GET", "route": "/v1/subjects/{name}"}
    assert sample(after, "faceprint_http_requests_total", **show, status="200") >= 1
    assert sample(after, "faceprint_http_requests_total", **show, status="404") >= 1
    enrolled = sample(after, "faceprint_faces_enrolled_total") - sample(before, "faceprint_faces_enrolled_total")
    assert enrolled == 1
    assert sample(after, "faceprint_batch_images_count") >= sample(before, "faceprint_batch_images_count") + 2
    assert sample(after, "faceprint_engine_busy_seconds_total") > sample(before, "faceprint_engine_busy_seconds_total")
    assert sample(after, "faceprint_gallery_faces") >= 1
    assert sample(after, "faceprint_gallery_subjects") >= 1
    assert sample(after, "faceprint_queue_images") == 0
    assert sample(after, "faceprint_ready") == 1


def test_metrics_leak_no_name_path_or_key(env, lfw):
    c, admin = env["client"], env["admin"]
    c.post(f"/v1/subjects/{SECRET_NAME}/faces", files={"images": named_photo(lfw, "Colin_Powell", 2)}, headers=admin)
    c.get("/v1/subjects/Another%20Secret%20Person", headers=env["reader"])
    c.get("/no/such/Hidden%20Person/route", headers=env["reader"])  # an unknown path: one label for all
    c.request("BREW", "/v1/subjects", headers=env["reader"])  # an unknown method: one label for all
    text = scrape(env)
    for leak in (SECRET_NAME, "Zelda", "Another", "Hidden", "BREW", str(env["root"]), "gallery.db", "keys.json",
                 admin["X-API-Key"], env["reader"]["X-API-Key"]):
        assert leak not in text, leak
    assert 'route="unmatched"' in text
    routes = set(re.findall(r'route="([^"]*)"', text))
    assert routes <= {"unmatched", "/metrics", "/readyz", "/healthz", "/", "/docs", "/openapi.json", "/static/{path}"} | {
        r for r in routes if r.startswith("/v1/")}
    assert all("{" in r or r.count("/") <= 3 for r in routes if r.startswith("/v1/")), routes


def test_each_app_counts_its_own(tmp_path, running_service):
    # two apps in one process: no clash in a global registry, no counts shared
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    with running_service(tmp_path / "a", warm=False) as first, running_service(tmp_path / "b", warm=False) as second:
        for _ in range(3):
            first["client"].get("/v1/subjects", headers=first["reader"])
        ok = {"method": "GET", "route": "/v1/subjects", "status": "200"}
        assert sample(scrape(first), "faceprint_http_requests_total", **ok) == 3
        assert sample(scrape(second), "faceprint_http_requests_total", **ok) == 0

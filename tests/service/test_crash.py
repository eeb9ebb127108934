"""`faceprint serve` killed with SIGKILL while enrolling: the gallery it leaves passes `check`, the
server restarts on it, and every face the API had confirmed (201) is still there."""

from __future__ import annotations

import hashlib
import threading
import time

import pytest

pytest.importorskip("fastapi", reason="the service needs its extra: pip install 'faceprint[serve]'")
httpx = pytest.importorskip("httpx")

PEOPLE = ["Tony_Blair", "Donald_Rumsfeld", "Gerhard_Schroeder", "Ariel_Sharon", "Hugo_Chavez", "Jean_Chretien"]


def photos(lfw, folder: str, numbers) -> list[tuple[str, bytes]]:
    return [(f"{folder}_{n:04d}.jpg", (lfw / folder / f"{folder}_{n:04d}.jpg").read_bytes()) for n in numbers]


def enrol(url: str, key: str, name: str, files: list[tuple[str, bytes]]) -> httpx.Response:
    return httpx.post(f"{url}/v1/subjects/{name}/faces", headers={"X-API-Key": key},
                      files=[("images", f) for f in files], timeout=120)


def confirm(confirmed: dict[str, str], name: str, files: list[tuple[str, bytes]], response: httpx.Response) -> None:
    """Record the photos a 201 says were enrolled (all but the ones it lists as problems)."""
    assert response.status_code == 201, response.text
    problems = response.json()["problems"]
    for filename, data in files:
        if filename not in problems:
            confirmed[hashlib.sha256(data).hexdigest()] = name


@pytest.mark.slow
def test_sigkill_during_enrol_loses_nothing_confirmed(tmp_path, lfw):
    from faceprint.gallery import Gallery
    from faceprint.service.keys import KeyStore
    from faceprint.service.launch import LocalServer

    key, _ = KeyStore(tmp_path / "keys.json").create("admin")
    gallery_path = tmp_path / "gallery.db"
    confirmed: dict[str, str] = {}
    interrupted = 0
    for round_number in range(2):
        server = LocalServer(gallery_path, tmp_path / "keys.json").start()
        try:
            # some enrols that finish: confirmed before the crash
            for person in PEOPLE[:2]:
                files = photos(lfw, person, range(1 + 4 * round_number, 5 + 4 * round_number))
                confirm(confirmed, person, files, enrol(server.url, key, person, files))
            # several large enrols at once, and SIGKILL while the engine works through them
            outcomes: dict[str, object] = {}
            batches = {p: photos(lfw, p, range(10 + 12 * round_number, 22 + 12 * round_number)) for p in PEOPLE[2:]}

            def send(person: str) -> None:
                try:
                    outcomes[person] = enrol(server.url, key, person, batches[person])
                except httpx.HTTPError as exc:  # the server died under this request
                    outcomes[person] = exc

            threads = [threading.Thread(target=send, args=(p,)) for p in batches]
            for t in threads:
                t.start()
            deadline = time.monotonic() + 60
            while not outcomes and time.monotonic() < deadline:  # the first one has been answered
                time.sleep(0.02)
            time.sleep(0.3)
        finally:
            server.kill()
        for t in threads:
            t.join(60)
        for person, outcome in outcomes.items():
            if isinstance(outcome, httpx.Response):
                confirm(confirmed, person, batches[person], outcome)
            else:
                interrupted += 1
        # what the crash left passes check and still holds every confirmed face
        with Gallery(gallery_path) as gallery:
            report = gallery.check()
            assert report.ok, report.problems
            held = {face.sha256: face.subject for face in gallery.faces()}
        missing = {sha: name for sha, name in confirmed.items() if held.get(sha) != name}
        assert not missing, f"confirmed faces lost after SIGKILL: {missing}"
    assert interrupted >= 1, "the kill never landed during an enrol; the test did not test anything"

    # the server starts again on that gallery, which works: an enrolled person's new photo finds them
    with LocalServer(gallery_path, tmp_path / "keys.json") as server:
        faces = httpx.get(f"{server.url}/v1/faces", headers={"X-API-Key": key}, timeout=30).json()["faces"]
        assert set(confirmed) <= {f["sha256"] for f in faces}
        probe = (lfw / "Tony_Blair" / "Tony_Blair_0050.jpg").read_bytes()
        answer = httpx.post(f"{server.url}/v1/identify", headers={"X-API-Key": key},
                            files={"image": ("probe.jpg", probe)}, timeout=60).json()
        assert "Tony_Blair" in [f["candidates"][0]["subject"] for f in answer["faces"] if f["candidates"]]

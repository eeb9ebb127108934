"""The People view of the web page in Chromium (Debian's, under Playwright) against `faceprint
serve` on a free local port: library photos of two LFW people added from the page form two
people with face thumbnails; then, from the page, name one, move a face out to a new person and
merge it back, "not this person" on a face, delete a face, re-cluster; the gallery is checked
through the API afterwards. A read-only key sees the people but cannot change them; nothing breaks the
page's Content-Security-Policy.

Set FACEPRINT_SCREENSHOT_PEOPLE=docs/service-people.png to keep a screenshot of the view (its card)
there.
"""

from __future__ import annotations

import os
import shutil

import pytest
from web_browser import launched, opened, playwright_or_skip

sync_api = playwright_or_skip()
expect = sync_api.expect

pytestmark = pytest.mark.slow

BUSH = [f"George_W_Bush_{n:04d}.jpg" for n in (2, 3, 4)]
POWELL = [f"Colin_Powell_{n:04d}.jpg" for n in (2, 3, 4)]


@pytest.fixture(scope="module")
def server(tmp_path_factory, data_dir):
    from faceprint.service.keys import KeyStore
    from faceprint.service.launch import LocalServer

    root = tmp_path_factory.mktemp("people_web")
    keys = KeyStore(root / "keys.json")
    admin, _ = keys.create("admin", "people page")
    reader, _ = keys.create("recognise", "people viewer")
    with LocalServer(root / "gallery.db", root / "keys.json") as running:
        running.admin_key = admin
        running.reader_key = reader
        yield running


@pytest.fixture(scope="module")
def browser():
    with launched(sync_api) as chromium:
        yield chromium


def api(server, path: str) -> dict:
    import httpx

    answer = httpx.get(server.url + path, headers={"X-API-Key": server.admin_key}, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()


def photo_names(lfw) -> dict[str, str]:
    """sha256 -> LFW file name, of the photos this test adds (a face keeps its photo's digest)."""
    import hashlib

    return {hashlib.sha256((lfw / n.rsplit("_", 1)[0] / n).read_bytes()).hexdigest(): n for n in BUSH + POWELL}


def gallery_people(server, names: dict[str, str]) -> dict[str, set[str]]:
    """label -> the photo files of that person's faces, as the server's gallery holds them."""
    out = {}
    for person in api(server, "/v1/people")["people"]:
        out[person["label"]] = {names[f["sha256"]] for f in api(server, f"/v1/people/{person['id']}")["faces"]}
    return out


def face_ids(server, names: dict[str, str]) -> dict[str, int]:
    """LFW file name -> the id of its face in the gallery."""
    return {names[f["sha256"]]: f["id"] for person in api(server, "/v1/people")["people"]
            for f in api(server, f"/v1/people/{person['id']}")["faces"]}


def open_person_with(page, face_id: int) -> None:
    """Open the person who shows face ``face_id``, trying each listed person in turn."""
    for item in page.locator("#people-list .person").all():
        person_id = item.get_attribute("data-person-id")
        item.locator(".person-open").click()
        expect(page.locator("#person-panel")).to_have_attribute("data-person-id", person_id)
        if page.locator(f"#person-faces .face-pick[data-face-id='{face_id}']").count():
            return
    raise AssertionError(f"no person shows face {face_id}")


def pick(page, face_id: int) -> None:
    face = page.locator(f"#person-faces .face-pick[data-face-id='{face_id}']")
    face.click()
    expect(face).to_have_attribute("aria-pressed", "true")


def settled(page, button: str) -> None:
    expect(page.locator(button)).to_be_enabled(timeout=60_000)


def test_people_view_adds_photos_and_every_correction_reaches_the_gallery(browser, server, lfw, tmp_path):
    seen: list[str] = []
    with opened(browser, server.url + "/", key=server.admin_key) as page:
        page.on("console", lambda m: seen.append(m.text) if "Content Security Policy" in m.text else None)
        # add library photos of two people: two unnamed people, each with a thumbnail
        page.set_input_files("#photos-files", [str(lfw / name.rsplit("_", 1)[0] / name) for name in BUSH + POWELL])
        page.click("#photos-submit")
        expect(page.locator("#people-result")).to_contain_text("Added 6 faces from 6 photos", timeout=120_000)
        cards = page.locator("#people-list .person")
        expect(cards).to_have_count(2)
        expect(page.locator("#people-list img.thumb[data-loaded='yes']")).to_have_count(2)
        assert page.evaluate("[...document.querySelectorAll('#people-list img.thumb')].every(i => i.naturalWidth > 0)")
        assert all(label.startswith("person ") for label in page.locator("#people-list .label").all_text_contents())
        names = photo_names(lfw)
        face = face_ids(server, names)

        # name the person of Bush's photos
        open_person_with(page, face[BUSH[0]])
        expect(page.locator("#person-faces .face-pick")).to_have_count(3)
        expect(page.locator("#person-faces img[data-loaded='yes']")).to_have_count(3)
        page.fill("#person-name", "George W Bush")
        page.click("#person-name-submit")
        expect(page.locator("#people-list .person.named .label")).to_have_text(["George W Bush"])
        expect(page.locator("#person-title")).to_contain_text("George W Bush")

        # his name for the other person: the page says to merge instead
        open_person_with(page, face[POWELL[0]])
        page.fill("#person-name", "George W Bush")
        page.click("#person-name-submit")
        expect(page.locator("#person-error")).to_contain_text("is someone else already")
        expect(page.locator("#people-list .person.named")).to_have_count(1)

        # move one of his faces out to a new person, then merge that person back into him
        open_person_with(page, face[BUSH[0]])
        pick(page, face[BUSH[2]])
        page.select_option("#move-to", "")
        page.click("#faces-move")
        expect(cards).to_have_count(3)
        expect(page.locator("#person-faces .face-pick")).to_have_count(2)
        assert gallery_people(server, names)["George W Bush"] == set(BUSH[:2])
        loner = next(label for label, photos in gallery_people(server, names).items() if photos == {BUSH[2]})
        page.select_option("#merge-from", label=f"{loner} (1 face)")
        page.click("#person-merge-submit")
        expect(cards).to_have_count(2)
        expect(page.locator("#person-faces .face-pick")).to_have_count(3)

        # the person of Powell's photos: one face is not him
        open_person_with(page, face[POWELL[0]])
        pick(page, face[POWELL[1]])
        page.click("#faces-not-this")
        expect(page.locator("#person-faces .face-pick")).to_have_count(2)
        expect(cards).to_have_count(3)

        # delete a face (the page asks first)
        open_person_with(page, face[POWELL[2]])
        pick(page, face[POWELL[2]])
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#faces-delete")
        expect(page.locator("#person-faces .face-pick")).to_have_count(1)
        settled(page, "#people-refresh")

        # a re-cluster from the page keeps every correction (checked in the gallery below)
        page.click("#people-recluster")
        expect(page.locator("#people-result")).to_contain_text("Re-clustered: 3 people", timeout=60_000)
        expect(cards).to_have_count(3)

        open_person_with(page, face[BUSH[0]])  # after the re-cluster: his three faces, one selected
        expect(page.locator("#person-faces .face-pick")).to_have_count(3)
        pick(page, face[BUSH[1]])
        shot = tmp_path / "people.png"
        page.locator("#people-card").screenshot(path=str(shot))
        assert shot.stat().st_size > 20_000
        if os.environ.get("FACEPRINT_SCREENSHOT_PEOPLE"):
            shutil.copyfile(shot, os.environ["FACEPRINT_SCREENSHOT_PEOPLE"])
        # a phone's width: the view fits
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert seen == []

    # the gallery afterwards: every change is there
    held = gallery_people(server, names)
    assert held.pop("George W Bush") == set(BUSH)
    assert sorted(sorted(photos) for photos in held.values()) == [[POWELL[0]], [POWELL[1]]], held
    check = api(server, "/v1/people?named=false")
    assert check["total"] == 2 and all(not p["named"] for p in check["people"])


def test_a_read_only_key_sees_people_but_cannot_change_them(browser, server):
    with opened(browser, server.url + "/", key=server.reader_key) as page:
        first = page.locator("#people-list .person-open").first
        first.wait_for()
        expect(page.locator("#people-list img.thumb[data-loaded='yes']").first).to_be_visible()
        first.click()
        page.locator("#person-faces .face-pick").first.wait_for()
        for control in ("#photos-submit", "#people-recluster", "#person-name-submit", "#person-merge-submit"):
            assert page.locator(control).is_disabled(), control
        page.locator("#person-faces .face-pick").first.click()
        for control in ("#faces-move", "#faces-not-this", "#faces-delete"):
            assert page.locator(control).is_disabled(), control

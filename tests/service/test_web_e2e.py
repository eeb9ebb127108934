"""The web page end to end: Playwright drives Debian's Chromium against `faceprint serve` on a free
local port. Enrol two LFW people from the page, identify new photos of them, verify, delete; a wrong
key shows an error; the page fits a phone's width.

Set FACEPRINT_SCREENSHOT=docs/service.png to keep the laptop-width screenshot there.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from web_browser import launched, opened, playwright_or_skip

PEOPLE = {"George W Bush": "George_W_Bush", "Colin Powell": "Colin_Powell"}
sync_api = playwright_or_skip()

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory, data_dir):
    from faceprint.service.keys import KeyStore
    from faceprint.service.launch import LocalServer

    root = tmp_path_factory.mktemp("web")
    keys = KeyStore(root / "keys.json")
    admin, _ = keys.create("admin", "e2e")
    with LocalServer(root / "gallery.db", root / "keys.json") as running:
        running.admin_key = admin
        yield running


@pytest.fixture(scope="module")
def browser():
    with launched(sync_api) as chromium:
        yield chromium


@pytest.fixture()
def page(browser, server):
    with opened(browser, server.url + "/") as page:
        yield page


def use_key(page, key: str) -> None:
    page.fill("#key", key)
    page.click("#key-save")


def test_wrong_key_shows_an_error(page):
    use_key(page, "fpk_12345678_not-a-real-key")
    status = page.locator("#key-status.bad")
    status.wait_for()
    assert "not valid" in status.text_content()
    # acting with it shows the error in words where the user acted
    page.set_input_files("#identify-file", str(Path(__file__).parents[1] / "fixtures" / "astronaut.png"))
    page.click("#identify-submit")
    page.locator("#identify-error:not([hidden])").wait_for()
    assert "not valid" in page.text_content("#identify-error")


def test_enrol_identify_verify_delete(page, server, lfw, tmp_path):
    use_key(page, server.admin_key)
    page.locator("#key-status.ok").wait_for()
    assert "admin" in page.text_content("#key-status")

    for name, folder in PEOPLE.items():
        page.fill("#enrol-name", name)
        page.set_input_files("#enrol-files", [str(lfw / folder / f"{folder}_{i:04d}.jpg") for i in (1, 2, 3)])
        page.click("#enrol-submit")
        page.locator("#enrol-result:not([hidden])").wait_for()
        assert f"Enrolled 3 photos of {name}" in page.text_content("#enrol-result")
    rows = page.locator("#subjects-list tr")
    rows.nth(1).wait_for()
    assert sorted(rows.all_text_contents()) == sorted(f"{n}3Delete" for n in PEOPLE)

    for name, folder in PEOPLE.items():
        page.set_input_files("#identify-file", str(lfw / folder / f"{folder}_0011.jpg"))
        page.click("#identify-submit")
        page.locator(f"#identify-result[data-file='{folder}_0011.jpg']:not([hidden])").wait_for()
        tag = page.locator("#identify-photo .box:not(.unknown) .tag")
        assert [t.split(". ", 1)[1] for t in tag.all_text_contents()] == [name]
        listed = page.locator("#identify-faces li:not(.unknown)").all_text_contents()
        assert len(listed) == 1 and name in listed[0] and "distance 0." in listed[0]

    page.set_input_files("#verify-first", str(lfw / "Colin_Powell" / "Colin_Powell_0004.jpg"))
    page.set_input_files("#verify-second", str(lfw / "Colin_Powell" / "Colin_Powell_0005.jpg"))
    page.click("#verify-submit")
    page.locator("#verify-result.same").wait_for()
    assert "Same person" in page.text_content("#verify-result")

    shot = tmp_path / "service.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    if os.environ.get("FACEPRINT_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["FACEPRINT_SCREENSHOT"])

    # a phone's width: nothing wider than the screen, the result still readable
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.locator("#identify-faces").is_visible()

    page.set_viewport_size({"width": 1280, "height": 900})
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button[aria-label='Delete Colin Powell']")
    page.wait_for_function("document.querySelectorAll('#subjects-list tr').length === 1")
    assert page.locator("#subjects-list tr").all_text_contents() == ["George W Bush3Delete"]


def test_api_docs_render_offline(page, server):
    """/docs works with no network (the browser here has none): Swagger UI comes from the server."""
    page.goto(server.url + "/docs")
    title = page.locator(".swagger-ui .info .title")
    title.wait_for(timeout=30_000)
    assert "faceprint" in title.text_content()
    assert page.locator(".opblock-summary-path[data-path='/v1/identify']").count() == 1


def test_read_only_key_cannot_enrol(page, server, lfw):
    """A recognise key: the enrol form is locked, deleting is disabled, and an enrol sent anyway
    (the form submitted from script) is refused by the server with the read-only message."""
    import httpx

    from faceprint.service.keys import KeyStore

    photo = lfw / "Tony_Blair" / "Tony_Blair_0001.jpg"
    seeded = httpx.post(f"{server.url}/v1/subjects/Tony Blair/faces", headers={"X-API-Key": server.admin_key},
                        files={"images": (photo.name, photo.read_bytes())}, timeout=120)
    assert seeded.status_code == 201, seeded.text
    key, _ = KeyStore(server.keys).create("recognise", "kiosk")
    use_key(page, key)
    page.locator("#key-status.ok").wait_for()
    assert "read-only" in page.text_content("#key-status")
    assert "locked" in page.get_attribute("#enrol-card", "class")
    delete = page.locator("button[aria-label='Delete Tony Blair']")
    delete.wait_for()
    assert delete.is_disabled()

    page.fill("#enrol-name", "Tony Blair")
    page.set_input_files("#enrol-files", [str(lfw / "Tony_Blair" / "Tony_Blair_0002.jpg")])
    page.evaluate("document.getElementById('enrol-form').requestSubmit()")
    page.locator("#enrol-error:not([hidden])").wait_for()
    assert "read-only" in page.text_content("#enrol-error")
    assert page.locator("#enrol-result").is_hidden()
    faces = httpx.get(f"{server.url}/v1/subjects/Tony Blair", headers={"X-API-Key": key}, timeout=30).json()
    assert faces["faces"] == 1

"""QA of the web page under bad answers and bad input: a 503 that is not "busy" shows the server's
words, and a name the browser cannot put in a URL ("." or "..") gets a readable message instead of
another route's error. Playwright drives Debian's Chromium as tests/test_web_e2e.py does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from web_browser import launched, opened, playwright_or_skip

ASTRONAUT = Path(__file__).parents[1] / "fixtures" / "astronaut.png"
sync_api = playwright_or_skip()

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from faceprint.service.keys import KeyStore
    from faceprint.service.launch import LocalServer

    root = tmp_path_factory.mktemp("qa_web")
    keys = KeyStore(root / "keys.json")
    admin, _ = keys.create("admin", "qa")
    with LocalServer(root / "gallery.db", root / "keys.json", env={"FACEPRINT_SERVE_WARM": "false"}) as running:
        running.admin_key = admin
        yield running


@pytest.fixture(scope="module")
def browser():
    with launched(sync_api) as chromium:
        yield chromium


@pytest.fixture()
def page(browser, server):
    with opened(browser, server.url + "/", key=server.admin_key) as page:
        yield page


def idle(page, button: str) -> None:
    page.wait_for_function(f"() => !document.querySelector('{button}').disabled")


def test_a_503_other_than_busy_shows_the_servers_words(page):
    words = "the server cannot read its API key file; its log says why; try again later"
    page.route("**/v1/identify*", lambda route: route.fulfill(
        status=503, content_type="application/json",
        body=json.dumps({"error": {"code": "key_store", "message": words}})))
    page.set_input_files("#identify-file", str(ASTRONAUT))
    page.click("#identify-submit")
    page.locator("#identify-error:not([hidden])").wait_for()
    idle(page, "#identify-submit")
    text = page.text_content("#identify-error")
    assert words in text and "busy" not in text  # was: "The server is busy; try again shortly."


def test_a_busy_503_still_says_when_to_come_back(page):
    page.route("**/v1/identify*", lambda route: route.fulfill(
        status=503, content_type="application/json", headers={"Retry-After": "7"},
        body=json.dumps({"error": {"code": "busy", "message": "the server is busy (64 images waiting)"}})))
    page.set_input_files("#identify-file", str(ASTRONAUT))
    page.click("#identify-submit")
    page.locator("#identify-error:not([hidden])").wait_for()
    assert "in 7 s" in page.text_content("#identify-error")


@pytest.mark.parametrize("name", ["..", "."])
def test_a_dot_name_gets_a_readable_message_and_the_form_stays_usable(page, name):
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.method + " " + request.url))
    page.fill("#enrol-name", name)
    page.set_input_files("#enrol-files", str(ASTRONAUT))
    page.click("#enrol-submit")
    page.locator("#enrol-error:not([hidden])").wait_for()
    idle(page, "#enrol-submit")
    text = page.text_content("#enrol-error")
    # was: "POST is not allowed on /v1/faces" (the browser resolved ".." out of the URL)
    assert "cannot be a name" in text and "not allowed" not in text
    assert not [r for r in requests if r.startswith("POST")]
    assert page.is_enabled("#enrol-submit") and page.input_value("#enrol-name") == name


def test_a_long_name_without_spaces_does_not_widen_the_page(browser, server):
    """A 200-character name (the longest allowed) in the list and on an identified face, at a
    phone's width: the page stays 390 px wide and the Delete button stays on screen."""
    import httpx

    name = "W" * 200
    answer = httpx.post(f"{server.url}/v1/subjects/{name}/faces", headers={"X-API-Key": server.admin_key},
                        files=[("images", ("astronaut.png", ASTRONAUT.read_bytes()))], timeout=120)
    assert answer.status_code == 201, answer.text
    with opened(browser, server.url + "/", key=server.admin_key, width=390, height=844) as page:
        page.locator("#subjects-list td", has_text=name).wait_for()
        page.set_input_files("#identify-file", str(ASTRONAUT))
        page.click("#identify-submit")
        page.locator("#identify-result:not([hidden])").wait_for()
        assert name in page.text_content("#identify-faces")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # was: about 3200
        delete = page.locator(f"button[aria-label='Delete {name}']").bounding_box()
        assert delete is not None and delete["x"] + delete["width"] <= 390


def test_a_request_the_server_never_answers_ends_with_a_message(browser, server):
    """The button does not stay busy for good when an answer never comes (a hung server or proxy)."""
    with opened(browser, server.url + "/", key=server.admin_key, clock=True) as page:
        page.route("**/v1/identify*", lambda route: None)  # never answered
        page.set_input_files("#identify-file", str(ASTRONAUT))
        page.click("#identify-submit")
        page.wait_for_function("() => document.querySelector('#identify-submit').disabled")
        page.clock.fast_forward("03:01")
        page.locator("#identify-error:not([hidden])").wait_for(timeout=10_000)
        assert "did not answer" in page.text_content("#identify-error")
        idle(page, "#identify-submit")
        assert page.text_content("#identify-submit") == "Identify"


def test_a_photo_the_browser_cannot_show_still_lists_its_faces(page, tmp_path):
    """The server reads TIFF; Chromium does not show it: no broken image under the boxes, a note."""
    from PIL import Image

    tiff = tmp_path / "astronaut.tif"
    Image.open(ASTRONAUT).convert("RGB").save(tiff)
    page.set_input_files("#identify-file", str(tiff))
    page.click("#identify-submit")
    page.locator("#identify-result:not([hidden])").wait_for()
    page.locator("#identify-faces li.note").wait_for()
    assert "cannot show" in page.text_content("#identify-faces li.note")
    assert page.locator("#identify-faces li.face").count() == 1
    assert page.is_hidden("#identify-photo")
    # a photo it can show afterwards is shown again
    page.set_input_files("#identify-file", str(ASTRONAUT))
    page.click("#identify-submit")
    page.wait_for_function("() => !document.querySelector('#identify-photo').hidden && "
                           "document.querySelector('#identify-img').complete")
    assert page.locator("#identify-faces li.note").count() == 0

"""The web page in Chromium: Playwright drives Debian's Chromium against `faceprint serve` on a
free local port. End to end: enrol two LFW people from the page, identify new photos of them,
verify, delete; a wrong key shows an error; a read-only key cannot enrol; the page fits a
phone's width; /docs works offline. Under bad answers and bad input: a 503 that is not "busy"
shows the server's words, a name the browser cannot put in a URL ("." or "..") gets a readable
message, a long name does not widen the page, a request never answered ends with a message, and
a photo the browser cannot show still lists its faces. Under the Content-Security-Policy the page
and /docs run without a violation, and no other page can frame the page.

Set FACEPRINT_SCREENSHOT=docs/service.png to keep the laptop-width screenshot there.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from web_browser import launched, opened, playwright_or_skip

PEOPLE = {"George W Bush": "George_W_Bush", "Colin Powell": "Colin_Powell"}
ASTRONAUT = Path(__file__).parents[1] / "fixtures" / "astronaut.png"
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
def cold_server(tmp_path_factory):
    from faceprint.service.keys import KeyStore
    from faceprint.service.launch import LocalServer

    root = tmp_path_factory.mktemp("qa_web")
    keys = KeyStore(root / "keys.json")
    admin, _ = keys.create("admin", "page")
    with LocalServer(root / "gallery.db", root / "keys.json", env={"FACEPRINT_SERVE_WARM": "false"}) as running:
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


@pytest.fixture()
def keyed_page(browser, cold_server):
    with opened(browser, cold_server.url + "/", key=cold_server.admin_key) as keyed_page:
        yield keyed_page


def use_key(page, key: str) -> None:
    page.fill("#key", key)
    page.click("#key-save")


def idle(page, button: str) -> None:
    # locator assertions: the page's Content-Security-Policy forbids the eval that wait_for_function needs
    sync_api.expect(page.locator(button)).to_be_enabled(timeout=60_000)


# -- end to end (a warm server) --------------------------------------------------------------------
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
    sync_api.expect(page.locator("#subjects-list tr")).to_have_count(1)
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


# -- under bad answers and bad input (a cold server, the admin key saved) --------------------------
def test_a_503_other_than_busy_shows_the_servers_words(keyed_page):
    words = "the server cannot read its API key file; its log says why; try again later"
    keyed_page.route("**/v1/identify*", lambda route: route.fulfill(
        status=503, content_type="application/json",
        body=json.dumps({"error": {"code": "key_store", "message": words}})))
    keyed_page.set_input_files("#identify-file", str(ASTRONAUT))
    keyed_page.click("#identify-submit")
    keyed_page.locator("#identify-error:not([hidden])").wait_for()
    idle(keyed_page, "#identify-submit")
    text = keyed_page.text_content("#identify-error")
    assert words in text and "busy" not in text  # the server's words, not a generic busy note


def test_a_busy_503_still_says_when_to_come_back(keyed_page):
    keyed_page.route("**/v1/identify*", lambda route: route.fulfill(
        status=503, content_type="application/json", headers={"Retry-After": "7"},
        body=json.dumps({"error": {"code": "busy", "message": "the server is busy (64 images waiting)"}})))
    keyed_page.set_input_files("#identify-file", str(ASTRONAUT))
    keyed_page.click("#identify-submit")
    keyed_page.locator("#identify-error:not([hidden])").wait_for()
    assert "in 7 s" in keyed_page.text_content("#identify-error")


@pytest.mark.parametrize("name", ["..", "."])
def test_a_dot_name_gets_a_readable_message_and_the_form_stays_usable(keyed_page, name):
    requests: list[str] = []
    keyed_page.on("request", lambda request: requests.append(request.method + " " + request.url))
    keyed_page.fill("#enrol-name", name)
    keyed_page.set_input_files("#enrol-files", str(ASTRONAUT))
    keyed_page.click("#enrol-submit")
    keyed_page.locator("#enrol-error:not([hidden])").wait_for()
    idle(keyed_page, "#enrol-submit")
    text = keyed_page.text_content("#enrol-error")
    # the page refuses it itself: a browser resolves ".." out of the URL and would post to another route
    assert "cannot be a name" in text and "not allowed" not in text
    assert not [r for r in requests if r.startswith("POST")]
    assert keyed_page.is_enabled("#enrol-submit") and keyed_page.input_value("#enrol-name") == name


def test_a_long_name_without_spaces_does_not_widen_the_page(browser, cold_server):
    """A 200-character name (the longest allowed) in the list and on an identified face, at a
    phone's width: the page stays 390 px wide and the Delete button stays on screen."""
    import httpx

    name = "W" * 200
    answer = httpx.post(f"{cold_server.url}/v1/subjects/{name}/faces", headers={"X-API-Key": cold_server.admin_key},
                        files=[("images", ("astronaut.png", ASTRONAUT.read_bytes()))], timeout=120)
    assert answer.status_code == 201, answer.text
    with opened(browser, cold_server.url + "/", key=cold_server.admin_key, width=390, height=844) as keyed_page:
        keyed_page.locator("#subjects-list td", has_text=name).wait_for()
        keyed_page.set_input_files("#identify-file", str(ASTRONAUT))
        keyed_page.click("#identify-submit")
        keyed_page.locator("#identify-result:not([hidden])").wait_for()
        assert name in keyed_page.text_content("#identify-faces")
        # the name wraps instead of widening the page
        assert keyed_page.evaluate("document.documentElement.scrollWidth") <= 390
        delete = keyed_page.locator(f"button[aria-label='Delete {name}']").bounding_box()
        assert delete is not None and delete["x"] + delete["width"] <= 390


def test_a_request_the_server_never_answers_ends_with_a_message(browser, cold_server):
    """The button does not stay busy for good when an answer never comes (a hung server or proxy)."""
    with opened(browser, cold_server.url + "/", key=cold_server.admin_key, clock=True) as keyed_page:
        keyed_page.route("**/v1/identify*", lambda route: None)  # never answered
        keyed_page.set_input_files("#identify-file", str(ASTRONAUT))
        keyed_page.click("#identify-submit")
        sync_api.expect(keyed_page.locator("#identify-submit")).to_be_disabled()
        keyed_page.clock.fast_forward("03:01")
        keyed_page.locator("#identify-error:not([hidden])").wait_for(timeout=10_000)
        assert "did not answer" in keyed_page.text_content("#identify-error")
        idle(keyed_page, "#identify-submit")
        assert keyed_page.text_content("#identify-submit") == "Identify"


def test_a_photo_the_browser_cannot_show_still_lists_its_faces(keyed_page, tmp_path):
    """The server reads TIFF; Chromium does not show it: no broken image under the boxes, a note."""
    from PIL import Image

    tiff = tmp_path / "astronaut.tif"
    Image.open(ASTRONAUT).convert("RGB").save(tiff)
    keyed_page.set_input_files("#identify-file", str(tiff))
    keyed_page.click("#identify-submit")
    keyed_page.locator("#identify-result:not([hidden])").wait_for()
    keyed_page.locator("#identify-faces li.note").wait_for()
    assert "cannot show" in keyed_page.text_content("#identify-faces li.note")
    assert keyed_page.locator("#identify-faces li.face").count() == 1
    assert keyed_page.is_hidden("#identify-photo")
    # a photo it can show afterwards is shown again
    keyed_page.set_input_files("#identify-file", str(ASTRONAUT))
    keyed_page.click("#identify-submit")
    keyed_page.locator("#identify-photo").wait_for(state="visible")
    sync_api.expect(keyed_page.locator("#identify-img")).to_have_js_property("complete", True)
    assert keyed_page.locator("#identify-faces li.note").count() == 0


# -- the Content-Security-Policy in the browser: no violation, /docs renders, no framing ------------

def violations(page) -> list[str]:
    """Every console message about the Content-Security-Policy from now on (the list fills as the
    page runs)."""
    found: list[str] = []
    page.on("console", lambda message: found.append(message.text)
            if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text else None)
    return found


def test_the_page_works_under_its_policy(browser, cold_server):
    with opened(browser, cold_server.url + "/") as page:
        seen = violations(page)
        page.reload()
        assert "default-src 'self'" in page.evaluate("async () => (await fetch('/')).headers.get('content-security-policy')")
        page.fill("#key", cold_server.admin_key)
        page.click("#key-save")
        page.locator("#key-status.ok").wait_for()
        page.set_input_files("#verify-first", str(ASTRONAUT))  # a blob: preview
        page.locator("#verify-first-preview").wait_for(state="visible")
        assert page.evaluate("document.querySelector('#verify-first-preview').naturalWidth") > 0
        assert page.evaluate("getComputedStyle(document.querySelector('.card')).display") != "inline"  # style.css applied
        page.locator("#subjects-refresh").click()
        page.wait_for_timeout(500)
        assert seen == []


def test_api_docs_render_under_their_policy(browser, cold_server):
    with opened(browser, cold_server.url + "/docs") as page:
        seen = violations(page)
        page.reload()
        page.locator(".swagger-ui .info .title").wait_for(timeout=30_000)
        assert page.locator(".opblock-summary-path[data-path='/v1/identify']").count() == 1
        assert seen == []


@pytest.fixture()
def framer(cold_server):
    """Another origin on 127.0.0.1 whose one page frames the service's page."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from faceprint.service.launch import free_port

    page = f'<!doctype html><iframe src="{cold_server.url}/"></iframe>'.encode()

    class Framer(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Framer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_no_other_page_can_frame_the_page(browser, framer):
    with opened(browser, framer) as page:
        page.wait_for_timeout(1500)
        frames = page.frames[1:]
        assert len(frames) == 1
        assert frames[0].query_selector("#key-form") is None, frames[0].url

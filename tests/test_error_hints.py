"""What to do about an error is said in the caller's terms: a CLI or Python user gets the CLI's
hint in the message, an HTTP client the service's, each from the error type itself."""

from __future__ import annotations

from faceprint import errors as fe


def test_each_caller_gets_its_own_hint_once():
    missing = fe.UnknownSubject("no subject named 'Ada' in /srv/team.db")
    assert str(missing) == "no subject named 'Ada' in /srv/team.db; `faceprint gallery list` shows who is there"
    assert missing.for_http() == "no subject named 'Ada' in /srv/team.db; GET /v1/subjects lists who is there"
    big = fe.ImageTooLarge("a.jpg: 9000x9000 = 81,000,000 pixels exceeds the limit of 50,000,000")
    assert str(big).endswith("; raise it with FACEPRINT_MAX_PIXELS if the image is genuine")
    assert big.for_http().endswith("; send a smaller photo (scale it down)") and "FACEPRINT" not in big.for_http()
    assert str(fe.BadInput("plain")) == fe.BadInput("plain").for_http() == "plain"  # no hint: as raised


def test_the_service_renames_an_upload_without_doubling_the_hint():
    from faceprint.pipeline.sources import renamed

    again = renamed(fe.ImageTooLarge("<bytes>: 9000x9000 pixels exceeds the limit"), "photo.png")
    assert str(again) == ("photo.png: 9000x9000 pixels exceeds the limit; "
                          "raise it with FACEPRINT_MAX_PIXELS if the image is genuine")

"""A new subject's name and metadata follow one set of rules in the gallery itself (SQLite store,
Milvus store, CLI, library and service alike): names the service could not address or that are
not one line, and metadata that would break every listing, are refused when a subject is made."""

from __future__ import annotations

import pytest

from faceprint.errors import GalleryError
from faceprint.gallery import Gallery
from faceprint.gallery.names import METADATA_MAX_BYTES, check_metadata, check_name


def test_names_are_one_line_of_text_the_api_can_address():
    assert check_name("  AC/DC band ") == "AC/DC band" and check_name("Zoë Ñ 李") == "Zoë Ñ 李"
    for bad in ("", "  ", "Unknown", ".", "..", "a\nb", "a\rb", "a\tb", "a\x00b", "a\u2028b", "\x1b[31mred"):
        with pytest.raises(GalleryError):
            check_name(bad)


def _nested(depth: int) -> list:
    value: list = [1]
    for _ in range(depth):
        value = [value]
    return value


def test_metadata_must_be_small_plain_json():
    assert check_metadata(None) == {} and check_metadata({"team": "red", "n": [1, {"x": 2}]})["team"] == "red"
    assert check_metadata({"a": _nested(30)})  # a few levels are fine
    deep = {"a": _nested(40)}
    for bad, why in ((deep, "nested"), ({"x": float("nan")}, "plain JSON"), ({"x": object()}, "plain JSON"),
                     ({"blob": "x" * METADATA_MAX_BYTES}, "bytes as JSON"), (["a list"], "JSON object")):
        with pytest.raises(GalleryError, match=why):
            check_metadata(bad)


def test_the_gallery_refuses_them_when_a_subject_is_made_or_renamed(tmp_path):
    with Gallery(tmp_path / "people.db") as gallery:
        gallery.add_subject("Ada", {"team": "red"})
        with pytest.raises(GalleryError, match="URL path"):
            gallery.add_subject("..")
        with pytest.raises(GalleryError, match="nested"):
            gallery.add_subject("Grace", {"a": _nested(40)})
        with pytest.raises(GalleryError, match="control character"):
            gallery.rename("Ada", "Ada\tLovelace")
        assert [s.name for s in gallery.subjects()] == ["Ada"]  # nothing half-made
        assert gallery.subject("Ada").metadata == {"team": "red"}

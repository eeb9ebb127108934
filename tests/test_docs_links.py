"""Every relative link of README.md points at a file of the repository (and at a heading there).

The documentation site checks its own links when it is built (``mkdocs build --strict``); the
README is read on its own, so its links are checked here.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def slug(heading: str) -> str:
    """A heading's anchor as Python-Markdown's table of contents (and so MkDocs) makes it."""
    text = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(markdown: Path) -> set[str]:
    """The anchors of a Markdown file's headings (outside fenced code)."""
    text = FENCE.sub("", markdown.read_text(encoding="utf-8"))
    return {slug(line.lstrip("#").strip().replace("`", "")) for line in text.splitlines()
            if re.match(r"^#{1,6} ", line)}


def relative_links(markdown: Path) -> list[str]:
    """Links and images that point inside the repository (not web addresses, not mail)."""
    text = FENCE.sub("", markdown.read_text(encoding="utf-8"))
    return [target for target in LINK.findall(text)
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I)]


def test_readme_has_relative_links() -> None:
    assert len(relative_links(README)) >= 10


@pytest.mark.parametrize("target", relative_links(README))
def test_readme_link_resolves(target: str) -> None:
    path, _, anchor = target.partition("#")
    resolved = (README.parent / path).resolve() if path else README
    assert resolved.exists(), f"README.md links to {target}, which does not exist"
    if anchor and resolved.suffix == ".md":
        assert anchor in anchors(resolved), f"README.md links to {target}: no such heading"


def test_slug_matches_the_sites_anchors() -> None:
    assert slug("Identify: a threshold for search, not for verification") == \
        "identify-a-threshold-for-search-not-for-verification"
    assert slug("rev3: faces at any angle") == "rev3-faces-at-any-angle"

"""A griffe extension for the API reference: a docstring's ``Example:`` section is read as
``Examples:``.

Napoleon and the Google style accept both spellings; griffe reads only the plural as a section of
doctest examples and turns the singular into a note, where ``>>>`` lines render as quotes.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

SINGULAR = re.compile(r"^(\s*)Example:[ \t]*$", re.M)


class ExampleSections(griffe.Extension):
    """Rename ``Example:`` section titles to ``Examples:`` before the docstring is parsed."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = SINGULAR.sub(r"\1Examples:", obj.docstring.value)

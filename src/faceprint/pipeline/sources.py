"""Reading image sources: each photo's bytes read once and hashed once, then decoded.

A source is what a caller hands ``embed_many``: a path, encoded bytes, a binary file object, an
array, or a ``ReadSource`` (a photo read and hashed already, by a caller that needed its hash
first, e.g. to skip photos a gallery holds). Everything here turns a source into the encoded bytes
and their sha256, and those into pixels with messages that name the source.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from faceprint.errors import BadInput, FaceprintError
from faceprint.images import load_image

# The name images.load_image gives an in-memory input in its messages: ``renamed`` replaces it.
BYTES_PLACEHOLDER = "<bytes>"


@dataclass(frozen=True)
class ReadSource:
    """A photo already read and hashed: given to ``embed_sources`` or ``embed_many`` as a source,
    it is neither read nor hashed again.

    Attributes:
        data: the encoded file (JPEG, PNG...).
        sha256: hex digest of ``data`` (``read_source`` computes it).
        label: the name its result carries (``ImageFaces.source``), usually the path.
    """

    data: bytes
    sha256: str
    label: str


class Unreadable:
    """A source read in this process that could not be: the reason travels to a worker process,
    whose result for it reports that reason."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def read_source(source: object) -> tuple[object, str | None]:
    """The input as ``images.load_image`` takes it, and its sha256 when it is encoded bytes.

    Args:
        source: a path, bytes, a bytearray or memoryview, a binary file object, an array or a
            ``ReadSource`` (returned as it is, not hashed again).

    Returns:
        ``(data, sha256)``: the encoded bytes and their hex digest, or the array and None.

    Raises:
        OSError: a file that cannot be read.
        BadInput: anything that is not an image source (a wrong type, a text-mode file, a path
            with a NUL byte).
    """
    if isinstance(source, np.ndarray):
        return source, None
    if isinstance(source, ReadSource):
        return source.data, source.sha256
    if isinstance(source, Unreadable):
        raise BadInput(source.reason)
    if isinstance(source, (str, Path)) or hasattr(source, "__fspath__"):
        try:
            data = Path(source).read_bytes()  # type: ignore[arg-type]
        except ValueError as exc:  # e.g. a NUL byte in the path
            raise BadInput(f"not a usable path ({exc})") from None
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif hasattr(source, "read"):
        data = source.read()
        if not isinstance(data, (bytes, bytearray)):
            raise BadInput("file object must be opened in binary mode ('rb')")
        data = bytes(data)
    else:
        raise BadInput(f"cannot read an image from a {type(source).__name__}; "
                       "give a path, bytes, a file or an array")
    return data, hashlib.sha256(data).hexdigest()


def read_error(exc: OSError | BadInput) -> str:
    """The problem ``read_source`` met, as an ``ImageFaces.error`` says it."""
    return str(exc) if isinstance(exc, BadInput) else f"cannot read ({exc.strerror or exc})"


def source_label(source: object, index: int) -> str:
    """The name a source's result carries: its path, its ``ReadSource.label``, or ``"<index>"``
    for an in-memory input."""
    if isinstance(source, ReadSource):
        return source.label
    return str(source) if isinstance(source, (str, Path)) or hasattr(source, "__fspath__") else f"<{index}>"


def portable(source: object) -> object:
    """The source as it can travel to a worker process: paths, bytes, arrays and ``ReadSource``
    as they are; anything else (a file object, a memoryview, a wrong type) read here, or an
    ``Unreadable`` saying why it cannot be."""
    if isinstance(source, (np.ndarray, str, Path, bytes, bytearray, ReadSource)) or hasattr(source, "__fspath__"):
        return source
    try:
        return read_source(source)[0]
    except (OSError, BadInput) as exc:
        return Unreadable(read_error(exc))


def renamed(exc: FaceprintError, name: str) -> FaceprintError:
    """The same error with the in-memory placeholder (``<bytes>``) replaced by ``name``.

    Args:
        exc: an error raised while decoding or detecting.
        name: what to call the input (an upload's file name); "" drops the placeholder and the
            ": " after it, for a result that names its source apart (``ImageFaces.source``).

    Returns:
        An error of the same type, or ``exc`` itself when its type cannot be made from a message.
    """
    message = exc.detail.replace(f"{BYTES_PLACEHOLDER}: ", "") if not name else exc.detail.replace(BYTES_PLACEHOLDER, name)
    try:
        return type(exc)(message)
    except TypeError:  # an exception type with another constructor: keep it as it is
        return exc


def decode(data: object, name: str = "") -> np.ndarray:
    """Pixels of a source read by ``read_source``; errors name the input as ``name`` (see ``renamed``).

    Args:
        data: encoded bytes or an array.
        name: the input's name in messages; "" leaves it out.

    Returns:
        An (H, W, 3) uint8 RGB array.

    Raises:
        BadImage: the bytes are not an image faceprint can decode, or it is too large.
    """
    try:
        return load_image(data)  # type: ignore[arg-type]
    except FaceprintError as exc:
        raise renamed(exc, name) from None

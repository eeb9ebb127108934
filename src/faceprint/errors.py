"""Exceptions raised by faceprint. Each message says what went wrong and what to do."""

from __future__ import annotations


class FaceprintError(Exception):
    """Base class of every error faceprint raises on purpose."""


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of ``exc``'s message (at most ``limit`` characters), or its type's name when
    it has none: what a one-line error quotes of another library's exception."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__


class BadImage(FaceprintError):
    """The input could not be decoded as an image, or is not acceptable (empty, too large...)."""


class ImageNotFound(BadImage):
    """The image path does not exist or is not a file."""


class ImageTooLarge(BadImage):
    """The image has more pixels than the configured limit (decompression-bomb guard)."""


class NoFace(FaceprintError):
    """No face was found where one is required."""


class ModelNotAvailable(FaceprintError):
    """A model or its weights are not installed; the message names the package to install."""


class WeightsChecksumError(FaceprintError):
    """A weight file exists but its sha256 does not match the expected value."""


class UnknownModel(FaceprintError):
    """A detector or embedder name that is not in the registry."""


class BadInput(FaceprintError):
    """An argument has a wrong value (e.g. a landmark count other than 5 or 68)."""


class GalleryError(FaceprintError):
    """A gallery operation that cannot be done as asked (subject exists, corrupt store, ...)."""


class UnknownSubject(GalleryError, KeyError):
    """No subject of that name in the gallery."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownFace(GalleryError, KeyError):
    """No face with that id in the gallery."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class GalleryUnavailable(GalleryError):
    """The gallery's server (Milvus) cannot be reached or failed: try again later, not another request."""


class GalleryMismatch(GalleryError):
    """The gallery holds vectors of another model or pipeline setting than the one asked for."""


class BadName(GalleryError, BadInput):
    """A new subject's name or metadata that the gallery refuses (the caller's input, not a
    conflict with the gallery: the service answers 400)."""

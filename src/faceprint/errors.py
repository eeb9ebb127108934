"""Exceptions raised by faceprint. Each message says what went wrong and what to do."""

from __future__ import annotations


class FaceprintError(Exception):
    """Base class of every error faceprint raises on purpose.

    A type may carry what to do about it: ``hint`` for a Python or CLI user (appended to the
    message), ``http_hint`` for a client of the service (which answers with ``detail`` and that
    instead: the client cannot run the CLI or change the server's settings).
    """

    hint = ""
    http_hint = ""

    @property
    def detail(self) -> str:
        """The message without the hint."""
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:  # KeyError (UnknownSubject, UnknownFace) would quote the message
        return f"{self.detail}; {self.hint}" if self.hint and self.detail else self.detail

    def for_http(self) -> str:
        """The message as the service answers it."""
        return f"{self.detail}; {self.http_hint}" if self.http_hint and self.detail else self.detail


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

    hint = "raise it with FACEPRINT_MAX_PIXELS if the image is genuine"
    http_hint = "send a smaller photo (scale it down)"


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

    hint = "`faceprint gallery list` shows who is there"
    http_hint = "GET /v1/subjects lists who is there"
    __str__ = FaceprintError.__str__  # not KeyError's, which quotes the message


class UnknownFace(GalleryError, KeyError):
    """No face with that id in the gallery."""

    hint = "`faceprint gallery show NAME` lists ids"
    http_hint = "GET /v1/faces lists the face ids"
    __str__ = FaceprintError.__str__


class GalleryUnavailable(GalleryError):
    """The gallery's server (Milvus) cannot be reached or failed: try again later, not another request."""


class GalleryMismatch(GalleryError):
    """The gallery holds vectors of another model or pipeline setting than the one asked for."""


class BadName(GalleryError, BadInput):
    """A new subject's name or metadata that the gallery refuses (the caller's input, not a
    conflict with the gallery: the service answers 400)."""


class SubjectExists(GalleryError):
    """A new subject (or a new name for one) that the gallery holds already."""


class NothingEnrolled(GalleryError):
    """An enrol that added nothing because every photo is enrolled already as someone else."""

"""Uploaded photos as engine jobs: their bytes, named for messages, and labels that tell them apart.

The service takes uploaded bytes only (never server paths or URLs). An upload's file name names it
in every message; phones call every photo ``image.jpg``, so an enrol report keys its photos by
``unique_labels``.
"""

from __future__ import annotations

from fastapi import UploadFile

from faceprint.errors import BadImage
from faceprint.service.engine import ImageJob


async def read_upload(upload: UploadFile, what: str, embed: bool = True, expect_face: bool = False) -> ImageJob:
    """The bytes of an uploaded file as an engine job.

    Args:
        upload: the uploaded file.
        what: its name in messages when the client sent no file name (the form field, e.g. ``image``).
        embed: whether the engine embeds its faces (False: detection only).
        expect_face: the photo should hold one face (a side of a verify): the detector's fallback
            score when nothing reaches its threshold, and only the face nearest the centre kept.

    Returns:
        The job for ``Service.process``.

    Raises:
        faceprint.errors.BadImage: the file is empty.
    """
    data = await upload.read()
    name = upload.filename or what
    if not data:
        raise BadImage(f"{name}: empty file; upload a JPEG, PNG, WebP, BMP or TIFF photo")
    return ImageJob(data, name, embed=embed, expect_face=expect_face)


def unique_labels(names: list[str]) -> list[str]:
    """``names`` with repeats told apart, so that a report keyed by them keeps every upload.

    Args:
        names: the uploads' file names, in order.

    Returns:
        One label per name: ``a.jpg, a.jpg`` gives ``a.jpg, a.jpg (2)``.
    """
    taken: set[str] = set()
    labels = []
    for name in names:
        label, n = name, 1
        while label in taken:
            n += 1
            label = f"{name} ({n})"
        taken.add(label)
        labels.append(label)
    return labels

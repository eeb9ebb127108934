"""Files only their owner may read: a gallery, the index beside it and its exports hold people's
face vectors and names, so they are created ``0600`` whatever the process's umask.

A file that exists already keeps the mode it has (an operator may have given a group access on
purpose); the files made beside a gallery (its index) take the gallery's mode, as SQLite gives
its ``-wal`` and ``-shm`` files the mode of the database.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

PRIVATE_MODE = 0o600


def mode_of(path: str | os.PathLike, default: int = PRIVATE_MODE) -> int:
    """The permission bits of an existing file, for the files made beside or instead of it.

    Args:
        path: a file that may exist.
        default: the mode when it does not (or is not a plain file).

    Returns:
        Its permission bits (``0o640``...), or ``default``.
    """
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return default
    return stat.S_IMODE(info.st_mode) if stat.S_ISREG(info.st_mode) else default


def open_new(path: str | os.PathLike, mode: int = PRIVATE_MODE) -> BinaryIO:
    """A new file, open for writing (binary), with ``mode`` (a file left at ``path`` is replaced:
    for temporary files and names made once, never for a file whose mode must be kept).

    Args:
        path: the file.
        mode: its permission bits (set as given: the umask does not take any off).

    Returns:
        The open file.

    Raises:
        OSError: it cannot be created.
    """
    Path(path).unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


def create_private(path: str | os.PathLike, mode: int = PRIVATE_MODE) -> bool:
    """Create an empty file with ``mode`` when it does not exist (for a library that then opens
    it by name: SQLite, faiss).

    Args:
        path: the file.
        mode: its permission bits when it is created.

    Returns:
        True when it was created, False when it existed (its mode is left as it is).

    Raises:
        OSError: it cannot be created.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, mode)  # the umask may have taken bits off (a group-readable gallery's index)
    finally:
        os.close(fd)
    return True


def folder_mode(file_mode: int) -> int:
    """The mode of a folder of files of ``file_mode``: whoever may read them may list it, and its
    owner may always write in it (a read-only gallery file still gets its index cache written).

    Args:
        file_mode: the files' permission bits (``0o600`` -> ``0o700``, ``0o640`` -> ``0o750``,
            ``0o444`` -> ``0o755``).

    Returns:
        The folder's permission bits.
    """
    return file_mode | 0o700 | ((file_mode & 0o444) >> 2)


def private_folder(path: str | os.PathLike, file_mode: int = PRIVATE_MODE) -> Path:
    """Make a folder (and its parents) when missing; the folder itself gets ``folder_mode(file_mode)``.

    Args:
        path: the folder.
        file_mode: the mode of the files it is made for.

    Returns:
        ``path``; an existing folder keeps its mode.

    Raises:
        OSError: it cannot be made.
    """
    path = Path(path)
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.mkdir(mode=0o700)
            os.chmod(path, folder_mode(file_mode))
        except FileExistsError:
            pass
    return path

"""Decode and validate every input image once: the only place that turns user input into pixels.

Everything downstream receives an RGB ``uint8`` array of shape (H, W, 3).
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np

from faceprint import settings
from faceprint.errors import BadImage, ImageNotFound, ImageTooLarge

log = logging.getLogger(__name__)

# What every function taking an image accepts: a path, encoded bytes, a binary file object or pixels.
ImageSource = Union[str, os.PathLike, bytes, bytearray, memoryview, BinaryIO, np.ndarray]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".pgm", ".ppm", ".pbm", ".gif"})


def is_image_path(path: Path) -> bool:
    """Whether a path names a photo faceprint reads, by its suffix (``IMAGE_SUFFIXES``).

    Args:
        path: any path.

    Returns:
        True for an existing file with an image suffix (any case).
    """
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def labelled_folder(root: str | os.PathLike, images_only: bool = True) -> dict[str, list[Path]]:
    """The one reader of ``root/<name>/`` folders: person -> sorted files, for every sub-folder of
    ``root`` that holds some (a person's sub-folders count too).

    Args:
        root: a folder with one sub-folder of photos per person.
        images_only: only files with an image suffix (``is_image_path``); False keeps every file,
            so that a caller can report the ones that are not photos.

    Returns:
        Sub-folder name -> its files, both sorted.

    Raises:
        BadInput: ``root`` is not a folder, or no sub-folder holds a photo.
    """
    from faceprint.errors import BadInput

    root = Path(root)
    if not root.is_dir():
        raise BadInput(f"{root}: not a folder; expected one sub-folder of photos per person (root/<name>/*.jpg)")
    keep = is_image_path if images_only else Path.is_file
    people = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(p for p in folder.rglob("*") if keep(p))
        if files:
            people[folder.name] = files
    if not people:
        raise BadInput(f"{root}: no photos found; expected one sub-folder of photos per person (root/<name>/*.jpg)")
    return people


def load_image(source: ImageSource, max_pixels: int | None = None) -> np.ndarray:
    """Decode an image into an RGB uint8 array, applying EXIF orientation.

    Args:
        source: a path, encoded bytes, a binary file object, or a numpy array
            (HxW grey, HxWx3 RGB or HxWx4 RGBA; uint8, uint16 or float in [0, 1]).
        max_pixels: refuse images with more pixels than this (default: settings.max_pixels()).

    Returns:
        An (H, W, 3) uint8 RGB array.

    Raises:
        ImageNotFound: a path that does not exist or is not a file.
        ImageTooLarge: more pixels than ``max_pixels``.
        BadImage: not an image faceprint can decode (empty, corrupt, a text-mode file...).
            Messages name the input: its path, its file object's name, or ``<bytes>`` for
            in-memory data (``pipeline.sources.renamed`` puts a name there).

    Example:
        >>> rgb = load_image("tests/fixtures/astronaut.png")
        >>> rgb.shape
        (512, 512, 3)
    """
    limit = settings.max_pixels() if max_pixels is None else max_pixels
    if isinstance(source, np.ndarray):
        return _from_array(source, limit)
    name, stream = _open_stream(source)
    return _decode(stream, name, limit)


def _open_stream(source: ImageSource) -> tuple[str, BinaryIO]:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise ImageNotFound(f"{path}: no such file")
        if not path.is_file():
            raise ImageNotFound(f"{path}: not a file")
        data = path.read_bytes()
        return str(path), io.BytesIO(data)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>", io.BytesIO(bytes(source))
    if hasattr(source, "read"):
        data = source.read()
        if not isinstance(data, (bytes, bytearray)):
            raise BadImage("file object must be opened in binary mode ('rb')")
        return getattr(source, "name", "<stream>"), io.BytesIO(data)
    raise BadImage(f"cannot read an image from a {type(source).__name__}; give a path, bytes, a file or an array")


def check_pixel_count(data: bytes, limit: int, name: str = "<bytes>") -> None:
    """Refuse an encoded image with more pixels than ``limit``, from its header alone (nothing is
    decoded): a server can turn such a photo away before it takes queue room or engine time.

    Args:
        data: the encoded image.
        limit: the most pixels (width x height) allowed.
        name: the image's name in the message.

    Raises:
        ImageTooLarge: more pixels than ``limit`` (or so many that Pillow calls it a decompression
            bomb). Bytes whose header cannot be read pass: decoding them says why.
    """
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"{name}: {exc}") from None
    except Exception:  # noqa: BLE001 (not an image header: load_image gives the reason)
        return
    _refuse_above(width, height, limit, name)


def _refuse_above(width: int, height: int, limit: int, name: str) -> None:
    if width * height > limit:
        raise ImageTooLarge(f"{name}: {width}x{height} = {width * height:,} pixels exceeds the limit of {limit:,}")


def _decode(stream: io.BytesIO, name: str, limit: int) -> np.ndarray:
    from PIL import Image, ImageOps, UnidentifiedImageError

    if stream.getbuffer().nbytes == 0:
        raise BadImage(f"{name}: the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(stream)
            width, height = img.size
            _refuse_above(width, height, limit, name)
            if width == 0 or height == 0:
                raise BadImage(f"{name}: the image has no pixels ({width}x{height})")
            img.load()
            img = ImageOps.exif_transpose(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(f"{name}: {exc}") from None
    except UnidentifiedImageError:
        raise BadImage(f"{name}: not an image faceprint can decode (JPEG, PNG, WebP, BMP, TIFF, PGM...)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadImage(f"{name}: corrupt or truncated image ({exc})") from None
    return _to_rgb(img)


def _to_rgb(img) -> np.ndarray:  # img: PIL.Image.Image
    from PIL import Image

    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img)
        return _from_array(arr, None)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def _from_array(arr: np.ndarray, limit: int | None) -> np.ndarray:
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise BadImage(f"array of shape {arr.shape} is not an image; expected HxW, HxWx3 or HxWx4")
    height, width = arr.shape[:2]
    if limit is not None and height * width > limit:
        raise ImageTooLarge(f"array of {width}x{height} pixels exceeds the limit of {limit:,}")
    sixteen_bit = arr.dtype.kind == "u" and arr.dtype.itemsize == 2  # uint16 in either byte order
    if sixteen_bit or (np.issubdtype(arr.dtype, np.integer) and arr.max(initial=0) > 255):
        arr = _high_bits_to_uint8(arr)
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise BadImage("float image contains NaN or infinity")
        scale = 255.0 if arr.max(initial=0) <= 1.0 else 1.0
        arr = np.clip(arr * scale + 0.5, 0, 255).astype(np.uint8)
    elif arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255
    else:
        arr = arr.astype(np.uint8)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.shape[2] == 4:
        alpha = arr[:, :, 3:4].astype(np.float32) / 255.0
        arr = (arr[:, :, :3] * alpha + 255.0 * (1.0 - alpha) + 0.5).astype(np.uint8)
    elif arr.shape[2] != 3:
        raise BadImage(f"array with {arr.shape[2]} channels is not an image; expected 1, 3 or 4")
    return np.ascontiguousarray(arr)


# pixels widened at a time by ``_high_bits_to_uint8``: 1 Mpx of uint32 is 4 MB
_BAND_PIXELS = 1 << 20


def _high_bits_to_uint8(arr: np.ndarray) -> np.ndarray:
    """Samples of more than 8 bits onto 0..255 as image viewers do (0..65535 -> round(v / 257);
    below 0 -> 0, above 65535 -> 255), in integers and a band of rows at a time.

    A 16-bit photo of a few KB can hold tens of megapixels: widened whole to float64 it would
    take gigabytes; here the only full-size array made is the uint8 result.

    Args:
        arr: an integer array (HxW or HxWxC), left unchanged.

    Returns:
        A uint8 array of the same shape.
    """
    out = np.empty(arr.shape, np.uint8)
    rows = max(1, _BAND_PIXELS // max(1, arr[0].size))
    for start in range(0, arr.shape[0], rows):
        band = np.clip(arr[start:start + rows], 0, 65535).astype(np.uint32)
        band += 128
        band //= 257
        out[start:start + rows] = band
    return out

"""The service's own pixel limit, checked from an upload's header before the engine decodes it.

Detection time grows with the pixel count, not the file size: a flat 7000x7000 PNG is 160 KB
and takes seconds of the engine's one thread. The service refuses photos above its limit
(``ServiceConfig.max_pixels``, well under the library's) before they are queued, so they cost
neither queue room nor engine time. Only the header is read (Pillow reads the size without
decoding the pixels); an upload whose header cannot be read is left to the engine, which says why.
"""

from __future__ import annotations

import io
import warnings

from faceprint.errors import ImageTooLarge


def image_size(data: bytes) -> tuple[int, int] | None:
    """The width and height an image's header declares, without decoding its pixels.

    Args:
        data: the encoded image.

    Returns:
        ``(width, height)``; None when the header cannot be read (not an image, truncated).

    Raises:
        faceprint.errors.ImageTooLarge: so many pixels that Pillow calls it a decompression bomb.
    """
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                return int(img.size[0]), int(img.size[1])
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"the image is far too large ({exc}); send a smaller photo") from None
    except Exception:  # noqa: BLE001 (not readable here: the engine's decoder gives the client's error)
        return None


def check_pixels(data: bytes, name: str, limit: int) -> None:
    """Refuse an upload with more pixels than ``limit``, by its header.

    Args:
        data: the encoded image.
        name: the upload's name in the message.
        limit: the most pixels (width x height) the service takes.

    Raises:
        faceprint.errors.ImageTooLarge: the image has more pixels than ``limit`` (the service answers 413).
    """
    size = image_size(data)
    if size is None:
        return
    width, height = size
    if width * height > limit:
        raise ImageTooLarge(f"{name}: {width}x{height} = {width * height:,} pixels is more than this server takes "
                            f"({limit:,} pixels); send a smaller photo (a face needs far fewer pixels)")

"""Face thumbnails: a small square JPEG crop of one face, kept with the face so that people can be
shown without keeping the photo."""

from __future__ import annotations

from typing import Any, Sequence

THUMBNAIL_SIZE = 96  # pixels, square
MARGIN = 1.4  # the crop's side, in face-box sides
JPEG_QUALITY = 85


def face_thumbnail(image: Any, box: Sequence[float], size: int = THUMBNAIL_SIZE) -> bytes | None:
    """A square JPEG crop around a face, padded with black where it passes the photo's edge.

    Args:
        image: an RGB uint8 array, or anything ``faceprint.images.load_image`` reads.
        box: the face's box (left, top, right, bottom) in the image's pixels.
        size: the thumbnail's side in pixels.

    Returns:
        The JPEG bytes; None when the box is empty or the image cannot be read.
    """
    import cv2
    import numpy as np

    from faceprint.errors import BadImage
    from faceprint.images import load_image

    try:
        rgb = image if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 else load_image(image)
    except BadImage:
        return None
    left, top, right, bottom = (float(v) for v in box)
    side = max(right - left, bottom - top) * MARGIN
    if side < 2:
        return None
    cx, cy = (left + right) / 2, (top + bottom) / 2
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    n = int(round(side))
    h, w = rgb.shape[:2]
    crop = np.zeros((n, n, 3), np.uint8)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + n, w), min(y0 + n, h)
    if sx1 <= sx0 or sy1 <= sy0:
        return None
    crop[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = rgb[sy0:sy1, sx0:sx1, :3]
    small = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return bytes(jpeg) if ok else None

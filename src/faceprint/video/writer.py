"""Write an annotated copy of a video: each tracked face boxed and labelled with its name."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from faceprint.errors import BadInput
from faceprint.types import Box

CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG"}
KNOWN = (0, 200, 0)  # BGR
UNKNOWN = (0, 140, 255)


def codec_for(path: Path) -> str:
    """The OpenCV codec for ``path``'s suffix.

    Raises:
        BadInput: no codec is known for it.
    """
    codec = CODECS.get(path.suffix.lower())
    if codec is None:
        names = sorted(CODECS)
        raise BadInput(f"{path}: name the annotated video {', '.join(names[:-1])} or {names[-1]}")
    return codec


class AnnotatedWriter:
    """An OpenCV video writer (mp4v for .mp4/.m4v/.mov, MJPG for .avi) that draws labelled boxes.

    Args:
        path: the output file; its suffix picks the codec.
        fps: frame rate to write at (a camera that does not say gets 25).
        width, height: frame size.
    """

    def __init__(self, path: Path, fps: float, width: int, height: int) -> None:
        import cv2

        codec = codec_for(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._writer: Any = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps or 25.0, (width, height))
        if not self._writer.isOpened():
            raise BadInput(f"{path}: OpenCV cannot write this video here (check the folder is writable, "
                           "or try an .avi name)")

    def write(self, bgr: np.ndarray, labels: Sequence[tuple[Box, str, bool, bool]]) -> None:
        """Draw ``(box, text, known, detected)`` for each face on a copy of ``bgr`` and append it;
        boxes the detector found are drawn thicker than boxes followed between detections."""
        import cv2

        canvas = bgr.copy()
        base = max(1, round(max(bgr.shape[:2]) / 500))
        for box, text, known, detected in labels:
            colour = KNOWN if known else UNKNOWN
            thickness = base + 1 if detected else base
            p1, p2 = (int(box.left), int(box.top)), (int(box.right), int(box.bottom))
            cv2.rectangle(canvas, p1, p2, colour, thickness)
            scale = 0.45 * base
            (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
            y = max(int(box.top) - 4, th + 4)
            cv2.rectangle(canvas, (p1[0], y - th - 4), (p1[0] + tw + 4, y + 2), colour, -1)
            cv2.putText(canvas, text, (p1[0] + 2, y - 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
        self._writer.write(canvas)

    def close(self) -> None:
        self._writer.release()

    def __enter__(self) -> "AnnotatedWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

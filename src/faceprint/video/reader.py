"""Read frames from a video file or a camera with OpenCV, as RGB arrays with timestamps."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Generic, Iterator, TypeVar

import numpy as np

from faceprint.errors import BadInput

log = logging.getLogger(__name__)

READ_AHEAD = 2  # frames decoded ahead of the one being processed, in a thread (0: none)
T = TypeVar("T")


@dataclass(frozen=True)
class VideoInfo:
    """What the container (or camera) says about the stream.

    Attributes:
        source: the path, or ``"camera:<index>"``.
        fps: frames per second; 0.0 when unknown (a camera that does not say), in which case
            frame times come from the wall clock.
        width, height: frame size in pixels.
        frame_count: frames in a file as the container reports them (may be approximate);
            0 for a camera.
    """

    source: str
    fps: float
    width: int
    height: int
    frame_count: int

    @property
    def is_camera(self) -> bool:
        return self.source.startswith("camera:")


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its index from 0, its time in seconds from the start, its BGR pixels as
    decoded and (made on first use) its RGB pixels."""

    index: int
    time_s: float
    bgr: np.ndarray

    @cached_property
    def rgb(self) -> np.ndarray:
        """The frame as RGB (made once, on first use: most frames of a video are only followed)."""
        import cv2

        return cv2.cvtColor(self.bgr, cv2.COLOR_BGR2RGB)


def parse_source(source: str | int | Path) -> str | int:
    """A camera index (an int, or a string of digits that is not an existing file) or a path."""
    if isinstance(source, int):
        return source
    text = str(source)
    if text.isdigit() and not Path(text).exists():
        return int(text)
    return text


def _open_quietly(cv2: Any, target: str | int) -> Any:
    """cv2.VideoCapture without OpenCV's own warnings on stderr (a missing camera logs two);
    our error says what went wrong instead."""
    logging_api = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging_api is None:
        return cv2.VideoCapture(target)
    level = logging_api.getLogLevel()
    logging_api.setLogLevel(logging_api.LOG_LEVEL_ERROR)
    try:
        return cv2.VideoCapture(target)
    finally:
        logging_api.setLogLevel(level)


class VideoReader:
    """Frames of a video file or camera, in order (a context manager; iterate to read). BadInput
    when it cannot be opened, or when iterating cannot read its first frame.

    Frames are decoded ``read_ahead`` frames ahead in a thread (OpenCV's decoder runs without
    Python's lock, so decoding overlaps the work on the frame before); 0 decodes in the caller's
    thread. Closing the reader (or leaving its ``with``) stops that thread first.

    Args:
        source: a video file, or a camera index.
        max_frames: stop after this many frames (None: to the end, or until interrupted).
        read_ahead: frames decoded ahead in a thread (0: none).

    Example:
        >>> with VideoReader("clip.mp4") as video:
        ...     for frame in video:
        ...         print(frame.index, frame.time_s, frame.rgb.shape)
    """

    def __init__(self, source: str | int | Path, max_frames: int | None = None, read_ahead: int = READ_AHEAD) -> None:
        import cv2

        # FFmpeg prints its own complaints (e.g. "moov atom not found") on stderr; our error says it
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
        target = parse_source(source)
        if isinstance(target, str) and not Path(target).is_file():
            raise BadInput(f"{target}: no such video file (give a path to a video, or a camera index such as 0)")
        self._capture: Any = _open_quietly(cv2, target)
        if not self._capture.isOpened():
            self._capture.release()
            if isinstance(target, int):
                raise BadInput(f"camera {target} could not be opened: check that it is connected and not in use, "
                               "or give a video file")
            raise BadInput(f"{target}: not a video OpenCV can read (try an .mp4 or .avi file)")
        fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        if not np.isfinite(fps) or fps <= 0 or fps > 1000:
            fps = 0.0
        count = 0 if isinstance(target, int) else int(max(self._capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0, 0))
        self.info = VideoInfo(
            source=f"camera:{target}" if isinstance(target, int) else str(target),
            fps=fps,
            width=int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            frame_count=count,
        )
        self.max_frames = max_frames
        self.read_ahead = max(0, int(read_ahead))
        self._ahead: ReadAhead[Frame] | None = None
        log.info("opened %s: %dx%d, %.2f fps, %d frames", self.info.source, self.info.width, self.info.height,
                 fps, count)

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the read-ahead thread, then release the file or camera."""
        if self._ahead is not None:
            self._ahead.close()
            self._ahead = None
        self._capture.release()

    def __iter__(self) -> Iterator[Frame]:
        if not self.read_ahead:
            return self._frames()
        if self._ahead is not None:
            self._ahead.close()
        self._ahead = ReadAhead(self._frames(), self.read_ahead, name="faceprint-video-read")
        return iter(self._ahead)

    def _frames(self) -> Iterator[Frame]:
        import cv2

        start = time.perf_counter()
        index, last = 0, -1.0
        while self.max_frames is None or index < self.max_frames:
            ok, bgr = self._capture.read()
            if not ok or bgr is None:
                if index == 0:  # OpenCV opens some files it cannot decode (a text file named .jpg)
                    raise BadInput(f"{self.info.source}: no frame could be read; give a video file "
                                   "(.mp4, .avi, ...) or a working camera")
                break
            if bgr.ndim == 2:
                bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
            # a file's own timestamp (right with a variable frame rate), else index / fps, else the clock
            ms = float(self._capture.get(cv2.CAP_PROP_POS_MSEC)) if not self.info.is_camera else float("nan")
            if np.isfinite(ms) and ms / 1e3 > last and (ms > 0 or index == 0):
                t = ms / 1e3
            elif self.info.fps:
                t = max(index / self.info.fps, last)
            else:
                t = time.perf_counter() - start
            last = t
            yield Frame(index, t, bgr)
            index += 1


class ReadAhead(Generic[T]):
    """The items of ``items``, produced up to ``depth`` ahead in a daemon thread, in order.

    An exception raised while producing is raised to the consumer at its place in the order.
    ``close()`` (also run when the consumer stops iterating, by ``break``, an exception or an
    interrupt) stops the thread and closes ``items`` in it; nothing is produced after that.

    Args:
        items: any iterator (a generator is closed in the producing thread when it stops).
        depth: items produced ahead at most (1 or more).
        name: the thread's name.
    """

    _END = object()

    def __init__(self, items: Iterator[T], depth: int = READ_AHEAD, name: str = "faceprint-read-ahead") -> None:
        self._items = items
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name=name, daemon=True)
        self._started = False
        self._done = False

    def _put(self, entry: tuple[Any, BaseException | None]) -> bool:
        """Queue ``entry`` unless stopped first; True when queued."""
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            for item in self._items:
                if not self._put((item, None)):
                    return
            self._put((self._END, None))
        except BaseException as exc:  # noqa: BLE001 (handed to the consumer, raised there)
            self._put((self._END, exc))
        finally:
            close = getattr(self._items, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> Iterator[T]:
        if self._started:
            raise RuntimeError("a ReadAhead is iterated once")
        self._started = True
        self._thread.start()
        try:
            while True:
                item, error = self._queue.get()
                if error is not None:
                    raise error
                if item is self._END:
                    return
                yield item
        finally:
            self.close()

    def close(self, timeout: float = 5.0) -> None:
        """Stop producing and wait (up to ``timeout`` s) for the thread to end."""
        if self._done:
            return
        self._done = True
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the read-ahead thread %s did not stop within %.0f s", self._thread.name, timeout)

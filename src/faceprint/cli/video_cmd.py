"""`faceprint video`: faces in a video file or camera, tracked and named against a gallery."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from faceprint import jsonout
from faceprint.cli.common import check_rate, check_writable, emit, fail, friendly_errors, progress_bar, setup_logging
from faceprint.settings import DEFAULT_GALLERY, default_gallery_path

# the same default gallery as `faceprint gallery` / `faceprint identify`


def video(
    source: str = typer.Argument(..., help="A video file (.mp4, .avi, ...) or a camera index such as 0."),
    gallery: Optional[Path] = typer.Option(None, "--gallery", "-g", help="The gallery to name faces with "
                                           f"(default: $FACEPRINT_GALLERY or ./{DEFAULT_GALLERY} when it exists; "
                                           "without one, faces are tracked but not named)."),
    every: int = typer.Option(5, "--every", "-n", min=1, help="Run the detector on one frame in N; faces are "
                              "followed in between (1 = every frame: slowest, most exact)."),
    threshold: Optional[float] = typer.Option(None, "--threshold", "-t", min=0.0, help="Euclidean distance within which "
                                              "a frame votes for its nearest person (default: the gallery's)."),
    fpir: Optional[float] = typer.Option(None, "--fpir", help="Use the gallery's default threshold for this false "
                                         "positive identification rate (default 0.01)."),
    min_quality: Optional[float] = typer.Option(None, "--min-quality", min=0.0, max=1.0,
                                                help="Faces scoring below this quality (0-1) vote for no name "
                                                     "(default: the gallery's floor, 0.1 unless set)."),
    annotate: Optional[Path] = typer.Option(None, "--annotate", "-a", help="Also write a copy with named boxes "
                                            "(.mp4 or .avi)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also write the JSON timeline to this file."),
    boxes: bool = typer.Option(True, "--boxes/--no-boxes", help="Include every track's box in every frame."),
    max_frames: Optional[int] = typer.Option(None, "--max-frames", min=1, help="Stop after this many frames "
                                             "(a camera otherwise runs until Ctrl-C)."),
    min_detections: int = typer.Option(1, "--min-detections", min=1, help="Leave out tracks detected in fewer "
                                       "frames (brief false detections)."),
    detector: Optional[str] = typer.Option(None, "--detector", "-d", help="Without a gallery: yunet (default), "
                                           "hog or cnn (a gallery uses its own)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Without a gallery: the embedding model "
                                        "(a gallery uses its own)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="A progress bar on stderr (files)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what happens on stderr."),
) -> None:
    """Who appears in a video, and when: a JSON timeline of tracked faces.

    Faces are detected every N frames and followed in between (and back to a shot cut). A face
    continues a track only when its embedding is near the track's own faces; at a shot cut nothing
    continues by place, and a track whose faces or votes show two people is split in two. Each track is named by a vote of its detection frames against the gallery, weighted by
    distance and face quality (a frame votes "unknown" beyond the threshold); a name needs more than
    half of the weight, else the track stays "unknown": a wrong name is worse than none.

    Each track gets its name, `confidence` (its share of the vote), `person` (the name, or
    "unknown N" shared by every track of one unnamed face), `ranges` (the frames where it holds),
    votes, first/last time (seconds) and its box in every frame; `cuts` lists the shot cuts and
    `processing_fps` says how fast it ran. The annotated copy labels each box "#track name
    confidence".

    Examples:

        faceprint gallery enrol people/ -g team.db && faceprint video meeting.mp4 -g team.db

        faceprint video meeting.mp4 -g team.db --every 10 --annotate named.mp4 --no-boxes

        faceprint video 0 -g team.db --max-frames 300      # the first camera, 300 frames
    """
    from faceprint.video import track_video
    from faceprint.video.writer import codec_for

    setup_logging(verbose)
    check_rate(fpir, "--fpir")
    with friendly_errors():
        if annotate is not None:
            codec_for(annotate)  # a bad name fails before the video is read
        if output is not None:
            check_writable(output)  # before the video is processed, not after
        store = _open_gallery(gallery)
        if store is not None and (detector or model):
            store.close()
            fail("--detector and --model are for runs without a gallery: a gallery names faces with its own "
                 "pipeline")
        if store is None and (threshold is not None or fpir is not None or min_quality is not None):
            fail("--threshold, --fpir and --min-quality need a gallery (--gallery FILE) to name faces with")
        config = None
        if store is None and (detector or model):
            from faceprint.pipeline.pipeline import PipelineConfig

            config = PipelineConfig(detector=detector or "", model=model or "dlib")
        try:
            total = max_frames or _frame_count(source)
            with progress_bar(total if progress else 0, "frames") as advance:
                timeline = track_video(source, store, threshold=threshold, fpir=fpir, min_quality=min_quality,
                                       detect_every=every,
                                       config=config, annotate=annotate, max_frames=max_frames,
                                       min_detections=min_detections, progress=advance)
        finally:
            if store is not None:
                store.close()
        result = timeline.to_dict(boxes)
        if store is not None:
            result["gallery"] = str(store.path)
        if annotate is not None:
            result["annotated"] = str(annotate)
        if output is not None:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(jsonout.dumps(result) + "\n")  # strict JSON, as the CLI prints it
        emit(result)


def _open_gallery(path: Optional[Path]):
    """The gallery asked for (an error when it does not exist), else the default one if present."""
    from faceprint.gallery import Gallery

    if path is None:
        path = default_gallery_path()
        if not path.exists():
            return None
    return Gallery(path, model=None, create=False)


def _frame_count(source: str) -> int:
    """Frames in a video file as its container says (0 for a camera or when unknown): for the bar."""
    from faceprint.errors import FaceprintError
    from faceprint.video.reader import VideoReader, parse_source

    if isinstance(parse_source(source), int):
        return 0
    try:
        with VideoReader(source) as video:
            return video.info.frame_count
    except FaceprintError:  # the run itself reports the problem
        return 0

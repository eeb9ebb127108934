"""Faces in a video: detect every N frames, track in between, name each track by a vote."""

from __future__ import annotations

import itertools
import logging
import time
from collections import defaultdict
from contextlib import closing, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from faceprint.errors import BadInput
from faceprint.quality import NAMING_FLOOR
from faceprint.video.cuts import CutDetector
from faceprint.video.identity import FrameMatch, assign_identities, live_start, split_tracks
from faceprint.video.reader import VideoReader
from faceprint.video.timeline import Timeline, TrackSummary
from faceprint.video.tracker import FaceTracker, Track, TrackPoint, is_partial
from faceprint.video.vote import UNKNOWN, IdentifyVectors, Vote, vote
from faceprint.video.writer import AnnotatedWriter

if TYPE_CHECKING:
    from faceprint.pipeline.pipeline import PipelineConfig

log = logging.getLogger(__name__)

KEEP_UNSEEN_S = 1.0  # seconds a track waits for its face to be detected again before it ends
# The tracking gate is tighter than verification: a track over two people loses one of them, where
# a face split in two tracks keeps its name in both (at dlib's verification threshold, 0.42, a cut
# from Colin_Powell_0001 to Tony_Blair_0001 in the same place joined one track: distance 0.4204,
# bench/bench_video.py at --every 10). The gate lets through one impostor pair in 10,000
# (``GATE_IMPOSTOR_RATE``, on the model's impostor curve fitted on LFW View 1 people: dlib 0.338,
# mobilefacenet 0.969, dlib+mobilefacenet 0.507); same-face frames sit far inside it (0.03-0.05
# from the track's mean with dlib in that video). A model without a fitted curve (a user's ONNX
# file) gets ``GATE_FACTOR`` x its verification threshold (dlib: 0.8 x 0.42 = 0.337, the same).
GATE_IMPOSTOR_RATE = 1e-4
GATE_FACTOR = 0.8


def default_gate(model: str) -> float:
    """The largest embedding distance at which a detection continues a track, for ``model``."""
    from faceprint.thresholds import impostor_quantile, threshold_for

    gate = impostor_quantile(model, GATE_IMPOSTOR_RATE)
    return gate if gate is not None else GATE_FACTOR * threshold_for(model)


def track_video(
    source: str | int | Path,
    gallery: Any = None,
    *,
    identify: IdentifyVectors | None = None,
    threshold: float | None = None,
    fpir: float | None = None,
    min_quality: float | None = None,
    detect_every: int = 5,
    config: PipelineConfig | None = None,
    annotate: str | Path | None = None,
    max_frames: int | None = None,
    min_detections: int = 1,
    gate: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> Timeline:
    """Detect faces every ``detect_every`` frames, follow them in between, and name each track.

    Args:
        source: a video file, or a camera index (``0``).
        gallery: a ``faceprint.Gallery`` to name faces with: the video is embedded with the
            gallery's own pipeline, and ``threshold`` defaults to the gallery's (``Gallery.threshold()``).
        identify: instead of a gallery, any callable mapping rows of unit embeddings to (nearest
            name or None, distance) for each row; None with no gallery tracks without naming.
        threshold: a frame votes for its nearest name only within this distance (required with
            ``identify``).
        fpir: with a gallery and no ``threshold``: the false positive identification rate to take
            the gallery's threshold for (``Gallery.threshold(fpir)``; default 1 %, or its calibrated one).
        min_quality: a face of quality under this votes "unknown" (``faceprint.quality.is_poor``);
            by default the gallery's floor (``Gallery.quality_floor()``), else ``NAMING_FLOOR``.
        detect_every: run the detector on one frame in this many (1 = every frame).
        config: the ``PipelineConfig`` (detector, model...); the gallery's, else the default, when None.
        annotate: also write a copy of the video with labelled boxes here (.mp4 or .avi).
        max_frames: stop after this many frames (a camera runs until interrupted otherwise).
        min_detections: leave out tracks detected in fewer frames (spurious detections).
        gate: largest embedding distance for a detection to continue a track; by default
            ``default_gate(model)``: one impostor pair in 10,000 gets through.
        progress: called with 1 after each frame.

    Returns:
        A ``Timeline``: the tracks with name, distance, first/last time and boxes, and the speed.

    Raises:
        BadInput: the source cannot be opened, or not one frame of it can be read.

    Example:
        >>> from faceprint.gallery import Gallery
        >>> from faceprint.video import track_video
        >>> timeline = track_video("clip.mp4", Gallery("team.db", create=False))  # doctest: +SKIP
        >>> [(t.name, t.first_s, t.last_s) for t in timeline.tracks]  # doctest: +SKIP
    """
    import cv2

    from faceprint.pipeline.pipeline import PipelineConfig, get_pipeline

    if detect_every < 1:
        raise BadInput(f"detect_every must be 1 or more, not {detect_every}")
    if gallery is not None:
        from faceprint.video.identify import gallery_identifier

        if config is not None and get_pipeline(config).signature() != gallery.signature:
            raise BadInput(f"the gallery {gallery.path} was enrolled with other pipeline settings than those asked "
                           "for: leave them out to use the gallery's")
        config = gallery.config
    pipe = get_pipeline(config or PipelineConfig())
    if gallery is not None:
        identify, threshold, floor = gallery_identifier(gallery, threshold, fpir, min_quality)
    else:
        floor = NAMING_FLOOR if min_quality is None else float(min_quality)
    if gallery is None and fpir is not None:
        raise BadInput("fpir needs a gallery: it picks the gallery's threshold")
    if identify is not None and threshold is None:
        raise BadInput("identify needs a threshold: the distance within which a frame votes for a name")
    gate = gate if gate is not None else default_gate(pipe.config.model)
    tracker = FaceTracker(gate, poor_gate=split_distance(pipe.config.model, gate))
    cuts = CutDetector()
    matches: dict[int, list[FrameMatch]] = defaultdict(list)
    notes: list[str] = []
    buffer: list[tuple[int, np.ndarray]] = []  # (index, BGR) of frames not yet written
    frames = 0
    stage: dict[str, float] = defaultdict(float)  # seconds spent in each step

    starts: dict[int, int] = {}  # per track: its first match since its last change of name

    def label(track: Track) -> tuple[str, bool]:
        if identify is None or threshold is None:
            return f"#{track.id}", False
        return live_label(track.id, matches[track.id], threshold, floor, starts)

    def flush(writer: AnnotatedWriter | None) -> None:
        """Write the buffered frames whose boxes are settled (every frame up to the last detection)."""
        if writer is None or not buffer:
            return
        first = buffer[0][0]
        per_frame: dict[int, list] = defaultdict(list)
        for track in tracker.tracks:
            if not track.points or track.points[-1].frame < first:
                continue
            text, known = label(track)
            for point in reversed(track.points):
                if point.frame < first:
                    break
                per_frame[point.frame].append((point.box, text, known, point.detected))
        for index, bgr in buffer:
            writer.write(bgr, per_frame.get(index, []))
        buffer.clear()

    _ = pipe.detector, pipe.embedder  # touched to load the models now, so the timings are of the video's work
    start = time.perf_counter()
    with VideoReader(source, max_frames) as video:
        info = video.info
        from faceprint.video.frame_detect import FrameDetector

        finder = FrameDetector(pipe, info.width, info.height)  # full-resolution search spread over frames
        # a face unseen by the detector for about a second (turned away, covered) keeps its track
        tracker.max_misses = max(2, round((info.fps or 10.0) * KEEP_UNSEEN_S / detect_every))
        clock = time.perf_counter()
        # each detection frame's search starts when it is read; closing stops its thread on any error
        reading = finder.ahead(video, detect_every)
        with closing(reading):
            first = next(reading, None)  # BadInput when no frame can be read: before an annotated copy is begun
            context = AnnotatedWriter(Path(annotate), info.fps, info.width, info.height) if annotate else nullcontext()
            with context as writer:
                try:
                    for frame in itertools.chain(() if first is None else (first,), reading):
                        clock = _lap(stage, "read", clock)
                        grey = cv2.cvtColor(frame.bgr, cv2.COLOR_BGR2GRAY)
                        if cuts.update(frame.bgr):  # no track continues by place into another shot
                            tracker.cut(frame.index)  # (its faces are followed back to the cut from the next detection)
                        clock = _lap(stage, "cuts", clock)
                        if frame.index % detect_every == 0:
                            detections = finder.detect(frame.rgb)
                            clock = _lap(stage, "detect", clock)
                            # faces cut by the frame's edge are linked by place only: their embeddings are poor
                            whole = [i for i, d in enumerate(detections) if not is_partial(d, *grey.shape[::-1])]
                            found = pipe.embed(frame.rgb, [detections[i] for i in whole])
                            embedded = {i: e.vector for i, e in zip(whole, found)}
                            quality = {i: getattr(e, "quality", None) for i, e in zip(whole, found)}
                            vectors = [embedded.get(i) for i in range(len(detections))]
                            clock = _lap(stage, "embed", clock)
                            owners = tracker.update(frame.index, frame.time_s, grey, detections, vectors,
                                                    [quality.get(i) for i in range(len(detections))])
                            if identify is not None and embedded:
                                for i, (name, d) in zip(embedded, identify(np.stack(list(embedded.values())))):
                                    matches[owners[i].id].append(FrameMatch(frame.index, name, d, quality[i]))
                            clock = _lap(stage, "track+identify", clock)
                            if writer is not None:
                                buffer.append((frame.index, frame.bgr))
                                flush(writer)
                        else:
                            tracker.follow(frame.index, frame.time_s, grey)
                            clock = _lap(stage, "follow", clock)
                            if writer is not None:
                                buffer.append((frame.index, frame.bgr))
                        if writer is not None:
                            clock = _lap(stage, "write", clock)
                        frames += 1
                        if progress is not None:
                            progress(1)
                except KeyboardInterrupt:
                    notes.append(f"interrupted after {frames} frames: the timeline covers those")
                    log.warning(notes[-1])
                tracker.finish()
                # a track whose votes contradict, or whose faces form two groups, is two people
                tracker.tracks = tracks = split_tracks(tracker.tracks, matches, threshold if identify else None,
                                                       split_distance(pipe.config.model, gate), tracker.cuts, floor)
                flush(writer)
    named = {t.id: _vote(matches[t.id], threshold, floor) for t in tracks} if identify and threshold is not None else {}
    people = assign_identities(tracks, {k: v.name for k, v in named.items()}, gate)
    elapsed = time.perf_counter() - start

    summaries = []
    for track in tracks:
        if track.detections < min_detections or not track.points:
            continue
        points = tuple(track.points)
        summaries.append(TrackSummary(
            track=track.id, vote=named.get(track.id), first_s=points[0].time_s, last_s=points[-1].time_s,
            first_frame=points[0].frame, last_frame=points[-1].frame, detections=track.detections, points=points,
            person=people.get(track.id), ranges=runs(points, detect_every)))
    dropped = sum(t.detections < min_detections for t in tracks)
    if dropped:
        notes.append(f"{dropped} track(s) detected in fewer than {min_detections} frames left out")
    if identify is None:
        notes.append("no gallery: tracks are not named")
    return Timeline(source=info.source, fps=info.fps, width=info.width, height=info.height, frames=frames,
                    detect_every=detect_every, model=pipe.config.model, signature=pipe.signature(),
                    threshold=threshold if identify is not None else None,
                    tracks=tuple(sorted(summaries, key=lambda t: (t.first_frame, t.track))),
                    elapsed_s=elapsed, stage_s=dict(stage), notes=tuple(notes), cuts=tuple(tracker.cuts))


def _vote(matches: list[FrameMatch], threshold: float, floor: float = NAMING_FLOOR) -> Vote:
    """A track's vote from its detection frames."""
    return vote([(m.name, m.distance) for m in matches], threshold, [m.quality for m in matches], floor)


def live_label(track_id: int, matches: list[FrameMatch], threshold: float, floor: float,
               starts: dict[int, int]) -> tuple[str, bool]:
    """A track's label in the annotated copy, and whether it names someone: the vote of its frames
    since its last change of name (``identity.live_start``), so a second person in a track that
    is split afterwards is not shown under the first's name.

    Args:
        track_id: the track's number.
        matches: the track's detection frames so far, in time order.
        threshold: the identification threshold.
        floor: the quality under which a face votes "unknown".
        starts: per track, where its latest run of one name starts (read and updated).

    Returns:
        ``("#id name confidence", True)``, or ``("#id unknown", False)``.
    """
    starts[track_id] = start = live_start(matches, threshold, floor, starts.get(track_id, 0))
    named = _vote(matches[start:], threshold, floor)
    if named.name == UNKNOWN:
        return f"#{track_id} {UNKNOWN}", False
    return f"#{track_id} {named.name} {named.confidence:.2f}", True


def split_distance(model: str, gate: float) -> float:
    """How far apart two groups of a track's faces must be to be two people, and how near a poor
    face must be to a track of poor faces it overlaps: the model's verification threshold (never
    less than the tracking gate)."""
    from faceprint.thresholds import threshold_for

    return max(float(threshold_for(model)), gate)


def runs(points: tuple[TrackPoint, ...], detect_every: int) -> tuple[tuple[int, int], ...]:
    """The (first, last) frames of each run of ``points`` without a gap of more than ``detect_every``
    frames."""
    out: list[tuple[int, int]] = []
    for point in points:
        if out and point.frame - out[-1][1] <= detect_every:
            out[-1] = (out[-1][0], point.frame)
        else:
            out.append((point.frame, point.frame))
    return tuple(out)


def _lap(stage: dict[str, float], name: str, since: float) -> float:
    """Add the time since ``since`` to ``stage[name]``; returns now."""
    now = time.perf_counter()
    stage[name] += now - since
    return now

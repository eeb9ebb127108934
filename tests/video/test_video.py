"""Faces in video: tracker, vote, reader/writer on synthetic frames; the whole run on a video built
from LFW photos, named against a gallery enrolled from other photos of the same people."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from faceprint.types import Box, Detection
from faceprint.video.tracker import FaceTracker, iou
from faceprint.video.vote import UNKNOWN, vote

SIZE = 60  # side of the synthetic "face" patch


def _patch(seed: int) -> np.ndarray:
    """A textured grey square that template matching can lock on to (smoothed noise)."""
    import cv2

    noise = np.random.default_rng(seed).integers(0, 255, (SIZE, SIZE), dtype=np.uint8)
    return cv2.GaussianBlur(noise, (5, 5), 1.5)


def _frame(patches: list[tuple[np.ndarray, int, int]], shape: tuple[int, int] = (240, 320)) -> np.ndarray:
    grey = np.full(shape, 120, np.uint8)
    for patch, x, y in patches:
        grey[y : y + SIZE, x : x + SIZE] = patch
    return grey


def _det(x: float, y: float) -> Detection:
    return Detection(Box(x, y, x + SIZE, y + SIZE), 0.9, np.zeros((5, 2)))


def _unit(seed: int, dim: int = 128) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=dim)
    return (v / np.linalg.norm(v)).astype(np.float32)


def test_iou() -> None:
    assert iou(Box(0, 0, 10, 10), Box(0, 0, 10, 10)) == pytest.approx(1.0)
    assert iou(Box(0, 0, 10, 10), Box(5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert iou(Box(0, 0, 10, 10), Box(20, 20, 30, 30)) == 0.0


def test_cheapest_first_links_one_to_one() -> None:
    from faceprint.video.tracker import INFEASIBLE, _cheapest_first

    costs = np.array([[0.3, 0.1, INFEASIBLE], [0.2, INFEASIBLE, INFEASIBLE], [INFEASIBLE] * 3])
    assert sorted(_cheapest_first(costs)) == [(0, 1), (1, 0)]
    assert _cheapest_first(np.full((2, 2), INFEASIBLE)) == []


def test_tracker_follows_a_moving_face_between_detections() -> None:
    face, person = _patch(1), _unit(1)
    tracker = FaceTracker(gate=0.4)
    for frame in range(10):
        x, y = 40 + 4 * frame, 50 + 2 * frame
        grey = _frame([(face, x, y)])
        if frame % 5 == 0:
            tracker.update(frame, frame / 10, grey, [_det(x, y)], person[None])
        else:
            tracker.follow(frame, frame / 10, grey)
    (track,) = tracker.finish()
    assert [p.frame for p in track.points] == list(range(10))
    assert track.detections == 2
    followed = [p for p in track.points if not p.detected]
    assert len(followed) == 8
    for p in followed:  # the template lands on the true position within a pixel
        assert abs(p.box.left - (40 + 4 * p.frame)) <= 1 and abs(p.box.top - (50 + 2 * p.frame)) <= 1


def test_tracker_follows_a_face_that_grows() -> None:
    """A face coming closer: following tries slightly smaller and larger sizes each frame."""
    import cv2

    base = _patch(3)
    tracker = FaceTracker(gate=0.4)
    sizes = [round(SIZE * 1.05 ** i) for i in range(7)]
    for frame, side in enumerate(sizes):
        grey = np.full((240, 320), 120, np.uint8)
        x, y = 160 - side // 2, 120 - side // 2
        grey[y : y + side, x : x + side] = cv2.resize(base, (side, side), interpolation=cv2.INTER_LINEAR)
        if frame == 0:
            tracker.update(0, 0.0, grey, [_det(x, y)], _unit(1)[None])
        else:
            tracker.follow(frame, frame / 10, grey)
    (track,) = tracker.finish()
    assert [p.frame for p in track.points] == list(range(7))
    last = track.points[-1].box
    assert last.width == pytest.approx(sizes[-1], rel=0.06)  # 34 % larger than at the detection
    assert last.center == pytest.approx((160, 120), abs=2)


def test_tracker_splits_a_cut_to_another_person_in_the_same_place() -> None:
    """Overlap alone never links two faces: the embedding decides."""
    tracker = FaceTracker(gate=0.4)
    a, b = _patch(1), _patch(2)
    va, vb = _unit(1), _unit(2)
    for frame in range(12):
        patch, vec = (a, va) if frame < 7 else (b, vb)
        grey = _frame([(patch, 100, 80)])
        if frame % 3 == 0:
            tracker.update(frame, frame / 10, grey, [_det(100, 80)], vec[None])
        else:
            tracker.follow(frame, frame / 10, grey)
    first, second = tracker.finish()
    assert [p.frame for p in first.points] == list(range(7))  # following stopped at the cut
    assert [p.frame for p in second.points] == list(range(7, 12))  # followed back to the cut
    assert second.points[0].detected is False and second.points[0].box.left == pytest.approx(100, abs=2)


def test_tracker_settles_frames_two_tracks_claim_at_a_cut() -> None:
    """A cut between detections to a look-alike patch: the old track's template still matches the
    new face (so it follows it), and the new one's matches the old face; each frame goes to the
    template that matches it better."""
    a = _patch(1)
    b = (0.6 * a + 0.4 * _patch(2)).astype(np.uint8)  # a's template still matches it (~0.5)
    tracker = FaceTracker(gate=0.4, min_follow_score=0.3, min_backfill_score=0.6)
    for frame in range(12):
        grey = _frame([(a if frame < 7 else b, 100 + 2 * frame, 80)])
        if frame % 3 == 0:
            vec = _unit(1) if frame < 7 else _unit(2)
            tracker.update(frame, frame / 10, grey, [_det(100 + 2 * frame, 80)], vec[None])
        else:
            tracker.follow(frame, frame / 10, grey)
    first, second = tracker.finish()
    assert [p.frame for p in first.points] == list(range(7))  # frame 7, followed onto b, went to b
    assert [p.frame for p in second.points] == list(range(7, 12))
    assert first.box == first.points[-1].box


def test_tracker_keeps_identity_when_two_faces_swap_detection_order() -> None:
    tracker = FaceTracker(gate=0.4)
    a, b = _patch(1), _patch(2)
    va, vb = _unit(1), _unit(2)
    grey = _frame([(a, 20, 20), (b, 200, 100)])
    t1 = tracker.update(0, 0.0, grey, [_det(20, 20), _det(200, 100)], np.stack([va, vb]))
    t2 = tracker.update(1, 0.1, grey, [_det(200, 100), _det(20, 20)], np.stack([vb, va]))
    assert [t.id for t in t1] == [1, 2] and [t.id for t in t2] == [2, 1]
    # a face far from its last box is still the same track when its embedding is near enough
    t3 = tracker.update(2, 0.2, _frame([(a, 250, 170)]), [_det(250, 170)], (va + 0.01 * vb)[None])
    assert t3[0].id == 1


def test_tracker_ends_a_track_after_max_misses_and_reidentifies_it_by_embedding() -> None:
    tracker = FaceTracker(gate=0.4, max_misses=1)
    grey = _frame([(_patch(1), 50, 50)])
    tracker.update(0, 0.0, grey, [_det(50, 50)], _unit(1)[None])
    tracker.update(1, 0.1, _frame([]), [], np.zeros((0, 128), np.float32))
    assert len(tracker.live) == 1
    tracker.update(2, 0.2, _frame([]), [], np.zeros((0, 128), np.float32))
    assert tracker.live == []
    # the same face comes back elsewhere: the same track, by its embedding; another face: a new one
    back = tracker.update(3, 0.3, _frame([(_patch(1), 150, 100)]), [_det(150, 100)], _unit(1)[None])
    assert back[0].id == 1 and back[0].alive
    other = tracker.update(4, 0.4, _frame([(_patch(2), 150, 100)]), [_det(150, 100)], _unit(2)[None])
    assert other[0].id == 2


def test_track_keeps_a_bounded_number_of_its_embeddings() -> None:
    """A camera run until Ctrl-C: a track must not keep every embedding it was given."""
    from faceprint.video.tracker import BEST_EXEMPLARS, MAX_SAMPLES, RECENT_EXEMPLARS

    tracker = FaceTracker(gate=0.4)
    grey = _frame([(_patch(1), 50, 50)])
    vecs = [_unit(1) + 0.01 * _unit(100 + i) for i in range(3 * MAX_SAMPLES)]
    for frame, vec in enumerate(vecs):
        tracker.update(frame, frame / 10, grey, [_det(50, 50)], vec[None])
    (track,) = tracker.finish()
    assert track.detections == 3 * MAX_SAMPLES
    assert MAX_SAMPLES // 2 <= len(track.samples) <= MAX_SAMPLES
    frames = [s.frame for s in track.samples]
    assert frames == sorted(frames) and frames[-1] >= 3 * MAX_SAMPLES - 4  # spread over the run, in order
    assert len(track.exemplars) == RECENT_EXEMPLARS + BEST_EXEMPLARS
    assert [s.frame for s in track.exemplars.recent] == list(range(3 * MAX_SAMPLES - 4, 3 * MAX_SAMPLES))


def test_vote() -> None:
    assert vote([("ann", 0.3), ("bob", 0.35), ("ann", 0.38)], 0.4).name == "ann"
    result = vote([("ann", 0.3), ("ann", 0.5), ("ann", 0.6)], 0.4)
    assert result.name == UNKNOWN and result.votes == {UNKNOWN: 2, "ann": 1}
    assert result.distance == pytest.approx(0.5)  # median nearest distance over all frames
    near = vote([("ann", 0.35), ("bob", 0.2)], 0.4)  # one frame each: the nearer one weighs more
    assert near.name == "bob" and near.distance == pytest.approx(0.2)
    assert near.confidence == pytest.approx(0.5 / (0.5 + 0.125))
    assert vote([], 0.4).name == UNKNOWN
    assert vote([(None, float("inf"))], 0.4).to_dict()["distance"] is None


def test_vote_weighs_distance_and_quality_and_names_only_with_a_majority_of_the_evidence() -> None:
    # three frames barely within the threshold do not outweigh two clear ones
    frames = [("ann", 0.39), ("ann", 0.39), ("ann", 0.39), ("bob", 0.1), ("bob", 0.1)]
    assert vote(frames, 0.4).name == "bob"
    # poor faces count for little: the same frames, bob's faces scored poor
    assert vote(frames, 0.4, [1.0, 1.0, 1.0, 0.01, 0.01]).name == "ann"
    # split evidence between two names: no name (a wrong name is worse than none)
    split = vote([("ann", 0.2), ("ann", 0.2), ("bob", 0.2), ("bob", 0.2), ("bob", 0.3), ("cy", 0.6)], 0.4)
    assert split.name == UNKNOWN and split.votes == {"bob": 3, "ann": 2, UNKNOWN: 1}
    assert split.weights["bob"] > split.weights["ann"]
    assert vote([("ann", 0.1), ("ann", 0.1), (None, 0.6)], 0.4).confidence == pytest.approx(1.5 / 2.0)


# -- the whole run on a video built from LFW photos -------------------------------------------------

FPS = 5
PEOPLE = ["Colin_Powell", "Serena_Williams"]  # 2 s each, in this order, then 1 s of a stranger
STRANGER = "Gloria_Macapagal_Arroyo"  # 0.56 from anyone enrolled (threshold ~0.42)
DISTRACTOR = "George_W_Bush"  # enrolled, never in the video


def _write_video(lfw: Path, path: Path) -> None:
    """Each person's photo 0001 pasted on a grey canvas, shifting a few pixels a frame."""
    import cv2

    from faceprint.images import load_image

    shots = [(name, 2 * FPS) for name in PEOPLE] + [(STRANGER, FPS)]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (320, 280))
    for name, count in shots:
        photo = load_image(lfw / name / f"{name}_0001.jpg")
        for i in range(count):
            canvas = np.full((280, 320, 3), 100, np.uint8)
            x, y = 15 + 4 * i, 10 + 3 * (i % 3)
            canvas[y : y + 250, x : x + 250] = photo
            writer.write(np.ascontiguousarray(canvas[:, :, ::-1]))
    writer.release()


@pytest.fixture(scope="module")
def clip(lfw: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The test video, and a gallery of its two people (and a distractor) enrolled from OTHER photos."""
    from faceprint.gallery import Gallery

    folder = tmp_path_factory.mktemp("video")
    video = folder / "clip.avi"
    _write_video(lfw, video)
    with Gallery(folder / "team.db") as gallery:
        for name in PEOPLE + [DISTRACTOR]:
            report = gallery.enrol(name, [lfw / name / f"{name}_{k:04d}.jpg" for k in (2, 3, 4)])
            assert report.added == 3, report.problems
    return video, folder / "team.db"


@pytest.mark.slow
def test_timeline_names_the_right_people_at_the_right_times(clip: tuple[Path, Path], tmp_path: Path) -> None:
    import cv2

    from faceprint.gallery import Gallery
    from faceprint.video import track_video

    video, db = clip
    with Gallery(db, model=None, create=False) as gallery:
        timeline = track_video(video, gallery, detect_every=3, annotate=tmp_path / "named.avi")
    assert timeline.frames == 25 and timeline.fps == pytest.approx(FPS)
    assert timeline.threshold is not None
    got = [(t.name, t.first_frame, t.last_frame) for t in timeline.tracks]
    # detections at frames 0, 3, 6, ...: the cuts (frames 10 and 20) fall between two of them, and
    # following forwards/backwards by template puts each track's ends on the exact frames
    assert got == [("Colin_Powell", 0, 9), ("Serena_Williams", 10, 19), ("unknown", 20, 24)]
    first, second, stranger = timeline.tracks
    assert (first.first_s, first.last_s) == pytest.approx((0.0, 1.8))
    assert (second.first_s, second.last_s) == pytest.approx((2.0, 3.8))
    assert first.vote.distance <= timeline.threshold and second.vote.distance <= timeline.threshold
    assert stranger.vote.distance > timeline.threshold
    assert first.vote.votes == {"Colin_Powell": first.detections} and first.detections == 4
    # boxes: one per frame, on the face (the photo moves 4 px a frame to the right); the detector's
    # own boxes wobble by a few pixels, template following adds ~4 px a frame to them
    assert [p.frame for p in first.points] == list(range(10))
    assert all(abs(p.box.left - (first.points[0].box.left + 4 * p.frame)) <= 4 for p in first.points)
    followed = [(p, q) for p, q in zip(first.points, first.points[1:]) if not q.detected]
    assert len(followed) == 6 and all(abs(q.box.left - p.box.left - 4) <= 1 for p, q in followed)

    def frames_of(path: Path) -> list[np.ndarray]:
        capture, out = cv2.VideoCapture(str(path)), []
        while True:
            ok, bgr = capture.read()
            if not ok:
                return out
            out.append(bgr)

    named, plain = frames_of(tmp_path / "named.avi"), frames_of(video)
    assert len(named) == 25

    def labelled(bgr: np.ndarray, colour: tuple[int, int, int]) -> int:  # pixels of a label's colour
        return int((np.abs(bgr.astype(int) - colour).max(axis=2) < 40).sum())

    green, orange = (0, 200, 0), (0, 140, 255)  # BGR: a known name, "unknown"
    assert labelled(named[5], green) > labelled(plain[5], green) + 300
    assert labelled(named[22], orange) > labelled(plain[22], orange) + 300
    assert labelled(named[22], green) < labelled(plain[22], green) + 50


@pytest.mark.slow
def test_cli_video_json_and_errors(clip: tuple[Path, Path], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from faceprint.cli.main import app

    video, db = clip
    runner = CliRunner()
    result = runner.invoke(app, ["video", str(video), "-g", str(db), "--every", "5", "--no-boxes",
                                 "-o", str(tmp_path / "t.json"), "--no-progress"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data == json.loads((tmp_path / "t.json").read_text())
    assert [t["name"] for t in data["tracks"]] == ["Colin_Powell", "Serena_Williams", "unknown"]
    assert [(t["first_s"], t["last_s"]) for t in data["tracks"]] == [(0.0, 1.8), (2.0, 3.8), (4.0, 4.8)]
    assert "boxes" not in data["tracks"][0] and data["processing_fps"] > 0 and data["detect_every"] == 5
    # names with their evidence: confidence, identity, the frames where they hold; the shot cuts
    assert [t["person"] for t in data["tracks"]] == ["Colin_Powell", "Serena_Williams", "unknown 1"]
    assert all(t["confidence"] > 0.5 for t in data["tracks"])
    assert [t["ranges"] for t in data["tracks"]] == [[[0, 9]], [[10, 19]], [[20, 24]]]
    assert data["cuts"] == [10, 20]

    missing = runner.invoke(app, ["video", str(tmp_path / "nope.mp4"), "-g", str(db)])
    assert missing.exit_code == 1 and "no such video file" in missing.output and "Traceback" not in missing.output
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    junk = runner.invoke(app, ["video", str(tmp_path / "junk.mp4"), "-g", str(db)])
    assert junk.exit_code == 1 and "not a video" in junk.output
    no_gallery = runner.invoke(app, ["video", str(video), "-g", str(tmp_path / "none.db")])
    assert no_gallery.exit_code == 1 and "no gallery here" in no_gallery.output

    # --fpir reaches the gallery through track_video: the threshold is the gallery's at that FPIR
    from faceprint.gallery import Gallery

    strict = runner.invoke(app, ["video", str(video), "-g", str(db), "--fpir", "0.001", "--max-frames", "5",
                                 "--no-progress"])
    assert strict.exit_code == 0, strict.output
    with Gallery(db, model=None, create=False) as gallery:
        expected = gallery.threshold(0.001)
        assert expected != gallery.threshold()
    assert json.loads(strict.stdout)["threshold"] == pytest.approx(expected, abs=1e-6)


def test_gallery_identifier_takes_the_threshold_or_an_fpir(tmp_path: Path) -> None:
    from faceprint.errors import BadInput
    from faceprint.video import track_video
    from faceprint.video.identify import gallery_identifier

    class Gallery:
        signature = "sig"

        def threshold(self, fpir: float | None = None) -> float:
            return {None: 0.42, 0.001: 0.35}[fpir]

    assert gallery_identifier(Gallery())[1] == pytest.approx(0.42)
    assert gallery_identifier(Gallery(), fpir=0.001)[1] == pytest.approx(0.35)
    assert gallery_identifier(Gallery(), threshold=0.5)[1] == pytest.approx(0.5)
    with pytest.raises(BadInput, match="not both"):
        gallery_identifier(Gallery(), threshold=0.5, fpir=0.001)
    with pytest.raises(BadInput, match="fpir needs a gallery"):
        track_video(tmp_path / "clip.avi", fpir=0.001)


def test_cli_video_refuses_an_annotate_name_without_a_codec(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from faceprint.cli.main import app
    from faceprint.video.writer import CODECS

    run = CliRunner().invoke(app, ["video", str(tmp_path / "clip.avi"), "--annotate", str(tmp_path / "out.gif")])
    assert run.exit_code == 1 and "Traceback" not in run.output
    assert "out.gif: name the annotated video" in run.output and all(s in run.output for s in CODECS)


def test_video_without_gallery_tracks_unnamed(lfw: Path, tmp_path: Path) -> None:
    from faceprint.video import track_video

    video = tmp_path / "clip.avi"
    _write_video(lfw, video)
    timeline = track_video(video, detect_every=5, max_frames=12)
    assert timeline.frames == 12
    assert [(t.name, t.first_frame, t.last_frame) for t in timeline.tracks] == [(None, 0, 9), (None, 10, 11)]
    assert "no gallery: tracks are not named" in timeline.notes


@pytest.mark.slow
def test_panning_camera_names_faces_entering_and_leaving(group_photo: np.ndarray, lfw: Path, tmp_path: Path) -> None:
    """A camera panning along a row of three people: each face enters at one edge and leaves at
    the other. Partial faces at the edges are tracked by place without voting, so each person is
    one track, named right, covering at least the frames where the face is whole and at most
    those where some of it shows."""
    import cv2

    from faceprint.gallery import Gallery
    from faceprint.video import track_video

    names = ["Aaron_Peirsol", "Angelina_Jolie", "Colin_Powell"]  # the group photo's top row
    row = group_photo[:250]
    video = tmp_path / "pan.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (300, 250))
    for x in range(0, 451, 15):  # 31 frames
        writer.write(np.ascontiguousarray(row[:, x : x + 300, ::-1]))
    writer.release()
    with Gallery(tmp_path / "row.db") as gallery:
        for name in names:
            assert gallery.enrol(name, [lfw / name / f"{name}_{k:04d}.jpg" for k in (2, 3, 4)]).added == 3
        timeline = track_video(video, gallery, detect_every=3)
    assert [t.name for t in timeline.tracks] == names
    # face boxes in the row (x from-to) -> frames (view at 15 f .. 15 f + 300) where it is whole / shows
    faces = [(75, 171), (320, 415), (576, 658)]
    for track, (a, b) in zip(timeline.tracks, faces):
        whole = [f for f in range(31) if 15 * f <= a and b <= 15 * f + 300]
        shows = [f for f in range(31) if 15 * f < b and a < 15 * f + 300]
        assert shows[0] <= track.first_frame <= whole[0] and whole[-1] <= track.last_frame <= shows[-1], track
        assert track.vote.votes == {track.name: track.vote.frames} and track.vote.frames < track.detections


def test_is_partial() -> None:
    from faceprint.video.tracker import is_partial

    def det(left: float, top: float, right: float, bottom: float, mouth_y: float = 150) -> Detection:
        keypoints = np.array([[40, 100], [80, 100], [60, 120], [45, mouth_y], [75, mouth_y]], float)
        return Detection(Box(left, top, right, bottom), 0.9, np.zeros((5, 2)), keypoints=keypoints)

    assert not is_partial(det(20, 30, 120, 160), 200, 200)
    assert is_partial(det(0, 30, 60, 160), 200, 200) and is_partial(det(150, 30, 200, 160), 200, 200)
    assert is_partial(det(20, 0, 120, 100), 200, 200)
    assert not is_partial(det(20, 80, 120, 200), 200, 200)  # chin cut off, mouth inside: whole enough
    assert is_partial(det(20, 80, 120, 200, mouth_y=205), 200, 200)


def test_reader_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from faceprint.errors import BadInput
    from faceprint.video.reader import VideoReader, parse_source

    monkeypatch.chdir(tmp_path)
    assert parse_source("0") == 0 and parse_source(3) == 3 and parse_source("clip.mp4") == "clip.mp4"
    (tmp_path / "0").write_bytes(b"")  # a file named like a camera index is the file
    assert parse_source("0") == "0"
    with pytest.raises(BadInput, match="camera 99 could not be opened"):
        VideoReader(99)
    with pytest.raises(BadInput, match="no such video file"):
        VideoReader(tmp_path / "missing.avi")


def test_default_gate_from_the_fitted_curve_or_the_verification_threshold(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from faceprint import thresholds as identify
    from faceprint.thresholds import threshold_for
    from faceprint.video.process import GATE_FACTOR, default_gate

    monkeypatch.setenv("FACEPRINT_HOME", str(tmp_path))  # no user-saved threshold
    assert default_gate("dlib") == pytest.approx(0.338, abs=0.002)  # one impostor pair in 10,000
    monkeypatch.setattr(identify, "impostor_quantile", lambda model, p: None)  # a model with no fitted curve
    assert default_gate("dlib") == pytest.approx(GATE_FACTOR * threshold_for("dlib"))

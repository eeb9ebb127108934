"""Build the labelled video clips of the video tests: hard cuts between people at one place.

    python bench/make_video_clips.py                   # writes tests/fixtures/video/
    python bench/make_video_clips.py --out /tmp/clips  # elsewhere

Each clip is a run of shots of real photos (the five_celebrity set's val/ photos, LFW photos)
filmed as a camera would: the face placed at the same spot of the frame in shot after shot, with a
pan and a zoom inside each shot, and hard cuts between shots (to another person, or to another
photo of the same person: another expression and pose). One shot starts with its face cut by the
frame's edge right where the previous person was. Every frame is labelled with the face's box
(the detector's box on the photo, moved as the photo is) and who it is.

Enrolment photos (one per enrolled person, never one the clip shows: five_celebrity's train/
photos, another LFW photo) are written beside the clips, re-encoded at most 320 px wide. Some
people in the clips are deliberately not enrolled (they must be named "unknown", and the same
"unknown N" each time they come back).

``cuts_crowd`` cuts inside the real street video ``video/crowd_1080p.mp4`` (shrunk to 960x540):
its frames 0-39, a close-up of Ben Affleck (a five_celebrity photo, enrolled from another), then
its frames 70-104 (the crowd 1.2 s later: a jump cut in one scene). Its labels are those made by
eye for the street video (``bench/labels/crowd_1080p.json``, people ``p1``... never enrolled),
moved to the clip's frames and scale, plus the close-up's.

Written per clip: ``<clip>.mp4`` (480x360, or 960x540 for the crowd, 25 fps, mp4v) and
``<clip>.json`` (``{"fps", "enrolled": {name: photo file}, "shots": [...], "labels": [{frame,
box, person}]}``). Data come from FACEPRINT_DATA (or ../shared/data beside the checkout).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

WIDTH, HEIGHT, FPS = 480, 360, 25.0
FACE_WIDTH = 96  # pixels: the face's width at the start of a shot


@dataclass(frozen=True)
class Shot:
    """A shot: whose photo, how long, where the face sits at its start and how the camera moves."""

    person: str
    photo: str  # path relative to the data folder
    frames: int = 18
    centre: tuple[float, float] = (240.0, 165.0)
    pan: tuple[float, float] = (1.2, 0.3)  # pixels per frame
    zoom: float = 0.004  # relative growth per frame


def _five(person: str, k: int, part: str = "val") -> str:
    return f"five_celebrity/{part}/{person}/#{k}"


def _lfw(person: str, k: int) -> str:
    return f"lfw/{person}/{person}_{k:04d}.jpg"


# five_celebrity: ben, jerry, madonna, mindy enrolled; elton_john not (a recurring unknown)
CELEBRITY = [
    Shot("ben_afflek", _five("ben_afflek", 0)),
    Shot("jerry_seinfeld", _five("jerry_seinfeld", 0), pan=(-1.0, 0.2)),
    Shot("ben_afflek", _five("ben_afflek", 1), zoom=-0.003),
    Shot("jerry_seinfeld", _five("jerry_seinfeld", 1), pan=(0.8, -0.4)),
    Shot("elton_john", _five("elton_john", 0)),
    Shot("madonna", _five("madonna", 0), pan=(-1.2, 0.0)),
    Shot("mindy_kaling", _five("mindy_kaling", 0)),
    Shot("madonna", _five("madonna", 1), zoom=0.006),
    Shot("elton_john", _five("elton_john", 1), pan=(-0.8, 0.3)),
    # near the left edge, then a cut to a face cut by the edge at the same place
    Shot("ben_afflek", _five("ben_afflek", 2), centre=(75.0, 170.0), pan=(-0.6, 0.0), zoom=0.0),
    Shot("mindy_kaling", _five("mindy_kaling", 1), centre=(42.0, 170.0), pan=(2.0, 0.0), zoom=0.0, frames=24),
    Shot("jerry_seinfeld", _five("jerry_seinfeld", 2)),
    Shot("ben_afflek", _five("ben_afflek", 3), pan=(-1.0, -0.3)),
]
CELEBRITY_ENROL = {p: _five(p, 0, "train") for p in ("ben_afflek", "jerry_seinfeld", "madonna", "mindy_kaling")}

# LFW: people who look alike cut into each other; several photos of each (expression, pose)
LFW = [
    Shot("George_W_Bush", _lfw("George_W_Bush", 10)),
    Shot("Donald_Rumsfeld", _lfw("Donald_Rumsfeld", 10), pan=(-1.0, 0.2)),
    Shot("George_W_Bush", _lfw("George_W_Bush", 20), zoom=-0.003),
    Shot("George_W_Bush", _lfw("George_W_Bush", 30), pan=(-0.8, 0.0)),
    Shot("Donald_Rumsfeld", _lfw("Donald_Rumsfeld", 20)),
    Shot("John_Ashcroft", _lfw("John_Ashcroft", 10), pan=(1.0, -0.3)),
    Shot("Tony_Blair", _lfw("Tony_Blair", 10)),
    Shot("Gerhard_Schroeder", _lfw("Gerhard_Schroeder", 10), pan=(-1.2, 0.0)),
    Shot("Tony_Blair", _lfw("Tony_Blair", 20), zoom=0.006),
    Shot("John_Ashcroft", _lfw("John_Ashcroft", 20)),
    Shot("Gerhard_Schroeder", _lfw("Gerhard_Schroeder", 20), pan=(0.8, 0.3)),
    Shot("Donald_Rumsfeld", _lfw("Donald_Rumsfeld", 30), pan=(-0.8, -0.2)),
]
# John_Ashcroft is not enrolled
LFW_ENROL = {p: _lfw(p, 1) for p in ("George_W_Bush", "Donald_Rumsfeld", "Tony_Blair", "Gerhard_Schroeder",
                                     "Colin_Powell", "Serena_Williams")}

CLIPS = {"cuts_celebrity": (CELEBRITY, CELEBRITY_ENROL), "cuts_lfw": (LFW, LFW_ENROL)}
CROWD_PARTS = ((0, 40), (70, 105))  # [first, end) frames of crowd_1080p.mp4, with the close-up between
CROWD_SCALE = 0.5
CROWD_CLOSE_UP = Shot("ben_afflek", _five("ben_afflek", 4), frames=16, centre=(480.0, 250.0), zoom=0.003)
CROWD_ENROL = {"ben_afflek": _five("ben_afflek", 1, "train")}
CROWD_LABELS = Path(__file__).parent / "labels" / "crowd_1080p.json"


def resolve(data: Path, ref: str) -> Path:
    """A data path; ``folder/#k`` is the k-th photo of the folder in name order."""
    if "#" in ref:
        folder, k = ref.split("#")
        return sorted((data / folder).glob("*.jpg"))[int(k)]
    return data / ref


def _face(pipe, rgb: np.ndarray):
    """The largest face the detector finds on the photo (None when none)."""
    found = pipe.detect(rgb)
    return max(found, key=lambda d: d.box.width * d.box.height) if found else None


def render(data: Path, shots: list[Shot], out: Path) -> tuple[list[dict], list[dict]]:
    """Write the clip; returns its shots (with the photo used) and its labels."""
    import cv2

    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    described, labels = film(data, shots, writer, (WIDTH, HEIGHT), 0)
    writer.release()
    return described, labels


def film(data: Path, shots: list[Shot], writer, size: tuple[int, int], frame: int) -> tuple[list[dict], list[dict]]:
    """Write ``shots`` from frame ``frame`` on; returns them (with the photo used) and their labels."""
    import cv2

    from faceprint.images import load_image
    from faceprint.pipeline.pipeline import PipelineConfig, get_pipeline

    pipe = get_pipeline(PipelineConfig())
    labels: list[dict] = []
    described: list[dict] = []
    rng = np.random.default_rng(0)
    for shot in shots:
        path = resolve(data, shot.photo)
        rgb = load_image(path)
        face = _face(pipe, rgb)
        if face is None:
            sys.exit(f"{path}: no face found: pick another photo for this shot")
        b = face.box
        fx, fy = (b.left + b.right) / 2, (b.top + b.bottom) / 2
        described.append({"person": shot.person, "photo": str(path.relative_to(data)), "first_frame": frame,
                          "last_frame": frame + shot.frames - 1})
        for t in range(shot.frames):
            s = FACE_WIDTH / b.width * (1 + shot.zoom * t)
            cx, cy = shot.centre[0] + shot.pan[0] * t, shot.centre[1] + shot.pan[1] * t
            m = np.array([[s, 0, cx - s * fx], [0, s, cy - s * fy]], np.float32)
            canvas = cv2.warpAffine(rgb, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            noise = rng.normal(0, 2.0, canvas.shape)  # a little sensor noise: no two frames alike
            canvas = np.clip(canvas + noise, 0, 255).astype(np.uint8)
            writer.write(np.ascontiguousarray(canvas[:, :, ::-1]))
            box = [cx - s * (fx - b.left), cy - s * (fy - b.top), cx + s * (b.right - fx), cy + s * (b.bottom - fy)]
            labels.append({"frame": frame, "box": [round(v, 1) for v in box], "person": shot.person})
            frame += 1
    return described, labels


def render_crowd(data: Path, out: Path) -> tuple[list[dict], list[dict]]:
    """Write ``cuts_crowd``: street, close-up, street again; returns its shots and labels."""
    import cv2

    size = (round(1920 * CROWD_SCALE), round(1080 * CROWD_SCALE))
    street = cv2.VideoCapture(str(data / "video" / "crowd_1080p.mp4"))
    frames = []
    while True:
        ok, bgr = street.read()
        if not ok:
            break
        frames.append(cv2.resize(bgr, size, interpolation=cv2.INTER_AREA))
    street.release()
    by_frame: dict[int, list[dict]] = {}
    for label in json.loads(CROWD_LABELS.read_text()):
        by_frame.setdefault(label["frame"], []).append(label)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), FPS, size)
    shots: list[dict] = []
    labels: list[dict] = []
    frame = 0
    for k, (first, end) in enumerate(CROWD_PARTS):
        if k:
            described, close = film(data, [CROWD_CLOSE_UP], writer, size, frame)
            shots += described
            labels += close
            frame += CROWD_CLOSE_UP.frames
        shots.append({"person": "crowd", "photo": f"video/crowd_1080p.mp4 frames {first}-{end - 1}",
                      "first_frame": frame, "last_frame": frame + end - first - 1})
        for source in range(first, end):
            writer.write(frames[source])
            labels += [{"frame": frame, "box": [round(v * CROWD_SCALE, 1) for v in x["box"]], "person": x["person"]}
                       for x in by_frame.get(source, [])]
            frame += 1
    writer.release()
    return shots, labels


def enrol_photos(data: Path, enrol: dict[str, str], folder: Path) -> dict[str, str]:
    """Copy each enrolment photo (at most 320 px wide) into ``folder``; returns name -> file name."""
    import cv2

    from faceprint.images import load_image

    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for person, ref in enrol.items():
        rgb = load_image(resolve(data, ref))
        scale = min(1.0, 320 / rgb.shape[1])
        if scale < 1:
            rgb = cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)),
                             interpolation=cv2.INTER_AREA)
        name = f"{person}.jpg"
        cv2.imwrite(str(folder / name), np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 85])
        out[person] = name
    return out


def main() -> None:
    from faceprint import settings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "tests" / "fixtures" / "video")
    args = parser.parse_args()
    data = settings.data_dir()
    if data is None or not (data / "lfw").is_dir():
        sys.exit("shared face data not found: set FACEPRINT_DATA to the folder holding lfw/ and five_celebrity/")
    args.out.mkdir(parents=True, exist_ok=True)
    for clip, (shots, enrol) in [*CLIPS.items(), ("cuts_crowd", ([], CROWD_ENROL))]:
        if clip == "cuts_crowd":
            described, labels = render_crowd(data, args.out / f"{clip}.mp4")
            width, height = round(1920 * CROWD_SCALE), round(1080 * CROWD_SCALE)
        else:
            described, labels = render(data, shots, args.out / f"{clip}.mp4")
            width, height = WIDTH, HEIGHT
        enrolled = enrol_photos(data, enrol, args.out / "enrol" / clip)
        meta = {"fps": FPS, "width": width, "height": height, "enrolled": enrolled, "shots": described,
                "labels": labels}
        (args.out / f"{clip}.json").write_text(json.dumps(meta, indent=1) + "\n")
        size = (args.out / f"{clip}.mp4").stat().st_size
        print(f"{clip}: {described[-1]['last_frame'] + 1} frames, {len(described)} shots, {size / 1e3:.0f} kB")


if __name__ == "__main__":
    main()

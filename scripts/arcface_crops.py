"""Which points should place MobileFaceNet's ArcFace crop? Measured on CFP dev and LFW View 2.

Each image is detected as ``eval`` does (the face nearest the centre, YuNet's fallback at 0.3), and
MobileFaceNet embeds one ArcFace 112x112 crop per variant:

    yunet5      YuNet's 5 keypoints fitted to the ArcFace template (the default since rev1)
    dlib5       the same 5 points taken from dlib's 68 landmarks (eye centres, nose tip 30, mouth
                corners 48 and 54), predicted in the keypoint box
    mean5       the mean of the two
    axis2       two points only: the eyes' midpoint and the mouth's midpoint onto the template's;
                the scale then does not shrink as the eyes close up on a turned face
    yunet5_flip the default crop, its flip view the chip flipped rather than the mirrored face aligned
    dlib5avg    as dlib5, the 68 landmarks averaged over the box and six perturbations of it
    mean5avg    the mean of yunet5 and dlib5avg

and dlib's network embeds its 150x150 chip placed by two more sets of dlib's 5 points (outer and
inner eye corners, base of the nose): ``68avg`` from the averaged 68 landmarks (points 45, 42, 36,
39, 33), ``mean`` the mean of those and the 5-point model's. ``dlib (rev3)`` is the 5-point model's.

What came of it: ``align_points="68"`` (``pipeline.align.with_points_from_68``) is MobileFaceNet's
``dlib5avg`` and dlib's ``mean``, the default of ``mobilefacenet`` and ``dlib+mobilefacenet``.

The dlib member's vectors come from ``scripts/pose_candidates.py``'s cache (run it first); fused
rows use the fusion weights of calibration.json. Per image results are kept in
``$FACEPRINT_HOME/cache/arcface_crops/``.

    python scripts/pose_candidates.py cfp && python scripts/arcface_crops.py cfp
    python scripts/pose_candidates.py lfw && python scripts/arcface_crops.py lfw
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

log = logging.getLogger("arcface_crops")

VARIANTS = ("yunet5", "dlib5", "mean5", "axis2", "yunet5_flip", "dlib5avg", "mean5avg")
DLIB_VARIANTS = ("68avg", "mean")
_AXIS_ORDER = [0, 1]  # eyes' midpoint, mouth's midpoint: a mirror keeps both


def _axis(points: np.ndarray) -> np.ndarray:
    k = np.asarray(points, np.float64)
    return np.array([(k[0] + k[1]) / 2.0, (k[3] + k[4]) / 2.0])


def crops(image: np.ndarray, detection, points68: np.ndarray,
          points68avg: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """variant -> (chip, flip view), cut by the pipeline's own alignment (``align.template_chip``)."""
    from dataclasses import replace

    from faceprint.pipeline import align

    def cut(points):
        moved = replace(detection, keypoints=np.asarray(points, np.float64))
        return tuple(align.template_chip(image, moved, align.ARCFACE_112_TEMPLATE, (112, 112), "arcface112",
                                         mirror).image for mirror in (False, True))

    def cut_axis(points):  # two points onto the template's two: no public alignment does this
        fit = lambda p: align.similarity_transform(_axis(align.ARCFACE_112_TEMPLATE), p)  # noqa: E731
        return tuple(align._cut(image, _axis(points), fit, (112, 112), mirror, _AXIS_ORDER) for mirror in (False, True))

    keypoints = np.asarray(detection.keypoints, np.float64)
    dlib5, dlib5avg = align.arcface5_from_68(points68), align.arcface5_from_68(points68avg)
    out = {
        "yunet5": cut(keypoints),
        "dlib5": cut(dlib5),
        "mean5": cut((keypoints + dlib5) / 2.0),
        "axis2": cut_axis(keypoints),
        "dlib5avg": cut(dlib5avg),
        "mean5avg": cut((keypoints + dlib5avg) / 2.0),
    }
    chip = out["yunet5"][0]
    out["yunet5_flip"] = (chip, np.ascontiguousarray(chip[:, ::-1]))
    return out


def _process(paths: list[str]) -> list[dict]:
    from dataclasses import replace

    from faceprint.images import load_image
    from faceprint.models import landmarks
    from faceprint.models.mobilefacenet import MobileFaceNet
    from faceprint.pipeline.align import DLIB5_FROM_68, with_points_from_68
    from faceprint.pipeline.detect import keypoint_box
    from faceprint.types import nearest_center
    from faceprint.pipeline.embed import embed_chips
    from faceprint.pipeline.pipeline import Pipeline, PipelineConfig

    pipe = Pipeline(PipelineConfig(model="dlib"))
    network = MobileFaceNet()
    out = []
    for path in paths:
        record: dict = {"path": path}
        out.append(record)
        try:
            image = load_image(path)
        except Exception as exc:  # noqa: BLE001  (reported, like eval does)
            record["error"] = str(exc)
            continue
        found = pipe.detect(image, expect_face=True)
        if not found:
            continue
        d = found[nearest_center(found, image.shape)]
        if d.keypoints is None:
            continue
        record.update(yaw=d.yaw, keypoints=np.round(d.keypoints, 2).tolist())
        box = keypoint_box(d.keypoints)  # where the pipeline starts dlib's landmarks
        points68, points68avg = landmarks.predict(image, box, 68), landmarks.predict_averaged(image, box, 68)
        views = crops(image, d, points68, points68avg)
        for name, (chip, flipped) in views.items():
            record[name] = embed_chips(network, chip[None], True, mirrored=flipped[None])[0].round(6).tolist()
        # "mean" is the library's align_points="68" placement of dlib's chip
        mean = with_points_from_68(replace(d, landmarks68=points68avg)).landmarks
        for name, points in (("68avg", points68avg[DLIB5_FROM_68]), ("mean", mean)):
            moved = replace(d, landmarks=points)
            record[f"dlibnet_{name}"] = pipe.embed(image, [moved])[0].vector.round(6).tolist()
    return out


def compute(paths: list[Path], name: str, workers: int) -> dict[str, dict]:
    from pose_candidates import run_cached

    from faceprint import settings

    cache = settings.cache_dir() / "arcface_crops" / f"{name}.json"
    done: dict[str, dict] = json.loads(cache.read_text()) if cache.exists() else {}
    todo = [str(p) for p in paths if str(p) not in done or ("yaw" in done[str(p)] and "dlibnet_mean" not in done[str(p)])]
    log.info("%s: %d images, %d cached, %d to do", name, len(paths), len(paths) - len(todo), len(todo))
    return run_cached(cache, done, todo, lambda chunk: (_process, chunk), workers, 50)


def fuse(dlib: dict, mfn: dict, weights) -> dict:
    w = np.asarray(weights, np.float64) / float(np.sum(weights))
    out = {}
    for path, a in dlib.items():
        b = mfn.get(path)
        if a is None or b is None:
            out[path] = None
            continue
        v = np.concatenate([np.sqrt(w[0]) * a, np.sqrt(w[1]) * b])
        out[path] = (v / np.linalg.norm(v)).astype(np.float32)
    return out


def runs_for(records: dict, dlib_records: dict, weights) -> dict[str, dict]:
    def vectors(key, source):
        return {p: (np.asarray(source[p][key], np.float32) if p in source and key in source[p] else None)
                for p in records}

    dlib = vectors("dlib_keypoints", dlib_records)
    runs = {f"mobilefacenet, {v}": vectors(v, records) for v in VARIANTS}
    runs["dlib (rev3)"] = dlib
    runs.update({f"dlib, {v}": vectors(f"dlibnet_{v}", records) for v in DLIB_VARIANTS})
    for v in VARIANTS:
        runs[f"fused, {v}"] = fuse(dlib, runs[f"mobilefacenet, {v}"], weights)
    runs["fused, align_points 68 (dlib, mean + mobilefacenet, dlib5avg)"] = fuse(
        runs["dlib, mean"], runs["mobilefacenet, dlib5avg"], weights)
    return runs


def weight_grid(pairs, records: dict, weights) -> None:
    """How far fusion weights alone could take the align_points="68" members on CFP-FP, chosen on
    CFP-FP itself (an upper bound, not a result): dlib's weight times 0-2 for every face, and times
    0-0.75 for turned faces only (|yaw| > detect.PROFILE_YAW)."""
    from pose_candidates import score

    from faceprint.eval.summary import summarize
    from faceprint.pipeline.detect import PROFILE_YAW

    def vectors(key):
        return {p: (np.asarray(r[key], np.float32) if key in r else None) for p, r in records.items()}

    dlib, mfn = vectors("dlibnet_mean"), vectors("dlib5avg")

    def accuracy(share, turned_share=None):
        fused = {}
        for path, r in records.items():
            turned = turned_share is not None and "yaw" in r and abs(r["yaw"]) > PROFILE_YAW
            w = (weights[0] * (turned_share if turned else share), weights[1])
            fused.update(fuse({path: dlib[path]}, {path: mfn[path]}, w))
        return 100 * summarize(score(pairs, fused))["accuracy_mean"]

    every = {round(s, 2): accuracy(s) for s in np.arange(0.0, 2.01, 0.1)}
    turned = {s: accuracy(1.0, s) for s in (0.0, 0.1, 0.25, 0.5, 0.75)}
    print("\nCFP-FP, align_points 68 members, dlib's weight times s (chosen on CFP-FP itself):")
    print("  every face: " + ", ".join(f"{s}: {a:.2f}" for s, a in every.items()))
    print("  turned faces only: " + ", ".join(f"{s}: {a:.2f}" for s, a in turned.items()))
    print(f"  best: {max(list(every.values()) + list(turned.values())):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["cfp", "lfw"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the tables as JSON here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    here = Path(__file__).resolve().parent
    sys.path[:0] = [str(here.parent / "src"), str(here)]
    from pose_candidates import report

    from faceprint import registry, settings
    from faceprint.eval.protocols import read_csv_pairs, read_lfw_pairs

    data = settings.data_dir()
    if data is None:
        raise SystemExit("shared data not found: set FACEPRINT_DATA")
    if args.what == "cfp":
        sets = {name: read_csv_pairs(data / "cfp_dev" / f"pairs_{name}.csv") for name in ("fp", "ff")}
    else:
        sets = {"lfw_view2": read_lfw_pairs(data / "lfw" / "pairs.txt")}
    paths = sorted({p for pairs in sets.values() for pair in pairs for p in (pair.first, pair.second)})
    dlib_cache = settings.cache_dir() / "pose_candidates" / f"{args.what}.json"
    if not dlib_cache.exists():
        raise SystemExit(f"{dlib_cache} missing: run `python scripts/pose_candidates.py {args.what}` first")
    dlib_records = json.loads(dlib_cache.read_text())
    records = compute(paths, args.what, args.workers)
    weights = registry.embedder_spec("dlib+mobilefacenet").fusion_weights
    tables = {name: report(f"{name} ({len(pairs)} pairs)", pairs, runs_for(records, dlib_records, weights))
              for name, pairs in sets.items()}
    if args.what == "cfp":
        weight_grid(sets["fp"], records, weights)
    if args.json:
        args.json.write_text(json.dumps(tables, indent=2))


if __name__ == "__main__":
    main()

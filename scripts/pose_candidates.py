"""Measure the pose-related pipeline candidates side by side, from one pass per image.

Each image is detected once (the face nearest the centre, as ``eval`` takes it); its dlib
landmarks are predicted from both boxes (the HOG-like box and YuNet's box as it is), each embedded
by dlib's network, and MobileFaceNet embeds its ArcFace crop. Every candidate below is then a
choice among these pieces, so all of them cost one run, and each one's vectors are the ones the
pipeline with that setting produces (the same functions make them). Per image results are kept in
``$FACEPRINT_HOME/cache/pose_candidates/`` so a second run only scores.

    python scripts/pose_candidates.py cfp            # CFP dev FP and FF (../shared/data/cfp_dev)
    python scripts/pose_candidates.py lfw            # LFW View 2
    python scripts/pose_candidates.py fit-yaw        # |yaw| on five_celebrity + ORL (no LFW, no CFP)

Accuracy follows each set's folds (CFP's own three, LFW's ten); McNemar is against the first run
of the same model (dlib, fused): the pipeline before rev3 (HOG-like box from YuNet's box, no
fallback, fixed fusion weights; the fusion weights are those of calibration.json at scoring time). The pose threshold
is ``detect.PROFILE_YAW``; the profile fusion weights are searched over a small grid and also
chosen per fold (fitted on the other folds, scored on the held-out one) so the reader can see how
much the choice on the test set flatters the figure.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import numpy as np

log = logging.getLogger("pose_candidates")

DLIB_LIKE, DETECTOR, KEYPOINTS = "dlib_like", "detector", "keypoints"
KINDS = (DLIB_LIKE, DETECTOR, KEYPOINTS)
FALLBACK_SCORE = 0.3  # a second look at photos where YuNet finds nothing at its 0.6


def _process(paths: list[str], have: dict[str, dict] | None = None) -> list[dict]:
    from faceprint.images import load_image
    from faceprint.pipeline.detect import detect_faces
    from faceprint.types import nearest_center
    from faceprint.pipeline.pipeline import Pipeline, PipelineConfig
    from faceprint.types import Box, Detection

    dlib = Pipeline(PipelineConfig(model="dlib"))
    mfn = Pipeline(PipelineConfig(model="mobilefacenet"))
    fallback = None
    out = []
    for path in paths:
        record: dict = dict((have or {}).get(path, {"path": path}))
        try:
            image = load_image(path)
        except Exception as exc:  # noqa: BLE001  (reported, like eval does)
            record["error"] = str(exc)
            out.append(record)
            continue
        raw = dlib.detector(image)
        if not raw:
            if fallback is None:
                from faceprint import registry

                fallback = registry.create_detector(dlib.config.detector, score_threshold=FALLBACK_SCORE)
            raw = sorted(fallback(image), key=lambda f: -f.score)[:1]
            record["fallback"] = True
        if not raw:
            out.append(record)
            continue
        # the face the pipeline would embed: the clipped box nearest the centre (detect_faces, nearest_center)
        height, width = image.shape[:2]
        clipped = [(f, Box(max(f.box[0], 0.0), max(f.box[1], 0.0), min(f.box[2], float(width)),
                           min(f.box[3], float(height)))) for f in sorted(raw, key=lambda f: -f.score)]
        clipped = [(f, b) for f, b in clipped if b.width >= 2 and b.height >= 2]
        if not clipped:
            out.append(record)
            continue
        stubs = [Detection(b, f.score, np.zeros((5, 2))) for f, b in clipped]
        chosen = clipped[nearest_center(stubs, image.shape)][0]
        for kind in KINDS:
            if f"dlib_{kind}" in record:
                continue
            found = detect_faces(image, lambda _: [chosen], "yunet", landmark_box=kind)
            if not found:
                break
            d = found[0]
            record["yaw"] = d.yaw
            record[f"dlib_{kind}"] = dlib.embed(image, [d])[0].vector.tolist()
            if kind == DLIB_LIKE:
                record["mfn"] = mfn.embed(image, [d])[0].vector.tolist()
        out.append(record)
    return out


def _init() -> None:
    os.environ["FACEPRINT_THREADS"] = "1"
    os.environ["OMP_NUM_THREADS"] = "1"


def compute(paths: list[Path], name: str, workers: int) -> dict[str, dict]:
    """Per image records, from the cache where present."""
    from faceprint import settings

    cache = settings.cache_dir() / "pose_candidates" / f"{name}.json"
    done: dict[str, dict] = json.loads(cache.read_text()) if cache.exists() else {}
    todo = [str(p) for p in paths if str(p) not in done
            or ("yaw" in done[str(p)] and not all(f"dlib_{k}" in done[str(p)] for k in KINDS))]
    log.info("%s: %d images, %d cached, %d to do", name, len(paths), len(paths) - len(todo), len(todo))
    return run_cached(cache, done, todo, lambda chunk: (_process, chunk, {p: done[p] for p in chunk if p in done}),
                      workers, 40)


def run_cached(cache: Path, done: dict[str, dict], todo: list[str], task, workers: int, chunk: int) -> dict[str, dict]:
    """Run ``task(paths) -> (function, *args)`` over ``todo`` in chunks on a spawn pool of single-threaded
    workers; each chunk's records go into ``done``, saved to ``cache`` as JSON every few chunks."""
    if not todo:
        return done
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    chunks = [todo[i : i + chunk] for i in range(0, len(todo), chunk)]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init) as pool:
        futures = [pool.submit(*task(c)) for c in chunks]
        for n, future in enumerate(as_completed(futures), 1):
            for record in future.result():
                done[record["path"]] = record
            if n % 5 == 0 or n == len(futures):
                cache.parent.mkdir(parents=True, exist_ok=True)
                cache.write_text(json.dumps(done))
                log.info("%s: %d/%d chunks", cache.stem, n, len(futures))
    return done


def _vectors(records: dict[str, dict], key: str) -> dict[str, np.ndarray | None]:
    return {p: (np.asarray(r[key], np.float32) if key in r else None) for p, r in records.items()}


def _fused(records, dlib_key_for, weights, profile_weights, yaw_limit, use_fallback):
    out = {}
    for p, r in records.items():
        if "mfn" not in r or (r.get("fallback") and not use_fallback):
            out[p] = None
            continue
        yaw = r["yaw"]
        w = np.asarray(profile_weights if abs(yaw) > yaw_limit else weights, np.float64)
        w = w / w.sum()
        v = np.concatenate([np.sqrt(w[0]) * np.asarray(r[dlib_key_for(yaw)]), np.sqrt(w[1]) * np.asarray(r["mfn"])])
        out[p] = (v / np.linalg.norm(v)).astype(np.float32)
    return out


def candidates(records: dict[str, dict], yaw_limit: float, weights, grid, other_limits=()) -> dict[str, dict]:
    """name -> {path: vector or None} for every candidate ("pose": the keypoint box for faces with
    |yaw| <= the limit, YuNet's box as it is beyond)."""
    def fixed(kind):
        return lambda yaw: f"dlib_{kind}"

    def pose_at(limit, frontal=KEYPOINTS):
        return lambda yaw: f"dlib_{DETECTOR if abs(yaw) > limit else frontal}"

    pose = pose_at(yaw_limit)

    def pick(fn, use_fallback):
        return {p: (None if (r.get("fallback") and not use_fallback) or "yaw" not in r
                    else np.asarray(r[fn(r["yaw"])], np.float32)) for p, r in records.items()}

    runs = {
        "dlib (rev2: HOG-like box from YuNet's box)": pick(fixed(DLIB_LIKE), False),
        "dlib, YuNet box as is": pick(fixed(DETECTOR), False),
        "dlib, HOG-like box from keypoints": pick(fixed(KEYPOINTS), False),
        f"dlib, rev2 box / YuNet box by pose (|yaw| > {yaw_limit})": pick(pose_at(yaw_limit, DLIB_LIKE), False),
        f"dlib, keypoint box / YuNet box by pose (|yaw| > {yaw_limit})": pick(pose, False),
    }
    for limit in other_limits:
        runs[f"dlib, keypoint box / YuNet box by pose (|yaw| > {limit})"] = pick(pose_at(limit), False)
    runs.update({
        f"dlib, pose box (|yaw| > {yaw_limit}) + fallback {FALLBACK_SCORE}": pick(pose, True),
        f"dlib, keypoint box + fallback {FALLBACK_SCORE} (rev3 default)": pick(fixed(KEYPOINTS), True),
        "mobilefacenet": pick(lambda y: "mfn", False),
        "mobilefacenet + fallback (rev3 default)": pick(lambda y: "mfn", True),
        "fused (rev2)": _fused(records, fixed(DLIB_LIKE), weights, weights, yaw_limit, False),
        "fused, keypoint box": _fused(records, fixed(KEYPOINTS), weights, weights, yaw_limit, False),
        "fused, keypoint box + fallback (rev3 default)": _fused(records, fixed(KEYPOINTS), weights, weights,
                                                                yaw_limit, True),
        "fused, pose box": _fused(records, pose, weights, weights, yaw_limit, False),
    })
    for share in grid:
        if share == 1.0:
            continue
        profile = (weights[0] * share, weights[1])
        runs[f"fused, pose box, profile dlib weight x{share}"] = _fused(records, pose, weights, profile, yaw_limit,
                                                                        False)
        runs[f"fused, keypoint box, profile dlib weight x{share}"] = _fused(records, fixed(KEYPOINTS), weights,
                                                                            profile, yaw_limit, False)
    for share in grid:
        profile = (weights[0] * share, weights[1])
        runs[f"fused, pose box, profile dlib weight x{share} + fallback"] = _fused(
            records, pose, weights, profile, yaw_limit, True)
    return runs


def score(pairs, vectors):
    from faceprint.eval.verification import MISSING_DISTANCE, PairScores

    distances, missing = np.empty(len(pairs)), 0
    for i, pair in enumerate(pairs):
        a, b = vectors.get(str(pair.first)), vectors.get(str(pair.second))
        if a is None or b is None:
            distances[i], missing = MISSING_DISTANCE, missing + 1
        else:
            distances[i] = float(np.linalg.norm(a - b))
    return PairScores(distances, np.array([p.same for p in pairs]), np.array([p.fold for p in pairs]), missing)


def report(title: str, pairs, runs: dict[str, dict]) -> list[dict]:
    """One table; McNemar of each run against the first run of its model (the rev2 pipeline)."""
    from faceprint.eval import metrics
    from faceprint.eval.summary import fold_correct, summarize

    rows, baselines = [], {}
    for name, vectors in runs.items():
        scores = score(pairs, vectors)
        s = summarize(scores)
        correct = fold_correct(scores)
        row = {"run": name, "accuracy": round(100 * s["accuracy_mean"], 2), "std": round(100 * s["accuracy_std"], 2),
               "tar_at_far_1e-3": round(100 * s["tar_at_far_1e-3"], 2), "auc": round(s["roc_auc"], 4),
               "no_face_pairs": s["pairs_without_face"]}
        model = name.split(",")[0].split(" ")[0]
        if model not in baselines:
            baselines[model] = (name, correct)
        else:
            only_a, only_b, p = metrics.mcnemar(baselines[model][1], correct)
            row.update(vs=baselines[model][0], mcnemar=f"{only_a} vs {only_b}", p=round(float(p), 4))
        rows.append(row)
    print(f"\n## {title}\n")
    print("| run | accuracy | TAR@1e-3 | AUC | no-face pairs | McNemar vs the model's first run (only that "
          "one right vs only this one right) | p |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['run']} | {r['accuracy']:.2f} ± {r['std']:.2f} | {r['tar_at_far_1e-3']:.2f} | {r['auc']:.4f} | "
              f"{r['no_face_pairs']} | {r.get('mcnemar', '')} | {r.get('p', '')} |")
    return rows


def cross_fitted(pairs, records, yaw_limit, weights, grid, use_fallback) -> None:
    """Profile weight chosen on the other folds, scored on each held-out fold."""
    from faceprint.eval import metrics

    folds = sorted({p.fold for p in pairs})
    by_share = {s: score(pairs, _fused(records, lambda y: f"dlib_{DETECTOR if abs(y) > yaw_limit else KEYPOINTS}",
                                         weights, (weights[0] * s, weights[1]), yaw_limit, use_fallback))
                for s in grid}
    accs = []
    for fold in folds:
        train = np.array([p.fold != fold for p in pairs])
        best = max(grid, key=lambda s: max(metrics.accuracy(by_share[s].distances[train], by_share[s].same[train], t)
                                           for t in [metrics.best_threshold(by_share[s].distances[train],
                                                                            by_share[s].same[train])]))
        sc = by_share[best]
        t = metrics.best_threshold(sc.distances[train], sc.same[train])
        accs.append(metrics.accuracy(sc.distances[~train], sc.same[~train], t))
        print(f"  fold {fold}: weight share chosen on the other folds x{best}, held-out accuracy {100 * accs[-1]:.2f}")
    print(f"  cross-fitted accuracy {100 * np.mean(accs):.2f} ± {100 * np.std(accs):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["cfp", "lfw", "fit-yaw", "fit-box"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the tables as JSON here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from faceprint import registry, settings
    from faceprint.eval.protocols import read_csv_pairs, read_lfw_pairs
    from faceprint.pipeline.detect import PROFILE_YAW

    data = settings.data_dir()
    if data is None:
        raise SystemExit("shared data not found: set FACEPRINT_DATA")
    if args.what == "fit-yaw":
        from faceprint.images import is_image_path

        paths = sorted(p for folder in ("five_celebrity", "orl") for p in (data / folder).rglob("*")
                       if is_image_path(p))
        fit_yaw(paths)
        return
    if args.what == "fit-box":
        from faceprint.images import is_image_path

        fit_box([p for folder in ("five_celebrity", "orl") for p in sorted((data / folder).rglob("*"))
                 if is_image_path(p)])
        return
    spec = registry.embedder_spec("dlib+mobilefacenet")
    weights = spec.fusion_weights
    grid = (1.0, 0.5, 0.25, 0.0)
    tables = {}
    if args.what == "cfp":
        sets = {name: read_csv_pairs(data / "cfp_dev" / f"pairs_{name}.csv") for name in ("fp", "ff")}
    else:
        sets = {"lfw_view2": read_lfw_pairs(data / "lfw" / "pairs.txt")}
    paths = sorted({p for pairs in sets.values() for pair in pairs for p in (pair.first, pair.second)})
    records = compute(paths, args.what, args.workers)
    yaws = np.array([r["yaw"] for r in records.values() if "yaw" in r])
    print(f"{len(records)} images, {int((np.abs(yaws) > PROFILE_YAW).sum())} with |yaw| > {PROFILE_YAW}, "
          f"{sum(1 for r in records.values() if r.get('fallback'))} found only at score {FALLBACK_SCORE}, "
          f"{sum(1 for r in records.values() if 'yaw' not in r)} without a face")
    for name, pairs in sets.items():
        tables[name] = report(f"{name} ({len(pairs)} pairs, folds {sorted({p.fold for p in pairs})})", pairs,
                              candidates(records, PROFILE_YAW, weights, grid, (0.45, 0.6)))
        print("\nprofile dlib weight chosen per fold on the other folds (no fallback):")
        cross_fitted(pairs, records, PROFILE_YAW, weights, grid, False)
    if args.json:
        args.json.write_text(json.dumps(tables, indent=2))


def fit_yaw(paths: list[Path]) -> None:
    """|yaw| of the photos ``dlib_like_box`` was fitted on: five_celebrity and ORL photos where
    YuNet and dlib's HOG each find exactly one face (HOG finds near-frontal faces only, and its
    boxes are what the HOG-like box imitates). Their largest |yaw| bounds the poses that box
    was fitted for; the 99th percentile is printed too."""
    from faceprint import registry
    from faceprint.images import load_image
    from faceprint.pipeline.detect import estimate_yaw

    detector = registry.create_detector(registry.default_detector())
    hog = registry.create_detector("hog")
    yaws, all_yaws = [], []
    for path in paths:
        image = load_image(path)
        faces = detector(image)
        if len(faces) == 1 and faces[0].points is not None:
            all_yaws.append(abs(estimate_yaw(faces[0].points)))
            if len(hog(image)) == 1:
                yaws.append(all_yaws[-1])
    yaws, all_yaws = np.array(yaws), np.array(all_yaws)
    print(json.dumps({
        "photos_yunet_and_hog_one_face": len(yaws), "max_abs_yaw": round(float(yaws.max()), 3),
        "quantiles_50_90_99": [round(float(q), 3) for q in np.quantile(yaws, [0.5, 0.9, 0.99])],
        "photos_yunet_one_face": len(all_yaws), "all_max_abs_yaw": round(float(all_yaws.max()), 3),
        "all_quantiles_50_90_99": [round(float(q), 3) for q in np.quantile(all_yaws, [0.5, 0.9, 0.99])]}))


def fit_box(paths: list[Path]) -> None:
    """Fit the HOG-like box from YuNet's keypoints (``detect.keypoint_box``) on the five_celebrity
    and ORL photos where YuNet and dlib's HOG each find exactly one face: with e the eyes' midpoint,
    m the mouth corners' midpoint and L = |m - e|, the HOG box's centre is e + a (m - e) + c L n
    (n: the unit normal of m - e, towards the image's right) and its side b L. Medians of a, b, c."""
    from faceprint import registry
    from faceprint.images import load_image

    detector = registry.create_detector(registry.default_detector())
    hog = registry.create_detector("hog")
    a_, b_, c_ = [], [], []
    for path in paths:
        image = load_image(path)
        faces, hogs = detector(image), hog(image)
        if len(faces) != 1 or len(hogs) != 1 or faces[0].points is None:
            continue
        k = faces[0].points
        e, m = (k[0] + k[1]) / 2.0, (k[3] + k[4]) / 2.0
        v = m - e
        length = float(np.hypot(*v))
        normal = np.array([v[1], -v[0]]) / length
        left, top, right, bottom = hogs[0].box
        centre = np.array([(left + right) / 2.0, (top + bottom) / 2.0])
        a_.append(float((centre - e) @ v) / length ** 2)
        c_.append(float((centre - e) @ normal) / length)
        b_.append(((right - left) + (bottom - top)) / 2.0 / length)
    print(json.dumps({"photos": len(a_), "along_eyes_to_mouth": round(float(np.median(a_)), 4),
                      "side_in_eye_mouth_lengths": round(float(np.median(b_)), 4),
                      "sideways": round(float(np.median(c_)), 4),
                      "iqr": [[round(float(q), 3) for q in np.quantile(x, [0.25, 0.75])] for x in (a_, b_, c_)]}))


if __name__ == "__main__":
    main()

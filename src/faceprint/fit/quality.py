"""The quality score's weights: a logistic model per embedding model, fitted on CelebA, never on
LFW or CFP (both are evaluation sets).

Training faces are the ``celeba_dlib150`` photos of the identities of the fit split (every other
identity by sorted name: ``celeba_split``); the other half is held out for
``bench/bench_quality.py``. Each photo goes through the pipeline as it is and once more degraded
(scaled down to a small face, or blurred: ``degrade``), so the fit sees faces of every size and
sharpness. A face's utility is the share of its mated comparisons (with the identity's other clean
photos) that stay above the threshold at FMR 1e-3 (set by every cross-identity pair:
``pair_utility``). A logistic regression from the cues (``faceprint.quality.ALL_CUES``) to that
share gives each model's weights; the ``detection`` entry uses only the cues a detection gives,
with dlib's utility. The result is written to
``quality_weights.json``:

    python -m faceprint.fit.quality [--data ../shared/data] [--per-identity 10]
    python -m faceprint.fit.quality --models dlib --output /tmp/quality_weights.json
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from datetime import date
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from faceprint import quality

log = logging.getLogger(__name__)

MODELS = ("dlib", "mobilefacenet", "dlib+mobilefacenet")
DEGRADATIONS = ("small", "tiny", "blur", "softer")
WEIGHTS_PATH = Path(__file__).resolve().parent.parent / "quality_weights.json"
FMR = 1e-3
# the direction each cue may push the score: a larger face, a sharper one, a more confident
# detector or network, a face that agrees with its mirror never scores lower; a more turned or
# tilted head never higher. A cue whose fitted weight comes out the other way is left out and
# the rest fitted again.
SIGNS = {"size": 1, "yaw": -1, "pitch": -1, "score": 1, "sharpness": 1, "norm": 1, "mirror": 1}


def celeba_split(root: Path, held_out: bool = False, per_identity: int | None = None) -> list[Path]:
    """The photos of one half of the CelebA identities (split by person).

    Args:
        root: the ``celeba_dlib150`` folder.
        held_out: the other half (odd positions in name order), kept for evaluation.
        per_identity: at most this many photos per identity (the first by name).

    Returns:
        The photo paths, grouped by identity (the folder name).

    Raises:
        SystemExit: no photo found.
    """
    folders = sorted(p for p in (root / "images").glob("*") if p.is_dir())[int(held_out)::2]
    paths = [p for folder in folders for p in sorted(folder.glob("*.jpg"))[:per_identity]]
    if not paths:
        raise SystemExit(f"{root}: no photos under images/ (is this celeba_dlib150?)")
    return paths


def degrade(image: np.ndarray, kind: str) -> np.ndarray:
    """A worse copy of a face photo: ``small`` (scaled to 35 %), ``tiny`` (20 %), both set in a
    canvas of the photo's size by repeating the border; ``blur`` (Gaussian, sigma 2.5), ``softer``
    (sigma 1.2), or ``clean`` (the photo itself)."""
    import cv2

    if kind == "clean":
        return image
    if kind in ("blur", "softer"):
        return cv2.GaussianBlur(image, (0, 0), 2.5 if kind == "blur" else 1.2)
    scale = {"small": 0.35, "tiny": 0.2}[kind]
    height, width = image.shape[:2]
    small = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))),
                       interpolation=cv2.INTER_AREA)
    top, left = (height - small.shape[0]) // 2, (width - small.shape[1]) // 2
    return cv2.copyMakeBorder(small, top, height - small.shape[0] - top, left, width - small.shape[1] - left,
                              cv2.BORDER_REPLICATE)


def face_records(images: Sequence[np.ndarray], models: Sequence[str], batch: int = 32,
                 label: str = "faces") -> dict[str, tuple[np.ndarray, list[dict[str, float] | None]]]:
    """Each photo's face nearest the centre, embedded by each model, with its quality cues.

    Detection runs once (with 68 landmarks, which every model's alignment can use); each model
    then aligns and embeds the same detections.

    Args:
        images: RGB arrays, each expected to hold a face.
        models: the embedding models.
        batch: photos embedded per network call.
        label: what to call the photos in progress logs.

    Returns:
        Per model: an (N, dim) array of unit vectors (NaN rows where no face was found) and one
        cue dict per photo (None where no face was found).
    """
    from faceprint import registry
    from faceprint.pipeline.pipeline import PipelineConfig, get_pipeline

    def key(model: str, points: str = "") -> tuple[str, str]:  # a network and the points that align its chips
        return model, points or registry.embedder_spec(model).align_points

    fused = {m: registry.embedder_spec(m) for m in models if registry.embedder_spec(m).members}
    single = list(dict.fromkeys([key(m) for m in models if m not in fused]
                                + [key(member, spec.align_points) for spec in fused.values() for member in spec.members]))
    pipes = {k: get_pipeline(PipelineConfig(model=k[0], align_points=k[1])) for k in single}
    finder = get_pipeline(PipelineConfig(model="dlib", align_points="68"))
    out: dict[tuple[str, str], tuple[list, list]] = {k: ([], []) for k in single}
    for start in range(0, len(images), batch):
        chunk = images[start : start + batch]
        found = [finder.find_faces(image, expect_face=True, one=True)[0] for image in chunk]
        for model, pipe in pipes.items():
            scored = pipe.embed_chips_cues([pipe.prepare_chips(image, faces) for image, faces in zip(chunk, found)])
            for (rows, cues), faces in zip(scored, found):
                out[model][0].append(rows[0] if faces else np.full(pipe.spec.dim, np.nan, np.float32))
                out[model][1].append(cues[0] if faces else None)
        log.info("%s: %d / %d", label, start + len(chunk), len(images))
    records = {k: (np.stack(vectors), cues) for k, (vectors, cues) in out.items()}
    return {m: _fuse([records[key(member, fused[m].align_points)] for member in fused[m].members],
                     fused[m].fusion_weights) if m in fused else records[key(m)] for m in models}


def _fuse(members: Sequence[tuple[np.ndarray, list]], weights: Sequence[float]) -> tuple[np.ndarray, list]:
    """A fused model's records from its members' (``embed.FusedEmbedder`` without pose weights:
    the same vectors, without running each network twice); its cues are the first member's with
    the members' mean mirror agreement."""
    from faceprint.pipeline.embed import l2_normalise

    share = np.asarray(weights, np.float64) / float(np.sum(weights))
    parts = [np.sqrt(w) * vectors.astype(np.float64) for w, (vectors, _) in zip(share, members)]
    vectors = l2_normalise(np.concatenate(parts, axis=1)).astype(np.float32)
    cues = []
    for per_member in zip(*(c for _, c in members)):
        if per_member[0] is None:
            cues.append(None)
            continue
        mirrors = [c["mirror"] for c in per_member if c and "mirror" in c]
        cues.append({**per_member[0], **({"mirror": float(np.mean(mirrors))} if mirrors else {})})
    return vectors, cues


def pair_utility(vectors: np.ndarray, names: np.ndarray, clean: np.ndarray, photo: np.ndarray,
                 fmr: float = FMR) -> tuple[np.ndarray, float]:
    """Each face's utility: the share of its mated comparisons that match at ``fmr``.

    A face is compared with every clean photo of its identity other than its own photo; the
    threshold is the cosine that a share ``fmr`` of all cross-identity pairs of faces reaches.

    Args:
        vectors: (N, dim) unit vectors (NaN rows for faces not found).
        names: each face's identity.
        clean: which faces are clean photos (the references).
        photo: each face's photo number (a degraded copy is never compared with its own photo).
        fmr: the false match rate that sets the threshold.

    Returns:
        ``(utility, threshold)``: per face a share in [0, 1] (NaN where the face was not found or
        has no reference), and the threshold.
    """
    ok = ~np.isnan(vectors[:, 0])
    filled = np.nan_to_num(vectors).astype(np.float64)
    sims = filled @ filled.T
    upper = np.triu(np.ones(sims.shape, bool), 1)
    impostor = sims[upper & (names[:, None] != names[None, :]) & ok[:, None] & ok[None, :]]
    threshold = threshold_at(impostor, fmr)
    mated = (names[:, None] == names[None, :]) & (photo[:, None] != photo[None, :]) & clean[None, :] & ok[None, :]
    counts = mated.sum(axis=1)
    hits = ((sims >= threshold) & mated).sum(axis=1)
    utility = np.where(ok & (counts > 0), hits / np.maximum(counts, 1), np.nan)
    return utility, threshold


def threshold_at(impostor: np.ndarray, fmr: float) -> float:
    """The cosine above which a share ``fmr`` of impostor scores lies."""
    return float(np.quantile(impostor, 1.0 - fmr))


def cue_matrix(cues: Sequence[dict[str, float] | None], names: Sequence[str]) -> np.ndarray:
    """(N, len(names)) cue values (NaN where a face lacks one or has no face)."""
    return np.array([[np.nan if c is None else c.get(n, np.nan) for n in names] for c in cues], np.float64)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 50) -> tuple[np.ndarray, float]:
    """Logistic regression by Newton's method with a small ridge (x standardised already; y may be
    a share in [0, 1], fitted by cross-entropy)."""
    design = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(design.shape[1])
    ridge = l2 * len(x) * np.eye(design.shape[1])
    ridge[-1, -1] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-design @ w))
        grad = design.T @ (p - y) + ridge @ w
        hess = (design * (p * (1 - p))[:, None]).T @ design + ridge + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def fit_entry(cues: Sequence[dict[str, float] | None], useful: np.ndarray, names: Sequence[str],
              reference: np.ndarray | None = None) -> dict[str, Any]:
    """One model's entry of ``quality_weights.json`` from faces' cues and utilities.

    Args:
        cues: each face's cues (None for faces not found: left out).
        useful: each face's utility in [0, 1] (``pair_utility``; NaN: left out).
        names: the cues to use.
        reference: the faces that set the scale (clean photos): their median log-odds map to
            0.9 and their 10th percentile to 0.5 (``gain``, ``centre``); None: all faces.

    Returns:
        The entry: cue names, weights, the standardisation (mean, scale), the clip range
        (0.5th-99.5th percentile; yaw's whole range, since CelebA holds few profiles), the bias
        and the stretch.
    """
    x = cue_matrix(cues, names)
    keep = ~np.isnan(useful) & np.array([c is not None for c in cues])
    x, y = x[keep], useful[keep]
    lo, hi = np.nanpercentile(x, 0.5, axis=0), np.nanpercentile(x, 99.5, axis=0)
    for i, name in enumerate(names):
        if name == "yaw":
            lo[i], hi[i] = 0.0, 1.0
    clipped = np.clip(x, lo, hi)
    mean, scale = np.nanmean(clipped, axis=0), np.maximum(np.nanstd(clipped, axis=0), 1e-6)
    z = np.nan_to_num((clipped - mean) / scale)
    used = np.ones(len(names), bool)
    while True:
        fitted, bias = fit_logistic(z[:, used], y)
        weights = np.zeros(len(names))
        weights[used] = fitted
        wrong = [i for i, n in enumerate(names) if used[i] and weights[i] * SIGNS.get(n, 0) < 0]
        if not wrong:
            break
        used[wrong] = False
    logits = z @ weights + bias
    chosen = logits if reference is None else logits[np.asarray(reference)[keep]]
    centre, median = np.percentile(chosen, 10), np.median(chosen)
    gain = math.log(9.0) / max(median - centre, 1e-6)
    return {"cues": list(names), "weights": np.round(weights, 4).tolist(), "mean": np.round(mean, 4).tolist(),
            "scale": np.round(scale, 4).tolist(),
            "clip": {n: [round(float(a), 4), round(float(b), 4)] for n, a, b in zip(names, lo, hi)},
            "bias": round(bias, 4), "centre": round(float(centre), 4), "gain": round(float(gain), 4),
            "faces": int(len(y)), "useful_share": round(float(y.mean()), 4)}


def cached_records(name: str, count: int, models: Sequence[str], load: Any,
                   fresh: bool = False) -> dict[str, tuple[np.ndarray, list[dict[str, float] | None]]]:
    """``face_records`` of a set of photos, cached per model under the faceprint cache folder.

    Args:
        name: the set's name in the cache file names.
        count: how many photos it holds (part of the names).
        models: the embedding models.
        load: a callable returning the list of RGB arrays (called only when a model is missing).
        fresh: embed again even where a cache file exists.

    Returns:
        As ``face_records``.
    """
    from faceprint import settings
    from faceprint.pipeline.pipeline import VECTOR_REVISION

    folder = settings.cache_dir() / "bench"
    files = {m: folder / f"quality-{name}-{m}-{VECTOR_REVISION}-{count}.npz" for m in models}
    out = {}
    for model, path in files.items():
        if path.exists() and not fresh:
            data = np.load(path)
            cues = [None if np.all(np.isnan(row)) else {n: float(v) for n, v in zip(quality.ALL_CUES, row)
                                                          if not np.isnan(v)} for row in data["cues"]]
            out[model] = (data["vectors"], cues)
    missing = [m for m in models if m not in out]
    if missing:
        records = face_records(load(), missing, label=name)
        folder.mkdir(parents=True, exist_ok=True)
        for model, (vectors, cues) in records.items():
            np.savez(files[model], vectors=vectors, cues=cue_matrix(cues, quality.ALL_CUES))
            out[model] = (vectors, cues)
    return out


def training_set(root: Path, models: Sequence[str], per_identity: int | None, seed: int = 0) -> dict[str, Any]:
    """The fit split's faces, clean and degraded, with each model's vectors, cues and utilities."""
    from faceprint.images import load_image

    paths = celeba_split(root, held_out=False, per_identity=per_identity)
    rng = np.random.default_rng(seed)
    kinds = ["clean"] * len(paths) + [DEGRADATIONS[i] for i in rng.integers(0, len(DEGRADATIONS), len(paths))]
    photo = np.concatenate([np.arange(len(paths))] * 2)
    names = np.array([p.parent.name for p in paths] * 2)
    records = cached_records("celeba-fit", len(photo), models,
                             lambda: [degrade(load_image(paths[i]), kind) for i, kind in zip(photo, kinds)])
    clean = np.array([k == "clean" for k in kinds])
    out: dict[str, Any] = {"names": names, "kinds": np.array(kinds), "models": {}}
    for model, (vectors, cues) in records.items():
        useful, threshold = pair_utility(vectors, names, clean, photo)
        out["models"][model] = {"vectors": vectors, "cues": cues, "threshold": threshold, "useful": useful}
    return out


def main(argv: list[str] | None = None) -> int:
    from faceprint import settings

    parser = argparse.ArgumentParser(prog="python -m faceprint.fit.quality",
                                     description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None,
                        help="the folder holding celeba_dlib150/ (default: FACEPRINT_DATA)")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated models to fit")
    parser.add_argument("--per-identity", type=int, default=10, help="photos per identity (default 10)")
    parser.add_argument("--output", type=Path, default=WEIGHTS_PATH, help="where to write the weights")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    data = args.data or settings.data_dir()
    if data is None or not (data / "celeba_dlib150").is_dir():
        print("celeba_dlib150 not found: pass --data or set FACEPRINT_DATA", file=sys.stderr)
        return 2
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    train = training_set(data / "celeba_dlib150", models, args.per_identity)
    entries: dict[str, Any] = {}
    first = train["models"][models[0]]
    clean = train["kinds"] == "clean"
    entries["detection"] = fit_entry(first["cues"], first["useful"], quality.DETECTION_CUES, clean)
    for model in models:
        m = train["models"][model]
        entries[model] = fit_entry(m["cues"], m["useful"], quality.ALL_CUES, clean)
        entries[model]["threshold_fmr_1e-3"] = round(m["threshold"], 4)
        log.info("%s: %d faces, mean utility %.1f %% at FMR 1e-3", model, entries[model]["faces"],
                 100 * entries[model]["useful_share"])
    document = {"fitted_by": f"python -m faceprint.fit.quality --per-identity {args.per_identity} "
                             f"--models {','.join(models)}",
                "fitted_on": f"celeba_dlib150, fit split ({len(np.unique(train['names']))} identities), "
                             f"each photo clean and degraded once ({', '.join(DEGRADATIONS)})",
                "date": date.today().isoformat(),
                "utility": "share of a face's mated pairs (with clean photos) above the threshold at FMR 1e-3",
                "models": entries}
    args.output.write_text(json.dumps(document, indent=1) + "\n")
    print(json.dumps({k: {c: w for c, w in zip(v["cues"], v["weights"])} for k, v in entries.items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

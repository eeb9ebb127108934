"""Classifiers on dlib embeddings: the old default (linear SVM, C=1) against the new one (settings
chosen by cross-validation on the training photos), on several people sets split by photo.

    python bench/bench_classify.py                    # (a) LFW people, (b) CelebA, (c) five_celebrity
    python bench/bench_classify.py --select           # the study that chose the default grids (no LFW)

Sets (validation photos are never seen by any fit):
  lfw:      --lfw-people people with >= 10 photos, spread over the alphabet; at most 20 photos
            each; every third photo is validation. A test fixture use of LFW: nothing here is tuned
            on it.
  celeba:   CelebA dlib chips (embedded with the network directly), the identities at odd positions
            in sorted order with >= 10 chips; every third chip is validation.
  five:     five_celebrity train / val.
The --select study uses only non-LFW data: CelebA identities at even positions, ORL, five_celebrity.

Embeddings are cached per set and pipeline signature under ``$FACEPRINT_HOME/cache/bench_classify``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from faceprint import settings

log = logging.getLogger("bench_classify")

Split = tuple[np.ndarray, list[str], np.ndarray, list[str]]  # train vectors, labels, val vectors, labels


def _data() -> Path:
    root = settings.data_dir()
    if root is None or not (root / "lfw").is_dir():
        sys.exit("shared data not found: set FACEPRINT_DATA to the folder holding lfw/")
    return root


def _cached(name: str, signature: str, paths: list[Path], embed: Callable[[list[Path]], np.ndarray]) -> np.ndarray:
    """(N, D) vectors for ``paths`` (NaN rows where no face was found), cached on disk."""
    folder = settings.cache_dir() / "bench_classify"
    file = folder / f"{name}-{signature.replace(':', '-')}.npz"
    keys = np.array([str(p) for p in paths])
    if file.exists():
        data = np.load(file, allow_pickle=False)
        if np.array_equal(data["keys"], keys):
            return data["vectors"]
    start = time.perf_counter()
    vectors = embed(paths)
    log.info("%s: embedded %d images in %.0f s", name, len(paths), time.perf_counter() - start)
    folder.mkdir(parents=True, exist_ok=True)
    with open(file, "wb") as handle:
        np.savez(handle, keys=keys, vectors=vectors)
    return vectors


def _embed_photos(paths: list[Path], workers: int) -> np.ndarray:
    import faceprint

    out = []
    for result in faceprint.embed_many(paths, workers=workers, progress=True):
        out.append(result.nearest_center().vector if result.ok else np.full(128, np.nan, np.float32))
    return np.stack(out)


def _embed_chips(paths: list[Path]) -> np.ndarray:
    """dlib 150x150 chips straight into the network (no detection), flip averaged."""
    from faceprint import registry
    from faceprint.images import load_image
    from faceprint.pipeline.embed import embed_chips

    network = registry.create_embedder("dlib")
    out = []
    for start in range(0, len(paths), 64):
        chips = np.stack([load_image(p) for p in paths[start : start + 64]])
        out.append(embed_chips(network, chips, flip=True))
    return np.concatenate(out)


def _photo_signature() -> str:
    from faceprint.pipeline.pipeline import PipelineConfig, get_pipeline

    return get_pipeline(PipelineConfig(model="dlib")).signature()


def _split_by_photo(people: dict[str, list[Path]], vectors: dict[Path, np.ndarray]) -> Split:
    """Every third photo of each person (positions 2, 5, ...) is validation; photos without a face
    are dropped."""
    xt, yt, xv, yv = [], [], [], []
    for name, paths in people.items():
        for i, p in enumerate(paths):
            v = vectors[p]
            if np.isnan(v).any():
                continue
            (xv if i % 3 == 2 else xt).append(v)
            (yv if i % 3 == 2 else yt).append(name)
    return np.stack(xt), yt, np.stack(xv), yv


def lfw_people(n_people: int, workers: int) -> Split:
    root = _data() / "lfw"
    everyone = sorted(p for p in root.iterdir() if p.is_dir() and len(list(p.glob("*.jpg"))) >= 10)
    step = max(1, len(everyone) // n_people)
    chosen = everyone[::step][:n_people]
    people = {p.name: sorted(p.glob("*.jpg"))[:20] for p in chosen}
    paths = [p for ps in people.values() for p in ps]
    vectors = _cached(f"lfw{n_people}", _photo_signature(), paths, lambda ps: _embed_photos(ps, workers))
    return _split_by_photo(people, dict(zip(paths, vectors)))


def celeba(half: int, max_people: int | None = None) -> Split:
    """CelebA chips: identities with >= 10 chips at even (half=0) or odd (half=1) sorted positions."""
    root = _data() / "celeba_dlib150" / "images"
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    folders = [f for f in folders if len(list(f.glob("*.jpg"))) >= 10][half::2][:max_people]
    people = {f.name: sorted(f.glob("*.jpg")) for f in folders}
    paths = [p for ps in people.values() for p in ps]
    vectors = _cached(f"celeba{half}-{len(folders)}", "dlib-chips-flip", paths, _embed_chips)
    return _split_by_photo(people, dict(zip(paths, vectors)))


def five_celebrity(workers: int) -> Split:
    root = _data() / "five_celebrity"
    out = []
    for part in ("train", "val"):
        people = {d.name: sorted(q for q in d.iterdir() if q.is_file()) for d in sorted((root / part).iterdir())}
        paths = [p for ps in people.values() for p in ps]
        vectors = _cached(f"five-{part}", _photo_signature(), paths, lambda ps: _embed_photos(ps, workers))
        keep = [(v, n) for n, ps in people.items() for v in vectors[[paths.index(p) for p in ps]]
                if not np.isnan(v).any()]
        out += [np.stack([v for v, _ in keep]), [n for _, n in keep]]
    return out[0], out[1], out[2], out[3]


def orl(workers: int) -> Split:
    root = _data() / "orl"
    people = {d.name: sorted(d.glob("*.pgm")) for d in sorted(root.iterdir()) if d.is_dir()}
    paths = [p for ps in people.values() for p in ps]
    vectors = _cached("orl", _photo_signature(), paths, lambda ps: _embed_photos(ps, workers))
    return _split_by_photo(people, dict(zip(paths, vectors)))


WIDE = {"svm": [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0],
        "logreg": [0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0, 100000.0],
        "knn": [1, 3, 5, 7, 9, 15]}


def _accuracy(clf, vectors: np.ndarray, labels: list[str]) -> float:
    said = [p["classifier_says"] for p in clf.predict(vectors)]
    return float(np.mean([s == t for s, t in zip(said, labels)]))


def select(sets: dict[str, Callable[[], Split]]) -> None:
    """For each kind and each setting of a wide grid: validation accuracy with that setting fixed;
    then what cross-validation over the default grid chooses. Non-LFW sets only."""
    from faceprint.classify.model import GRIDS, FaceClassifier

    for name, make in sets.items():
        xt, yt, xv, yv = make()
        print(f"\n{name}: {len(set(yt))} people, {len(yt)} train, {len(yv)} validation")
        for kind, grid in WIDE.items():
            row = []
            for value in grid:
                clf = FaceClassifier.fit(xt, yt, kind, value=value)
                row.append(f"{value:g}:{_accuracy(clf, xv, yv):.3f}")
            start = time.perf_counter()
            clf = FaceClassifier.fit(xt, yt, kind)
            took = time.perf_counter() - start
            cv = clf.info["cross_validation"] or {}
            print(f"  {kind:<7} val acc by setting  {'  '.join(row)}")
            print(f"  {'':<7} CV over {GRIDS[kind]} chose {clf.settings} (CV acc {cv.get('accuracy')}, "
                  f"T={clf.temperature and round(clf.temperature, 4)}): val acc {_accuracy(clf, xv, yv):.3f}; fit {took:.1f} s")


def _old_default(xt: np.ndarray, yt: list[str], xv: np.ndarray) -> list[str]:
    """The old default (before cross-validated logistic regression): scikit-learn's SVC(kernel="linear", C=1), no tuning."""
    from sklearn.svm import SVC
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return list(SVC(kernel="linear", C=1.0).fit(xt, yt).predict(xv))


def _calibration(predictions: list[dict], labels: list[str]) -> str:
    """Mean probability on right and wrong answers, and the expected calibration error (10 bins)."""
    probs = np.array([p["probability"] for p in predictions], dtype=float)
    right = np.array([p["classifier_says"] == t for p, t in zip(predictions, labels)])
    bins = np.minimum((probs * 10).astype(int), 9)
    ece = sum(abs(probs[bins == b].mean() - right[bins == b].mean()) * np.mean(bins == b)
              for b in range(10) if (bins == b).any())
    wrong = f"{probs[~right].mean():.3f}" if (~right).any() else "-"
    return f"mean p right {probs[right].mean():.3f} / wrong {wrong}, ECE {ece:.3f}"


def _open_set(xt: np.ndarray, yt: list[str], xv: np.ndarray, yv: list[str]) -> None:
    """The new default fitted without every fifth person: how many of those strangers' photos come
    out "unknown", and how many known people's photos are still named right, by the nearest
    distance alone and with a minimum probability of 0.5 as well."""
    from faceprint.classify.model import FaceClassifier
    from faceprint.thresholds import threshold_for

    strangers = set(sorted(set(yt))[4::5])
    keep = [i for i, name in enumerate(yt) if name not in strangers]
    clf = FaceClassifier.fit(xt[keep], [yt[i] for i in keep], threshold=threshold_for("dlib"))
    if clf.temperature is None:
        return
    is_stranger = np.array([name in strangers for name in yv])
    for floor in (0.0, 0.5):
        names = np.array([p["name"] for p in clf.predict(xv, min_probability=floor)])
        rejected = np.mean(names[is_stranger] == "unknown")
        named = np.mean(names[~is_stranger] == np.array(yv)[~is_stranger])
        rule = "nearest distance" + (f" or p < {floor}" if floor else "")
        print(f"  open set ({len(strangers)} of {len(set(yt))} people left out), unknown if {rule:<27} strangers rejected "
              f"{rejected:.3f}, known people named right {named:.3f}")


def compare(sets: dict[str, Callable[[], Split]], repeats: int) -> None:
    """Old default vs new default (and the other kinds, tuned the same way) on each set; fit and
    load times interleaved, median of ``repeats``."""
    import tempfile

    from faceprint.classify.model import DEFAULT_CLASSIFIER, FaceClassifier

    for name, make in sets.items():
        xt, yt, xv, yv = make()
        n = len(yv)
        print(f"\n{name}: {len(set(yt))} people, {len(yt)} train / {n} validation photos")
        times: dict[str, list[float]] = {"old fit": [], "new fit": [], "new load": []}
        for _ in range(repeats):
            start = time.perf_counter()
            old = _old_default(xt, yt, xv)
            times["old fit"].append(time.perf_counter() - start)
            start = time.perf_counter()
            clf = FaceClassifier.fit(xt, yt)
            times["new fit"].append(time.perf_counter() - start)
            with tempfile.TemporaryDirectory() as tmp:
                clf.save(Path(tmp) / "c.npz")
                start = time.perf_counter()
                FaceClassifier.load(Path(tmp) / "c.npz")
                times["new load"].append(time.perf_counter() - start)
        right_old = sum(s == t for s, t in zip(old, yv))
        print(f"  old default  svm C=1                {right_old:>4}/{n} = {right_old / n:.4f}")
        for kind in (DEFAULT_CLASSIFIER, *sorted({"svm", "logreg", "knn"} - {DEFAULT_CLASSIFIER})):
            if kind != DEFAULT_CLASSIFIER:
                clf = FaceClassifier.fit(xt, yt, kind)
            predictions = clf.predict(xv)
            right = sum(p["classifier_says"] == t for p, t in zip(predictions, yv))
            label = f"{'new default' if kind == DEFAULT_CLASSIFIER else '-c ' + kind:<12} {kind} {clf.settings}"
            cv = clf.info["cross_validation"]
            extra = f"CV {cv['accuracy']:.4f}" if cv else "no CV"
            if clf.temperature is not None:
                extra += "; " + _calibration(predictions, yv)
            print(f"  {label:<36}{right:>4}/{n} = {right / n:.4f}   ({extra})")
        _open_set(xt, yt, xv, yv)
        medians = {k: float(np.median(v)) for k, v in times.items()}
        print(f"  seconds (median of {repeats}, interleaved): old fit {medians['old fit']:.2f}, "
              f"new fit with CV {medians['new fit']:.2f} ({medians['new fit'] / medians['old fit']:.0f}x), "
              f"new load (re-fit) {medians['new load']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lfw-people", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3, help="timing runs per set (median)")
    parser.add_argument("--workers", type=int, default=1, help="processes embedding (first run only)")
    parser.add_argument("--select", action="store_true", help="the study behind the default grids (no LFW)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.select:
        select({"celeba-even": lambda: celeba(0), "orl": lambda: orl(args.workers),
                "five": lambda: five_celebrity(args.workers)})
        return
    compare({f"(a) LFW, {args.lfw_people} people": lambda: lfw_people(args.lfw_people, args.workers),
             "(b) CelebA, odd identities": lambda: celeba(1),
             "(c) five_celebrity": lambda: five_celebrity(args.workers)}, args.repeats)


if __name__ == "__main__":
    main()

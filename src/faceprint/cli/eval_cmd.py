"""`faceprint eval ...`: verification protocols and identification, with report folders."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Optional

import typer

from faceprint.cli.common import check_rate, emit, fail, friendly_errors, progress_bar, setup_logging

app = typer.Typer(help="Measure accuracy: LFW View 2, any pair list, identification on a folder tree.",
                  no_args_is_help=True)

ModelsOpt = typer.Option(["dlib"], "--model", "-m", help="Model to evaluate; repeat to compare side by side.")
DetectorOpt = typer.Option(None, "--detector", "-d", help="yunet (default), hog or cnn.")
CompareOpt = typer.Option(
    [], "--compare", "-c",
    help="Also run each model without one of the default steps, to see what it adds (with McNemar's test); "
         "repeatable. flip: no flip averaging; landmarks: one landmark pass instead of the mean over seven "
         "perturbed boxes; mirror: the flip view is the aligned chip flipped instead of the mirrored face "
         "aligned in its own right; box: dlib's landmarks start from YuNet's box reshaped like a HOG box "
         "instead of the box placed by YuNet's keypoints; detector-box: from YuNet's box as it is; "
         "fallback: no second look at photos where YuNet finds no face; pose-fusion (fused models): turned "
         "faces keep the frontal fusion weights; rev2: box, fallback and pose-fusion together (the rev2 defaults "
         "in the changelog of defaults); points: the chips "
         "placed the other way (5 points, or with dlib's 68 landmarks: mobilefacenet and the fused model use "
         "the 68 by default, dlib does not, see --align-points in `faceprint embed --help`).")
ReportOpt = typer.Option(None, "--report", help="Write report.md, metrics.json and plots to this folder.")
WorkersOpt = typer.Option(2, "--workers", min=1, help="Processes embedding in parallel (one per core is best).")
NoCacheOpt = typer.Option(False, "--no-cache", help="Recompute embeddings instead of reusing cached ones.")
JitterOpt = typer.Option(0, "--jitter", min=0, help="Also average N perturbed copies of each face (slower).")
# --compare NAME: the run's name suffix and the config change that leaves that step out
ABLATIONS = {
    "flip": ("-no-flip", {"flip": False}),
    "landmarks": ("+one-landmark-pass", {"averaged_landmarks": False}),
    "mirror": ("+flipped-chip", {"mirror_align": False}),
    "box": ("+rev2-box", {"landmark_box": "dlib_like"}),
    "detector-box": ("+detector-box", {"landmark_box": "detector"}),
    "fallback": ("+no-fallback", {"fallback_score": None}),
    "rev2": ("+rev2", {"landmark_box": "dlib_like", "fallback_score": None, "pose_fusion": False}),
    "pose-fusion": ("+fixed-fusion-weights", {"pose_fusion": False}),
}
# --compare points: the chips placed the other way than the model's default (_other_points)
COMPARISONS = (*ABLATIONS, "points")
FUSED_ONLY = {"pose-fusion"}  # ablations that change nothing for a single model


def _runs(models: list[str], detector: Optional[str], compare: list[str], jitter: int):
    from faceprint.pipeline.pipeline import PipelineConfig

    unknown = sorted(set(compare) - set(COMPARISONS))
    if unknown:
        fail(f"--compare {', '.join(unknown)}: choose from {', '.join(COMPARISONS)}")
    suffix = f"+jitter{jitter}" if jitter else ""
    runs = []
    from faceprint import registry

    for model in models:
        config = PipelineConfig(detector=detector or "", model=model, flip=True, jitter=jitter)
        runs.append((f"{model}{suffix}", config))
        for name in compare:
            if name in FUSED_ONLY and not registry.embedder_spec(model).members:
                continue
            label, change = _other_points(model) if name == "points" else ABLATIONS[name]
            runs.append((f"{model}{suffix}{label}", replace(config, **change)))
    return runs


def _other_points(model: str) -> tuple[str, dict]:
    from faceprint import registry

    other = "5" if registry.embedder_spec(model).align_points == "68" else "68"
    return f"+{other}-point-alignment", {"align_points": other}


def _evaluate_pairs(pairs, title: str, models, detector, compare, report, workers, no_cache,
                    jitter: int = 0) -> dict:
    """Every run on the pairs, McNemar of each against the first; the JSON document (and report)."""
    from faceprint.eval import metrics
    from faceprint.eval.report import write_verification_report
    from faceprint.eval.summary import fold_correct, summarize
    from faceprint.eval.verification import score_pairs
    from faceprint.pipeline.pipeline import Pipeline

    results = []
    n_images = len({p.first for p in pairs} | {p.second for p in pairs})
    for name, config in _runs(models, detector, compare, jitter):
        with progress_bar(n_images, f"embedding ({name})") as advance:
            scores = score_pairs(Pipeline(config), pairs, use_cache=not no_cache, progress=advance,
                                 workers=workers)
        results.append((name, summarize(scores), scores))
    comparisons = []
    first_name, _, first_scores = results[0]
    for name, _, scores in results[1:]:
        only_a, only_b, p = metrics.mcnemar(fold_correct(first_scores), fold_correct(scores))
        comparisons.append({"a": first_name, "b": name, "only_a": only_a, "only_b": only_b, "p": p})
    document = {"title": title, "runs": {name: s for name, s, _ in results}, "comparisons": comparisons}
    if report is not None:
        document["report"] = str(write_verification_report(report, title, results, comparisons))
    return document


@app.command()
def lfw(
    models: list[str] = ModelsOpt,
    detector: Optional[str] = DetectorOpt,
    compare: list[str] = CompareOpt,
    report: Optional[Path] = ReportOpt,
    workers: int = WorkersOpt,
    no_cache: bool = NoCacheOpt,
    jitter: int = JitterOpt,
    lfw_dir: Optional[Path] = typer.Option(None, "--lfw", help="LFW folder (default: $FACEPRINT_DATA/lfw)."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """The official LFW View 2 protocol: 10 folds of 600 pairs, each fold's threshold chosen on
    the other nine; accuracy mean ± std, AUC, EER, TAR at FAR 1e-2 and 1e-3."""
    from faceprint import settings
    from faceprint.eval.protocols import read_lfw_pairs

    setup_logging(verbose)
    with friendly_errors():
        root = lfw_dir or (settings.data_dir() / "lfw" if settings.data_dir() else None)
        if root is None or not (root / "pairs.txt").exists():
            fail("LFW not found: pass --lfw DIR (holding pairs.txt) or set FACEPRINT_DATA")
        pairs = read_lfw_pairs(root / "pairs.txt", root)
        emit(_evaluate_pairs(pairs, "LFW View 2 (pairs.txt, 10 folds)", models, detector, compare, report,
                             workers, no_cache, jitter))


@app.command()
def pairs(
    pairs_file: Path = typer.Argument(..., help="LFW-format pairs file, or a CSV of img1,img2,same."),
    root: Optional[Path] = typer.Option(None, "--root", help="Folder the image paths are relative to "
                                        "(default: the pairs file's folder)."),
    folds: int = typer.Option(10, "--folds", min=2, help="Folds a CSV without a fold column is dealt into (a CSV's "
                              "fourth column, LFW View 2 files carry their own; View 1 files are dealt into 10)."),
    models: list[str] = ModelsOpt,
    detector: Optional[str] = DetectorOpt,
    compare: list[str] = CompareOpt,
    report: Optional[Path] = ReportOpt,
    workers: int = WorkersOpt,
    no_cache: bool = NoCacheOpt,
    jitter: int = JitterOpt,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Evaluate any pair list with the same k-fold protocol and metrics as `eval lfw`.

    A CSV is img1,img2,same[,fold] (header optional): with a fold column each fold's threshold is
    fitted on the other folds as given (keep one person's pairs in one fold); without it the rows
    are dealt into --folds folds.

    Example: faceprint eval pairs ../shared/data/cfp_dev/pairs_fp.csv --compare box
    """
    from faceprint.eval.protocols import read_csv_pairs, read_lfw_pairs

    setup_logging(verbose)
    with friendly_errors():
        if not pairs_file.is_file():
            fail(f"{pairs_file}: no such file")
        if pairs_file.suffix.lower() == ".csv":
            pair_list = read_csv_pairs(pairs_file, root, folds)
        else:
            pair_list = read_lfw_pairs(pairs_file, root)
        if not pair_list:
            fail(f"{pairs_file}: no pairs")
        emit(_evaluate_pairs(pair_list, f"Pairs: {pairs_file.name}", models, detector, compare, report,
                             workers, no_cache, jitter))


CFP_PROTOCOLS = {"fp": "frontal vs profile", "ff": "frontal vs frontal"}


@app.command()
def cfp(
    protocols: list[str] = typer.Option(["fp", "ff"], "--protocol", "-p",
                                        help="fp (frontal vs profile), ff (frontal vs frontal); repeatable."),
    models: list[str] = ModelsOpt,
    detector: Optional[str] = DetectorOpt,
    compare: list[str] = CompareOpt,
    report: Optional[Path] = typer.Option(None, "--report", help="Write one report folder per protocol "
                                          "(REPORT/fp, REPORT/ff) with report.md, metrics.json and plots."),
    workers: int = WorkersOpt,
    no_cache: bool = NoCacheOpt,
    jitter: int = JitterOpt,
    cfp_dir: Optional[Path] = typer.Option(None, "--cfp", help="CFP folder holding pairs_fp.csv and pairs_ff.csv "
                                           "(default: $FACEPRINT_DATA/cfp_dev)."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """CFP (Celebrities in Frontal-Profile): faces at any angle, on its own folds (disjoint by person).

    Runs pairs_fp.csv and pairs_ff.csv (img1,img2,same,fold) with each fold's threshold fitted on
    the other folds, as `eval pairs` does; JSON holds one document per protocol.

    Examples:
      faceprint eval cfp                                          # dlib, FP and FF
      faceprint eval cfp -m dlib -m dlib+mobilefacenet -c box --report docs/cfp_dev
    """
    from faceprint import settings
    from faceprint.eval.protocols import read_csv_pairs

    setup_logging(verbose)
    with friendly_errors():
        unknown = sorted(set(protocols) - set(CFP_PROTOCOLS))
        if unknown:
            fail(f"--protocol {', '.join(unknown)}: choose from {', '.join(CFP_PROTOCOLS)}")
        root = cfp_dir or (settings.data_dir() / "cfp_dev" if settings.data_dir() else None)
        if root is None or not all((root / f"pairs_{p}.csv").is_file() for p in protocols):
            fail("CFP not found: pass --cfp DIR (holding pairs_fp.csv and pairs_ff.csv) or set FACEPRINT_DATA")
        documents = {}
        for protocol in dict.fromkeys(protocols):
            pair_list = read_csv_pairs(root / f"pairs_{protocol}.csv", root)
            folds = len({p.fold for p in pair_list})
            documents[protocol] = _evaluate_pairs(
                pair_list, f"CFP {protocol.upper()} ({CFP_PROTOCOLS[protocol]}, {root.name}, {folds} folds)", models,
                detector, compare, report / protocol if report is not None else None, workers, no_cache, jitter)
        emit({"cfp": str(root), "protocols": documents})


@app.command()
def ident(
    root: Path = typer.Argument(..., help="Folder with one sub-folder of photos per person."),
    model: str = typer.Option("dlib", "--model", "-m"),
    detector: Optional[str] = DetectorOpt,
    gallery_per_person: int = typer.Option(1, "--gallery", min=1, help="Photos enrolled per known person."),
    unknown_fraction: float = typer.Option(0.2, "--unknown", help="Share of people kept out of the gallery."),
    fpir: float = typer.Option(1e-2, "--fpir", help="False positive identification rate for DIR."),
    report: Optional[Path] = ReportOpt,
    workers: int = WorkersOpt,
    through_gallery: Optional[Path] = typer.Option(None, "--through-gallery", help="Also enrol the gallery split into "
                                                   "a persistent gallery at this (new) path and search it there: "
                                                   "rank-k and DIR must equal the in-memory ones."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Closed-set rank-1/rank-5 (CMC) and open-set DIR@FPIR on a labelled folder tree.

    Example: faceprint eval ident people/ --through-gallery /tmp/ident.db
    """
    import numpy as np

    from faceprint.eval.identification import identification_metrics, split
    from faceprint.images import labelled_folder
    from faceprint.eval.report import write_identification_report
    from faceprint.pipeline.batch import embed_paths
    from faceprint.pipeline.cache import EmbeddingCache
    from faceprint.pipeline.pipeline import Pipeline, PipelineConfig

    setup_logging(verbose)
    with friendly_errors():
        if not root.is_dir():
            fail(f"{root}: not a folder")
        check_rate(fpir, "--fpir")
        if through_gallery is not None and through_gallery.exists():
            fail(f"{through_gallery} exists already: give a new path for the evaluation gallery")
        parts = split(labelled_folder(root), gallery_per_person, unknown_fraction)
        pipe = Pipeline(PipelineConfig(detector=detector or "", model=model))
        everything = [p for p, _ in parts.gallery + parts.known_probes + parts.unknown_probes]
        with progress_bar(len(everything), "embedding") as advance:
            vectors, problems = embed_paths(pipe, everything, cache=EmbeddingCache(pipe), progress=advance,
                                            workers=workers)

        def usable(items):
            kept = [(p, n) for p, n in items if vectors.get(p) is not None]
            return (np.stack([vectors[p] for p, _ in kept]) if kept else np.zeros((0, pipe.spec.dim)),
                    [n for _, n in kept])

        g, gl = usable(parts.gallery)
        k, kl = usable(parts.known_probes)
        u, _ = usable(parts.unknown_probes)
        if not gl:
            fail("no face found in any gallery photo")
        result = identification_metrics(g, gl, k, kl, u, fpir)
        result["images_without_face_or_unreadable"] = len(problems)
        if through_gallery is not None:
            from faceprint.eval.through_gallery import gallery_split_metrics

            result["through_gallery"] = gallery_split_metrics(through_gallery, pipe, g, gl, k, kl, u, fpir, result)
        if report is not None:
            result["report"] = str(write_identification_report(report, f"Identification: {root}", result))
        emit(result)

"""`faceprint classify ...`: name faces with a classifier trained on embeddings of your photos."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from faceprint.cli.common import (check_writable, emit, exit_if_nothing_done, expand_inputs, fail, friendly_errors,
                                  process_images, progress_bar, setup_logging)

app = typer.Typer(help="Transfer learning: a classifier (SVM, logistic regression, kNN) on face embeddings.\n\n"
                  "Example: faceprint classify fit people/ --validate held_out/ && faceprint classify predict "
                  "photo.jpg",
                  no_args_is_help=True)
DEFAULT_PATH = Path("faceprint-classifier.npz")


@app.command()
def fit(
    root: Path = typer.Argument(..., help="Folder with one sub-folder of photos per person."),
    output: Path = typer.Option(DEFAULT_PATH, "--output", "-o", help="Where to save the classifier (.npz)."),
    classifier: str = typer.Option("logreg", "--classifier", "-c", help="logreg (default), svm or knn."),
    c_value: Optional[float] = typer.Option(None, "--C",  # > 0: checked below (click's min= admits 0)
                                            help="svm/logreg: fix C instead of choosing it by cross-validation."),
    k_value: Optional[int] = typer.Option(None, "--k", min=1,
                                          help="knn: fix k instead of choosing it by cross-validation."),
    model: str = typer.Option("dlib", "--model", "-m", help="Embedding model."),
    validate: Optional[Path] = typer.Option(None, "--validate", help="A second labelled folder to score on."),
    workers: int = typer.Option(2, "--workers", min=1, help="Processes embedding in parallel."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Embed every photo (face nearest the centre) and fit the classifier; optionally score it.

    C (svm, logreg) or k (knn) is chosen by 5-fold cross-validation on the training photos.

    The out-of-fold accuracy is reported as cross_validation.accuracy, even without --validate.

    For logreg and knn the same folds calibrate the probability that predict reports; an SVM has none.

    With fewer than 10 photos to hold out: a default setting, and no probability.

    Examples:

        faceprint classify fit people/ -o team.npz

        faceprint classify fit people/ --validate held_out/ -c svm --C 10
    """
    from faceprint.classify.model import FaceClassifier
    from faceprint.classify.estimators import check_kind
    from faceprint.errors import BadInput
    from faceprint.thresholds import threshold_for

    setup_logging(verbose)
    with friendly_errors():
        check_kind(classifier)  # before minutes of embedding
        if c_value is not None and k_value is not None:
            raise BadInput("give --C (svm, logreg) or --k (knn), not both")
        if (c_value is not None and classifier == "knn") or (k_value is not None and classifier in ("svm", "logreg")):
            raise BadInput("--C goes with svm or logreg, --k with knn")
        if c_value is not None and c_value <= 0:
            raise BadInput(f"--C must be a positive number (e.g. 1 or 10), not {c_value:g}")
        check_writable(output)  # before minutes of embedding, not after them
        value = c_value if c_value is not None else k_value
        vectors, labels, skipped, signature = _labelled_vectors(root, model, workers)
        clf = FaceClassifier.fit(vectors, labels, classifier, model, threshold_for(model), signature,
                                 value=float(value) if value is not None else None)
        result = {"classifier": classifier, "settings": clf.settings, **clf.info,
                  "model": model, "people": len(clf.classes),
                  "train_images": len(labels), "skipped_images": skipped, "saved_to": str(output)}
        if validate is not None:
            v_vectors, v_labels, v_skipped, _ = _labelled_vectors(validate, model, workers)
            predictions = clf.predict(v_vectors)
            said = [p["classifier_says"] for p in predictions]
            n = max(len(v_labels), 1)
            result["validation"] = {
                "images": len(v_labels), "skipped_images": v_skipped,
                "accuracy": round(sum(s == t for s, t in zip(said, v_labels)) / n, 4),
                "accuracy_with_unknown": round(sum(p["name"] == t for p, t in zip(predictions, v_labels)) / n, 4),
            }
            if clf.temperature is not None:
                result["validation"]["mean_probability"] = round(
                    sum(p["probability"] for p in predictions) / n, 4)
        clf.save(output)
        emit(result)


@app.command()
def predict(
    images: list[Path] = typer.Argument(..., help="Photos or folders to name."),
    classifier_path: Path = typer.Option(DEFAULT_PATH, "--classifier", "-c", help="A file from `classify fit`."),
    min_probability: float = typer.Option(0.0, "--min-probability", min=0.0, max=1.0,
                                          help="Also call a face unknown when the classifier's probability is "
                                               "below this (needs a calibrated classifier)."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Name every face in each photo, or call it "unknown".

    Unknown: the nearest training face is beyond the verification threshold, or the probability
    is below --min-probability.

    Examples:

        faceprint classify predict photo.jpg -c team.npz

        faceprint classify predict photos/ -c team.npz --min-probability 0.5
    """
    import faceprint
    from faceprint.classify.model import FaceClassifier
    from faceprint.errors import BadInput
    from faceprint.pipeline.pipeline import PipelineConfig, get_pipeline

    setup_logging(verbose)
    with friendly_errors():
        clf = FaceClassifier.load(classifier_path)
        if min_probability > 0 and clf.temperature is None:
            raise BadInput(f"{classifier_path}: this classifier has no probability "
                           f"({clf.info.get('probability', 'none')}): drop --min-probability")
        here = get_pipeline(PipelineConfig(model=clf.model)).signature()
        if clf.signature and clf.signature != here:
            raise BadInput(f"{classifier_path}: fitted on vectors from other pipeline settings ({clf.signature}, "
                           f"now {here}): re-fit it with `faceprint classify fit`")
        files = expand_inputs(images)
        if not files:
            fail("no images to process")

        def work(path: Path) -> dict:
            embeddings = faceprint.embed(path, model=clf.model)
            named = clf.predict([e.vector for e in embeddings], min_probability) if embeddings else []
            return {"faces": [{"box": e.detection.box.as_list(), **n} for e, n in zip(embeddings, named)]}

        results, errors = process_images(files, "naming", work)
        emit(results[0] if len(files) == 1 else {"images": results, "errors": errors})
        exit_if_nothing_done(len(results), len(errors), "no photo could be named (see errors)")


def _labelled_vectors(root: Path, model: str, workers: int):
    import numpy as np

    from faceprint.images import labelled_folder
    from faceprint.pipeline.batch import embed_paths
    from faceprint.pipeline.cache import EmbeddingCache
    from faceprint.pipeline.pipeline import Pipeline, PipelineConfig

    if not root.is_dir():
        fail(f"{root}: not a folder")
    items = [(p, name) for name, paths in labelled_folder(root).items() for p in paths]
    pipe = Pipeline(PipelineConfig(model=model))
    with progress_bar(len(items), f"embedding {root.name}") as advance:
        vectors, problems = embed_paths(pipe, [p for p, _ in items], cache=EmbeddingCache(pipe), progress=advance,
                                        workers=workers)
    kept = [(vectors[p], n) for p, n in items if vectors.get(p) is not None]
    if not kept:
        fail(f"{root}: no face found in any photo")
    return np.stack([v for v, _ in kept]), [n for _, n in kept], len(problems), pipe.signature()

"""`faceprint classify ...`: name faces with a classifier trained on embeddings of your photos."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from faceprint.cli.common import emit, expand_inputs, fail, friendly_errors, process_images, progress_bar, setup_logging

app = typer.Typer(help="Transfer learning: a classifier (SVM, logistic regression, kNN) on face embeddings.",
                  no_args_is_help=True)
DEFAULT_PATH = Path("faceprint-classifier.pkl")


@app.command()
def fit(
    root: Path = typer.Argument(..., help="Folder with one sub-folder of photos per person."),
    output: Path = typer.Option(DEFAULT_PATH, "--output", "-o", help="Where to save the classifier."),
    classifier: str = typer.Option("svm", "--classifier", "-c", help="svm, logreg or knn."),
    model: str = typer.Option("dlib", "--model", "-m", help="Embedding model."),
    validate: Optional[Path] = typer.Option(None, "--validate", help="A second labelled folder to score on."),
    workers: int = typer.Option(2, "--workers", help="Processes embedding in parallel."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Embed every photo (face nearest the centre) and fit the classifier; optionally score it."""
    from faceprint.thresholds import threshold_for
    from faceprint.classify.model import FaceClassifier

    setup_logging(verbose)
    with friendly_errors():
        vectors, labels, skipped = _labelled_vectors(root, model, workers)
        clf = FaceClassifier.fit(vectors, labels, classifier, model, threshold_for(model))
        result = {"classifier": classifier, "model": model, "people": len(clf.classes),
                  "train_images": len(labels), "skipped_images": skipped, "saved_to": str(output)}
        if validate is not None:
            v_vectors, v_labels, v_skipped = _labelled_vectors(validate, model, workers)
            predictions = clf.predict(v_vectors)
            said = [p["classifier_says"] for p in predictions]
            result["validation"] = {
                "images": len(v_labels), "skipped_images": v_skipped,
                "accuracy": round(sum(s == t for s, t in zip(said, v_labels)) / max(len(v_labels), 1), 4),
                "accuracy_with_unknown": round(sum(p["name"] == t for p, t in zip(predictions, v_labels))
                                               / max(len(v_labels), 1), 4),
            }
        clf.save(output)
        emit(result)


@app.command()
def predict(
    images: list[Path] = typer.Argument(..., help="Photos or folders to name."),
    classifier_path: Path = typer.Option(DEFAULT_PATH, "--classifier", "-c", help="A file from `classify fit`."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Name every face in each photo, or call it "unknown"."""
    import faceprint
    from faceprint.classify.model import FaceClassifier

    setup_logging(verbose)
    with friendly_errors():
        clf = FaceClassifier.load(classifier_path)
        files = expand_inputs(images)
        if not files:
            fail("no images to process")

        def work(path: Path) -> dict:
            embeddings = faceprint.embed(path, model=clf.model)
            named = clf.predict([e.vector for e in embeddings]) if embeddings else []
            return {"faces": [{"box": e.detection.box.as_list(), **n} for e, n in zip(embeddings, named)]}

        results, errors = process_images(files, "naming", work)
        emit(results[0] if len(files) == 1 else {"images": results, "errors": errors})


def _labelled_vectors(root: Path, model: str, workers: int):
    import numpy as np

    from faceprint.eval.identification import labelled_images
    from faceprint.pipeline.batch import EmbeddingCache, embed_paths
    from faceprint.pipeline.pipeline import Pipeline, PipelineConfig

    if not root.is_dir():
        fail(f"{root}: not a folder")
    items = [(p, name) for name, paths in labelled_images(root).items() for p in paths]
    pipe = Pipeline(PipelineConfig(model=model))
    with progress_bar(len(items), f"embedding {root.name}") as advance:
        vectors, problems = embed_paths(pipe, [p for p, _ in items], cache=EmbeddingCache(pipe), progress=advance,
                                        workers=workers)
    kept = [(vectors[p], n) for p, n in items if vectors.get(p) is not None]
    if not kept:
        fail(f"{root}: no face found in any photo")
    return np.stack([v for v, _ in kept]), [n for _, n in kept], len(problems)

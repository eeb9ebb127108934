"""Write an evaluation report folder: report.md, metrics.json and PNG plots."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from faceprint import jsonout
from faceprint.eval import metrics
from faceprint.eval.verification import PairScores

log = logging.getLogger(__name__)


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed: no plots (pip install 'faceprint[report]')")
        return None
    return plt


def write_verification_report(folder: Path, title: str, runs: Sequence[tuple[str, dict[str, Any], PairScores]],
                              comparisons: Sequence[dict[str, Any]] = ()) -> Path:
    """One row per run (name, summary, scores); plots overlay the runs."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(jsonout.dumps(
        {"title": title, "runs": {name: summary for name, summary, _ in runs}, "comparisons": list(comparisons)}) + "\n")
    plots = _verification_plots(folder, runs)
    lines = [f"# {title}", "", "| run | pairs | accuracy (mean ± std) | ROC AUC | EER | TAR@FAR=1e-2 | "
             "TAR@FAR=1e-3 | pairs without face |", "|---|---|---|---|---|---|---|---|"]
    for name, s, _ in runs:
        lines.append(f"| {name} | {s['pairs']} | {100 * s['accuracy_mean']:.2f} ± {100 * s['accuracy_std']:.2f} | "
                     f"{s['roc_auc']:.4f} | {100 * s['eer']:.2f} % | {100 * s['tar_at_far_1e-2']:.2f} % | "
                     f"{100 * s['tar_at_far_1e-3']:.2f} % | {s['pairs_without_face']} |")
    for c in comparisons:
        lines.append("")
        lines.append(f"McNemar {c['a']} vs {c['b']}: only {c['a']} right on {c['only_a']} pairs, only "
                     f"{c['b']} right on {c['only_b']}, p = {c['p']:.3g}")
    if runs:
        s = runs[0][1]
        lines += ["", f"Per-fold thresholds ({runs[0][0]}): {', '.join(f'{t:.4f}' for t in s['fold_thresholds'])}",
                  "", f"How: {s['how']}"]
    lines += [""] + [f"![{p.stem}]({p.name})" for p in plots]
    path = folder / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _verification_plots(folder: Path, runs) -> list[Path]:
    plt = _pyplot()
    if plt is None or not runs:
        return []
    out = []
    # FAR cannot be measured below one impostor pair: plot from there
    floor = 1.0 / max(int((~runs[0][2].same).sum()), 1)
    fig, ax = plt.subplots(figsize=(5, 4))
    for name, _, sc in runs:
        curve = metrics.roc(sc.distances, sc.same)
        ax.plot(np.maximum(curve.far, floor), curve.tar, label=name)
    ax.set_xscale("log"), ax.set_xlabel("false accept rate"), ax.set_ylabel("true accept rate")
    ax.set_title("ROC"), ax.grid(True, which="both", alpha=0.3), ax.legend(fontsize=7)
    out.append(_save(fig, folder / "roc.png"))

    fig, ax = plt.subplots(figsize=(5, 4))
    for name, _, sc in runs:
        curve = metrics.roc(sc.distances, sc.same)
        ax.plot(np.maximum(curve.far, floor), np.maximum(1 - curve.tar, floor), label=name)
    ax.set_xscale("log"), ax.set_yscale("log"), ax.set_xlabel("false accept rate")
    ax.set_ylabel("false reject rate"), ax.set_title("DET"), ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    out.append(_save(fig, folder / "det.png"))

    name, summary, sc = runs[0]
    fig, ax = plt.subplots(figsize=(5, 4))
    bins = np.linspace(0, float(sc.distances.max()) * 1.05, 60)
    ax.hist(sc.distances[sc.same], bins, alpha=0.6, label="same person (genuine)")
    ax.hist(sc.distances[~sc.same], bins, alpha=0.6, label="different people (impostor)")
    ax.axvline(float(np.median(summary["fold_thresholds"])), color="k", ls="--", label="threshold")
    ax.set_xlabel("distance"), ax.set_ylabel("pairs"), ax.set_title(f"Distances: {name}"), ax.legend(fontsize=7)
    out.append(_save(fig, folder / "distances.png"))
    return out


def write_identification_report(folder: Path, title: str, results: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(jsonout.dumps(results) + "\n")
    lines = [f"# {title}", "", "| metric | value |", "|---|---|"]
    for key, value in results.items():
        if key != "cmc":
            lines.append(f"| {key} | {value:.4f} |" if isinstance(value, float) else f"| {key} | {value} |")
    plt = _pyplot()
    if plt is not None and results.get("cmc"):
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.plot(range(1, len(results["cmc"]) + 1), results["cmc"], marker="o")
        ax.set_xlabel("rank"), ax.set_ylabel("identification rate"), ax.set_title("CMC"), ax.grid(alpha=0.3)
        lines += ["", f"![cmc]({_save(fig, folder / 'cmc.png').name})"]
    path = folder / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path

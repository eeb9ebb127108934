"""`faceprint train ...`: train or fine-tune an embedding network, export it for the pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from faceprint.cli.common import emit, fail, friendly_errors, setup_logging

app = typer.Typer(help="Train or fine-tune embedding networks (needs pip install 'faceprint\\[train]').",
                  no_args_is_help=True)


def _require_torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        fail("training needs PyTorch: pip install 'faceprint[train]' (torch 2.13.0, CPU)")


@app.command()
def run(
    config: Optional[Path] = typer.Argument(None, help="YAML config (see docs/experiments.md)."),
    overrides: Optional[list[str]] = typer.Argument(None, help="key=value settings that override the config, "
                                                   "e.g. epochs=2 data=faces/"),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue from a last.pt checkpoint."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Train; writes config.yaml, best.pt, last.pt, metrics.csv/json, curves.png and run.json to
    `output`, and prints run.json: best validation figure, images/s, device, PyTorch and CUDA versions.

    Device: device=auto (default: a CUDA GPU when PyTorch sees one, else the CPU, and it says so),
    cpu, cuda or cuda:N (an error where there is no such GPU). Mixed precision: amp=auto (bf16 on
    a GPU, off on the CPU), bf16, fp16 or off. Checkpoints load on either device.

    Examples:

      faceprint train run data=celeba_112/images backbone=resnet18 loss=arcface epochs=30

      faceprint train run configs/experiments/e4_resnet18_celeba112.yaml device=cuda amp=bf16
    """
    setup_logging(verbose)
    _require_torch()
    from faceprint.train.config import TrainConfig
    from faceprint.train.loop import Trainer

    with friendly_errors():
        cfg_path = config
        extra = list(overrides or [])
        if config is not None and "=" in str(config) and not config.exists():
            cfg_path, extra = None, [str(config)] + extra  # no config file, only overrides
        elif config is not None and not config.is_file():
            fail(f"{config}: no such config file")
        trainer = Trainer(TrainConfig.load(cfg_path, extra), progress=lambda m: typer.echo(m, err=True))
        if resume is not None:
            trainer.resume(resume)
        emit(trainer.fit())


@app.command()
def export(
    checkpoint: Path = typer.Argument(..., help="best.pt or last.pt from a run."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write model.onnx (+ model.json)."),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="Verification threshold to store "
                                              "(default: the run's best validation threshold)."),
) -> None:
    """Export to ONNX (from a float32 CPU copy, whichever device trained it); then
    `faceprint verify --model path/to/model.onnx ...` uses it."""
    _require_torch()
    from faceprint.train.export import export_onnx

    with friendly_errors():
        if not checkpoint.is_file():
            fail(f"{checkpoint}: no such checkpoint")
        emit(export_onnx(checkpoint, output, threshold))

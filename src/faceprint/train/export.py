"""Export a trained checkpoint to ONNX (NHWC pixels in, raw embedding out) with a sidecar JSON that
lets verify/identify/eval use it by path (`--model run/model.onnx`)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from faceprint.train.backbones.factory import create_backbone
from faceprint.train.checkpoint import read_checkpoint


class _PixelsNHWC(nn.Module):
    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.backbone(images.permute(0, 3, 1, 2))


def load_checkpoint(path: Path) -> tuple[nn.Module, dict[str, Any]]:
    """The checkpoint's backbone as a float32 module on the CPU (whichever device trained it:
    tensors are mapped to the CPU as they load), in eval mode, and the checkpoint's state."""
    state = read_checkpoint(path)
    cfg, info = state["config"], state["info"]
    model, _ = create_backbone(cfg["backbone"], info["input_size"], info["channels"], info["embedding_dim"],
                               width=cfg.get("width", 1.0))
    model.load_state_dict(state["model"])
    return model.float().cpu().eval(), state


def export_onnx(checkpoint: Path, output: Path, threshold: float | None = None) -> dict[str, Any]:
    """Write ``output`` (.onnx) and ``output.with_suffix('.json')``; returns the sidecar. The
    export always traces a float32 CPU copy, so it is the same from a GPU-trained checkpoint."""
    model, state = load_checkpoint(checkpoint)
    info = state["info"]
    size, channels = info["input_size"], info["channels"]
    example = torch.rand(2, size, size, channels) * 255
    output.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter needs no onnxscript
        torch.onnx.export(_PixelsNHWC(model), (example,), str(output), input_names=["images"],
                          output_names=["embeddings"], dynamic_axes={"images": {0: "N"}, "embeddings": {0: "N"}},
                          opset_version=17, dynamo=False)
    if threshold is None:
        # the best epoch's validation threshold; `faceprint calibrate` refines it on your photos
        monitor = state.get("monitor", "val_accuracy")
        best = [h for h in state["history"] if h.get(monitor) == state["best"]]
        threshold = float(best[-1]["val_threshold"]) if best else 1.0
    sidecar = {
        "format": "faceprint-onnx-embedder-1", "name": output.stem, "input_size": size, "channels": channels,
        "embedding_dim": info["embedding_dim"], "align": info["align"], "threshold": threshold,
        "trained": {"backbone": state["config"]["backbone"], "loss": state["config"]["loss"],
                    "epochs": state["epoch"], "device": state.get("device", "cpu"), "amp": state.get("amp", "off"),
                    "best": {state.get("monitor", "val_accuracy"): state["best"]}, "data": state["config"]["data"]},
    }
    output.with_suffix(".json").write_text(json.dumps(sidecar, indent=2) + "\n")
    return sidecar


def parity(checkpoint: Path, onnx_path: Path, images: np.ndarray) -> float:
    """Largest |torch - ONNX Runtime| over the given (N, H, W, C) uint8 images."""
    from faceprint.models.onnx_embedder import OnnxEmbedder

    model, _ = load_checkpoint(checkpoint)
    with torch.no_grad():
        ref = model(torch.from_numpy(images).permute(0, 3, 1, 2).float()).numpy()
    return float(np.abs(OnnxEmbedder(onnx_path)(images) - ref).max())

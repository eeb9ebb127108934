"""Where a training run computes: the device (``auto | cpu | cuda | cuda:N``), mixed precision
(``auto | bf16 | fp16 | off``), the data-loading settings that go with them, and the facts a
run records about them (device name, PyTorch and CUDA versions)."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any

import torch

from faceprint.errors import BadInput
from faceprint.train.config import AMP_MODES, DEVICE_PATTERN

_AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def _cuda_build() -> str:
    return f"PyTorch {torch.__version__}, " + (f"built for CUDA {torch.version.cuda}" if torch.version.cuda
                                               else "a CPU-only build")


def resolve_device(spec: str) -> tuple[torch.device, str]:
    """The device ``spec`` names, and a note when ``auto`` fell back to the CPU (else "").

    Raises:
        BadInput: an unknown spec, or CUDA asked for where PyTorch sees none (or too few GPUs).
    """
    spec = str(spec).strip().lower()
    if not DEVICE_PATTERN.match(spec):
        raise BadInput(f"device={spec!r}: use auto, cpu, cuda or cuda:N")
    if spec == "cpu":
        return torch.device("cpu"), ""
    available = torch.cuda.is_available()
    if spec == "auto":
        if available:
            return torch.device("cuda", torch.cuda.current_device()), ""
        note = f"device=auto: PyTorch sees no CUDA GPU ({_cuda_build()}), training on the CPU"
        return torch.device("cpu"), note
    if not available:
        raise BadInput(f"device={spec}: PyTorch sees no CUDA GPU ({_cuda_build()}); use device=cpu or "
                       "device=auto, or install a CUDA build of PyTorch on a machine with an NVIDIA GPU")
    device = torch.device(spec)
    index = 0 if device.index is None else device.index
    count = torch.cuda.device_count()
    if index >= count:
        raise BadInput(f"device={spec}: this machine has {count} CUDA GPU(s), numbered 0-{count - 1}")
    return torch.device("cuda", index), ""


def resolve_amp(amp: str, device: torch.device) -> str:
    """``auto``: bf16 on a GPU that supports it, else fp16; off on the CPU. An explicit ``bf16``
    or ``fp16`` is honoured on the CPU too (PyTorch autocasts there; fp16 gets a gradient scaler)."""
    if amp not in AMP_MODES:
        raise BadInput(f"amp={amp!r}: use {', '.join(AMP_MODES)}")
    if amp != "auto":
        return amp
    if device.type != "cuda":
        return "off"
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def default_loader_workers(device: torch.device) -> int:
    """Augmentation in the training process on the CPU (its cores are busy with the network);
    up to 4 DataLoader worker processes on a GPU, leaving a core for the training process."""
    if device.type != "cuda":
        return 0
    return max(1, min(4, (os.cpu_count() or 1) - 1))


@dataclass(frozen=True)
class Placement:
    """A run's device, precision and data-loading settings."""

    device: torch.device
    amp: str  # off | bf16 | fp16
    loader_workers: int
    note: str = ""  # why this device, when it is not what was asked for literally

    @property
    def pin_memory(self) -> bool:
        return self.device.type == "cuda"

    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed precision for the backbone's forward pass (a no-op with amp=off)."""
        if self.amp == "off":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=_AMP_DTYPES[self.amp])

    def grad_scaler(self) -> torch.amp.GradScaler:
        """Loss scaling for fp16 (whose small gradients underflow); disabled otherwise."""
        return torch.amp.GradScaler(self.device.type, enabled=self.amp == "fp16")

    def device_name(self) -> str:
        if self.device.type == "cuda":
            return torch.cuda.get_device_name(self.device)
        return "cpu"

    def describe(self) -> dict[str, Any]:
        """What the run's JSON records about where it ran."""
        return {"device": str(self.device), "device_name": self.device_name(), "amp": self.amp,
                "loader_workers": self.loader_workers, "torch": torch.__version__, "cuda": torch.version.cuda,
                "cudnn": torch.backends.cudnn.version() if self.device.type == "cuda" else None,
                "torch_threads": torch.get_num_threads()}


def place(device: str, amp: str, loader_workers: int | None) -> Placement:
    """Resolve a config's ``device``, ``amp`` and ``loader_workers`` (None: the device's default)."""
    where, note = resolve_device(device)
    if loader_workers is not None and loader_workers < 0:
        raise BadInput(f"loader_workers={loader_workers}: use 0 (augment in the training process) or more")
    workers = default_loader_workers(where) if loader_workers is None else int(loader_workers)
    if where.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input sizes: let cuDNN pick its fastest kernels
    return Placement(where, resolve_amp(amp, where), workers, note)


def to_cpu(obj: Any) -> Any:
    """``obj`` (nested dicts/lists of tensors, e.g. state dicts) with every tensor on the CPU, so a
    checkpoint loads on any machine, with or without a GPU."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {key: to_cpu(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_cpu(value) for value in obj)
    return obj

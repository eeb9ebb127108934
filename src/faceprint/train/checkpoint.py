"""Reading a checkpoint written by ``faceprint train run`` (``best.pt``, ``last.pt``)."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from faceprint.errors import BadInput, first_line

KEYS = ("model", "config", "info", "epoch")


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint's state, every tensor on the CPU. Loaded with ``weights_only=True``: tensors,
    numbers, strings and containers only, so a foreign or malicious ``.pt`` cannot run code.

    Raises:
        BadInput: no such file, or not a checkpoint of ``train run`` (another program's, truncated).
    """
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path}: no such checkpoint; give the best.pt or last.pt that `faceprint train run` wrote")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, EOFError, RuntimeError, zipfile.BadZipFile, ValueError, AttributeError) as exc:
        raise BadInput(f"{path}: not a faceprint checkpoint, or truncated ({first_line(exc, 160)}); give the best.pt or last.pt "
                       "that `faceprint train run` wrote") from None
    missing = [k for k in KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        raise BadInput(f"{path}: not a faceprint checkpoint (no {', '.join(missing)}); give the best.pt or "
                       "last.pt that `faceprint train run` wrote")
    return state

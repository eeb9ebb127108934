"""Embedding stage: chips -> L2-normalised vectors, with flip averaging and dlib-style jitter."""

from __future__ import annotations

import math
import zlib
from typing import Callable

import numpy as np

from faceprint.pipeline.align import warp


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def embed_chips(
    network: Callable[[np.ndarray], np.ndarray],
    chips: np.ndarray,
    flip: bool = True,
    jitter: int = 0,
    seed: int = 0,
) -> np.ndarray:
    """(N, H, W, 3) chips -> (N, D) unit vectors.

    With ``flip`` each chip and its mirror image are embedded, normalised and summed; with
    ``jitter`` > 0, that many randomly perturbed copies (dlib's jitter_image: +-3 degrees, scale
    0.97-1.0, shift +-2 %, random mirror) are added too. The sum is normalised again.
    """
    chips = np.asarray(chips)
    if len(chips) == 0:
        return np.zeros((0, 0), np.float32)
    views = [chips]
    if flip:
        views.append(chips[:, :, ::-1])
    if jitter:
        # one generator per chip, seeded by its pixels: the same face gets the same jitters
        # whatever batch it arrives in
        rngs = [np.random.default_rng([seed, zlib.crc32(c.tobytes())]) for c in chips]
        views.extend(np.stack([_jitter(c, rng) for c, rng in zip(chips, rngs)]) for _ in range(jitter))
    stacked = np.concatenate(views)
    vectors = l2_normalise(network(stacked).astype(np.float64))
    total = vectors.reshape(len(views), len(chips), -1).sum(axis=0)
    return l2_normalise(total).astype(np.float32)


def _jitter(chip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    size = chip.shape[0]
    angle = math.radians(rng.uniform(-3.0, 3.0))
    scale = 1.0 / rng.uniform(0.97, 0.99999)
    shift = rng.uniform(-0.02, 0.02, size=2) * size
    c = (size - 1) / 2.0
    cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
    m = np.array([[cos, -sin, c + shift[0] - cos * c + sin * c], [sin, cos, c + shift[1] - sin * c - cos * c]])
    out = warp(chip, m, (size, size))
    return out[:, ::-1] if rng.random() > 0.5 else out

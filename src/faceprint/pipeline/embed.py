"""Embedding stage: chips -> L2-normalised vectors, with flip averaging and dlib-style jitter."""

from __future__ import annotations

import math
import zlib
from typing import Callable, Sequence

import numpy as np

from faceprint.pipeline.align import align_chip, warp
from faceprint.types import Detection


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def embed_chips(
    network: Callable[[np.ndarray], np.ndarray],
    chips: np.ndarray,
    flip: bool = True,
    jitter: int = 0,
    seed: int = 0,
    mirrored: np.ndarray | None = None,
) -> np.ndarray:
    """(N, H, W, 3) chips -> (N, D) unit vectors.

    With ``flip`` each chip and its mirror image are embedded, normalised and summed (the mirror
    image is ``mirrored``, the mirrored faces aligned in their own right, when given); with
    ``jitter`` > 0, that many randomly perturbed copies (dlib's jitter_image: +-3 degrees, scale
    0.97-1.0, shift +-2 %, random mirror) are added too. The sum is normalised again.
    """
    return embed_chips_signals(network, chips, flip, jitter, seed, mirrored)[0]


def embed_chips_signals(
    network: Callable[[np.ndarray], np.ndarray],
    chips: np.ndarray,
    flip: bool = True,
    jitter: int = 0,
    seed: int = 0,
    mirrored: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``embed_chips``, and the network's own signal about each face at no extra cost.

    Args:
        network: (N, H, W, 3) chips -> (N, D) raw descriptors.
        chips: the aligned chips.
        flip: embed the mirror view too (``embed_chips``).
        jitter: jittered copies to add (``embed_chips``).
        seed: the jitter's seed.
        mirrored: the mirrored faces aligned in their own right, for the flip view.

    Returns:
        The (N, D) unit vectors (the same bytes as ``embed_chips``), and an (N, 2) array: the raw
        descriptor's length for the chip itself, and the cosine between the chip's vector and its
        mirror view's (NaN without ``flip``).
    """
    chips = np.asarray(chips)
    if len(chips) == 0:
        return np.zeros((0, 0), np.float32), np.zeros((0, 2))
    views = [chips]
    if flip:
        views.append(chips[:, :, ::-1] if mirrored is None else np.asarray(mirrored))
    if jitter:
        # one generator per chip, seeded by its pixels: the same face gets the same jitters
        # whatever batch it arrives in
        rngs = [np.random.default_rng([seed, zlib.crc32(c.tobytes())]) for c in chips]
        views.extend(np.stack([_jitter(c, rng) for c, rng in zip(chips, rngs)]) for _ in range(jitter))
    stacked = np.concatenate(views)
    raw = network(stacked).astype(np.float64)
    vectors = l2_normalise(raw)
    per_view = vectors.reshape(len(views), len(chips), -1)
    signals = np.full((len(chips), 2), np.nan)
    signals[:, 0] = np.linalg.norm(raw[: len(chips)], axis=1)
    if flip:
        signals[:, 1] = np.einsum("nd,nd->n", per_view[0], per_view[1])
    total = per_view.sum(axis=0)
    return l2_normalise(total).astype(np.float32), signals


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


Prepared = tuple  # what one face needs: its chip (and mirrored chip); per member for a fused model


class ChipEmbedder:
    """One network: align each face to its chip, embed in batches, flip/jitter, L2-normalise.

    ``mirror_align``: the flip view is the mirrored face aligned to the template in its own right
    (``align_chip(..., mirror=True)``) rather than the chip flipped. dlib's template is not
    symmetric, so a flipped dlib chip has its eyes about 2 px off where the network expects them;
    measured on LFW View 2 with dlib's network, 57 -> 50 errors (docs/lfw_view2_dlib_steps).
    ``points``: which points place the chip (``align.align_chip``): "5" or "68".
    """

    def __init__(self, network: Callable[[np.ndarray], np.ndarray], align: str, flip: bool = True,
                 jitter: int = 0, mirror_align: bool = True, points: str = "5") -> None:
        self.network, self.align, self.flip, self.jitter = network, align, flip, jitter
        self.mirror_align, self.points = mirror_align, points

    def prepare(self, image: np.ndarray, detection: Detection) -> Prepared:
        chip = align_chip(image, detection, self.align, points=self.points).image
        if self.flip and self.mirror_align:
            return chip, align_chip(image, detection, self.align, mirror=True, points=self.points).image
        return (chip,)

    def embed_prepared(self, prepared: Sequence[Prepared]) -> np.ndarray:
        return self.embed_prepared_signals(prepared)[0]

    def embed_prepared_signals(self, prepared: Sequence[Prepared]) -> tuple[np.ndarray, np.ndarray]:
        """The unit vectors of prepared faces, and the network's signal about each (raw descriptor
        length, mirror agreement: ``embed_chips_signals``)."""
        mirrored = np.stack([p[1] for p in prepared]) if prepared and len(prepared[0]) > 1 else None
        return embed_chips_signals(self.network, np.stack([p[0] for p in prepared]), self.flip, self.jitter,
                                   mirrored=mirrored)


class FusedEmbedder:
    """Several networks as one: each member's unit vector times its weight, concatenated and
    L2-normalised. The cosine of two fused vectors is then the weighted mean of the members'
    cosines (weights 1/std of each member's cosine make it the mean of z-scored cosines).

    ``profile_weights``: the weights of a turned face (|yaw| > ``profile_yaw``), when they differ
    from a frontal face's. Each face carries its own weights, scaled to sum to 1, so the cosine of
    a pair is sum_i sqrt(w_i(a) w_i(b)) cos_i: two frontal faces are compared exactly as with the
    frontal weights alone, and a pair with a profile leans on the members that hold up on profiles.
    """

    def __init__(self, members: Sequence[ChipEmbedder], weights: Sequence[float],
                 profile_weights: Sequence[float] | None = None, profile_yaw: float = 1.0) -> None:
        self.members, self.weights = list(members), [float(w) for w in weights]
        self.profile_weights = None if profile_weights is None else [float(w) for w in profile_weights]
        self.profile_yaw = float(profile_yaw)

    def face_weights(self, detection: Detection) -> list[float]:
        """The members' weights for this face, summing to 1."""
        turned = (self.profile_weights is not None and detection.yaw is not None
                  and abs(detection.yaw) > self.profile_yaw)
        weights = self.profile_weights if turned else self.weights
        total = sum(weights)
        return [w / total for w in weights]

    def prepare(self, image: np.ndarray, detection: Detection) -> Prepared:
        return (*(m.prepare(image, detection) for m in self.members), self.face_weights(detection))

    def embed_prepared(self, prepared: Sequence[Prepared]) -> np.ndarray:
        return self.embed_prepared_signals(prepared)[0]

    def embed_prepared_signals(self, prepared: Sequence[Prepared]) -> tuple[np.ndarray, np.ndarray]:
        """The fused unit vectors, and the network's signal about each face: the first member's raw
        descriptor length and the members' mean mirror agreement."""
        weights = np.array([p[-1] for p in prepared], np.float64)  # (faces, members)
        parts, signals = [], []
        for i, m in enumerate(self.members):
            vectors, member_signals = m.embed_prepared_signals([p[i] for p in prepared])
            parts.append(np.sqrt(weights[:, i : i + 1]) * vectors)
            signals.append(member_signals)
        fused = np.stack([signals[0][:, 0], np.mean([s[:, 1] for s in signals], axis=0)], axis=1)
        return l2_normalise(np.concatenate(parts, axis=1)).astype(np.float32), fused

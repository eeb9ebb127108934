"""CelebA chips as unit vectors for any model, and the fixed split of CelebA identities into the
people thresholds are fitted on and the people they are checked on.

The chips are aligned already (``celeba_dlib150``: dlib's 150x150 chips; ``celeba_112``: the ArcFace
112x112 crops), so they go straight into the network with their mirror image, as
``faceprint.fit.clustering`` embeds them. A fused model's vector is built from its members' chips of
the same photo with the model's frontal weights, as ``FusedEmbedder`` builds it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

CHIP_SETS = {"dlib": "celeba_dlib150", "mobilefacenet": "celeba_112"}
TRAINING_EVERY = 4  # identities whose CelebA number is a multiple of 4 are training people


def training_people(names: np.ndarray) -> np.ndarray:
    """Which rows belong to training people: CelebA identities ``celeba_<n>`` with n a multiple of
    ``TRAINING_EVERY`` (a quarter, whatever else is merged or left out).

    Args:
        names: the identity of each row.

    Returns:
        A boolean mask, True for training people (fitting only, never evaluated).
    """
    return np.array([int(str(n).rsplit("_", 1)[1]) % TRAINING_EVERY == 0 for n in names], bool)


def celeba_chips(data: Path, model: str, cache: Path, batch: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit vectors, identities and relative paths of the CelebA chips for ``model``, cached.

    Args:
        data: the shared data folder (holding ``celeba_dlib150`` and ``celeba_112``).
        model: ``dlib``, ``mobilefacenet`` or a fused model of them.
        cache: the folder the vectors are kept in (``celeba-<model>.npz``).
        batch: chips per network call.

    Returns:
        ``(vectors, identities, files)``, one row per chip.

    Raises:
        BadInput: the model has no chip set here.
    """
    from faceprint import registry
    from faceprint.errors import BadInput

    spec = registry.embedder_spec(model)
    if spec.members:
        parts = [celeba_chips(data, m, cache, batch) for m in spec.members]
        common = sorted(set.intersection(*(set(p[2].tolist()) for p in parts)))
        weights = np.asarray(spec.fusion_weights or [1.0] * len(parts), float)
        rows = []
        for (vectors, _, files), w in zip(parts, weights / weights.sum()):
            where = {f: i for i, f in enumerate(files.tolist())}
            rows.append(np.sqrt(w) * vectors[[where[f] for f in common]].astype(np.float64))
        fused = np.concatenate(rows, axis=1)
        fused /= np.linalg.norm(fused, axis=1, keepdims=True)
        return fused.astype(np.float32), np.array([f.split("/")[1] for f in common]), np.array(common)
    if model not in CHIP_SETS:
        raise BadInput(f"{model}: no CelebA chip set for it (known: {', '.join(CHIP_SETS)})")
    path = cache / f"celeba-{model}.npz"
    if path.exists():
        d = np.load(path)
        return d["vectors"], d["names"], d["files"]
    from faceprint.images import load_image
    from faceprint.pipeline.embed import embed_chips

    root = data / CHIP_SETS[model]
    paths = sorted((root / "images").glob("*/*.jpg"))
    network = registry.create_embedder(model)
    out = []
    for start in range(0, len(paths), batch):
        chips = np.stack([load_image(p) for p in paths[start:start + batch]])
        out.append(embed_chips(network, chips, flip=True))
        log.info("%s: %d / %d chips", model, start + len(chips), len(paths))
    vectors, names = np.concatenate(out), np.array([p.parent.name for p in paths])
    files = np.array([str(p.relative_to(root)) for p in paths])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, vectors=vectors, names=names, files=files)
    return vectors, names, files


def same_person_labels(data: Path, cache: Path, share: float = 0.95) -> dict[str, str]:
    """CelebA identities that are one person under two numbers, as a map to one name.

    Two identities are one person when at least ``share`` of the pairs of their photos match
    (within each model's verification threshold) under both dlib and MobileFaceNet: two
    networks trained apart agreeing on nearly every pair. Look-alikes are not merged: they are
    the strangers a threshold must keep out.

    Args:
        data: the shared data folder.
        cache: where the chips' vectors are kept.
        share: the share of matching photo pairs both networks must reach.

    Returns:
        ``{identity: the identity it is merged into}`` for the merged ones only ({} when either
        network is missing).
    """
    from faceprint.errors import FaceprintError
    from faceprint.thresholds import threshold_for

    shares = []
    for model in ("dlib", "mobilefacenet"):
        try:
            vectors, names, _ = celeba_chips(data, model, cache)
        except FaceprintError:  # a network not installed: nothing merged
            return {}
        ids, codes = np.unique(names, return_inverse=True)
        onehot = np.zeros((len(names), len(ids)), np.float32)
        onehot[np.arange(len(names)), codes] = 1.0
        match = (np.sqrt(np.maximum(2.0 - 2.0 * vectors @ vectors.T, 0.0)) <= threshold_for(model)).astype(np.float32)
        counts = onehot.sum(axis=0)
        shares.append((ids, onehot.T @ match @ onehot / np.outer(counts, counts)))
    (ids_a, share_a), (ids_b, share_b) = shares
    ids = np.intersect1d(ids_a, ids_b)  # identities both networks saw, in one order
    pick_a, pick_b = np.searchsorted(ids_a, ids), np.searchsorted(ids_b, ids)
    both = np.minimum(share_a[np.ix_(pick_a, pick_a)], share_b[np.ix_(pick_b, pick_b)])
    np.fill_diagonal(both, 0.0)
    return {str(ids[j]): str(ids[i]) for i, j in zip(*np.nonzero(np.triu(both >= share, 1)))}

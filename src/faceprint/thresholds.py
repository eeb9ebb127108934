"""Every threshold the library uses at run time, and the maths that turns a fitted curve into one.

- Verification: a model's Euclidean threshold between unit vectors: the user's own (saved by
  `faceprint calibrate --save`) when there is one, else the registry's, fitted on LFW View 1.
- Identification: open-set search keeps strangers out at a stated FPIR for the gallery's size.
- Clustering: the average-linkage cut per model, chosen on CelebA chips (``cluster_thresholds.json``).

This module only reads those JSON files and does the maths: the fitters that write them live in
``faceprint.fit`` (one module each, each re-runnable).

Identification. A verification threshold is the wrong default for search: a stranger compared with
N enrolled faces gets up to N chances to fall under it. The false positive identification rate of a
threshold t on a gallery of N faces of S people is modelled as

    FPIR(t) = 1 - (1 - p(t)) ** C,   so   t = q(1 - (1 - fpir) ** (1 / C)),   C = sum_i n_i ** b

where p(t) is the share of impostor pairs (two different people) closer than t, q its inverse, and
n_i the faces enrolled for person i. C counts the stranger's independent chances: N (every face)
when each person has one photo, fewer when people enrol several photos, which resemble each other
and so fail together: a person's n photos count as n ** b chances. The exponent b is fitted per
model on training people (CelebA training identities and LFW View 1 people,
``faceprint.fit.ident_exponent``), never on the people it is checked on
(``bench/bench_identification.py``).
q is fitted per model on data that is not LFW View 2 (LFW View 1 people and CelebA identities):
empirical quantiles where there are enough impostor pairs, and below that a straight line in probit
space fitted to the lowest impostor distances (the lower tail of the impostor distribution is close
to Gaussian there). The fitted table, with how it was made and how well the model predicted FPIR on
held-out strangers, lives in ``ident_thresholds.json``. Users calibrate on their own gallery with
``faceprint calibrate --gallery``.
"""

from __future__ import annotations

import json
import logging
import math
import numbers
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from faceprint import registry, settings
from faceprint.errors import BadInput

log = logging.getLogger(__name__)


def thresholds_file() -> Path:
    """Where the user's own verification thresholds are kept.

    Returns:
        ``$FACEPRINT_HOME/thresholds.json`` (the file may not exist yet).
    """
    return settings.home_dir() / "thresholds.json"


def save_threshold(model: str, entry: dict[str, Any]) -> Path:
    """Store a user's verification threshold, which verify and compare use for ``model`` from now on.

    For a model file (``.onnx``) it holds until the file or its sidecar is rewritten
    (``registry.model_file_stamp``).

    Args:
        model: the embedding model the threshold was calibrated for.
        entry: at least ``threshold``; anything else (``far``, ``tar``, ``source``) is kept with it.

    Returns:
        The file written (``thresholds_file()``).
    """
    path = thresholds_file()
    table = json.loads(path.read_text()) if path.exists() else {}
    stamp = registry.model_file_stamp(model)
    table[model] = entry if stamp is None else {**entry, "model_stamp": list(stamp)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(table, indent=2) + "\n")
    return path


def saved_threshold(model: str) -> float | None:
    """The user's own verification threshold for ``model``, if one was saved and still applies.

    Args:
        model: the embedding model.

    Returns:
        The threshold, or None when none was saved, the file cannot be read, or the model file
        was rewritten since (then a warning is logged).
    """
    path = thresholds_file()
    if not path.exists():
        return None
    try:
        entry = json.loads(path.read_text()).get(model)
    except (OSError, ValueError):
        return None
    if not entry:
        return None
    stamp = registry.model_file_stamp(model)
    if "model_stamp" in entry and stamp is not None and tuple(entry["model_stamp"]) != stamp:
        log.warning("%s: rewritten since its threshold was calibrated; using the sidecar's until "
                    "`faceprint calibrate --save` is run again", model)
        return None
    return float(entry["threshold"])


def threshold_for(model: str) -> float:
    """The Euclidean distance between unit embeddings under which ``model`` calls two faces the same.

    Args:
        model: the embedding model.

    Returns:
        The user's saved threshold (``save_threshold``), else the registry's default, fitted on
        LFW View 1.

    Raises:
        UnknownModel: ``model`` is not registered and is no model file.
    """
    user = saved_threshold(model)
    return user if user is not None else registry.embedder_spec(model).threshold


# -- identification ------------------------------------------------------------------------------

DEFAULT_FPIR = 0.01
IDENTIFICATION_TABLE = Path(__file__).with_name("ident_thresholds.json")


@lru_cache(maxsize=4)
def _fitted_table(path: Path) -> dict[str, Any]:
    """A fitted table shipped beside this module (what a ``faceprint.fit`` module wrote); {} when absent."""
    return json.loads(path.read_text()) if path.exists() else {}


def _fitted_entry(path: Path, model: str) -> dict[str, Any] | None:
    return _fitted_table(path).get("models", {}).get(model)


def check_fpir(fpir: float) -> float:
    """Check a false positive identification rate (0 would name nobody, 1 everybody).

    Args:
        fpir: the rate.

    Returns:
        ``fpir`` itself.

    Raises:
        BadInput: ``fpir`` does not lie strictly between 0 and 1 (NaN included).
    """
    if not 0.0 < fpir < 1.0:  # NaN fails too
        raise BadInput(f"FPIR must lie strictly between 0 and 1 (e.g. 0.01), not {fpir:g}")
    return fpir


def per_pair_rate(faces: int, fpir: float) -> float:
    """The impostor-pair false accept rate p that gives ``fpir`` over ``faces`` independent chances.

    Args:
        faces: faces in the gallery, or a stranger's independent chances (``chances``; at least 1
            is assumed).
        fpir: the false positive identification rate.

    Returns:
        p, with ``1 - (1 - p) ** faces == fpir``.

    Raises:
        BadInput: ``fpir`` does not lie strictly between 0 and 1.
    """
    check_fpir(fpir)
    return -math.expm1(math.log1p(-fpir) / max(float(faces), 1.0))


def quantile(model_entry: dict[str, Any], p: float) -> float:
    """The impostor distance below which a share ``p`` of impostor pairs falls, on a fitted curve.

    Inside the stored grid's range: the empirical quantiles, interpolated in log p (the grid is
    stored from large p down; it is sorted here). Above the grid: its largest quantile. Below it:
    the probit-linear tail.

    Args:
        model_entry: a model's entry of ``ident_thresholds.json`` (``quantiles`` and ``tail``).
        p: the share of impostor pairs, in (0, 1).

    Returns:
        The distance.
    """
    from statistics import NormalDist

    grid_p = np.asarray(model_entry["quantiles"]["p"], float)
    grid_t = np.asarray(model_entry["quantiles"]["t"], float)
    order = np.argsort(grid_p)
    grid_p, grid_t = grid_p[order], grid_t[order]
    if p >= grid_p[0]:
        return float(np.interp(math.log(p), np.log(grid_p), grid_t))
    tail = model_entry["tail"]  # t = a + b * probit(p), fitted on the lowest impostor distances
    return float(tail["a"] + tail["b"] * NormalDist().inv_cdf(p))


def chances(model: str, faces: int, subjects: int | Sequence[int] | None = None) -> float:
    """A stranger's independent chances of being named in a gallery: ``sum_i n_i ** b``.

    Args:
        model: the embedding model (its fitted exponent b, ``faces_exponent``; 1 when none).
        faces: faces in the gallery (N; given each person's faces, their sum counts instead).
        subjects: the faces each enrolled person has (n_i), or only how many people there are (S:
            then each is taken to have N / S faces, ``S ** (1 - b) * N ** b``); None, 0 or no
            count counts every face as a chance.

    Returns:
        C, between the number of people and N.
    """
    entry = _fitted_entry(IDENTIFICATION_TABLE, model) or {}
    b = float(entry.get("faces_exponent", 1.0))
    n = max(float(faces), 1.0)
    if subjects is None:
        return n
    if isinstance(subjects, numbers.Real):  # only how many people (an int, a float, a numpy scalar)
        s = float(subjects)
        return n if s <= 0 or s >= faces else s ** (1.0 - b) * n ** b
    counts = np.asarray(list(subjects), float)
    counts = counts[counts > 0]
    return float(np.sum(counts ** b)) if len(counts) else n


def identification_threshold(model: str, faces: int, fpir: float = DEFAULT_FPIR,
                             subjects: int | Sequence[int] | None = None) -> float:
    """The default identification threshold for a gallery of ``faces`` faces of ``model``.

    Falls back to the model's verification threshold only for models with no fitted entry (a
    user's own ONNX file: 0.6), which is the case ``faceprint calibrate --gallery`` is for.

    Args:
        model: the embedding model.
        faces: faces in the gallery.
        fpir: the false positive identification rate to meet.
        subjects: the faces of each enrolled person, or how many people there are (``chances``;
            None: as many as faces, the strictest).

    Returns:
        The Euclidean threshold between unit vectors.

    Raises:
        BadInput: ``fpir`` does not lie strictly between 0 and 1.
    """
    t = impostor_quantile(model, per_pair_rate(chances(model, faces, subjects), fpir))
    if t is None:
        return threshold_for(model) if not model.endswith(".onnx") else 0.6
    return t


def impostor_quantile(model: str, p: float) -> float | None:
    """The distance below which a share ``p`` of impostor pairs of ``model`` falls.

    Args:
        model: the embedding model.
        p: the share of impostor pairs, in (0, 1).

    Returns:
        The distance on the fitted curve of ``ident_thresholds.json``, or None for a model with
        no fitted entry.
    """
    entry = _fitted_entry(IDENTIFICATION_TABLE, model)
    return None if entry is None else quantile(entry, p)


def describe_identification(model: str) -> dict[str, Any] | None:
    """How the default identification curve of ``model`` was fitted, and how it was checked.

    Args:
        model: the embedding model.

    Returns:
        The model's entry of ``ident_thresholds.json`` without its quantile grid (``fitted_on``,
        ``command``, ``check``...), or None when it has none.
    """
    entry = _fitted_entry(IDENTIFICATION_TABLE, model)
    return None if entry is None else {k: v for k, v in entry.items() if k not in ("quantiles",)}


def threshold_at_fpir(best_unknown: np.ndarray, fpir: float) -> float:
    """The largest threshold that names at most a share ``fpir`` of the strangers.

    A stranger is named when their best distance to the gallery is at most the threshold: the
    same rule as ``faceprint.eval.identification``.

    Args:
        best_unknown: each stranger's distance to the nearest gallery face.
        fpir: the share of strangers that may be named.

    Returns:
        The threshold (infinite when every stranger may be named).
    """
    best = np.sort(np.asarray(best_unknown, float))
    allowed = int(np.floor(fpir * len(best)))
    return float(best[allowed] - 1e-9) if allowed < len(best) else float("inf")


# -- clustering ----------------------------------------------------------------------------------

CLUSTER_TABLE = Path(__file__).with_name("cluster_thresholds.json")


def cluster_threshold(model: str) -> float:
    """The average-linkage cut that clusters faces of ``model`` (Euclidean, unit vectors).

    Args:
        model: the embedding model.

    Returns:
        The cut of ``cluster_thresholds.json`` (chosen on CelebA chips by ``python -m
        faceprint.fit.clustering``; 0.39 for dlib), else the model's verification threshold.

    Raises:
        UnknownModel: ``model`` has no fitted cut and is not registered.
    """
    entry = _fitted_entry(CLUSTER_TABLE, model)
    if entry is not None:
        return float(entry["threshold"])
    return threshold_for(model)

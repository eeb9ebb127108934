"""Run a detector over overlapping tiles of a large image and merge what it finds.

Rows are YuNet's: score, x, y, w, h, then keypoints as x, y pairs (any float array of that shape).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

# A tile's detection that comes this close (px) to an edge shared with another tile may be a cut
# face: it is dropped, and the same face, whole, is taken from the tile that holds it.
EDGE_MARGIN = 8


def tile_spans(length: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """(start, end) of the fewest equal tiles of at most ``tile`` px (give or take one) that cover
    ``length`` px, each overlapping the next by at least ``overlap`` px, spread evenly. Tiles are
    shrunk to fit: every pixel past the photo's need is paid for by the detector.

    >>> tile_spans(4000, 1536, 183)
    [(0, 1457), (1272, 2729), (2543, 4000)]
    """
    if length <= tile:
        return [(0, length)]
    count = math.ceil((length - overlap) / (tile - overlap))
    size = math.ceil((length + (count - 1) * overlap) / count) + 1  # + 1: room for rounding below
    return [(start, start + size) for start in
            (round(i * (length - size) / (count - 1)) for i in range(count))]


def detect_tiled(image: np.ndarray, detect: Callable[[np.ndarray], np.ndarray], tile: int,
                 overlap: int) -> np.ndarray:
    """``detect`` on overlapping tiles of ``image``; rows in ``image`` pixels.

    Args:
        image: (H, W, 3) array; tiles are views of it (no copies).
        detect: image -> (N, K) rows, K >= 5: score, x, y, w, h, then x, y pairs.
        tile: tile side in px; raised to 3 * ``overlap`` if smaller.
        overlap: minimum overlap of neighbouring tiles in px: a face smaller than
            ``overlap - 2 * EDGE_MARGIN`` lies whole, away from shared edges, in some tile.

    Returns:
        (M, K) float64 rows, cut faces at shared tile edges dropped, duplicates not yet merged.
    """
    height, width = image.shape[:2]
    tile = max(tile, 3 * overlap)
    found = []
    for top, bottom in tile_spans(height, tile, overlap):
        for left, right in tile_spans(width, tile, overlap):
            rows = np.asarray(detect(image[top:bottom, left:right]), dtype=np.float64)
            if not len(rows):
                continue
            rows = rows[~cut_at_inner_edges(rows, (left, top, right, bottom), width, height)]
            rows[:, 1] += left
            rows[:, 2] += top
            rows[:, 5::2] += left  # keypoints: x, y pairs
            rows[:, 6::2] += top
            found.append(rows)
    if not found:
        return np.zeros((0, 15), np.float64)
    return np.concatenate(found)


def cut_at_inner_edges(rows: np.ndarray, region: tuple[int, int, int, int], width: int, height: int) -> np.ndarray:
    """Which detections of a region touch one of its edges that lies inside the image: the face may
    go on beyond it, and the whole-image pass or another region has it whole.

    Args:
        rows: the detector's rows in region pixels (column 1..4: x, y, w, h).
        region: ``(left, top, right, bottom)`` of the region in the image.
        width, height: the image's size.

    Returns:
        A boolean mask, True for the rows to drop.
    """
    left, top, right, bottom = region
    x, y, w, h = rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4]
    cut = np.zeros(len(rows), bool)
    if left > 0:
        cut |= x < EDGE_MARGIN
    if top > 0:
        cut |= y < EDGE_MARGIN
    if right < width:
        cut |= x + w > right - left - EDGE_MARGIN
    if bottom < height:
        cut |= y + h > bottom - top - EDGE_MARGIN
    return cut


def merge(rows: np.ndarray, iou_threshold: float = 0.4) -> np.ndarray:
    """Greedy non-maximum suppression: of boxes overlapping by more than ``iou_threshold``, keep
    the highest score. Returns the kept rows, highest score first."""
    if len(rows) < 2:
        return rows
    rows = rows[np.argsort(-rows[:, 0], kind="stable")]
    x1, y1 = rows[:, 1], rows[:, 2]
    x2, y2 = x1 + rows[:, 3], y1 + rows[:, 4]
    area = np.maximum(rows[:, 3], 0) * np.maximum(rows[:, 4], 0)
    keep = []
    alive = np.ones(len(rows), bool)
    for i in range(len(rows)):
        if not alive[i]:
            continue
        keep.append(i)
        iw = np.clip(np.minimum(x2[i], x2) - np.maximum(x1[i], x1), 0, None)
        ih = np.clip(np.minimum(y2[i], y2) - np.maximum(y1[i], y1), 0, None)
        inter = iw * ih
        iou = inter / np.maximum(area[i] + area - inter, 1e-9)
        alive &= iou <= iou_threshold
    return rows[keep]

"""Pair lists: LFW's pairs files (View 1 and View 2) and a simple CSV (img1,img2,same)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from faceprint.errors import BadInput


@dataclass(frozen=True)
class Pair:
    first: Path
    second: Path
    same: bool
    fold: int = 0


def lfw_image(root: Path, name: str, number: int) -> Path:
    return root / name / f"{name}_{number:04d}.jpg"


# pairs without folds of their own (View 1 files, CSVs) are dealt into this many
DEALT_FOLDS = 10


def read_lfw_pairs(pairs_file: Path, root: Path | None = None) -> list[Pair]:
    """Parse an LFW pairs file.

    View 2 (``pairs.txt``) starts with ``folds<TAB>n`` and has, per fold, n matched then n
    mismatched lines; View 1 files start with a single count and have no folds: their pairs are
    dealt into 10 (as a CSV's), so that no pair is judged by a threshold fitted on itself.
    Matched: ``name i j``; mismatched: ``name1 i name2 j``.
    """
    pairs_file = Path(pairs_file)
    root = Path(root) if root is not None else pairs_file.parent
    try:
        lines = [line.split() for line in pairs_file.read_text().splitlines() if line.strip()]
        header = [int(x) for x in lines[0]]
        folds, per_fold = (header[0], header[1]) if len(header) == 2 else (1, header[0])
    except (UnicodeDecodeError, ValueError, IndexError):  # not text, empty, or no count on its first line
        raise BadInput(f"{pairs_file}: not an LFW pairs file (its first line should be 'folds<TAB>pairs' or a "
                       "count); give LFW's pairs.txt format, or a .csv of img1,img2,same") from None
    body = lines[1:]
    if len(body) != folds * per_fold * 2:
        raise BadInput(f"{pairs_file}: header says {folds} folds of {per_fold}+{per_fold} pairs, "
                       f"found {len(body)} lines")
    pairs = []
    for index, fields in enumerate(body):
        fold = index // (2 * per_fold) if folds > 1 else index % DEALT_FOLDS
        try:
            if len(fields) == 3:
                name, i, j = fields
                pairs.append(Pair(lfw_image(root, name, int(i)), lfw_image(root, name, int(j)), True, fold))
            elif len(fields) == 4:
                n1, i, n2, j = fields
                pairs.append(Pair(lfw_image(root, n1, int(i)), lfw_image(root, n2, int(j)), False, fold))
            else:
                raise BadInput(f"{pairs_file}: line {index + 2} has {len(fields)} fields, expected 3 or 4")
        except ValueError:  # a word where an image number goes
            raise BadInput(f"{pairs_file}: line {index + 2} ({' '.join(fields)}): image numbers must be whole "
                           "numbers") from None
    return pairs


def read_csv_pairs(csv_file: Path, root: Path | None = None, folds: int = DEALT_FOLDS) -> list[Pair]:
    """Parse ``img1,img2,same[,fold]`` rows (header optional; same is 1/0/true/false), paths
    relative to ``root`` (default: the CSV's folder).

    A fourth column names each pair's fold (CFP's folds are disjoint by person: dealing its pairs
    anew would put one person's pairs on both sides of a threshold); then ``folds`` is ignored.
    Without it, rows are dealt into ``folds`` folds like cards (row i to fold i mod folds), so a
    file listing its matched pairs first still gets mixed folds.
    """
    csv_file = Path(csv_file)
    root = Path(root) if root is not None else csv_file.parent
    pairs: list[Pair] = []
    own_folds: list[int | None] = []
    with open(csv_file, newline="") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if not row or row[0].strip().startswith("#"):
                continue
            if len(row) < 3:
                raise BadInput(f"{csv_file}: row {number} needs img1,img2,same")
            flag = row[2].strip().lower()
            if flag in ("same", "label", "is_same") and not pairs:
                continue  # header
            if flag not in ("1", "0", "true", "false", "yes", "no"):
                raise BadInput(f"{csv_file}: row {number}: third column must be 1/0 or true/false, got {row[2]!r}")
            fold = row[3].strip() if len(row) > 3 else ""
            if fold and not fold.lstrip("-").isdigit():
                raise BadInput(f"{csv_file}: row {number}: fourth column (fold) must be an integer, got {row[3]!r}")
            own_folds.append(int(fold) if fold else None)
            pairs.append(Pair(root / row[0].strip(), root / row[1].strip(), flag in ("1", "true", "yes")))
    given = [f is not None for f in own_folds]
    if any(given) and not all(given):
        raise BadInput(f"{csv_file}: the fold column is filled on some rows and not others: fill it on "
                       "every row, or drop it to have the pairs dealt into --folds folds")
    if pairs and all(given):
        if len(set(own_folds)) < 2:
            raise BadInput(f"{csv_file}: every pair is in fold {own_folds[0]}: k-fold accuracy needs at "
                           "least two folds (or drop the fold column)")
        return [Pair(p.first, p.second, p.same, int(f)) for p, f in zip(pairs, own_folds)]  # type: ignore[arg-type]
    return [Pair(p.first, p.second, p.same, i % folds) for i, p in enumerate(pairs)]

"""LFW people shared by the gallery tests: who is enrolled, and a people/<name>/ folder of them."""

from __future__ import annotations

from pathlib import Path

ENROLLED = ["Colin_Powell", "George_W_Bush", "Serena_Williams", "Tony_Blair"]


def photos(lfw: Path, name: str, start: int, count: int) -> list[Path]:
    """``count`` of a person's LFW photos from the ``start``-th, in name order."""
    return sorted((lfw / name).glob("*.jpg"))[start:start + count]


def people_folder(lfw: Path, root: Path) -> Path:
    """root/<name>/ with photos 2-4 of each enrolled person (photo 1 is in the group photo), plus
    one broken file that an enrol must list and skip."""
    for name in ENROLLED:
        (root / name).mkdir()
        for p in photos(lfw, name, 1, 3):
            (root / name / p.name).write_bytes(p.read_bytes())
    (root / "Tony_Blair" / "broken.jpg").write_bytes(b"not a jpeg at all")
    return root

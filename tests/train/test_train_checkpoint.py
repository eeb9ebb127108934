"""A checkpoint is read with weights_only=True: another program's or a malicious .pt is one
BadInput line (and runs nothing), a text file or a truncated one too."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from faceprint.errors import BadInput  # noqa: E402
from faceprint.train.checkpoint import read_checkpoint  # noqa: E402


class _Payload:
    """Unpickling this writes a file: what a malicious checkpoint would do instead."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (Path.write_text, (self.target, "ran"))


def test_a_malicious_checkpoint_runs_nothing(tmp_path):
    target = tmp_path / "owned.txt"
    torch.save({"model": {}, "config": {}, "info": {}, "epoch": 1, "x": _Payload(target)}, tmp_path / "evil.pt")
    with pytest.raises(BadInput, match="not a faceprint checkpoint"):
        read_checkpoint(tmp_path / "evil.pt")
    assert not target.exists()


def test_foreign_text_truncated_and_missing_files_are_one_line(tmp_path):
    torch.save({"state_dict": {"w": torch.zeros(2)}}, tmp_path / "other.pt")
    with pytest.raises(BadInput, match=r"no model, config, info, epoch"):
        read_checkpoint(tmp_path / "other.pt")
    (tmp_path / "notes.pt").write_text("not a checkpoint")
    good = tmp_path / "good.pt"
    torch.save({"model": {"w": torch.zeros(3)}, "config": {"backbone": "x"}, "info": {}, "epoch": 2}, good)
    assert read_checkpoint(good)["epoch"] == 2
    (tmp_path / "cut.pt").write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    for name in ("notes.pt", "cut.pt"):
        with pytest.raises(BadInput, match="not a faceprint checkpoint, or truncated"):
            read_checkpoint(tmp_path / name)
    with pytest.raises(BadInput, match="no such checkpoint"):
        read_checkpoint(tmp_path / "missing.pt")

"""Options out of range are refused in one line before any work: by click for a value outside an
option's min/max (a usage error, exit 2), by faceprint's own checks otherwise (exit 1)."""

from __future__ import annotations

import pytest

from cli_helpers import one_line_error, run

CLICK = 2  # click refuses a value outside an option's min/max itself: usage error, exit 2
OURS = 1  # faceprint's own check (fail or BadInput): exit 1


@pytest.mark.parametrize("args, words, code", [
    (["verify", "{face}", "{face}", "--metric", "manhattan"], ["metric", "euclidean or cosine", "manhattan"], OURS),
    (["compare", "{face}", "{face}", "--metric", "manhattan"], ["metric", "euclidean or cosine", "manhattan"], OURS),
    (["detect", "{face}", "--upsample", "20"], ["--upsample"], CLICK),
    (["detect", "{face}", "--max-faces", "0"], ["--max-faces"], CLICK),
    (["embed", "{face}", "--jitter", "-1"], ["--jitter"], CLICK),
    (["verify", "{face}", "{face}", "--threshold", "-1"], ["--threshold"], CLICK),
    (["bench", "{face}", "-n", "-1"], ["--count"], CLICK),
    (["calibrate", "{people}", "--far", "2"], ["--far"], OURS),
    (["calibrate", "{people}", "--workers", "0"], ["--workers"], CLICK),
    (["calibrate", "{people}", "-g", "{gallery}", "--fpir", "5"], ["--fpir"], OURS),
    (["identify", "{face}", "-g", "{gallery}", "--fpir", "0"], ["--fpir"], OURS),
    (["identify", "{face}", "-g", "{gallery}", "--threshold", "-1"], ["--threshold"], CLICK),
    (["video", "{face}", "-g", "{gallery}", "--fpir", "0"], ["--fpir"], OURS),
    (["eval", "pairs", "{csv}", "--folds", "0"], ["--folds"], CLICK),
    (["eval", "ident", "{people}", "--unknown", "2"], ["unknown_fraction", "left out of the gallery"], OURS),
    (["eval", "ident", "{people}", "--fpir", "2"], ["--fpir"], OURS),
    (["eval", "ident", "{people}", "--gallery", "0"], ["--gallery"], CLICK),
    (["classify", "fit", "{people}", "--C", "0", "-o", "{tmp}/c.npz"], ["--C", "positive"], OURS),
    (["classify", "fit", "{people}", "--C", "-1", "-o", "{tmp}/c.npz"], ["--C", "positive"], OURS),
])
def test_out_of_range_options_are_refused_in_one_line(args, words, code, face, people, gallery, tmp_path):
    csv = tmp_path / "pairs.csv"
    csv.write_text(f"{face},{face},1\n")
    values = {"face": face, "people": people, "gallery": gallery, "csv": csv, "tmp": tmp_path}
    out = run(*[a.format(**values) for a in args])
    one_line_error(out, *words)
    assert out.returncode == code, out.stderr[-2000:]
    assert "embedding" not in out.stderr  # refused before the work


def test_cluster_with_a_bad_option_leaves_no_out_folder(people, tmp_path):
    out = run("cluster", people, "--out", tmp_path / "groups", "--threshold", "5")
    one_line_error(out, "threshold")
    assert not (tmp_path / "groups").exists()

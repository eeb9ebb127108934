"""When every input failed the CLI exits 1 with one error line, and its JSON report still comes;
when something worked, or there was nothing to do, it exits 0."""

from __future__ import annotations

import json

import pytest
import typer

from cli_helpers import one_line_error, run


def test_exit_if_nothing_done_exits_1_with_the_message(capsys):
    from faceprint.cli.common import exit_if_nothing_done

    with pytest.raises(typer.Exit) as stop:
        exit_if_nothing_done(0, 2, "no photo could be used")
    assert stop.value.exit_code == 1
    assert capsys.readouterr().err == "error: no photo could be used\n"
    with pytest.raises(typer.Exit):
        exit_if_nothing_done(0, 1)
    assert capsys.readouterr().err == ""
    exit_if_nothing_done(1, 5, "not printed")  # something worked
    exit_if_nothing_done(0, 0, "not printed")  # nothing to do, nothing failed
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("command", [["embed"], ["identify", "-g", "{gallery}"],
                                     ["classify", "predict", "-c", "{classifier}"]])
def test_every_photo_failing_exits_non_zero(command, bad_files, gallery, tmp_path, people):
    classifier = tmp_path / "c.npz"
    if "predict" in command:
        fitted = run("classify", "fit", people, "-o", classifier, "--workers", "1")
        assert fitted.returncode == 0, fitted.stderr
    args = [a.format(gallery=gallery, classifier=classifier) for a in command]
    out = run(*args, *bad_files)
    one_line_error(out, "not an image", "empty")
    assert len(json.loads(out.stdout)["errors"]) == 2  # the report still comes


def test_compare_with_nothing_to_compare_fails(face, bad_files, tmp_path):
    (tmp_path / "empty_folder").mkdir()
    one_line_error(run("compare", face, tmp_path / "empty_folder"), "no photos")
    out = run("compare", face, *bad_files)
    one_line_error(out)
    assert all("error" in row for row in json.loads(out.stdout)["results"])


def test_cluster_of_unreadable_photos_fails(bad_files):
    one_line_error(run("cluster", *bad_files), "no photo could be used")


def test_bench_of_unreadable_photos_fails(tmp_path):
    one_line_error(run("bench", tmp_path / "missing.jpg"), "nothing was timed")

"""faceprint.cluster: average linkage with the same-photo rule, its scores, the API and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import faceprint
from faceprint.clustering.api import cluster_vectors, default_threshold
from faceprint.clustering.linkage import average_linkage, cut, drop_small
from faceprint.clustering.metrics import bcubed_items, bcubed_scores, pairwise_scores, singletons
from faceprint.errors import BadInput

PEOPLE = ["Aaron_Peirsol", "Angelina_Jolie", "Colin_Powell", "George_W_Bush", "Serena_Williams", "Tony_Blair"]
LONER = "Zico"  # one photo: must stay unclustered


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("threshold,split", [(0.45, False), (0.6, True), (0.8, True)])
def test_average_linkage_equals_scipy(threshold: float, split: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """NN-chain with early retirement, with or without the split into radius-graph components,
    gives exactly scipy's average linkage cut."""
    hierarchy = pytest.importorskip("scipy.cluster.hierarchy")
    from scipy.spatial.distance import pdist

    from faceprint.clustering import linkage

    if split:
        monkeypatch.setattr(linkage, "DIRECT", 10)
        monkeypatch.setattr(linkage, "_CHUNK", 64)

    rng = np.random.default_rng(1)
    centres = rng.normal(size=(25, 16))
    x = _unit(centres[rng.integers(0, 25, 400)] + rng.normal(scale=0.3, size=(400, 16)))
    ours = cut(average_linkage(x, threshold), len(x))
    reference = hierarchy.fcluster(hierarchy.linkage(pdist(x.astype(np.float64)), "average"), threshold, "distance")
    assert 5 < len(set(ours)) < 400
    assert pairwise_scores(reference, ours)["f1"] == 1.0
    assert pairwise_scores(ours, reference)["f1"] == 1.0


def test_exact_linkage_refuses_past_its_memory_limit_and_the_graph_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    """The exact matrix method keeps its limit (and says why); the default graph method takes a
    collection past it, and the CLI's help no longer tells users to split their photos."""
    from typer.testing import CliRunner

    from faceprint.cli.main import app
    from faceprint.clustering import linkage

    monkeypatch.setattr(linkage, "DIRECT", 20)
    monkeypatch.setattr(linkage, "MAX_BLOCK", 50)
    rng = np.random.default_rng(2)
    x = _unit(rng.normal(size=(1, 16)) + rng.normal(scale=0.05, size=(60, 16)))
    with pytest.raises(BadInput) as caught:
        average_linkage(x, 0.5)
    message = str(caught.value)
    assert "60 of the 60 faces" in message and "at most 50 faces" in message
    with pytest.raises(BadInput, match="at most 50 faces"):
        cluster_vectors(x, 0.5, method="exact")
    assert cluster_vectors(x[:50], 0.5, method="exact").max() == 0  # at the limit it still clusters
    assert (cluster_vectors(x, 0.5) == 0).all()  # the graph: one person, no limit
    help_text = " ".join(CliRunner().invoke(app, ["cluster", "--help"]).output.split())
    assert "Any number of faces" in help_text and "12,000" not in help_text


def test_faces_of_one_photo_never_share_a_cluster() -> None:
    rng = np.random.default_rng(2)
    a, b = _unit(rng.normal(size=(2, 128)))
    # photo 0 holds two near-identical faces (a twin pair); photos 1-3 one face each
    x = _unit(np.stack([a, a + 0.01, a + 0.02, b, b + 0.01]))
    photos = np.array([0, 0, 1, 2, 3])
    free = cluster_vectors(x, 0.5, None, 1)
    ruled = cluster_vectors(x, 0.5, photos, 1)
    assert free[0] == free[1] == free[2] and free[3] == free[4] != free[0]
    assert ruled[0] != ruled[1]
    assert ruled[2] in (ruled[0], ruled[1]) and ruled[3] == ruled[4]
    # nothing can merge with a face that is forbidden from all others
    assert (cut(average_linkage(x[:2], 1.9, np.array([7, 7])), 2) == [0, 1]).all()


def test_cut_and_drop_small_number_the_largest_first() -> None:
    labels = drop_small(np.array([5, 5, 9, 9, 9, 3]), 2)
    assert labels.tolist() == [1, 1, 0, 0, 0, -1]
    assert cut([(0, 1, 0.2), (1, 2, 0.5)], 4, 0.3).tolist() == [0, 0, 1, 2]
    assert average_linkage(np.zeros((1, 4), np.float32), 0.5) == []
    with pytest.raises(BadInput):
        average_linkage(np.zeros((3, 4), np.float32), 0.5, np.array([0, 1]))


def test_scores_on_hand_made_clusterings() -> None:
    truth = ["a", "a", "a", "b", "b", "c"]
    assert bcubed_scores(truth, [0, 0, 0, 1, 1, 2])["f1"] == 1.0
    assert pairwise_scores(truth, [0, 0, 0, 1, 1, -1])["f1"] == 1.0  # "c" alone is right
    lumped = [0] * 6  # one cluster: 4 true pairs of 15
    assert pairwise_scores(truth, lumped)["precision"] == pytest.approx(4 / 15)
    assert bcubed_scores(truth, lumped)["precision"] == pytest.approx((3 * 3 / 6 + 2 * 2 / 6 + 1 / 6) / 6)
    precision, recall = bcubed_items(truth, [0, 0, 1, 1, 1, 2])
    assert (precision.mean(), recall.mean()) == pytest.approx(tuple(bcubed_scores(truth, [0, 0, 1, 1, 1, 2])[k]
                                                                     for k in ("precision", "recall")))
    split = singletons([-1] * 6)
    assert len(set(split)) == 6 and bcubed_scores(truth, split)["recall"] == pytest.approx((3 / 3 + 2 / 2 + 1) / 6)


def test_cluster_api_without_faces_and_with_mixed_pipelines() -> None:
    from faceprint.types import Box, Detection, Embedding, ImageFaces

    empty = faceprint.cluster([ImageFaces("gone.jpg", error="cannot read (No such file)")])
    assert empty.clusters == () and empty.problems == (("gone.jpg", "cannot read (No such file)"),)
    face = Embedding(_unit(np.ones((1, 128)))[0], "dlib", Detection(Box(0, 0, 9, 9), 1.0, np.zeros((5, 2))))
    one = faceprint.cluster([ImageFaces("a.jpg", (face,), signature="dlib:1"),
                             ImageFaces("b.jpg", (face,), signature="dlib:1")])
    assert [c.sources for c in one.clusters] == [["a.jpg", "b.jpg"]]
    with pytest.raises(BadInput, match="different pipelines"):
        faceprint.cluster([ImageFaces("a.jpg", (face,), signature="dlib:1"),
                           ImageFaces("b.jpg", (face,), signature="dlib:2")])
    with pytest.raises(BadInput, match="threshold"):
        faceprint.cluster([ImageFaces("a.jpg", (face,), signature="dlib:1")], threshold=2.5)


@pytest.mark.parametrize("args,message", [(["-t", "3"], "threshold must lie between 0 and 2"),
                                          (["--threshold", "0"], "threshold must lie between 0 and 2"),
                                          (["--min-size", "0"], "min_size must be at least 1"),
                                          (["--workers", "0"], "workers must be at least 1")])
def test_cli_cluster_refuses_bad_arguments_before_embedding(args: list[str], message: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    import faceprint.api
    from faceprint.cli.main import app

    def no_embedding(*a, **k):
        raise AssertionError("embedded before checking the arguments")

    monkeypatch.setattr(faceprint.api, "embed_many", no_embedding)
    monkeypatch.setattr(faceprint, "embed_many", no_embedding)
    for k in range(3):
        (tmp_path / f"{k}.jpg").write_bytes(b"never read")
    run = CliRunner().invoke(app, ["cluster", str(tmp_path), *args])
    assert run.exit_code == 1 and message in run.output, run.output
    assert run.exception is None or isinstance(run.exception, SystemExit)  # no traceback
    with pytest.raises(BadInput, match=message.split()[0]):
        faceprint.cluster([tmp_path / "0.jpg"], threshold=3.0 if "threshold" in message else None,
                          min_size=0 if "min_size" in message else 2, workers=0 if "workers" in message else 1)


def test_calibration_sweep_finds_the_gap_between_people() -> None:
    """People as close as real faces are (same-person pairs ~0.33 apart, up to ~0.45; different
    people ~0.52, down to ~0.39, where dlib vectors put them 0.3-0.45 and ~0.56): the sweep must
    land the threshold between the two, and scores must fall off on both sides of it."""
    from faceprint.fit.clustering import GRID, sweep

    rng = np.random.default_rng(3)
    dim, people = 128, 30
    centres = _unit(_unit(rng.normal(size=(1, dim))) + 0.0275 * rng.normal(size=(people, dim)))
    person = np.repeat(np.arange(people), 8)
    spread = rng.uniform(0.017, 0.026, size=people)  # some people vary more than others
    vectors = _unit(centres[person] + spread[person, None] * rng.normal(size=(len(person), dim)))
    distance = np.linalg.norm(vectors[:, None] - vectors[None], axis=2)
    same = (person[:, None] == person[None]) & ~np.eye(len(person), dtype=bool)
    other = person[:, None] != person[None]
    assert distance[same].max() > distance[other].min()  # the two overlap, as real faces do

    result = sweep(vectors, np.array([f"p{k}" for k in person]), draws=1)
    f1 = dict(zip(result["grid"], result["bcubed_f1"]))
    best = result["threshold"]
    assert best in GRID and distance[same].mean() < best < distance[other].mean()
    assert best == pytest.approx(0.42, abs=0.02)  # measured 0.42
    assert f1[best] >= 0.99
    assert f1[round(best - 0.08, 2)] < f1[best] - 0.05 and f1[round(best + 0.08, 2)] < f1[best] - 0.05
    assert f1[GRID[0]] < 0.5 and f1[GRID[-1]] < 0.5  # too low splits everyone, too high lumps them


@pytest.fixture(scope="module")
def mixed_folder(lfw: Path, group_photo: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Photos 2-4 of six LFW people, one photo of a seventh, a 2x3 grid of the six people's first
    photos, a corrupt file and a photo without a face, all in one flat folder."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("mixed")
    for name in PEOPLE:
        for k in (2, 3, 4):
            (folder / f"{name}_{k:04d}.jpg").write_bytes((lfw / name / f"{name}_{k:04d}.jpg").read_bytes())
    (folder / f"{LONER}_0001.jpg").write_bytes((lfw / LONER / f"{LONER}_0001.jpg").read_bytes())
    Image.fromarray(group_photo).save(folder / "group.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(folder / "grey_wall.png")
    return folder


@pytest.mark.slow
def test_cluster_mixed_lfw_folder(mixed_folder: Path) -> None:
    from faceprint.pipeline.batch import iter_image_files

    files = list(iter_image_files(mixed_folder))
    results = faceprint.embed_many(files)
    result = faceprint.cluster(results)
    assert result.model == "dlib" and result.threshold == pytest.approx(default_threshold("dlib"))
    problems = dict(result.problems)
    assert set(problems) == {str(mixed_folder / "broken.jpg"), str(mixed_folder / "grey_wall.png")}
    assert problems[str(mixed_folder / "grey_wall.png")] == "no face found"

    # the truth: the face nearest the centre of each photo (of each tile of the 2x3 grid) is
    # the person named; any other face is someone in the background, a person of its own
    by_source = {r.source: r for r in results}
    group = by_source[str(mixed_folder / "group.png")]
    tile_w, tile_h = group.width / 3, group.height / 2
    centre_of = {}
    for r in results:
        if r.source == group.source:
            for t, name in enumerate(PEOPLE):
                cx, cy = (t % 3 + 0.5) * tile_w, (t // 3 + 0.5) * tile_h
                k = min(range(len(r.faces)), key=lambda k: np.hypot(*np.subtract(r.faces[k].detection.box.center,
                                                                                   (cx, cy))))
                centre_of[(r.source, k)] = name
        elif r.faces:
            k = r.faces.index(r.nearest_center())
            centre_of[(r.source, k)] = Path(r.source).stem.rsplit("_", 1)[0]
    assert sorted(n for (s, _), n in centre_of.items() if s == group.source) == sorted(PEOPLE)

    def truth(ref) -> str:
        return centre_of.get((ref.source, ref.face), f"background {ref.source} {ref.face}")

    # the same-photo rule: no cluster holds two faces of one photo
    for c in result.clusters:
        assert len(c.sources) == len(c.faces)
    # faces of poor quality (the grid's small tiles may be) are left unclustered: score the rest
    from faceprint.quality import is_poor

    poor = {(r.source, k) for r in results for k, f in enumerate(r.faces) if is_poor(f.quality)}
    assert all((f.source, f.face) not in poor for c in result.clusters for f in c.faces)
    scored = [i for i, ref in enumerate(result.faces) if (ref.source, ref.face) not in poor]
    labels = result.labels[scored]
    people = [truth(result.faces[i]) for i in scored]
    scores = bcubed_scores(people, labels)
    assert scores["f1"] >= 0.95, scores  # measured 1.0 (every face of the 6 people in its own person's cluster)
    assert len(result.clusters) == len(PEOPLE)
    assert LONER in [truth(f) for f in result.unclustered]
    assert all(truth(f) in PEOPLE for c in result.clusters for f in c.faces)
    assert json.loads(json.dumps(result.to_dict()))["clusters"][0]["size"] >= 3


@pytest.mark.slow
def test_cli_cluster_writes_json_and_folders(mixed_folder: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from faceprint.cli.main import app

    small = tmp_path / "photos"
    small.mkdir()
    for name in ("Colin_Powell_0002.jpg", "Colin_Powell_0003.jpg", "Serena_Williams_0002.jpg",
                 "Serena_Williams_0003.jpg", "broken.jpg"):
        (small / name).write_bytes((mixed_folder / name).read_bytes())
    out = tmp_path / "people"
    run = CliRunner().invoke(app, ["cluster", str(small), "--out", str(out)])
    assert run.exit_code == 0, run.output
    report = json.loads(run.stdout)
    assert report["photos"] == 5 and [c["size"] for c in report["clusters"]] == [2, 2]
    assert report["problems"][0]["source"].endswith("broken.jpg")
    folders = sorted(p.name for p in out.iterdir())
    assert folders == ["person_001", "person_002"]
    for folder in out.iterdir():
        linked = sorted(p.name.rsplit("_", 1)[0] for p in folder.iterdir())
        assert len(set(linked)) == 1 and all(p.is_symlink() for p in folder.iterdir())
    again = CliRunner().invoke(app, ["cluster", str(small), "--out", str(out)])
    assert again.exit_code == 1 and "not an empty folder" in again.output
    missing = CliRunner().invoke(app, ["cluster", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1 and "no such file or folder" in missing.output


def test_the_default_cut_is_read_from_the_fitted_table_with_how_it_was_chosen() -> None:
    from faceprint import thresholds

    table = json.loads(thresholds.CLUSTER_TABLE.read_text())
    entry = table["models"]["dlib"]
    assert thresholds.cluster_threshold("dlib") == entry["threshold"] == 0.39
    assert "never LFW" in entry["fitted_on"] and entry["command"].startswith("python -m faceprint.fit.clustering")
    assert thresholds.cluster_threshold("mobilefacenet") == thresholds.threshold_for("mobilefacenet")  # no fitted cut


def test_the_clustering_fitter_writes_its_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from faceprint.fit import clustering as fit

    rng = np.random.default_rng(0)
    centres = _unit(rng.normal(size=(25, 128)))
    person = np.repeat(np.arange(25), 4)
    vectors = _unit(centres[person] + 0.02 * rng.normal(size=(len(person), 128)))
    names = np.array([f"p{k}" for k in person])
    monkeypatch.setattr(fit, "celeba_vectors", lambda root, model, people=None: (vectors, names))
    out = tmp_path / "cluster_thresholds.json"
    fit.main(["--data", str(tmp_path), "--draws", "1", "--output", str(out)])
    entry = json.loads(out.read_text())["models"]["dlib"]
    assert entry["threshold"] in fit.GRID and entry["faces"] == 100 and entry["people"] == 25
    assert entry["collections"] == 2 and "--output" in entry["command"]

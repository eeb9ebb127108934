"""Clustering on a neighbour graph: the same answer as exact average linkage, the user's rules
(cannot-link, seeds), poor faces left out, no size limit, and a caller's own neighbour search."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

import faceprint
from faceprint.clustering import cluster_vectors
from faceprint.clustering.api import adaptive_cut
from faceprint.clustering.linkage import average_linkage, cut
from faceprint.clustering.metrics import bcubed_scores, pairwise_scores
from faceprint.clustering.neighbours import exact_neighbours
from faceprint.errors import BadInput

PEOPLE = ["Colin_Powell", "George_W_Bush", "Serena_Williams", "Tony_Blair", "Gerhard_Schroeder",
          "Donald_Rumsfeld", "Jean_Chretien", "Ariel_Sharon"]


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def real(lfw: Path) -> dict:
    """Photos 1-6 of eight LFW people, every face embedded: vectors, photo numbers, and the person
    of the face nearest each photo's centre ("" for faces in the background)."""
    paths = [p for name in PEOPLE for p in sorted((lfw / name).glob("*.jpg"))[:6]]
    results = faceprint.embed_many(paths)
    vectors, photo, person, quality = [], [], [], []
    for k, (path, result) in enumerate(zip(paths, results)):
        centre = result.nearest_center()
        for face in result.faces:
            vectors.append(face.vector)
            photo.append(k)
            person.append(path.parent.name if face is centre else "")
            quality.append(face.quality)
    return {"vectors": np.stack(vectors).astype(np.float32), "photo": np.array(photo), "person": np.array(person),
            "quality": quality, "results": results}


def test_graph_equals_exact_average_linkage_on_real_faces(real: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """On real faces, with the same-photo rule, the graph method finds exactly the clusters of the
    full-matrix method, at the default cut and at looser ones (more merges, more chances to
    differ); with only 3 neighbours per face it still agrees on nearly every pair."""
    from faceprint.clustering import neighbours

    v, photo = real["vectors"], real["photo"]
    for threshold in (0.39, 0.45, 0.55):
        exact = cut(average_linkage(v, threshold, photo), len(v))
        graph = cluster_vectors(v, threshold, photo, 1, method="graph")
        assert 3 <= len(set(graph)) < len(v) - 10
        assert pairwise_scores(exact, graph)["f1"] == 1.0 and pairwise_scores(graph, exact)["f1"] == 1.0
    monkeypatch.setattr(neighbours, "K_NEIGHBOURS", 3)
    sparse = cluster_vectors(v, 0.39, photo, 1, method="graph")
    exact = cut(average_linkage(v, 0.39, photo), len(v))
    assert pairwise_scores(exact, sparse)["f1"] >= 0.9  # measured 1.0: the graph stays connected


def test_graph_equals_scipy_average_linkage() -> None:
    """Without rules, the graph method's cut equals scipy's average linkage cut exactly."""
    hierarchy = pytest.importorskip("scipy.cluster.hierarchy")
    from scipy.spatial.distance import pdist

    rng = np.random.default_rng(1)
    centres = rng.normal(size=(25, 16))
    x = _unit(centres[rng.integers(0, 25, 400)] + rng.normal(scale=0.3, size=(400, 16)))
    for threshold in (0.45, 0.8):
        ours = cluster_vectors(x, threshold, None, 1, method="graph")
        reference = hierarchy.fcluster(hierarchy.linkage(pdist(x.astype(np.float64)), "average"), threshold,
                                       "distance")
        assert 5 < len(set(ours)) < 400
        assert pairwise_scores(reference, ours)["f1"] == 1.0 and pairwise_scores(ours, reference)["f1"] == 1.0


def test_cannot_link_and_seeds_are_kept_on_real_faces(real: dict) -> None:
    v, photo, person = real["vectors"], real["photo"], real["person"]
    free = cluster_vectors(v, 0.39, photo, 1)
    powell = np.flatnonzero(person == "Colin_Powell")
    blair = np.flatnonzero(person == "Tony_Blair")
    assert len(set(free[powell])) == 1 and len(set(free[blair])) == 1 and free[powell[0]] != free[blair[0]]

    # "not this person": two photos of one man kept apart, the rest of him still together somewhere
    apart = cluster_vectors(v, 0.39, photo, 1, cannot_link=[(int(powell[0]), int(powell[1]))])
    assert apart[powell[0]] != apart[powell[1]]
    assert max(np.sum(apart[powell] == apart[powell[k]]) for k in range(len(powell))) >= len(powell) - 2

    # seeds: a Blair photo the user put with Powell stays with him; two Powell photos the user
    # gave to two different people never meet, and the unseeded photos join one of them
    seeds = np.full(len(v), -1)
    seeds[[powell[0], blair[0]]] = 7
    moved = cluster_vectors(v, 0.39, photo, 1, seeds=seeds)
    together = moved[powell[0]]
    assert moved[blair[0]] == together
    assert not ((moved[powell[1:]] == together).all() and (moved[blair[1:]] == together).all())
    seeds = np.full(len(v), -1)
    seeds[powell[0]], seeds[powell[1]] = 1, 2
    split = cluster_vectors(v, 0.39, photo, 1, seeds=seeds)
    assert split[powell[0]] != split[powell[1]]
    assert all(split[p] in (split[powell[0]], split[powell[1]]) for p in powell[2:])
    twins = _unit(np.stack([v[powell[0]], v[powell[0]] + 0.001]))  # one face each, no photo rule
    assert cluster_vectors(twins, 0.39, method="graph").tolist() == [0, 0]
    assert cluster_vectors(twins, 0.39, None, 1, seeds=[3, 4]).tolist() == [0, 1]
    # faces of one photo never merge
    for group in np.unique(photo):
        members = free[photo == group]
        assert len(set(members)) == len(members)
    with pytest.raises(BadInput, match="cannot_link pairs must be row numbers"):
        cluster_vectors(v, 0.39, photo, cannot_link=[(0, len(v))])
    with pytest.raises(BadInput, match="seeds"):
        cluster_vectors(v, 0.39, photo, seeds=[1, 2])


def test_poor_faces_are_left_unclustered(real: dict, lfw: Path) -> None:
    """A photo of Colin Powell shrunk to 60 px and blown up again scores as poor quality: the
    clustering leaves it alone, while his sharp photos form one cluster; without scores (None)
    nothing is left out."""
    from PIL import Image

    from faceprint.quality import is_poor

    image = Image.open(sorted((lfw / "Colin_Powell").glob("*.jpg"))[7]).convert("RGB")
    blurred = io.BytesIO()
    image.resize((60, 60), Image.BILINEAR).resize((250, 250), Image.BILINEAR).save(blurred, "JPEG")
    poor = faceprint.embed_many([blurred.getvalue()])[0]
    assert len(poor.faces) == 1 and is_poor(poor.faces[0].quality), poor.faces[0].quality  # measured 0.16
    sharp = [r for r in real["results"] if r.faces and "Colin_Powell" in r.source]
    result = faceprint.cluster(sharp + [poor])
    powell = [c for c in result.clusters if any("Colin_Powell" in s for s in c.sources)]
    assert len(powell) == 1 and len(powell[0].sources) == len(sharp)
    assert poor.source in [f.source for f in result.unclustered]

    v = real["vectors"]
    quality = list(real["quality"])
    labels = cluster_vectors(v, 0.39, real["photo"], 1, quality=quality)
    assert ((labels < 0) == np.array([is_poor(q) for q in quality])).all()
    assert (cluster_vectors(v, 0.39, real["photo"], 1, quality=[None] * len(v)) >= 0).all()
    low = [0.0] * len(v)
    seeds = np.full(len(v), -1)
    seeds[:3] = 4
    kept = cluster_vectors(v, 0.39, real["photo"], 1, quality=low, seeds=seeds)
    assert (kept[:3] == kept[0]).all() and kept[0] >= 0 and (kept[3:] < 0).all()  # the user's faces stay


def test_more_than_the_exact_limit_of_faces_in_one_call() -> None:
    """13,000 faces (over exact linkage's 12,000) in one call: 2,600 people of 5, all found."""
    rng = np.random.default_rng(5)
    centres = _unit(rng.normal(size=(2600, 128)))
    person = np.repeat(np.arange(2600), 5)
    x = _unit(centres[person] + rng.normal(scale=0.02, size=(len(person), 128)))
    done = []
    labels = cluster_vectors(x, 0.39, np.arange(len(x)), progress=done.append)
    assert len(x) == 13_000 and bcubed_scores(person, labels)["f1"] == 1.0
    assert sum(done) == 2 * len(x)  # the neighbour search, then the merging


def test_a_callers_neighbour_search_is_used(real: dict) -> None:
    """A gallery's own index (here exact search answering in its own order, padded with -1, with
    a poor face's row left out of the clustering) gives the same clusters as the default."""
    v, photo = real["vectors"], real["photo"]
    calls = []
    search = exact_neighbours(v)

    def gallery(queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        calls.append(len(queries))
        ids, dist = search(queries, k)
        pad = np.full((len(queries), 2), -1)
        return np.hstack([ids, pad]), np.hstack([dist, np.full((len(queries), 2), np.inf, np.float32)])

    ours = cluster_vectors(v, 0.39, photo, 1, neighbours=gallery)
    assert sum(calls) == len(v)
    assert pairwise_scores(cluster_vectors(v, 0.39, photo, 1), ours)["f1"] == 1.0
    quality = [None] * len(v)
    quality[0] = 0.0
    calls.clear()
    without = cluster_vectors(v, 0.39, photo, 1, neighbours=gallery, quality=quality)
    assert sum(calls) == len(v) - 1 and without[0] == -1
    with pytest.raises(BadInput, match="neighbour search returned"):
        cluster_vectors(v, 0.39, photo, neighbours=lambda q, k: (np.zeros((len(q), k), int), np.zeros(len(q))))


def test_the_cut_falls_for_collections_of_many_people() -> None:
    rule = adaptive_cut("dlib")
    assert rule is not None and adaptive_cut("no-such-model") is None
    few, many = rule(100), rule(5000)
    assert few == pytest.approx(0.39) and 0.33 <= many < few
    assert all(rule(k) >= rule(2 * k) for k in (200, 400, 800, 1600))

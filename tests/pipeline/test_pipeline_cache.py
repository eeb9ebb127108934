"""A model file trained and exported again at the same path is loaded again by get_pipeline
(the process-wide cache), so its vectors and its signature describe the same weights."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")


def _write_model(path, seed: int, size: int = 112, dim: int = 16, threshold: float = 0.8,
                 align: str = "arcface112") -> None:
    """A linear embedder on NHWC pixels, with the sidecar faceprint reads."""
    from onnx import TensorProto, helper, numpy_helper

    weights = np.random.default_rng(seed).normal(size=(size * size * 3, dim)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["pixels"], ["flat"], axis=1),
         helper.make_node("MatMul", ["flat", "w"], ["embedding"])],
        "linear", [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["n", size, size, 3])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["n", dim])],
        [numpy_helper.from_array(weights, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    path.with_suffix(".json").write_text(json.dumps({"input_size": size, "channels": 3, "embedding_dim": dim,
                                                     "align": align, "threshold": threshold}))


def _bump_mtime(path) -> None:
    """A later mtime for ``path`` and its sidecar (a re-export within the filesystem's clock step)."""
    for p in (path, path.with_suffix(".json")):
        stat = p.stat()
        os.utime(p, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))


@pytest.fixture
def clear_cache():
    from faceprint.pipeline.pipeline import get_pipeline

    yield
    get_pipeline.cache_clear()


def test_a_rewritten_model_file_is_loaded_again(tmp_path, clear_cache):
    from faceprint.pipeline.pipeline import PipelineConfig, get_pipeline

    path = tmp_path / "model.onnx"
    _write_model(path, seed=1)
    config = PipelineConfig(model=str(path))
    chips = np.random.default_rng(0).uniform(0, 255, (2, 112, 112, 3)).astype(np.float32)
    first = get_pipeline(config)
    assert get_pipeline(config) is first  # loaded once while the file is unchanged
    before, signature = first.embedder.network(chips), first.signature()

    _write_model(path, seed=2)  # trained and exported again
    _bump_mtime(path)
    again = get_pipeline(config)
    assert again is not first and again.signature() != signature
    after = again.embedder.network(chips)
    assert not np.allclose(before, after)  # the new weights, not the ones first loaded


def test_a_re_export_brings_its_new_sidecar_settings(tmp_path, monkeypatch, clear_cache):
    from faceprint import registry
    from faceprint.pipeline.pipeline import PipelineConfig, get_pipeline
    from faceprint.thresholds import threshold_for

    monkeypatch.setenv("FACEPRINT_HOME", str(tmp_path / "home"))  # no user-saved thresholds
    path = tmp_path / "model.onnx"
    _write_model(path, seed=1, dim=16, threshold=0.8, align="arcface112")
    spec = registry.embedder_spec(str(path))
    assert (spec.dim, spec.threshold, spec.align) == (16, 0.8, "arcface112")
    assert threshold_for(str(path)) == 0.8
    assert get_pipeline(PipelineConfig(model=str(path))).spec.dim == 16

    _write_model(path, seed=2, dim=32, threshold=0.65, align="dlib150")  # exported again, other settings
    _bump_mtime(path)
    spec = registry.embedder_spec(str(path))
    assert (spec.dim, spec.threshold, spec.align) == (32, 0.65, "dlib150")
    assert threshold_for(str(path)) == 0.65
    pipeline = get_pipeline(PipelineConfig(model=str(path)))
    assert pipeline.spec.dim == 32 and pipeline.spec.threshold == 0.65
    chips = np.zeros((1, 112, 112, 3), np.float32)
    assert pipeline.embedder.network(chips).shape == (1, 32)


def test_a_sidecar_edited_alone_is_read_again(tmp_path, monkeypatch, clear_cache):
    import json

    from faceprint import registry

    path = tmp_path / "model.onnx"
    _write_model(path, seed=1, threshold=0.8)
    assert registry.embedder_spec(str(path)).threshold == 0.8
    sidecar = path.with_suffix(".json")
    info = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**info, "threshold": 0.7}) + "\n")  # another length: another stamp
    assert registry.embedder_spec(str(path)).threshold == 0.7


def test_a_threshold_calibrated_for_the_old_file_is_not_kept_after_a_re_export(tmp_path, monkeypatch):
    from faceprint.thresholds import save_threshold, threshold_for

    monkeypatch.setenv("FACEPRINT_HOME", str(tmp_path / "home"))
    path = tmp_path / "model.onnx"
    _write_model(path, seed=1, threshold=0.8)
    save_threshold(str(path), {"threshold": 0.5, "far": 0.001})  # `faceprint calibrate --save`
    assert threshold_for(str(path)) == 0.5
    _write_model(path, seed=2, threshold=0.7)  # trained and exported again
    _bump_mtime(path)
    assert threshold_for(str(path)) == 0.7  # the new sidecar's, not one calibrated on the old weights
    save_threshold(str(path), {"threshold": 0.45, "far": 0.001})
    assert threshold_for(str(path)) == 0.45

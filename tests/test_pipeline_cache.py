"""A model file trained and exported again at the same path is loaded again by get_pipeline
(the process-wide cache), so its vectors and its signature describe the same weights."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")


def _write_model(path, seed: int, size: int = 112, dim: int = 16) -> None:
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
                                                     "align": "arcface112", "threshold": 0.8}))


def test_a_rewritten_model_file_is_loaded_again(tmp_path):
    from faceprint.pipeline.pipeline import PipelineConfig, get_pipeline

    path = tmp_path / "model.onnx"
    _write_model(path, seed=1)
    config = PipelineConfig(model=str(path))
    chips = np.random.default_rng(0).uniform(0, 255, (2, 112, 112, 3)).astype(np.float32)
    first = get_pipeline(config)
    assert get_pipeline(config) is first  # loaded once while the file is unchanged
    before, signature = first.embedder.network(chips), first.signature()

    _write_model(path, seed=2)  # trained and exported again
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    again = get_pipeline(config)
    assert again is not first and again.signature() != signature
    after = again.embedder.network(chips)
    assert not np.allclose(before, after)  # the new weights, not the ones first loaded
    get_pipeline.cache_clear()

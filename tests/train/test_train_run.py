"""A CI-sized training run on real CelebA chips: the loss falls, checkpoints are written, training
resumes, the model exports to ONNX (equal to PyTorch) and embeds a real face through the pipeline."""

from __future__ import annotations

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("yaml")


@pytest.fixture(scope="module")
def tiny_set(copy_celeba_people, tmp_path_factory):
    root = tmp_path_factory.mktemp("celeba_tiny")
    people = copy_celeba_people(root, 12)
    (people[0] / "broken.jpg").write_bytes(b"not an image")
    return root


def test_train_resume_export_embed(tiny_set, tmp_path, astronaut):
    import faceprint
    from faceprint.train.config import TrainConfig
    from faceprint.train.export import export_onnx, parity
    from faceprint.train.loop import Trainer

    out = tmp_path / "run"
    settings = [f"data={tiny_set}", f"output={out}", "backbone=small_cnn", "input_size=112", "loss=am_softmax",
                "epochs=2", "batch_size=16", "lr=0.02", "augment=false", "val_fraction=0.25", "threads=2"]
    result = Trainer(TrainConfig.load(None, settings)).fit()
    assert result["epochs"] == 2 and result["skipped_images"] == 1 and result["val_identities"] == 3
    for name in ("config.yaml", "best.pt", "last.pt", "metrics.csv", "metrics.json"):
        assert (out / name).exists(), name

    resumed = Trainer(TrainConfig.load(out / "config.yaml", ["epochs=4"]))
    resumed.resume(out / "last.pt")
    assert resumed.epoch == 2
    resumed.fit()
    losses = [h["train_loss"] for h in resumed.history[1:]]
    assert len(losses) == 4 and losses[-1] < losses[0]

    onnx_path = tmp_path / "model.onnx"
    sidecar = export_onnx(out / "best.pt", onnx_path)
    assert sidecar["align"] == "arcface112" and sidecar["embedding_dim"] == 128
    chips = np.stack([faceprint.align(astronaut, kind="arcface112")[0].image] * 3)
    assert parity(out / "best.pt", onnx_path, chips) <= 1e-4
    (emb,) = faceprint.embed(astronaut, model=str(onnx_path))
    assert emb.vector.shape == (128,) and np.linalg.norm(emb.vector) == pytest.approx(1.0, abs=1e-5)

    # a model given by path is cached by its file: re-exported, its old vectors are not reused
    from faceprint.pipeline.cache import EmbeddingCache
    from faceprint.pipeline.pipeline import Pipeline, PipelineConfig

    before = EmbeddingCache(Pipeline(PipelineConfig(model=str(onnx_path)))).path
    stat = onnx_path.stat()
    os.utime(onnx_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert EmbeddingCache(Pipeline(PipelineConfig(model=str(onnx_path)))).path != before


def test_triplet_and_arcface_losses_train(tiny_set, tmp_path):
    from faceprint.train.config import TrainConfig
    from faceprint.train.loop import Trainer

    for loss in ("triplet", "arcface"):
        settings = [f"data={tiny_set}", f"output={tmp_path / loss}", "backbone=small_cnn", "input_size=64",
                    f"loss={loss}", "epochs=1", "p=4", "k=4", "batch_size=16", "lr=0.01", "threads=2"]
        result = Trainer(TrainConfig.load(None, settings)).fit()
        assert result["epochs"] == 1 and 0.0 <= result["best"] <= 1.0


def test_bad_settings_are_refused(tmp_path):
    from faceprint.errors import BadInput
    from faceprint.train.config import TrainConfig

    with pytest.raises(BadInput, match="unknown setting"):
        TrainConfig.load(None, ["data=x", "epoch=3"])
    with pytest.raises(BadInput, match="set `data`"):
        TrainConfig.load(None, [])

"""Training from raw photos (detected and aligned once, cached) with a separate validation folder,
and the FaceNet Inception-ResNet-v1 backbone."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("yaml")


def test_inception_resnet_v1_is_facenet_sized():
    from faceprint.train.backbones.factory import create_backbone

    model, info = create_backbone("inception_resnet_v1", 160, 3, 128)
    assert info.align == "facenet160" and info.embedding_dim == 128
    params = sum(p.numel() for p in model.parameters())
    assert 22e6 < params < 24e6  # FaceNet's 128-d Inception-ResNet-v1
    small, _ = create_backbone("inception_resnet_v1", 160, 3, 128, width=0.25)
    assert small.eval()(torch.rand(2, 3, 160, 160) * 255).shape == (2, 128)
    with pytest.raises(ValueError, match="at least 75"):
        create_backbone("inception_resnet_v1", 64)


def test_photos_are_aligned_once_and_validated_as_closed_set(data_dir, tmp_path, monkeypatch):
    from faceprint.pipeline.pipeline import Pipeline
    from faceprint.train.config import TrainConfig
    from faceprint.train.data import PhotoAligner, load_folder
    from faceprint.train.export import export_onnx, parity
    from faceprint.train.loop import Trainer

    monkeypatch.setenv("FACEPRINT_HOME", str(tmp_path / "home"))
    root = data_dir / "five_celebrity"
    out = tmp_path / "run"
    settings = [f"data={root / 'train'}", f"val_data={root / 'val'}", "align=auto", f"output={out}",
                "backbone=inception_resnet_v1", "width=0.25", "input_size=96", "loss=softmax", "epochs=1",
                "batch_size=16", "lr=0.01", "augment=true", "threads=2"]
    trainer = Trainer(TrainConfig.load(None, settings))
    # every photo of the set holds a face (one .jpg is an RGBA PNG, one is grayscale)
    assert len(trainer.train_set.labels) == 93 and len(trainer.val_set.labels) == 25
    assert trainer.train_set.images.shape[1:] == (96, 96, 3) and trainer.val_set.names == trainer.train_set.names
    result = trainer.fit()
    assert result["monitor"] == "val_identification_accuracy" and 0.0 <= result["best"] <= 1.0
    assert "val_identification_accuracy" in trainer.history[-1] and "val_accuracy" in trainer.history[-1]
    caches = list((tmp_path / "home" / "cache" / "chips").glob("*.npz"))
    assert len(caches) == 2  # train and val folders

    # the second time, nothing is detected: the chips come from the cache
    def no_detection(*args, **kwargs):
        raise AssertionError("detected again despite the cache")

    monkeypatch.setattr(Pipeline, "detect", no_detection)
    again = load_folder(root / "val", 96, align="dlib96")
    assert np.array_equal(again.images, trainer.val_set.images)

    onnx_path = tmp_path / "irv1.onnx"
    sidecar = export_onnx(out / "best.pt", onnx_path)
    assert sidecar["align"] == "dlib96" and sidecar["trained"]["backbone"] == "inception_resnet_v1"
    assert parity(out / "best.pt", onnx_path, trainer.val_set.images[:4]) <= 1e-4
    assert PhotoAligner(root / "val", "dlib96").chips  # loaded from disk


def test_a_photo_without_a_face_is_skipped_and_reported(data_dir, tmp_path, monkeypatch):
    from faceprint.train.data import load_folder

    monkeypatch.setenv("FACEPRINT_HOME", str(tmp_path / "home"))
    root = tmp_path / "people"
    for person in ("a", "b"):
        (root / person).mkdir(parents=True)
        source = data_dir / "five_celebrity" / "train" / ("madonna" if person == "a" else "elton_john")
        for photo in sorted(source.glob("*.jpg"))[:2]:
            (root / person / photo.name).write_bytes(photo.read_bytes())
    blank = np.full((200, 200, 3), 128, np.uint8)
    import cv2

    cv2.imwrite(str(root / "a" / "wall.png"), blank)
    (root / "b" / "truncated.jpg").write_bytes((root / "a" / "wall.png").read_bytes()[:50])
    data = load_folder(root, 112, align="arcface112")
    assert len(data.labels) == 4
    assert len(data.skipped) == 2
    assert any("no face" in s for s in data.skipped) and any("truncated.jpg" in s for s in data.skipped)


def test_dlib_fine_tuning_starts_from_dlib_itself(data_dir, tmp_path, monkeypatch):
    """dlib's network gets its own 150x150 chips whatever input_size says, and the margin head
    starts at each identity's mean embedding: before any step it names the val photos right."""
    from faceprint.errors import BadInput
    from faceprint.train.config import TrainConfig
    from faceprint.train.loop import Trainer, freeze_all_but

    monkeypatch.setenv("FACEPRINT_HOME", str(tmp_path / "home"))
    root = data_dir / "five_celebrity"
    settings = [f"data={root / 'train'}", f"val_data={root / 'val'}", "align=auto", f"output={tmp_path / 'run'}",
                "backbone=dlib_resnet", "input_size=112", "loss=am_softmax", "margin=0.05", "train_only=fc",
                "epochs=0", "threads=2"]
    trainer = Trainer(TrainConfig.load(None, settings))
    assert trainer.train_set.images.shape[1:] == (150, 150, 3)
    assert trainer.validate()["val_identification_accuracy"] >= 0.96
    trainable = [name for name, p in trainer.model.named_parameters() if p.requires_grad]
    assert trainable == ["fc.weight"]
    result = trainer.fit()  # epochs=0: the untouched pretrained model is the best so far
    assert result["best"] >= 0.96 and (tmp_path / "run" / "best.pt").exists()
    with pytest.raises(BadInput, match="matches no parameter"):
        freeze_all_but(trainer.model, "no_such_layer")

"""Where training runs: device choice and its errors, mixed precision (exercised on the
CPU, where PyTorch autocasts to bf16 and fp16), DataLoader workers, checkpoints that hold only CPU
tensors, and the run's JSON. CI has no GPU: the CUDA path itself runs only where one is present."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("yaml")

from faceprint.errors import BadInput  # noqa: E402

CUDA = torch.cuda.is_available()


@pytest.fixture(scope="module")
def tiny_set(copy_celeba_people, tmp_path_factory):
    """8 CelebA chips of each of 10 people."""
    root = tmp_path_factory.mktemp("celeba_device")
    copy_celeba_people(root, 10)
    return root


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_devices_without_cuda(no_cuda):
    from faceprint.train.device import place, resolve_amp, resolve_device

    device, note = resolve_device("auto")
    assert device.type == "cpu" and "no CUDA GPU" in note and "training on the CPU" in note
    assert resolve_device("cpu") == (torch.device("cpu"), "")
    for spec in ("cuda", "cuda:0", "CUDA:1"):
        with pytest.raises(BadInput, match="sees no CUDA GPU.*device=cpu"):
            resolve_device(spec)
    with pytest.raises(BadInput, match="use auto, cpu, cuda or cuda:N"):
        resolve_device("gpu")
    assert resolve_amp("auto", device) == "off" and resolve_amp("bf16", device) == "bf16"
    placement = place("auto", "auto", None)
    assert placement.amp == "off" and placement.loader_workers == 0 and not placement.pin_memory
    with pytest.raises(BadInput, match="loader_workers"):
        place("cpu", "off", -1)


def test_devices_when_pytorch_sees_two_gpus(monkeypatch):
    """The choice logic as it would run on a two-GPU machine (nothing is put on a GPU here)."""
    from faceprint.train import device as dev

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert dev.resolve_device("auto") == (torch.device("cuda", 0), "")
    assert dev.resolve_device("cuda")[0] == torch.device("cuda", 0)
    assert dev.resolve_device("cuda:1")[0] == torch.device("cuda", 1)
    with pytest.raises(BadInput, match="has 2 CUDA GPU"):
        dev.resolve_device("cuda:2")
    gpu = torch.device("cuda", 0)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert dev.resolve_amp("auto", gpu) == "bf16" and dev.resolve_amp("off", gpu) == "off"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert dev.resolve_amp("auto", gpu) == "fp16"
    assert dev.default_loader_workers(gpu) >= 1 and dev.default_loader_workers(torch.device("cpu")) == 0
    assert dev.Placement(gpu, "bf16", 2).pin_memory


def test_config_reads_device_and_amp():
    from faceprint.train.config import TrainConfig

    assert TrainConfig.load(None, ["data=x", "amp=off"]).amp == "off"  # YAML's bare off is False
    assert TrainConfig.load(None, ["data=x", "amp=on"]).amp == "auto"
    config = TrainConfig.load(None, ["data=x", "device=cuda:1", "amp=BF16", "loader_workers=2"])
    assert (config.device, config.amp, config.loader_workers) == ("cuda:1", "bf16", 2)
    assert TrainConfig.load(None, ["data=x"]).device == "auto"
    with pytest.raises(BadInput, match="amp='fp32'"):
        TrainConfig.load(None, ["data=x", "amp=fp32"])
    with pytest.raises(BadInput, match="device='tpu'"):
        TrainConfig.load(None, ["data=x", "device=tpu"])


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "faceprint.cli.main", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


@pytest.mark.skipif(CUDA, reason="this machine has a CUDA GPU")
def test_cli_cuda_without_gpu_is_one_clear_line(tmp_path):
    out = _cli("train", "run", f"data={tmp_path}", f"output={tmp_path / 'run'}", "device=cuda")
    assert out.returncode == 1 and out.stdout == "" and "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: device=cuda: PyTorch sees no CUDA GPU")
    assert not (tmp_path / "run").exists()  # refused before anything was loaded or written


@pytest.mark.skipif(CUDA, reason="this machine has a CUDA GPU")
def test_cli_auto_falls_back_to_the_cpu_and_says_so(tiny_set, tmp_path):
    out = _cli("train", "run", f"data={tiny_set}", f"output={tmp_path}", "backbone=small_cnn", "input_size=32",
               "epochs=1", "batch_size=16", "augment=false", "threads=2")
    assert out.returncode == 0, out.stderr
    assert "device=auto: PyTorch sees no CUDA GPU" in out.stderr and "training on the CPU" in out.stderr
    result = json.loads(out.stdout)
    assert result["device"] == "cpu" and result["amp"] == "off" and result["loader_workers"] == 0
    assert result["torch"] == torch.__version__ and result["cuda"] == torch.version.cuda
    assert result["images_per_second"] > 0 and "training on the CPU" in result["device_note"]
    assert json.loads((tmp_path / "run.json").read_text()) == result


def _all_tensors(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _all_tensors(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _all_tensors(value)


def test_mixed_precision_on_the_cpu_trains_resumes_and_exports(tiny_set, tmp_path, astronaut):
    """bf16 autocast runs the backbone in bf16 (head and loss in float32); an fp16 resume takes
    the gradient-scaler path; checkpoints hold CPU tensors only; export is float32."""
    import faceprint
    from faceprint.train.config import TrainConfig
    from faceprint.train.export import export_onnx, parity
    from faceprint.train.loop import Trainer

    out = tmp_path / "run"
    settings = [f"data={tiny_set}", f"output={out}", "backbone=small_cnn", "input_size=112", "loss=am_softmax",
                "epochs=1", "batch_size=16", "lr=0.02", "augment=false", "threads=2", "device=cpu", "amp=bf16"]
    trainer = Trainer(TrainConfig.load(None, settings))
    dtypes = []
    conv = next(m for m in trainer.model.modules() if isinstance(m, torch.nn.Conv2d))
    hook = conv.register_forward_hook(lambda module, args, output: dtypes.append((module.training, output.dtype)))
    before = [p.detach().clone() for p in trainer.model.parameters()]
    result = trainer.fit()
    hook.remove()
    assert (True, torch.bfloat16) in dtypes  # training forward passes ran in bf16
    assert (False, torch.float32) in dtypes  # validation runs in float32
    assert result["device"] == "cpu" and result["amp"] == "bf16" and result["images_per_second"] > 0
    assert np.isfinite(trainer.history[-1]["train_loss"])
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters()))

    saved = torch.load(out / "last.pt", weights_only=False)  # no map_location: on the device it was saved from
    tensors = list(_all_tensors(saved))
    assert len(tensors) > 10 and all(t.device.type == "cpu" for t in tensors) and saved["amp"] == "bf16"
    assert all(t.dtype != torch.bfloat16 for t in _all_tensors(saved["model"]))  # weights stay float32

    # fp16 (gradient scaler) with augmentation in 2 DataLoader worker processes
    resumed = Trainer(TrainConfig.load(out / "config.yaml", ["epochs=2", "amp=fp16", "augment=true",
                                                             "loader_workers=2"]))
    resumed.resume(out / "last.pt")
    assert resumed.scaler.is_enabled() and resumed.epoch == 1 and resumed.placement.loader_workers == 2
    resumed.fit()
    assert resumed.epoch == 2 and np.isfinite(resumed.history[-1]["train_loss"])
    assert torch.load(out / "last.pt", weights_only=False)["scaler"]["scale"] > 0

    onnx_path = tmp_path / "model.onnx"
    sidecar = export_onnx(out / "last.pt", onnx_path)
    assert sidecar["trained"]["device"] == "cpu" and sidecar["trained"]["amp"] == "fp16"
    chips = np.stack([faceprint.align(astronaut, kind="arcface112")[0].image] * 2)
    assert parity(out / "last.pt", onnx_path, chips) <= 1e-4


def test_loader_workers_make_the_same_batches_however_many(tiny_set):
    from torch.utils.data import DataLoader

    from faceprint.train.data import Augment, AugmentedBatches, load_folder, single_threaded_opencv

    data = load_folder(tiny_set, 32)  # OpenCV's thread pool is alive here (resize)
    order = np.random.default_rng(0).permutation(len(data.labels))
    batches = [order[i : i + 16] for i in range(0, len(order), 16)]

    def run(workers: int, epoch: int = 0) -> list:
        source = AugmentedBatches(data.images, data.labels, batches, Augment(), seed=0, epoch=epoch)
        with single_threaded_opencv():
            loader = DataLoader(source, batch_size=None, num_workers=workers, timeout=120 if workers else 0)
            return [(images.numpy(), labels.numpy()) for images, labels in loader]

    one, two = run(0), run(2)
    assert len(one) == len(batches) and one[0][0].dtype == np.uint8 and one[0][1].dtype == np.int64
    for (a, la), (b, lb), index in zip(one, two, batches):
        assert np.array_equal(a, b) and np.array_equal(la, lb) and np.array_equal(la, data.labels[index])
    assert not np.array_equal(one[0][0], data.images[batches[0]])  # augmented
    assert not np.array_equal(run(0, epoch=1)[0][0], one[0][0])  # a new draw each epoch


@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU (CI has none)")
def test_gpu_run_resumes_on_the_cpu(tiny_set, tmp_path):
    from faceprint.train.config import TrainConfig
    from faceprint.train.loop import Trainer

    out = tmp_path / "gpu"
    settings = [f"data={tiny_set}", f"output={out}", "backbone=small_cnn", "input_size=112", "epochs=1",
                "batch_size=16", "device=cuda"]
    result = Trainer(TrainConfig.load(None, settings)).fit()
    assert result["device"].startswith("cuda") and result["amp"] in ("bf16", "fp16") and result["cuda"]
    cpu = Trainer(TrainConfig.load(out / "config.yaml", ["epochs=2", "device=cpu", "amp=off"]))
    cpu.resume(out / "last.pt")
    assert cpu.fit()["device"] == "cpu" and cpu.epoch == 2

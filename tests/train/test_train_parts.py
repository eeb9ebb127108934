"""Training building blocks on hand-built cases: heads, margins, losses, miners, sampler, and the
PyTorch dlib ResNet against the ONNX Runtime port on real chips."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from faceprint.train.heads import AdditiveAngularMargin, AdditiveCosineMargin, MarginHead, make_head  # noqa: E402
from faceprint.train.losses import triplet_loss  # noqa: E402
from faceprint.train.miners import batch_hard, semi_hard  # noqa: E402
from faceprint.train.sampler import PKSampler  # noqa: E402


def unit(*v):
    t = torch.tensor(v, dtype=torch.float32)
    return t / t.norm()


def test_triplet_violating_and_satisfied():
    a, p, n = unit(1, 0), unit(0.8, 0.6), unit(0.6, 0.8)
    # |a-p|^2 = 0.4, |a-n|^2 = 0.8 -> 0.4 - 0.8 + 0.2 < 0: satisfied
    assert triplet_loss(a[None], p[None], n[None]).item() == pytest.approx(0.0)
    # swap roles: 0.8 - 0.4 + 0.2 = 0.6
    assert triplet_loss(a[None], n[None], p[None]).item() == pytest.approx(0.6, abs=1e-6)
    # scale does not matter: embeddings are normalised first
    assert triplet_loss(3 * a[None], 5 * n[None], 2 * p[None]).item() == pytest.approx(0.6, abs=1e-6)
    empty = torch.zeros(0, 2, requires_grad=True)
    assert triplet_loss(empty, empty, empty).item() == 0.0


def test_am_softmax_logits_match_formula():
    cosine = torch.tensor([[0.9, 0.2, -0.1], [0.3, 0.5, 0.4]])
    labels = torch.tensor([0, 2])
    logits = AdditiveCosineMargin(30.0, 0.35)(cosine, labels)
    expected = 30.0 * torch.tensor([[0.9 - 0.35, 0.2, -0.1], [0.3, 0.5, 0.4 - 0.35]])
    assert torch.allclose(logits, expected)


def test_arcface_adds_angle_to_target_only():
    m = 0.5
    cosine = torch.tensor([[math.cos(0.3), 0.1], [0.2, math.cos(2.9)]])
    logits = AdditiveAngularMargin(64.0, m)(cosine, torch.tensor([0, 1]))
    assert logits[0, 0].item() == pytest.approx(64 * math.cos(0.3 + m), abs=1e-4)
    assert logits[0, 1].item() == pytest.approx(64 * 0.1, abs=1e-5)
    # theta + m > pi: the monotonic fallback cos - m sin(m)
    assert logits[1, 1].item() == pytest.approx(64 * (math.cos(2.9) - math.sin(math.pi - m) * m), abs=1e-4)


def test_margin_head_uses_normalised_weights():
    head = MarginHead(4, 3, AdditiveCosineMargin())
    x = torch.randn(5, 4)
    cos = head.cosine(x)
    assert cos.abs().max() <= 1 + 1e-6
    assert torch.allclose(head.cosine(7 * x), cos, atol=1e-6)
    assert make_head("softmax", 4, 3)(x).shape == (5, 3)
    with pytest.raises(ValueError):
        make_head("nope", 4, 3)


def test_batch_hard_picks_farthest_positive_nearest_negative():
    e = torch.tensor([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [0.0, 5.0]])
    labels = torch.tensor([0, 0, 0, 1, 1])
    a, p, n = batch_hard(e, labels)
    got = {int(i): (int(j), int(k)) for i, j, k in zip(a, p, n)}
    assert got[0] == (2, 3)  # farthest positive 2 (d=3), nearest negative 3 (d=2)
    assert got[3] == (4, 0)


def test_semi_hard_only_inside_margin():
    e = torch.tensor([[0.0, 0.0], [0.5, 0.0], [0.0, 0.6], [0.0, 0.9], [0.0, 0.4]])
    labels = torch.tensor([0, 0, 1, 1, 1])
    a, p, n = semi_hard(e, labels, margin=0.2)
    pairs = {(int(i), int(j)): int(k) for i, j, k in zip(a, p, n)}
    # anchor 0, positive 1 (d=0.5): negatives at 0.6 (ok), 0.9 (too far), 0.4 (harder than positive)
    assert pairs[(0, 1)] == 2


def test_pk_sampler_shape():
    labels = [0] * 5 + [1] * 3 + [2] * 2 + [3] * 1 + [4] * 6
    sampler = PKSampler(labels, p=3, k=4, seed=1)
    batches = list(sampler)
    assert len(batches) == len(sampler) >= 1
    for batch in batches:
        ids = [labels[i] for i in batch]
        assert len(batch) == 12 and len(set(ids)) == 3 and all(ids.count(x) == 4 for x in set(ids))
        assert 3 not in ids  # a single-image identity gives no positive
    with pytest.raises(ValueError):
        PKSampler([0, 0, 1], p=2, k=2)


def test_torch_dlib_resnet_equals_onnx_port(lfw):
    import faceprint
    from faceprint.models.dlib_resnet import DlibResNet as OnnxDlib
    from faceprint.train.backbones.dlib_resnet import DlibResNet

    files = sorted(lfw.glob("C*/*.jpg"))[:20]
    chips = np.stack([faceprint.align(f)[0].image for f in files])
    reference = OnnxDlib()(chips)
    model = DlibResNet.from_dat().eval()
    with torch.no_grad():
        ours = model(torch.from_numpy(chips).permute(0, 3, 1, 2).float()).numpy()
    assert np.abs(ours - reference).max() <= 1e-4

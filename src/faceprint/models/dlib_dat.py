"""Read a dlib DNN file (``net_type`` serialised by dlib::serialize) with numpy alone.

The file is a nest of ``add_layer`` records: the loss layer first, then one version number per
layer from the outside in (1 for tag/skip layers, 2 for computational layers, 3 for the one that
sits on the input layer), then the input layer, then each layer's details from the input outwards,
each followed by the add_layer's state flags and empty gradient tensors. Scalars use dlib's
variable-length integer and mantissa/exponent float encodings. The parser consumes every byte or
raises, so a file of another architecture or version cannot be half-read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

_FLOAT_SPECIAL = {32000: np.inf, 32001: -np.inf, 32002: np.nan}


class DlibFormatError(ValueError):
    """The bytes do not follow the dlib serialisation this reader knows."""


@dataclass
class Layer:
    """One computational layer: its dlib name and its settings/parameters."""

    kind: str
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class DlibNet:
    """A parsed network: input settings, layers from the input outwards, loss settings."""

    input_kind: str
    input_settings: dict[str, Any]
    layers: list[Layer]
    loss_kind: str
    loss_settings: dict[str, Any]


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def int(self) -> int:
        if self.pos >= len(self.data):
            raise DlibFormatError("unexpected end of file")
        head = self.data[self.pos]
        size, negative = head & 0x0F, head & 0x80
        if size > 8:
            raise DlibFormatError(f"bad integer header {head:#x} at byte {self.pos}")
        raw = self.data[self.pos + 1 : self.pos + 1 + size]
        self.pos += 1 + size
        value = int.from_bytes(raw, "little")
        return -value if negative else value

    def float(self) -> float:
        mantissa, exponent = self.int(), self.int()
        if exponent in _FLOAT_SPECIAL:
            return float(_FLOAT_SPECIAL[exponent])
        return float(np.ldexp(float(mantissa), exponent))

    def bool(self) -> bool:
        char = self.data[self.pos : self.pos + 1]
        self.pos += 1
        if char not in (b"0", b"1"):
            raise DlibFormatError(f"bad bool {char!r} at byte {self.pos - 1}")
        return char == b"1"

    def str(self) -> str:
        length = self.int()
        text = self.data[self.pos : self.pos + length]
        self.pos += length
        return text.decode("latin-1")

    def tensor(self) -> np.ndarray:
        version = self.int()
        if version != 2:
            raise DlibFormatError(f"tensor version {version} at byte {self.pos}; expected 2")
        shape = tuple(self.int() for _ in range(4))
        count = int(np.prod(shape))
        end = self.pos + 4 * count
        if end > len(self.data):
            raise DlibFormatError("tensor runs past the end of the file")
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.pos).reshape(shape)
        self.pos = end
        return values

    def alias_shape(self) -> tuple[int, int, int, int]:
        version = self.int()
        if version != 1:
            raise DlibFormatError(f"alias_tensor version {version}; expected 1")
        return tuple(self.int() for _ in range(4))  # type: ignore[return-value]


def _read_con(r: _Reader) -> dict[str, Any]:
    params = r.tensor().reshape(-1)
    num_filters, nr, nc = r.int(), r.int(), r.int()
    stride_y, stride_x, pad_y, pad_x = r.int(), r.int(), r.int(), r.int()
    filters_shape, biases_shape = r.alias_shape(), r.alias_shape()
    for _ in range(4):  # learning-rate and weight-decay multipliers: training-only
        r.float()
    n_filter = int(np.prod(filters_shape))
    return {
        "num_filters": num_filters, "kernel": (nr, nc), "stride": (stride_y, stride_x), "padding": (pad_y, pad_x),
        "weights": params[:n_filter].reshape(filters_shape),
        "bias": params[n_filter : n_filter + int(np.prod(biases_shape))].copy(),
    }


def _read_affine(r: _Reader) -> dict[str, Any]:
    params = r.tensor().reshape(-1)
    gamma_shape, beta_shape = r.alias_shape(), r.alias_shape()
    mode = r.int()
    n_gamma = int(np.prod(gamma_shape))
    return {"gamma": params[:n_gamma].copy(), "beta": params[n_gamma : n_gamma + int(np.prod(beta_shape))].copy(),
            "mode": mode}


def _read_pool(r: _Reader) -> dict[str, Any]:
    nr, nc, stride_y, stride_x, pad_y, pad_x = (r.int() for _ in range(6))
    return {"kernel": (nr, nc), "stride": (stride_y, stride_x), "padding": (pad_y, pad_x)}


def _read_fc(r: _Reader) -> dict[str, Any]:
    num_outputs, num_inputs = r.int(), r.int()
    params = r.tensor().reshape(-1)
    weights_shape, biases_shape = r.alias_shape(), r.alias_shape()
    bias_mode = r.int()
    for _ in range(4):  # learning-rate and weight-decay multipliers: training-only
        r.float()
    n_weights = int(np.prod(weights_shape))
    weights = params[:n_weights].reshape(num_inputs, num_outputs)
    bias = params[n_weights : n_weights + int(np.prod(biases_shape))].copy()
    return {"num_outputs": num_outputs, "weights": weights, "bias": bias if bias.size else None,
            "bias_mode": bias_mode}


_LAYER_READERS = {
    "con_4": _read_con,
    "affine_": _read_affine,
    "relu_": lambda r: {},
    "add_prev_": lambda r: {},
    "avg_pool_2": _read_pool,
    "max_pool_2": _read_pool,
    "fc_2": _read_fc,
}


def _read_layer_state(r: _Reader) -> None:
    """The add_layer's bookkeeping after its details: 3 flags and 3 (empty) tensors."""
    for _ in range(3):
        r.bool()
    for _ in range(3):
        r.tensor()


def parse_dlib_net(data: bytes) -> DlibNet:
    """Parse a dlib metric-learning network file's bytes.

    Raises:
        DlibFormatError: on anything this reader does not understand, or unread trailing bytes.
    """
    r = _Reader(data)
    if r.int() != 1:
        raise DlibFormatError("not a dlib network file: expected loss layer version 1")
    loss_kind = r.str()
    if loss_kind != "loss_metric_2":
        raise DlibFormatError(f"unsupported loss layer {loss_kind!r}")
    loss_settings = {"margin": r.float(), "distance_threshold": r.float()}

    versions: list[int] = []
    while True:
        version = r.int()
        if version not in (1, 2, 3):
            raise DlibFormatError(f"unexpected layer version {version} at byte {r.pos}")
        versions.append(version)
        if version == 3:
            break
    input_kind = r.str()
    if input_kind != "input_rgb_image_sized":
        raise DlibFormatError(f"unsupported input layer {input_kind!r}")
    mean_rgb = (r.float(), r.float(), r.float())
    input_settings = {"mean_rgb": mean_rgb, "size": (r.int(), r.int())}

    layers: list[Layer] = []
    n_computational = sum(1 for v in versions if v != 1)
    for index in range(n_computational):
        kind = r.str()
        reader = _LAYER_READERS.get(kind)
        if reader is None:
            raise DlibFormatError(f"unsupported layer {kind!r} at byte {r.pos}")
        layers.append(Layer(kind, reader(r)))
        _read_layer_state(r)
        if index == 0:
            r.int()  # sample expansion factor, stored by the add_layer that holds the input layer
    if r.pos != len(data):
        raise DlibFormatError(f"{len(data) - r.pos} unread bytes at the end of the file")
    return DlibNet(input_kind, input_settings, layers, loss_kind, loss_settings)


@dataclass
class ResidualBlock:
    """conv-affine-relu-conv-affine, plus the block input (average-pooled when ``pool`` is set),
    then relu; where the two sides differ in size dlib zero-pads the smaller at the end."""

    conv1: Layer
    affine1: Layer
    conv2: Layer
    affine2: Layer
    pool: Layer | None


@dataclass
class ResNetStructure:
    """dlib's face ResNet as blocks: what both the ONNX graph and the PyTorch module are built from."""

    stem_conv: Layer
    stem_affine: Layer
    stem_pool: Layer
    blocks: list[ResidualBlock]
    global_pool: Layer
    fc: Layer


def residual_structure(net: DlibNet) -> ResNetStructure:
    """Group the flat layer list into stem, residual blocks and head, or raise on anything else."""
    layers = net.layers
    kinds = [layer.kind for layer in layers]
    if kinds[:4] != ["con_4", "affine_", "relu_", "max_pool_2"]:
        raise DlibFormatError(f"unexpected stem {kinds[:4]}: not dlib's face recognition ResNet")
    blocks, start = [], 4
    for end in range(4, len(layers)):
        if kinds[end] == "relu_" and kinds[end - 1] == "add_prev_":
            group = kinds[start : end + 1]
            pooled = "avg_pool_2" in group
            expected = ["con_4", "affine_", "relu_", "con_4", "affine_"] + (["avg_pool_2"] if pooled else []) + \
                ["add_prev_", "relu_"]
            if group != expected:
                raise DlibFormatError(f"unexpected residual block {group}")
            chunk = layers[start : end + 1]
            blocks.append(ResidualBlock(chunk[0], chunk[1], chunk[3], chunk[4], chunk[5] if pooled else None))
            start = end + 1
    if kinds[start:] != ["avg_pool_2", "fc_2"] or layers[start].settings["kernel"] != (0, 0):
        raise DlibFormatError(f"unexpected head {kinds[start:]}")
    return ResNetStructure(layers[0], layers[1], layers[3], blocks, layers[start], layers[start + 1])


def load_dlib_net(path: Path) -> DlibNet:
    """Read and parse a dlib network file from disk."""
    return parse_dlib_net(Path(path).read_bytes())

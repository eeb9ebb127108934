"""Turn a parsed dlib face-recognition ResNet into an ONNX graph (batched, no dlib at run time).

Input ``images``: float32 (N, H, W, 3) RGB pixel values 0..255 (dlib's 150x150 face chips).
Output ``descriptors``: float32 (N, 128), exactly dlib's descriptor (not normalised).

Semantics reproduced from dlib: each affine (folded batch-norm) is folded into the preceding
convolution; residual additions whose operands differ in size are zero-padded at the end of each
axis (bottom/right, extra channels), as dlib's ``add_prev`` does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from faceprint.models.dlib_dat import DlibNet, Layer, residual_structure


@dataclass
class _Tensor:
    name: str
    shape: tuple[int, int, int]  # C, H, W


def _out_size(size: int, kernel: int, stride: int, pad: int) -> int:
    return 1 + (size + 2 * pad - kernel) // stride


class _GraphBuilder:
    def __init__(self) -> None:
        self.nodes: list = []
        self.initializers: list = []
        self._count = 0

    def name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}_{self._count}"

    def const(self, prefix: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        name = self.name(prefix)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], **attrs) -> str:
        from onnx import helper

        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def conv_affine(self, x: _Tensor, conv: Layer, affine: Layer) -> _Tensor:
        """Convolution with dlib's following affine folded into its weights and bias."""
        s = conv.settings
        gamma, beta = affine.settings["gamma"], affine.settings["beta"]
        weights = s["weights"].astype(np.float32) * gamma.reshape(-1, 1, 1, 1)
        bias = s["bias"].astype(np.float32) * gamma + beta
        (kh, kw), (sh, sw), (ph, pw) = s["kernel"], s["stride"], s["padding"]
        out = self.node("Conv", [x.name, self.const("w", weights), self.const("b", bias.astype(np.float32))],
                        kernel_shape=[kh, kw], strides=[sh, sw], pads=[ph, pw, ph, pw])
        return _Tensor(out, (s["num_filters"], _out_size(x.shape[1], kh, sh, ph), _out_size(x.shape[2], kw, sw, pw)))

    def pool(self, x: _Tensor, layer: Layer) -> _Tensor:
        (kh, kw), (sh, sw), (ph, pw) = layer.settings["kernel"], layer.settings["stride"], layer.settings["padding"]
        op = "MaxPool" if layer.kind == "max_pool_2" else "AveragePool"
        out = self.node(op, [x.name], kernel_shape=[kh, kw], strides=[sh, sw], pads=[ph, pw, ph, pw])
        return _Tensor(out, (x.shape[0], _out_size(x.shape[1], kh, sh, ph), _out_size(x.shape[2], kw, sw, pw)))

    def relu(self, x: _Tensor) -> _Tensor:
        return _Tensor(self.node("Relu", [x.name]), x.shape)

    def padded_add(self, a: _Tensor, b: _Tensor) -> _Tensor:
        """a + b, each zero-padded at the end of C, H and W to the larger size (dlib's add_prev)."""
        target = tuple(max(x, y) for x, y in zip(a.shape, b.shape))
        names = []
        for t in (a, b):
            if t.shape == target:
                names.append(t.name)
                continue
            # ONNX pads: begins for N, C, H, W, then ends for N, C, H, W
            pads = [0, 0, 0, 0, 0] + [want - have for want, have in zip(target, t.shape)]
            names.append(self.node("Pad", [t.name, self.const("pads", np.asarray(pads, dtype=np.int64))],
                                   mode="constant"))
        return _Tensor(self.node("Add", names), target)


def build_onnx(net: DlibNet):
    """Build an ``onnx.ModelProto`` computing dlib's descriptor from raw RGB chips."""
    from onnx import TensorProto, checker, helper

    structure = residual_structure(net)
    g = _GraphBuilder()
    height, width = net.input_settings["size"]
    mean = np.asarray(net.input_settings["mean_rgb"], dtype=np.float32).reshape(1, 1, 1, 3)
    x = g.node("Sub", ["images", g.const("mean", mean)])
    x = g.node("Mul", [x, g.const("scale", np.asarray(1.0 / 256.0, dtype=np.float32))])
    cur = _Tensor(g.node("Transpose", [x], perm=[0, 3, 1, 2]), (3, height, width))

    cur = g.pool(g.relu(g.conv_affine(cur, structure.stem_conv, structure.stem_affine)), structure.stem_pool)
    for block in structure.blocks:
        y = g.relu(g.conv_affine(cur, block.conv1, block.affine1))
        y = g.conv_affine(y, block.conv2, block.affine2)
        shortcut = g.pool(cur, block.pool) if block.pool is not None else cur
        cur = g.relu(g.padded_add(y, shortcut))

    pooled = g.node("Flatten", [g.node("GlobalAveragePool", [cur.name])], axis=1)
    fc = structure.fc.settings
    out = g.node("MatMul", [pooled, g.const("fc", fc["weights"].astype(np.float32))])
    if fc["bias"] is not None:
        out = g.node("Add", [out, g.const("fc_bias", fc["bias"].astype(np.float32))])
    g.nodes.append(helper.make_node("Identity", [out], ["descriptors"]))
    graph = helper.make_graph(
        g.nodes, "dlib_face_recognition_resnet",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", height, width, 3])],
        [helper.make_tensor_value_info("descriptors", TensorProto.FLOAT, ["N", fc["num_outputs"]])],
        g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="faceprint")
    model.ir_version = 8
    checker.check_model(model)
    return model

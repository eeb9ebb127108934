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

from faceprint.models.dlib_dat import DlibFormatError, DlibNet


@dataclass
class _Tensor:
    name: str
    shape: tuple[int, int, int]  # C, H, W


def _pool_out(size: int, kernel: int, stride: int, pad: int) -> int:
    return 1 + (size + 2 * pad - kernel) // stride


class _GraphBuilder:
    def __init__(self) -> None:
        import onnx.helper  # noqa: F401  (fail early with ImportError if onnx is missing)

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


def build_onnx(net: DlibNet):
    """Build an ``onnx.ModelProto`` computing dlib's descriptor from raw RGB chips."""
    from onnx import TensorProto, checker, helper

    g = _GraphBuilder()
    height, width = net.input_settings["size"]
    mean = np.asarray(net.input_settings["mean_rgb"], dtype=np.float32).reshape(1, 1, 1, 3)
    x = g.node("Sub", ["images", g.const("mean", mean)])
    x = g.node("Mul", [x, g.const("scale", np.asarray(1.0 / 256.0, dtype=np.float32))])
    x = g.node("Transpose", [x], perm=[0, 3, 1, 2])
    cur = _Tensor(x, (3, height, width))

    layers = net.layers
    block_input: _Tensor | None = None
    shortcut: _Tensor | None = None
    stem_done = False
    i = 0
    while i < len(layers):
        layer = layers[i]
        s = layer.settings
        if layer.kind == "con_4":
            if stem_done and block_input is None:
                block_input = cur
            weights, bias = s["weights"].astype(np.float32), s["bias"].astype(np.float32)
            if i + 1 < len(layers) and layers[i + 1].kind == "affine_":
                gamma, beta = layers[i + 1].settings["gamma"], layers[i + 1].settings["beta"]
                weights = weights * gamma.reshape(-1, 1, 1, 1)
                bias = bias * gamma + beta
                i += 1
            (kh, kw), (sh, sw), (ph, pw) = s["kernel"], s["stride"], s["padding"]
            out = g.node("Conv", [cur.name, g.const("w", weights), g.const("b", bias)],
                         kernel_shape=[kh, kw], strides=[sh, sw], pads=[ph, pw, ph, pw])
            cur = _Tensor(out, (s["num_filters"], _pool_out(cur.shape[1], kh, sh, ph),
                                _pool_out(cur.shape[2], kw, sw, pw)))
        elif layer.kind == "affine_":
            channels = cur.shape[0]
            gamma = g.const("gamma", s["gamma"].reshape(1, channels, 1, 1).astype(np.float32))
            beta = g.const("beta", s["beta"].reshape(1, channels, 1, 1).astype(np.float32))
            cur = _Tensor(g.node("Add", [g.node("Mul", [cur.name, gamma]), beta]), cur.shape)
        elif layer.kind == "relu_":
            cur = _Tensor(g.node("Relu", [cur.name]), cur.shape)
        elif layer.kind in ("max_pool_2", "avg_pool_2"):
            (kh, kw), (sh, sw), (ph, pw) = s["kernel"], s["stride"], s["padding"]
            if kh == 0 and kw == 0:  # dlib: a zero-sized window pools the whole plane
                cur = _Tensor(g.node("GlobalAveragePool", [cur.name]), (cur.shape[0], 1, 1))
            else:
                source = block_input if (layer.kind == "avg_pool_2" and block_input is not None) else cur
                op = "MaxPool" if layer.kind == "max_pool_2" else "AveragePool"
                out = g.node(op, [source.name], kernel_shape=[kh, kw], strides=[sh, sw], pads=[ph, pw, ph, pw])
                pooled = _Tensor(out, (source.shape[0], _pool_out(source.shape[1], kh, sh, ph),
                                       _pool_out(source.shape[2], kw, sw, pw)))
                if source is block_input:
                    shortcut = pooled
                else:
                    cur = pooled
                    stem_done = True
        elif layer.kind == "add_prev_":
            other = shortcut if shortcut is not None else block_input
            if other is None:
                raise DlibFormatError("add_prev_ without a block input: unsupported topology")
            cur = _Tensor(_padded_add(g, cur, other), tuple(max(a, b) for a, b in zip(cur.shape, other.shape)))
            block_input, shortcut = None, None
        elif layer.kind == "fc_2":
            flat = g.node("Flatten", [cur.name], axis=1)
            out = g.node("MatMul", [flat, g.const("fc", s["weights"].astype(np.float32))])
            if s["bias"] is not None:
                out = g.node("Add", [out, g.const("fc_bias", s["bias"].astype(np.float32))])
            cur = _Tensor(out, (s["num_outputs"], 1, 1))
        else:
            raise DlibFormatError(f"layer {layer.kind} has no ONNX translation")
        i += 1

    g.nodes.append(helper.make_node("Identity", [cur.name], ["descriptors"]))
    graph = helper.make_graph(
        g.nodes, "dlib_face_recognition_resnet",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", height, width, 3])],
        [helper.make_tensor_value_info("descriptors", TensorProto.FLOAT, ["N", cur.shape[0]])],
        g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="faceprint")
    model.ir_version = 8
    checker.check_model(model)
    return model


def _padded_add(g: _GraphBuilder, a: _Tensor, b: _Tensor) -> str:
    """a + b, each zero-padded at the end of C, H and W to the larger size (dlib's add_prev)."""
    target = tuple(max(x, y) for x, y in zip(a.shape, b.shape))
    names = []
    for t in (a, b):
        if t.shape == target:
            names.append(t.name)
            continue
        # ONNX pads: begins for N,C,H,W then ends for N,C,H,W
        pads = [0, 0, 0, 0, 0, target[0] - t.shape[0], target[1] - t.shape[1], target[2] - t.shape[2]]
        names.append(g.node("Pad", [t.name, g.const("pads", np.asarray(pads, dtype=np.int64))], mode="constant"))
    return g.node("Add", names)

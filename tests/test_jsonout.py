"""faceprint's JSON files and CLI output are strict JSON: "not measured" (NaN) is null."""

from __future__ import annotations

import json

import numpy as np

from faceprint import jsonout


def _strict(text: str):
    def refuse(constant: str):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_nan_and_infinity_become_null_and_numpy_numbers_plain():
    text = jsonout.dumps({"acc": float("nan"), "far": [float("inf"), 0.5], "n": np.int64(3), "x": np.float32(1.5),
                          "v": np.arange(2), "t": (1, float("-inf"))})
    assert _strict(text) == {"acc": None, "far": [None, 0.5], "n": 3, "x": 1.5, "v": [0, 1], "t": [1, None]}


def test_the_cli_prints_strict_json(capsys):
    from faceprint.cli.common import emit

    emit({"a": [float("inf"), float("nan"), 1.5], "n": np.int32(2)})
    assert _strict(capsys.readouterr().out) == {"a": [None, None, 1.5], "n": 2}

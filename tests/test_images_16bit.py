"""Images of more than 8 bits per sample: the same grey levels as the float64 mapping
(``round(v / 257)``), without ever widening the whole image to float64 (a 40 KB flat 16-bit PNG of
4000x4000 took 290 MB of numpy memory that way, 18 bytes a pixel)."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceprint.images import load_image


def float_levels(samples: np.ndarray) -> np.ndarray:
    """What the float64 mapping gives: 0..65535 onto 0..255, rounded, clipped."""
    return np.clip(samples.astype(np.float64) / 257.0 + 0.5, 0, 255).astype(np.uint8)


def encoded(array: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def test_every_16_bit_level_maps_as_the_float_mapping_does():
    levels = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    rgb = load_image(levels)
    assert rgb.dtype == np.uint8 and rgb.shape == (256, 256, 3)
    assert np.array_equal(rgb[:, :, 0], float_levels(levels))
    assert np.array_equal(rgb[:, :, 0], rgb[:, :, 2])


def test_wider_integers_clip_below_0_and_above_65535_and_the_input_is_untouched():
    samples = np.array([[-5, 0, 300, 65535, 70000, 2**31 - 1]], np.int64)
    kept = samples.copy()
    assert load_image(samples)[0, :, 0].tolist() == [0, 0, 1, 255, 255, 255]
    assert np.array_equal(samples, kept)


@pytest.mark.parametrize("fmt, dtype, mode", [("PNG", np.uint16, "I;16"), ("TIFF", np.int32, "I")])
def test_a_16_bit_lfw_photo_keeps_its_grey_levels(lfw: Path, fmt: str, dtype, mode: str):
    grey = np.asarray(Image.open(lfw / "Colin_Powell" / "Colin_Powell_0001.jpg").convert("L"), np.uint32)
    noise = np.random.default_rng(0).integers(0, 257, grey.shape, dtype=np.uint32)
    samples = (grey * 257 + noise).clip(0, 65535).astype(dtype)  # every low byte in use
    data = encoded(samples, fmt)
    assert Image.open(io.BytesIO(data)).mode == mode
    rgb = load_image(data)
    expected = float_levels(np.asarray(Image.open(io.BytesIO(data))))
    assert rgb.shape == (*grey.shape, 3)
    assert np.abs(rgb[:, :, 1].astype(int) - expected.astype(int)).max() <= 1
    assert (rgb[:, :, 1] == expected).mean() == 1.0


def test_a_large_flat_16_bit_png_takes_a_few_bytes_a_pixel():
    side = 4000
    data = encoded(np.full((side, side), 30000, np.uint16), "PNG")
    assert len(data) < 100_000  # a small upload
    tracemalloc.start()
    try:
        rgb = load_image(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert rgb.shape == (side, side, 3) and int(rgb[0, 0, 0]) == round(30000 / 257)
    # the RGB result is 3 bytes a pixel, the decoded 16-bit samples 2 and the grey plane 1
    assert peak / side**2 < 8, f"{peak / 1e6:.0f} MB peak for a {side}x{side} 16-bit PNG"


def test_big_endian_16bit_is_scaled_like_little_endian() -> None:
    """A dark 16-bit image (no sample above 255) is 16-bit whatever its byte order."""
    from faceprint.images import load_image

    dark = np.full((8, 8), 218, np.uint16)
    assert load_image(dark.astype(">u2")).max() == load_image(dark).max() == 1
    assert load_image(np.full((8, 8, 3), 200, np.int64)).max() == 200  # plain integers stay 8-bit

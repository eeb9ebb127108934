"""images.load_image: every input kind, mode and failure a user can hand us."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceprint.errors import BadImage, ImageNotFound, ImageTooLarge
from faceprint.images import load_image


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def portrait(astronaut: Path) -> Image.Image:
    return Image.open(astronaut).convert("RGB").resize((128, 128))


@pytest.mark.parametrize("fmt,ext", [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp"), ("BMP", "bmp"),
                                     ("TIFF", "tif"), ("PPM", "pgm")])
def test_formats_decode_to_rgb(tmp_path, portrait, fmt, ext):
    img = portrait.convert("L") if ext == "pgm" else portrait
    path = tmp_path / f"face.{ext}"
    path.write_bytes(_encode(img, fmt))
    rgb = load_image(path)
    assert rgb.shape == (128, 128, 3) and rgb.dtype == np.uint8
    reference = np.asarray(portrait.convert("L").convert("RGB") if ext == "pgm" else portrait, dtype=float)
    assert np.abs(rgb.astype(float) - reference).mean() < 6  # lossy formats stay close


def test_sources_path_bytes_file_array_agree(astronaut):
    from_path = load_image(astronaut)
    from_str = load_image(str(astronaut))
    from_bytes = load_image(astronaut.read_bytes())
    with open(astronaut, "rb") as handle:
        from_file = load_image(handle)
    from_array = load_image(from_path)
    for other in (from_str, from_bytes, from_file, from_array):
        assert np.array_equal(from_path, other)


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "LA"])
def test_modes_become_rgb(portrait, mode):
    rgb = load_image(_encode(portrait.convert(mode), "TIFF" if mode == "CMYK" else "PNG"))
    assert rgb.shape == (128, 128, 3)
    assert np.abs(rgb.astype(float) - np.asarray(portrait.convert(mode).convert("RGB"), float)).mean() < 2


def test_rgba_is_composited_on_white():
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0] = 255  # red, fully transparent
    rgb = load_image(_encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert (rgb == 255).all()


def test_16_bit_png_scaled_not_clipped():
    ramp = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    rgb = load_image(_encode(Image.fromarray(ramp), "PNG"))
    assert rgb[..., 0].min() == 0 and rgb[..., 0].max() == 255
    assert abs(int(rgb[32, 0, 0]) - 128) < 3


def test_exif_orientation_applied(portrait):
    wide = portrait.resize((120, 60))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    rgb = load_image(_encode(wide, "JPEG", exif=exif.tobytes()))
    assert rgb.shape == (120, 60, 3)


def test_float_and_gray_arrays():
    assert load_image(np.full((4, 5), 0.5)).shape == (4, 5, 3)
    assert load_image(np.full((4, 5), 0.5))[0, 0, 0] == 128
    with pytest.raises(BadImage):
        load_image(np.full((4, 5), np.nan))
    with pytest.raises(BadImage):
        load_image(np.zeros((4, 5, 7), np.uint8))


def test_missing_and_folder(tmp_path):
    with pytest.raises(ImageNotFound, match="no such file"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageNotFound, match="not a file"):
        load_image(tmp_path)


def test_empty_file(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(BadImage, match="empty"):
        load_image(tmp_path / "empty.jpg")


def test_not_an_image(tmp_path):
    (tmp_path / "notes.jpg").write_text("these are not pixels")
    with pytest.raises(BadImage, match="not an image"):
        load_image(tmp_path / "notes.jpg")


def test_truncated_jpeg(portrait):
    data = _encode(portrait, "JPEG")
    with pytest.raises(BadImage, match="corrupt or truncated"):
        load_image(data[: len(data) // 2])


def test_corrupt_png(portrait):
    data = bytearray(_encode(portrait, "PNG"))
    data[100:400] = b"\x00" * 300
    with pytest.raises(BadImage):
        load_image(bytes(data))


def test_pixel_limit_refuses_bombs(portrait, monkeypatch):
    data = _encode(portrait, "PNG")
    with pytest.raises(ImageTooLarge, match="exceeds the limit"):
        load_image(data, max_pixels=128 * 127)
    monkeypatch.setenv("FACEPRINT_MAX_PIXELS", "1000")
    with pytest.raises(ImageTooLarge):
        load_image(data)
    # a real decompression bomb: tiny file, huge declared size
    bomb = _encode(Image.new("L", (20000, 20000)), "PNG")
    assert len(bomb) < 1_000_000
    monkeypatch.delenv("FACEPRINT_MAX_PIXELS")
    with pytest.raises(ImageTooLarge):
        load_image(bomb)


def test_wrong_type():
    with pytest.raises(BadImage, match="cannot read an image"):
        load_image(12345)  # type: ignore[arg-type]

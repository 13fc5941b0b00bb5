"""Reading photographs (formats, bit depths, modes, orientation, errors) and atomic writers.

Every image here is tiny and synthetic, written to ``tmp_path`` by the test itself.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image, ImageCms

import outcomes.io as oio
from outcomes.config import InputConfig
from outcomes.errors import ImageTooLargeError, InputImageError, OutcomesError
from outcomes.io import decode_image, photo_from_array, read_photo, write_json, write_png
from outcomes.types import Photo

# Four solid quadrants, far apart in colour, so that even JPEG keeps them apart.
RED, GREEN, BLUE, YELLOW = (220, 30, 40), (30, 200, 60), (40, 50, 210), (230, 220, 40)


def quadrants(h: int = 32, w: int = 48) -> np.ndarray:
    """(h, w, 3) uint8 RGB: red top-left, green top-right, blue bottom-left, yellow bottom-right."""
    img = np.empty((h, w, 3), np.uint8)
    img[: h // 2, : w // 2] = RED
    img[: h // 2, w // 2 :] = GREEN
    img[h // 2 :, : w // 2] = BLUE
    img[h // 2 :, w // 2 :] = YELLOW
    return img


def quadrant_centres(img: np.ndarray) -> list[np.ndarray]:
    """Mean colour of the middle of each quadrant (away from the JPEG-blurred edges)."""
    h, w = img.shape[:2]
    qh, qw = h // 2, w // 2
    out = []
    for y0 in (0, qh):
        for x0 in (0, qw):
            patch = img[y0 + qh // 4 : y0 + 3 * qh // 4, x0 + qw // 4 : x0 + 3 * qw // 4]
            out.append(patch.reshape(-1, 3).mean(axis=0))
    return out


def save_pil(im: Image.Image, path: Path, **kwargs) -> Path:
    im.save(path, **kwargs)
    return path


def jpeg_bytes(pixels: np.ndarray, quality: int = 95) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def assert_rgb8(photo: Photo, shape: tuple[int, int]) -> np.ndarray:
    px = photo.pixels
    assert isinstance(px, np.ndarray)
    assert px.dtype == np.uint8
    assert px.shape == (*shape, 3)
    assert px.flags["C_CONTIGUOUS"]
    return px


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("suffix", "save_kwargs"),
    [
        (".png", {"format": "PNG"}),
        (".tif", {"format": "TIFF"}),
        (".tiff", {"format": "TIFF", "compression": "tiff_deflate"}),
        (".webp", {"format": "WEBP", "lossless": True}),
    ],
)
def test_lossless_formats_round_trip_exactly(tmp_path, suffix, save_kwargs):
    pixels = quadrants()
    path = save_pil(Image.fromarray(pixels), tmp_path / f"q{suffix}", **save_kwargs)
    photo = read_photo(path)
    np.testing.assert_array_equal(assert_rgb8(photo, (32, 48)), pixels)
    assert photo.source == str(path)
    assert (photo.width, photo.height) == (48, 32)


@pytest.mark.parametrize(
    ("suffix", "save_kwargs", "tolerance"),
    [
        (".jpg", {"format": "JPEG", "quality": 95}, 8),
        (".jpeg", {"format": "JPEG", "quality": 90, "subsampling": 2}, 12),
        (".webp", {"format": "WEBP", "quality": 90}, 12),
    ],
)
def test_lossy_formats_round_trip_approximately(tmp_path, suffix, save_kwargs, tolerance):
    pixels = quadrants(64, 64)
    path = save_pil(Image.fromarray(pixels), tmp_path / f"q{suffix}", **save_kwargs)
    got = assert_rgb8(read_photo(path), (64, 64))
    for centre, colour in zip(quadrant_centres(got), (RED, GREEN, BLUE, YELLOW)):
        np.testing.assert_allclose(centre, colour, atol=tolerance)


def test_format_is_sniffed_from_content_not_from_the_name(tmp_path):
    pixels = quadrants()
    path = save_pil(Image.fromarray(pixels), tmp_path / "really_a_png.jpg", format="PNG")
    np.testing.assert_array_equal(read_photo(path).pixels, pixels)


def test_accepts_str_and_path(tmp_path):
    path = save_pil(Image.fromarray(quadrants()), tmp_path / "q.png")
    a, b = read_photo(path), read_photo(str(path))
    np.testing.assert_array_equal(a.pixels, b.pixels)
    assert a.sha256 == b.sha256


# --------------------------------------------------------------------------- bit depth


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_16bit_greyscale_is_scaled_to_8bit(tmp_path, fmt):
    values = np.array([[0, 257, 1000, 12345, 32768, 40000, 65278, 65535]], np.uint16)
    path = tmp_path / f"grey16.{fmt.lower()}"
    Image.fromarray(values).save(path, format=fmt)
    with Image.open(path) as check:  # really stored as 16-bit
        assert check.mode.startswith("I")
    got = assert_rgb8(read_photo(path), values.shape)
    assert got[0, 0].tolist() == [0, 0, 0]
    assert got[0, -1].tolist() == [255, 255, 255]
    assert got[0, 1].tolist() == [1, 1, 1]
    np.testing.assert_array_equal(got[..., 0], got[..., 1])
    np.testing.assert_array_equal(got[..., 0], got[..., 2])
    expected = values.astype(np.float64) / 257.0
    assert np.abs(got[..., 0] - expected).max() <= 0.5 + 1e-9


def test_16bit_greyscale_written_by_opencv(tmp_path):
    values = np.linspace(0, 65535, 64).astype(np.uint16).reshape(8, 8)
    path = tmp_path / "grey16_cv.png"
    assert cv2.imwrite(str(path), values)
    got = assert_rgb8(read_photo(path), (8, 8))
    assert np.abs(got[..., 1].astype(float) - values / 257.0).max() <= 1


def test_dark_16bit_greyscale_stays_dark(tmp_path):
    """All values ≤ 255 in a 16-bit file are *dark* (≤ 1/257 of full scale), not mid-grey."""
    values = np.array([[0, 100, 200, 255]], np.uint16)
    path = tmp_path / "dark16.png"
    Image.fromarray(values).save(path)
    got = read_photo(path).pixels
    assert got.max() <= 1


@settings(max_examples=40, deadline=None)
@given(arrays(np.uint16, st.tuples(st.integers(1, 6), st.integers(1, 6))))
def test_16bit_greyscale_scaling_property(values):
    buf = io.BytesIO()
    Image.fromarray(values).save(buf, format="PNG")
    got = decode_image(buf.getvalue(), "<hypothesis>")
    assert got.shape == (*values.shape, 3)
    assert np.abs(got[..., 0].astype(float) - values / 257.0).max() <= 0.5 + 1e-9
    assert (got == got[..., :1]).all()


def test_16bit_rgb_png_from_opencv_is_rgb_scaled(tmp_path):
    rng = np.random.default_rng(3)
    rgb16 = rng.integers(0, 65536, size=(6, 7, 3), dtype=np.uint16)
    rgb16[0, 0] = (65535, 0, 0)  # pure red
    rgb16[0, 1] = (0, 65535, 0)
    rgb16[0, 2] = (0, 0, 65535)
    path = tmp_path / "rgb16.png"
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb16, cv2.COLOR_RGB2BGR))  # OpenCV stores BGR
    got = assert_rgb8(read_photo(path), (6, 7))
    assert got[0, 0].tolist() == [255, 0, 0]
    assert got[0, 1].tolist() == [0, 255, 0]
    assert got[0, 2].tolist() == [0, 0, 255]
    assert np.abs(got.astype(float) - rgb16 / 257.0).max() <= 1


# --------------------------------------------------------------------------- modes


def test_greyscale_8bit_becomes_three_equal_channels(tmp_path):
    grey = np.arange(0, 240, dtype=np.uint8).reshape(12, 20)
    path = save_pil(Image.fromarray(grey, mode="L"), tmp_path / "grey.png")
    got = assert_rgb8(read_photo(path), (12, 20))
    for c in range(3):
        np.testing.assert_array_equal(got[..., c], grey)


def test_bilevel_image(tmp_path):
    bits = np.zeros((8, 16), bool)
    bits[:, 8:] = True
    path = save_pil(Image.fromarray(bits), tmp_path / "bits.png")
    got = assert_rgb8(read_photo(path), (8, 16))
    assert (got[:, :8] == 0).all() and (got[:, 8:] == 255).all()


@pytest.mark.parametrize("alpha", [0, 128, 255])
def test_rgba_drops_alpha(tmp_path, alpha):
    pixels = quadrants()
    rgba = np.dstack([pixels, np.full(pixels.shape[:2], alpha, np.uint8)])
    path = save_pil(Image.fromarray(rgba, mode="RGBA"), tmp_path / "rgba.png")
    np.testing.assert_array_equal(assert_rgb8(read_photo(path), (32, 48)), pixels)


def test_grey_with_alpha_drops_alpha(tmp_path):
    la = np.zeros((4, 4, 2), np.uint8)
    la[..., 0] = 77
    la[..., 1] = 10
    path = save_pil(Image.fromarray(la, mode="LA"), tmp_path / "la.png")
    assert (read_photo(path).pixels == 77).all()


def test_palette_image(tmp_path):
    pixels = quadrants()
    im = Image.fromarray(pixels).quantize(colors=4)
    assert im.mode == "P"
    path = save_pil(im, tmp_path / "palette.png")
    with Image.open(path) as check:
        assert check.mode == "P"
    np.testing.assert_array_equal(assert_rgb8(read_photo(path), (32, 48)), pixels)


def test_palette_with_transparency(tmp_path):
    im = Image.fromarray(quadrants()).quantize(colors=4)
    path = save_pil(im, tmp_path / "palette_t.png", transparency=0)
    np.testing.assert_array_equal(read_photo(path).pixels, quadrants())


@pytest.mark.parametrize(
    ("cmyk", "rgb"),
    [((0, 255, 255, 0), (255, 0, 0)), ((255, 0, 255, 0), (0, 255, 0)), ((0, 0, 0, 0), (255, 255, 255))],
)
def test_cmyk_jpeg_becomes_rgb(tmp_path, cmyk, rgb):
    path = save_pil(Image.new("CMYK", (24, 16), cmyk), tmp_path / "cmyk.jpg", quality=95)
    with Image.open(path) as check:
        assert check.mode == "CMYK"
    got = assert_rgb8(read_photo(path), (16, 24))
    np.testing.assert_allclose(got.reshape(-1, 3).mean(axis=0), rgb, atol=6)


def test_embedded_srgb_profile_keeps_colours(tmp_path):
    pixels = quadrants(64, 64)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = save_pil(Image.fromarray(pixels), tmp_path / "icc.png", icc_profile=srgb)
    with Image.open(path) as check:
        assert check.info.get("icc_profile")
    got = assert_rgb8(read_photo(path), (64, 64))
    assert np.abs(got.astype(int) - pixels).max() <= 3


def test_unusable_embedded_profile_is_ignored(tmp_path):
    pixels = quadrants()
    path = save_pil(Image.fromarray(pixels), tmp_path / "badicc.png", icc_profile=b"not an icc profile" * 8)
    np.testing.assert_array_equal(read_photo(path).pixels, pixels)


# --------------------------------------------------------------------------- orientation


def _oriented_jpeg(path: Path, orientation: int) -> np.ndarray:
    """A 20 (high) × 40 (wide) grey JPEG with a red block in its stored top-left corner."""
    stored = np.full((20, 40, 3), 128, np.uint8)
    stored[:8, :8] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(stored).save(path, format="JPEG", quality=95, exif=exif.tobytes())
    return stored


def _red_corner(px: np.ndarray) -> str:
    h, w = px.shape[:2]
    corners = {
        "top-left": px[2, 2],
        "top-right": px[2, w - 3],
        "bottom-left": px[h - 3, 2],
        "bottom-right": px[h - 3, w - 3],
    }
    red = [name for name, c in corners.items() if c[0] > 200 and c[1] < 60 and c[2] < 60]
    assert len(red) == 1, corners
    return red[0]


@pytest.mark.parametrize(
    ("orientation", "shape", "corner"),
    [
        (1, (20, 40), "top-left"),
        (3, (20, 40), "bottom-right"),  # rotated 180°
        (6, (40, 20), "top-right"),  # displayed = stored rotated 90° clockwise
        (8, (40, 20), "bottom-left"),  # displayed = stored rotated 90° counter-clockwise
    ],
)
def test_exif_orientation_is_applied(tmp_path, orientation, shape, corner):
    path = tmp_path / f"orient{orientation}.jpg"
    _oriented_jpeg(path, orientation)
    with Image.open(path) as check:
        assert check.size == (40, 20)
        assert check.getexif().get(0x0112) == orientation
    got = assert_rgb8(read_photo(path), shape)
    assert _red_corner(got) == corner


# --------------------------------------------------------------------------- hashing


def test_sha256_is_of_the_file_bytes(tmp_path):
    path = save_pil(Image.fromarray(quadrants()), tmp_path / "q.png")
    assert read_photo(path).sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_sha256_differs_for_same_pixels_in_different_files(tmp_path):
    pixels = quadrants()
    a = save_pil(Image.fromarray(pixels), tmp_path / "a.png", compress_level=1)
    b = save_pil(Image.fromarray(pixels), tmp_path / "b.png", compress_level=9)
    assert a.read_bytes() != b.read_bytes()
    pa, pb = read_photo(a), read_photo(b)
    np.testing.assert_array_equal(pa.pixels, pb.pixels)
    assert pa.sha256 != pb.sha256


def test_photo_from_array_hashes_the_array():
    pixels = quadrants()
    photo = photo_from_array(pixels, source="mem")
    assert photo.sha256 == hashlib.sha256(pixels.tobytes()).hexdigest()
    assert photo.source == "mem"
    with pytest.raises(ValueError):
        photo_from_array(pixels[..., 0])


# --------------------------------------------------------------------------- errors


def _noise_jpeg(path: Path, size: int = 96) -> Path:
    rng = np.random.default_rng(0)
    path.write_bytes(jpeg_bytes(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)))
    return path


def _make_missing(tmp_path: Path) -> Path:
    return tmp_path / "does_not_exist.jpg"


def _make_empty(tmp_path: Path) -> Path:
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    return p


def _make_text(tmp_path: Path) -> Path:
    p = tmp_path / "notes.jpg"
    p.write_text("this is not a photograph\n" * 20)
    return p


def _make_truncated_jpeg(tmp_path: Path) -> Path:
    data = _noise_jpeg(tmp_path / "whole.jpg").read_bytes()
    p = tmp_path / "truncated.jpg"
    p.write_bytes(data[: len(data) // 2])
    return p


def _make_truncated_png(tmp_path: Path) -> Path:
    buf = io.BytesIO()
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buf, format="PNG")
    p = tmp_path / "truncated.png"
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    return p


def _make_gif(tmp_path: Path) -> Path:
    return save_pil(Image.fromarray(quadrants()), tmp_path / "anim.gif", format="GIF")


def _make_bmp(tmp_path: Path) -> Path:
    return save_pil(Image.fromarray(quadrants()), tmp_path / "photo.bmp", format="BMP")


def _make_bmp_named_jpg(tmp_path: Path) -> Path:
    return save_pil(Image.fromarray(quadrants()), tmp_path / "photo.jpg", format="BMP")


@pytest.mark.parametrize(
    ("make", "phrase"),
    [
        (_make_missing, "not found"),
        (_make_empty, "empty"),
        (_make_text, "not a recognised image"),
        (_make_truncated_jpeg, "truncated or corrupt"),
        (_make_truncated_png, "truncated or corrupt"),
        (_make_gif, "unsupported image format GIF"),
        (_make_bmp, "unsupported image format BMP"),
        (_make_bmp_named_jpg, "unsupported image format BMP"),
    ],
    ids=lambda v: getattr(v, "__name__", v) if callable(v) else None,
)
def test_unusable_files_raise_input_image_error(tmp_path, make, phrase):
    path = make(tmp_path)
    with pytest.raises(InputImageError) as excinfo:
        read_photo(path)
    err = excinfo.value
    assert not isinstance(err, ImageTooLargeError)
    assert isinstance(err, OutcomesError)
    assert err.path == str(path)
    assert str(path) in str(err)
    assert phrase.lower() in str(err).lower()
    assert "\n" not in str(err)


def test_pixel_limit_is_checked_from_the_header(tmp_path):
    path = save_pil(Image.new("RGB", (20, 20), (1, 2, 3)), tmp_path / "twenty.png")
    with pytest.raises(ImageTooLargeError) as excinfo:
        read_photo(path, InputConfig(max_pixels=100))
    msg = str(excinfo.value)
    assert excinfo.value.path == str(path)
    assert str(path) in msg
    assert "400" in msg and "100" in msg and "limit" in msg
    # …and exactly at the limit it is fine.
    assert read_photo(path, InputConfig(max_pixels=400)).pixels.shape == (20, 20, 3)


def test_pixel_limit_refuses_before_decoding(tmp_path):
    """A too-large header is refused even when the pixel data behind it is garbage."""
    data = bytearray(_noise_jpeg(tmp_path / "n.jpg").read_bytes())
    data[len(data) // 2 :] = b"\x00" * (len(data) - len(data) // 2)  # corrupt the scan data
    path = tmp_path / "garbage_body.jpg"
    path.write_bytes(bytes(data))
    with pytest.raises(ImageTooLargeError):
        read_photo(path, InputConfig(max_pixels=100))


def test_file_size_limit(tmp_path):
    path = save_pil(Image.fromarray(quadrants()), tmp_path / "q.png")
    size = path.stat().st_size
    with pytest.raises(ImageTooLargeError) as excinfo:
        read_photo(path, InputConfig(max_file_bytes=size - 1))
    msg = str(excinfo.value)
    assert str(path) in msg
    assert str(size) in msg and "limit" in msg and "bytes" in msg
    assert read_photo(path, InputConfig(max_file_bytes=size)).pixels.shape == (32, 48, 3)


def test_image_too_large_is_an_input_image_error():
    assert issubclass(ImageTooLargeError, InputImageError)


def test_decode_image_errors_name_the_source():
    with pytest.raises(InputImageError, match=r"^upload#7: "):
        decode_image(b"GIF89a not really", "upload#7")


def test_directory_is_an_input_image_error(tmp_path):
    folder = tmp_path / "folder.jpg"
    folder.mkdir()
    with pytest.raises(InputImageError) as excinfo:
        read_photo(folder)
    assert str(folder) in str(excinfo.value)
    assert re.search(r"folder|directory", str(excinfo.value), re.IGNORECASE)


def test_pillow_hard_limit_is_reported_as_too_large(tmp_path, monkeypatch):
    """Pillow's own decompression-bomb refusal also becomes an ImageTooLargeError naming the file."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow now refuses above 200 pixels
    path = save_pil(Image.new("RGB", (20, 20)), tmp_path / "twenty.png")
    with pytest.raises(ImageTooLargeError) as excinfo:
        read_photo(path, InputConfig(max_pixels=300))
    assert str(path) in str(excinfo.value)
    assert "pixels" in str(excinfo.value)


# --------------------------------------------------------------------------- writers


def test_write_json_round_trip_and_no_temp_files(tmp_path):
    payload = {"a": 1, "b": [1.5, "x"], "c": {"d": None, "e": True}}
    target = tmp_path / "out.json"
    assert write_json(target, payload) == target
    assert json.loads(target.read_text()) == payload
    assert target.read_text().endswith("\n")
    assert os.listdir(tmp_path) == ["out.json"]


def test_write_json_creates_parent_folders(tmp_path):
    target = tmp_path / "a" / "b" / "out.json"
    write_json(str(target), [1, 2])
    assert json.loads(target.read_text()) == [1, 2]
    assert os.listdir(target.parent) == ["out.json"]


def test_write_json_overwrites(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"v": 1})
    write_json(target, {"v": 2})
    assert json.loads(target.read_text()) == {"v": 2}
    assert os.listdir(tmp_path) == ["out.json"]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), object()])
def test_write_json_failure_leaves_nothing(tmp_path, bad):
    target = tmp_path / "out.json"
    with pytest.raises((ValueError, TypeError)):
        write_json(target, {"ok": 1, "bad": [bad]})
    assert not target.exists()
    assert os.listdir(tmp_path) == []


def test_write_json_failure_keeps_previous_file(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"v": 1})
    with pytest.raises(ValueError):
        write_json(target, {"v": float("nan")})
    assert json.loads(target.read_text()) == {"v": 1}
    assert os.listdir(tmp_path) == ["out.json"]


def test_write_failing_at_rename_removes_temp_file(tmp_path, monkeypatch):
    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(oio.os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_json(tmp_path / "out.json", {"v": 1})
    with pytest.raises(OSError):
        write_png(tmp_path / "out.png", quadrants())
    assert os.listdir(tmp_path) == []


def test_write_png_failing_midway_leaves_nothing(tmp_path, monkeypatch):
    target = tmp_path / "out.png"

    original = Path.write_bytes

    def half_write(self, data):
        original(self, data[:10])
        raise OSError("disk full while writing")

    monkeypatch.setattr(Path, "write_bytes", half_write)
    with pytest.raises(OSError, match="disk full"):
        write_png(target, quadrants())
    assert os.listdir(tmp_path) == []


def test_write_png_failure_keeps_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    write_png(target, quadrants())
    before = target.read_bytes()

    original = Path.write_bytes

    def failing_write(self, data):
        original(self, b"junk")
        raise OSError("boom")

    monkeypatch.setattr(Path, "write_bytes", failing_write)
    with pytest.raises(OSError):
        write_png(target, np.zeros((4, 4, 3), np.uint8))
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["out.png"]


def test_write_png_round_trip_rgb(tmp_path):
    pixels = quadrants()
    target = tmp_path / "out.png"
    assert write_png(target, pixels) == target
    np.testing.assert_array_equal(read_photo(target).pixels, pixels)
    assert os.listdir(tmp_path) == ["out.png"]
    with Image.open(target) as im:
        assert im.format == "PNG" and im.mode == "RGB"
        assert "exif" not in im.info and "icc_profile" not in im.info


def test_write_png_greyscale(tmp_path):
    grey = np.arange(60, dtype=np.uint8).reshape(6, 10)
    target = write_png(tmp_path / "grey.png", grey)
    with Image.open(target) as im:
        assert im.mode == "L"
    got = read_photo(target).pixels
    assert (got == grey[:, :, None]).all()


@pytest.mark.parametrize(
    "bad",
    [np.zeros((4, 4, 3), np.float32), np.zeros((4, 4, 3), np.uint16), np.zeros(16, np.uint8), np.zeros((2, 2, 2, 3), np.uint8)],
    ids=["float32", "uint16", "1d", "4d"],
)
def test_write_png_rejects_bad_arrays_and_leaves_nothing(tmp_path, bad):
    with pytest.raises(ValueError):
        write_png(tmp_path / "out.png", bad)
    assert os.listdir(tmp_path) == []


def test_very_large_png_round_trips(tmp_path):
    """Above 16 megapixels PNGs are encoded by the fast path; the pixels are the same."""
    rng = np.random.default_rng(3)
    pixels = np.repeat(np.repeat(rng.integers(0, 255, (420, 410, 3), dtype=np.uint8), 10, axis=0), 10, axis=1)
    assert pixels.shape[0] * pixels.shape[1] > 16_000_000
    target = tmp_path / "big.png"
    write_png(target, pixels)
    np.testing.assert_array_equal(np.asarray(Image.open(target).convert("RGB")), pixels)
    grey = pixels[..., 0].copy()
    write_png(target, grey)
    np.testing.assert_array_equal(np.asarray(Image.open(target)), grey)

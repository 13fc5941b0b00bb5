"""Reading photographs and writing outputs.

``read_photo`` turns JPEG, PNG, TIFF or WebP files (8- or 16-bit, greyscale,
RGB, RGBA, CMYK, palette) into RGB uint8 arrays as displayed (EXIF orientation
applied, embedded ICC profile converted to sRGB), after refusing files whose
header declares more pixels than the configured limit. Writers are atomic: a
file appears complete or not at all.
"""

from __future__ import annotations

import hashlib
import io as _io
import json
import os
import secrets
import stat
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from outcomes.config import InputConfig
from outcomes.errors import ImageTooLargeError, InputImageError
from outcomes.types import Photo

SUPPORTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "TIFF", "WEBP"})


def read_photo(path: str | Path, limits: InputConfig | None = None) -> Photo:
    """Read an image file into an RGB uint8 :class:`Photo`.

    Parameters
    ----------
    path : str or Path
        JPEG, PNG, TIFF or WebP file.
    limits : InputConfig, optional
        File-size and pixel-count limits (defaults from :class:`InputConfig`).

    Returns
    -------
    Photo
        ``pixels`` of shape (H, W, 3), uint8, RGB, as displayed; ``sha256`` of
        the file's bytes.

    Raises
    ------
    InputImageError
        Missing, empty, unreadable, unsupported, truncated or corrupt file.
    ImageTooLargeError
        More pixels (or bytes) than ``limits`` allow; checked before decoding.
    """
    limits = limits or InputConfig()
    name = str(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise InputImageError(name, "file not found", code="image_missing") from None
    except OSError as exc:
        raise InputImageError(name, f"cannot read file ({exc.strerror})") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputImageError(name, "is a folder, not an image file")
    if not stat.S_ISREG(info.st_mode):
        # a pipe or device would be read until it ends, or for ever
        raise InputImageError(name, "is not a regular file (a device, pipe or socket); give an image file")
    size = info.st_size
    if size == 0:
        raise InputImageError(name, "file is empty (0 bytes)")
    if size > limits.max_file_bytes:
        raise ImageTooLargeError(
            name, f"file is {size} bytes, above the limit of {limits.max_file_bytes} bytes"
        )
    try:
        data = Path(path).read_bytes()
    except IsADirectoryError:
        raise InputImageError(name, "is a folder, not an image file") from None
    except OSError as exc:
        raise InputImageError(name, f"cannot read file ({exc.strerror})") from None
    pixels = decode_image(data, name, limits)
    return Photo(pixels=pixels, source=name, sha256=hashlib.sha256(data).hexdigest())


def decode_image(data: bytes, name: str, limits: InputConfig | None = None) -> np.ndarray:
    """Decode image bytes into an RGB uint8 array of shape (H, W, 3), as displayed.

    ``name`` is used in error messages only. See :func:`read_photo`.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    limits = limits or InputConfig()
    try:
        # Our own pixel limit is checked below; Pillow's warning is noise. A process-wide
        # filter (catch_warnings per call would not be thread-safe); adding it again is a no-op.
        warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
        im = Image.open(_io.BytesIO(data))
    except Image.DecompressionBombError:
        # Pillow's own hard cap, which config validation keeps above ours.
        raise ImageTooLargeError(
            name, f"image declares more pixels than the limit of {limits.max_pixels} pixels"
        ) from None
    except UnidentifiedImageError:
        raise InputImageError(name, "not a recognised image file (JPEG, PNG, TIFF or WebP)") from None
    except Exception as exc:  # noqa: BLE001 - any failure of a decoder on untrusted bytes means a corrupt file
        raise InputImageError(name, f"corrupt image header ({type(exc).__name__}: {exc})") from None
    if im.format not in SUPPORTED_FORMATS:
        raise InputImageError(
            name, f"unsupported image format {im.format}; use JPEG, PNG, TIFF or WebP"
        )
    width, height = im.size
    if width * height > limits.max_pixels:
        raise ImageTooLargeError(
            name,
            f"image is {width}×{height} = {width * height} pixels, "
            f"above the limit of {limits.max_pixels} pixels",
        )
    if width < 1 or height < 1:
        raise InputImageError(name, f"image has no pixels ({width}×{height})")
    try:
        im.load()
        im = ImageOps.exif_transpose(im)
        pixels = _to_rgb8(im)
    except Image.DecompressionBombError:
        raise ImageTooLargeError(name, f"image declares more pixels than the limit of {limits.max_pixels} "
                                 "pixels") from None
    except Exception as exc:  # noqa: BLE001 - Pillow raises OSError, SyntaxError, struct.error, EOFError... on bad data
        raise InputImageError(name, f"truncated or corrupt image data ({type(exc).__name__}: {exc})") from None
    if pixels.shape[0] * pixels.shape[1] > limits.max_pixels:  # a size that changed on load (EXIF, tiles)
        raise ImageTooLargeError(name, f"image decodes to {pixels.shape[1]}×{pixels.shape[0]} pixels, above the "
                                 f"limit of {limits.max_pixels} pixels")
    return pixels


def _to_rgb8(im: Any) -> np.ndarray:
    """Pillow image of any common mode → (H, W, 3) uint8 RGB."""
    from PIL import ImageCms

    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        grey = np.asarray(im, dtype=np.float64)
        peak = 65535.0 if im.mode.startswith("I;16") or grey.max() > 255 else 255.0
        grey8 = np.clip(np.rint(grey * (255.0 / peak)), 0, 255).astype(np.uint8)
        return np.repeat(grey8[:, :, None], 3, axis=2)
    if im.mode == "F":
        grey = np.asarray(im, dtype=np.float64)
        grey8 = np.clip(np.rint(grey * (255.0 if grey.max() <= 1.0 else 1.0)), 0, 255)
        return np.repeat(grey8.astype(np.uint8)[:, :, None], 3, axis=2)
    if im.mode not in ("RGB", "CMYK", "L"):
        im = im.convert("RGB")  # palette, alpha, bilevel…: alpha is dropped, photos are opaque
    icc = im.info.get("icc_profile")
    if icc:
        try:
            source_profile = ImageCms.ImageCmsProfile(_io.BytesIO(icc))
            im = ImageCms.profileToProfile(im, source_profile, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # an unusable embedded profile is ignored, not fatal
    if im.mode != "RGB":
        im = im.convert("RGB")
    arr = np.asarray(im, dtype=np.uint8)
    return np.ascontiguousarray(arr)


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_of_array(pixels: np.ndarray) -> str:
    """Hex sha256 of an array's raw bytes (for photos that never were files)."""
    return hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest()


def photo_from_array(pixels: np.ndarray, source: str = "<array>") -> Photo:
    """Wrap an RGB uint8 array as a :class:`Photo` (its sha256 is of the array bytes)."""
    return Photo(pixels=np.ascontiguousarray(pixels), source=source, sha256=sha256_of_array(pixels))


def _write_atomic(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Write through a temporary file in the same folder, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A fresh name (not mkstemp, whose 0600 mode would ignore the user's umask).
    tmp_path = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    try:
        write(tmp_path)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return _write_atomic(path, lambda p: p.write_bytes(data))


def write_json(path: str | Path, payload: Any) -> Path:
    """Write ``payload`` as indented JSON, atomically; lists of numbers stay on one line."""
    data = json_bytes(payload)
    return _write_atomic(path, lambda p: p.write_bytes(data))


def json_bytes(payload: Any) -> bytes:
    """``payload`` as indented JSON (UTF-8, trailing newline); lists of numbers stay on one line."""
    return (_dumps(payload, 0) + "\n").encode("utf-8")


def _dumps(value: Any, level: int) -> str:
    """JSON with objects indented and flat lists inline (a point is ``[x, y]``)."""
    pad, inner = "  " * level, "  " * (level + 1)
    if isinstance(value, dict) and value:
        items = (f"{inner}{json.dumps(str(k))}: {_dumps(v, level + 1)}" for k, v in value.items())
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, (list, tuple)) and any(isinstance(v, (dict, list, tuple)) for v in value):
        return "[\n" + ",\n".join(inner + _dumps(v, level + 1) for v in value) + f"\n{pad}]"
    return json.dumps(value, allow_nan=False)


def write_png(path: str | Path, pixels: np.ndarray) -> Path:
    """Write an (H, W) or (H, W, 3) RGB uint8 array as PNG, atomically, without metadata."""
    data = png_bytes(pixels)
    return _write_atomic(path, lambda p: p.write_bytes(data))


def png_bytes(pixels: np.ndarray) -> bytes:
    """An (H, W) or (H, W, 3) RGB uint8 array as PNG bytes, without metadata."""
    from PIL import Image

    if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3):
        raise ValueError(f"write_png expects uint8 (H, W) or (H, W, 3), got {pixels.dtype} {pixels.shape}")
    if pixels.shape[0] * pixels.shape[1] > 16_000_000:
        # Very large images: zlib's fastest level with run-length matching (OpenCV's encoder);
        # Pillow's default takes ~15 s on 100 megapixels, this ~2.5 s, and photos come out smaller.
        import cv2

        bgr = pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
        ok, encoded = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1,
                                                 cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE])
        if not ok:
            raise ValueError(f"PNG encoding failed for an image of shape {pixels.shape}")
        return encoded.tobytes()
    buffer = _io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG")
    return buffer.getvalue()

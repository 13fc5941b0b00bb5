"""Uploaded photos: type by magic bytes, decoded as ``outcomes assess`` decodes files, stored
re-encoded without metadata under a name the server makes.

The stored file is a lossless PNG of exactly the pixels the pipeline reads from the
upload (EXIF orientation applied, ICC profile converted to sRGB), so an assessment made
by the server equals ``outcomes assess`` on the uploaded files; PNG carries no EXIF, GPS
or maker notes, and nothing of the upload but its pixels survives.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from outcomes.service.errors import Unprocessable, UnsupportedMediaType

_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


def sniff_image_type(head: bytes) -> str:
    """``JPEG``, ``PNG``, ``TIFF`` or ``WEBP`` from a file's first bytes, whatever its name says.

    Raises
    ------
    UnsupportedMediaType
        Anything else (HTML renamed ``.jpg``, SVG, PDF, HEIC, an empty file).
    """
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    raise UnsupportedMediaType("the file is not a JPEG, PNG, TIFF or WebP image (judged by its content, not its "
                               "name)", code="unsupported_image_type")


@dataclass(frozen=True)
class StoredPhoto:
    """A photo as the server keeps it."""

    stored_name: str
    sha256: str  # of the uploaded bytes
    width: int
    height: int
    captured_at: str | None


def capture_time(data: bytes) -> str | None:
    """EXIF DateTimeOriginal (or DateTime) as ``YYYY-MM-DDTHH:MM:SS`` (camera local time), if present."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            exif = im.getexif()
            value = exif.get_ifd(0x8769).get(0x9003) or exif.get(0x0132)
    except Exception:  # noqa: BLE001 - metadata is optional; the decoder reports a broken image
        return None
    if not isinstance(value, str) or len(value) < 19:
        return None
    date, _, clock = value.strip().partition(" ")
    text = f"{date.replace(':', '-')}T{clock[:8]}"
    return text if len(text) == 19 and text[4] == "-" and text[13] == ":" else None


# Decoding is bounded in memory per photo by the pixel cap, not in count: at most this many
# photos are decoded at once (one 64-megapixel photo takes ~0.7 GB while it is converted).
_DECODING = threading.BoundedSemaphore(max(1, min(4, os.cpu_count() or 1)))
# Pillow modes that can only be greyscale (refused before decoding: they would be converted
# to float arrays first, and the pipeline refuses greyscale anyway).
GREYSCALE_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})


def _refuse_greyscale_header(data: bytes) -> None:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            mode = im.mode
    except Exception:  # noqa: BLE001 - the decoder reports unreadable files with their reason
        return
    if mode in GREYSCALE_MODES:
        raise Unprocessable(f"the uploaded file is a greyscale image (mode {mode}): skin tone, skin detection and "
                            "the PIH check need colour; upload the colour original", code="image_greyscale")


def png_for_storage(pixels: np.ndarray) -> bytes:
    """Lossless PNG with no metadata (OpenCV writes no text, EXIF or ICC chunks)."""
    import cv2

    ok, buffer = cv2.imencode(".png", np.ascontiguousarray(pixels[:, :, ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buffer.tobytes()


def store_upload(data: bytes, photos_dir: Path, max_pixels: int) -> StoredPhoto:
    """Check, decode, re-encode and store one uploaded photo.

    Raises
    ------
    UnsupportedMediaType
        Not an image of an accepted type (by magic bytes).
    ImageTooLargeError
        More than ``max_pixels`` pixels (checked from the header, before decoding).
    Unprocessable
        Corrupt, or not a colour photo.
    """
    from outcomes.config import InputConfig
    from outcomes.errors import ImageTooLargeError, InputImageError
    from outcomes.io import decode_image

    sniff_image_type(data[:16])
    _refuse_greyscale_header(data)
    shown = "the uploaded file"
    with _DECODING:
        try:
            pixels = decode_image(data, shown, InputConfig(max_pixels=max_pixels, max_file_bytes=max(len(data), 1)))
        except ImageTooLargeError:
            raise
        except InputImageError as exc:
            raise Unprocessable(str(exc), code=exc.code) from None
        _require_colour(pixels)
        encoded = png_for_storage(pixels)
    stored_name = f"{secrets.token_hex(16)}.png"
    photos_dir.mkdir(parents=True, exist_ok=True)
    path = photos_dir / stored_name
    tmp = photos_dir / f".{stored_name}.tmp"
    tmp.write_bytes(encoded)
    tmp.replace(path)
    return StoredPhoto(stored_name=stored_name, sha256=hashlib.sha256(data).hexdigest(),
                       width=int(pixels.shape[1]), height=int(pixels.shape[0]), captured_at=capture_time(data))


def _require_colour(pixels: np.ndarray) -> None:
    from outcomes.errors import InputImageError
    from outcomes.face_analysis import require_colour
    from outcomes.types import Photo

    try:
        require_colour(Photo(pixels=pixels, source="the uploaded file", sha256=""))
    except InputImageError as exc:
        raise Unprocessable(str(exc), code=exc.code) from None


def load_stored(photos_dir: Path, stored_name: str, sha256: str,
                label: str = "the photo"):  # noqa: ANN201 - outcomes.types.Photo
    """The stored photo as a pipeline :class:`~outcomes.types.Photo`, carrying its upload's sha256;
    ``label`` names it in error messages ("the follow-up photo")."""
    import cv2

    from outcomes.types import Photo

    bgr = cv2.imread(str(photos_dir / stored_name), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(photos_dir / stored_name)
    return Photo(pixels=np.ascontiguousarray(bgr[:, :, ::-1]), source=label, sha256=sha256)

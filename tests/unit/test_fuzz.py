"""Property-based fuzzing of everything that parses outside input: the image reader (random bytes;
real JPEG, PNG, TIFF and WebP files with EXIF blocks, mutated), the manifest and the ratings
parsers. Each must end in the project's own typed error or a valid result, never another
exception, and write nothing.

``FUZZ_EXAMPLES`` examples per parser (2,000 by default; set ``OUTCOMES_FUZZ_EXAMPLES``).
"""

from __future__ import annotations

import io
import os
import string
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from outcomes.config import InputConfig
from outcomes.errors import InputImageError, ManifestError, RatingsError
from outcomes.io import decode_image, read_photo
from outcomes.manifest import read_manifest
from outcomes.ratings import read_ratings

FUZZ_EXAMPLES = int(os.environ.get("OUTCOMES_FUZZ_EXAMPLES", "2000"))
FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# Small limits, so that a mutated header that declares a huge image is refused quickly.
LIMITS = InputConfig(max_pixels=4_000_000, max_file_bytes=10_000_000)


def _seed_images() -> dict[str, bytes]:
    """Small real files of each format the reader takes, with EXIF where the format has it."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate
    exif[0x010F] = "fuzz camera"
    out = {}
    for fmt, kw in (("JPEG", {"exif": exif.tobytes(), "quality": 80}), ("PNG", {}), ("TIFF", {"exif": exif.tobytes()}),
                    ("WEBP", {"exif": exif.tobytes(), "quality": 80})):
        buffer = io.BytesIO()
        image.save(buffer, format=fmt, **kw)
        out[fmt] = buffer.getvalue()
    buffer = io.BytesIO()
    Image.fromarray(pixels[..., 0]).save(buffer, format="PNG")  # greyscale
    out["PNG-L"] = buffer.getvalue()
    return out


SEEDS = _seed_images()


@st.composite
def mutated_image(draw) -> bytes:
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(("flip", "set", "truncate", "insert", "delete", "header")))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set":
            data[at] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 64))]
        else:  # the header and EXIF block live in the first bytes
            data[min(at, 200):min(at, 200) + 4] = draw(st.binary(min_size=4, max_size=4))
        if not data:
            break
    return bytes(data)


def _check_decoded(pixels: np.ndarray) -> None:
    assert pixels.ndim == 3 and pixels.shape[2] == 3 and pixels.dtype == np.uint8
    assert pixels.shape[0] * pixels.shape[1] <= LIMITS.max_pixels


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes_are_an_input_image_error_or_an_image(data):
    try:
        _check_decoded(decode_image(data, "fuzz", LIMITS))
    except InputImageError:
        pass


@FUZZ
@given(mutated_image())
def test_mutated_real_images_are_an_input_image_error_or_an_image(data):
    try:
        _check_decoded(decode_image(data, "fuzz", LIMITS))
    except InputImageError:
        pass


@settings(max_examples=max(50, FUZZ_EXAMPLES // 10), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(mutated_image())
def test_reading_a_mutated_file_writes_nothing(tmp_path, data):
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    path = folder / "photo.jpg"
    path.write_bytes(data)
    try:
        _check_decoded(read_photo(path, LIMITS).pixels)
    except InputImageError:
        pass
    assert os.listdir(folder) == ["photo.jpg"] and path.read_bytes() == data


MANIFEST_COLUMNS = ("subject_id", "visit", "image", "visit_day", "view", "fitzpatrick", "subjet_id", "")
RATINGS_COLUMNS = ("subject_id", "before", "after", "gais", "rater_id", "grade", "")
CELLS = st.one_of(
    st.sampled_from(("S1", "S2", "baseline", "day90", "0", "90", "-3", "1e9", "nan", "frontal", "IV", "VII", "iv",
                     "a.jpg", "b.jpg", "missing.jpg", "../a.jpg", "", " ", "1", "3", "5", "6", "Improved",
                     "Much improved", "worse", "r1", "\u00e9t\u00e9", "\x00", '"', "a,b", "\n")),
    st.text(alphabet=string.printable + "\u00e9\u2014\ufeff", max_size=12),
)


@st.composite
def csv_text(draw, columns: tuple[str, ...]) -> bytes:
    header = draw(st.lists(st.sampled_from(columns), min_size=0, max_size=8))
    rows = draw(st.lists(st.lists(CELLS, min_size=0, max_size=len(header) + 2), max_size=8))
    text = "\n".join([",".join(header), *(",".join(r) for r in rows)])
    encoding = draw(st.sampled_from(("utf-8", "utf-8-sig", "latin-1", "utf-16")))
    data = text.encode(encoding, errors="replace")
    if draw(st.booleans()):
        data += draw(st.binary(max_size=16))
    return data


@pytest.fixture(scope="module")
def table_folder():
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        Image.new("RGB", (8, 8)).save(folder / "a.jpg")
        Image.new("RGB", (8, 8)).save(folder / "b.jpg")
        yield folder


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(csv_text(MANIFEST_COLUMNS), st.sampled_from((None, "baseline", "day0")))
def test_manifests_are_a_manifest_error_or_a_manifest(table_folder, data, baseline):
    path = table_folder / "manifest.csv"
    path.write_bytes(data)
    try:
        manifest = read_manifest(path, baseline)
    except ManifestError as exc:
        assert str(exc).startswith(str(path)) and exc.code == "manifest_invalid"
    else:
        assert manifest.pairs and all(p.baseline.subject_id == p.subject_id for p in manifest.pairs)
    assert sorted(os.listdir(table_folder)) == ["a.jpg", "b.jpg", "manifest.csv"]


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(csv_text(RATINGS_COLUMNS))
def test_ratings_are_a_ratings_error_or_ratings(table_folder, data):
    path = table_folder / "ratings.csv"
    path.write_bytes(data)
    try:
        ratings = read_ratings(path)
    except RatingsError as exc:
        assert str(exc).startswith(str(path)) and exc.code == "ratings_invalid"
    else:
        assert all(1 <= r.grade <= 5 for r in ratings.rows)
    path.unlink()

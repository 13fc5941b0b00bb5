"""Wrinkle training folders: reading, scale normalisation and patch sampling.

A training folder (a site's own annotations, or :mod:`outcomes.training.synthetic` output)::

    DIR/images/NAME.jpg|.jpeg|.png|.tif|.tiff   face photos, RGB (any size)
    DIR/masks/NAME.png                          same size, non-zero = wrinkle pixel
    DIR/ignore/NAME.png                         optional, same size: non-zero = do not learn here
    DIR/index.csv                               optional: name, subject, split, ipd_px, group

``index.csv`` columns (all but ``name`` optional): ``subject`` (person id; splits never share
a person; default: NAME up to the first ``__``), ``split`` (``train``, ``val`` or ``test``;
default: about 15 % of subjects to val by a hash of the id, none to test), ``ipd_px``
(inter-pupil distance in that image; default: measured with the face landmarker), ``group``
(skin-tone or other group for the model card's per-group metrics). An ``ignore`` mask marks
pixels whose label is unknown (e.g. creases an annotator skipped); they count neither as
wrinkle nor as background in the loss and the metrics. Every image is resampled
so its inter-pupil distance is :data:`~outcomes.features.wrinkle_cnn.WORK_IPD`, the scale at
which the network runs.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from outcomes.errors import TrainingDataError
from outcomes.features.wrinkle_cnn import WORK_IPD, cnn_input

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff")
SPLITS = ("train", "val", "test")
IGNORE_LABEL = 2  # label value of pixels left out of the loss


@dataclass(frozen=True, eq=False)
class WrinkleSample:
    """One image and its mask at the network's working scale.

    Attributes
    ----------
    name, subject, split, group : str
    image : ndarray, shape (H, W, 3), uint8
    mask : ndarray, shape (H, W), bool
    ignore : ndarray, shape (H, W), bool, or None
        Pixels left out of the loss and the metrics (never where ``mask`` is True).
    source : Path
        The image file it came from.
    """

    name: str
    subject: str
    split: str
    group: str
    image: np.ndarray
    mask: np.ndarray
    source: Path
    ignore: np.ndarray | None = None


def spread_evenly(items: list, n: int) -> list:
    """At most ``n`` of ``items``, evenly spaced through the list (all of them when there are fewer)."""
    if len(items) <= n:
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, n).round().astype(int)]


def _default_split(subject: str, val_fraction: float = 0.15) -> str:
    h = int(hashlib.sha256(subject.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "val" if h < val_fraction else "train"


def _read_index(data_dir: Path) -> dict[str, dict[str, str]]:
    path = data_dir / "index.csv"
    if not path.is_file():
        return {}
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        if "name" not in (reader.fieldnames or []):
            raise TrainingDataError(f"{path}: needs a 'name' column, found {reader.fieldnames}")
        rows = {r["name"]: r for r in reader}
    for name, row in rows.items():
        if row.get("split") and row["split"] not in SPLITS:
            raise TrainingDataError(f"{path}: row {name!r} has split {row['split']!r}; expected one of {SPLITS}")
    return rows


def _read_rgb(path: Path) -> np.ndarray:
    raw = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if raw is None:
        raise TrainingDataError(f"{path}: not a readable image")
    return cv2.cvtColor(raw, cv2.COLOR_BGR2RGB)


def read_wrinkle_folder(data_dir: str | Path, measure_ipd: Callable[[np.ndarray], float] | None = None,
                        splits: tuple[str, ...] = SPLITS) -> list[WrinkleSample]:
    """Read a training folder (see the module docstring) at the working scale.

    Parameters
    ----------
    data_dir : path
    measure_ipd : callable, optional
        ``rgb -> inter-pupil distance px`` for images without ``ipd_px`` in ``index.csv``
        (e.g. a :class:`~outcomes.landmarks.FaceLandmarker` wrapper). Required only then.
    splits : tuple of str
        Which splits to load.

    Raises
    ------
    TrainingDataError
        No images, a missing or differently sized mask, an unreadable file, a subject in two
        splits, or a missing scale — each naming the file.
    """
    data_dir = Path(data_dir)
    images = sorted(p for p in (data_dir / "images").glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise TrainingDataError(f"{data_dir}: no images in {data_dir / 'images'} (expected {', '.join(IMAGE_SUFFIXES)})")
    index = _read_index(data_dir)
    samples, subject_split = [], {}
    for path in images:
        row = index.get(path.stem, {})
        subject = row.get("subject") or path.stem.split("__")[0]
        split = row.get("split") or _default_split(subject)
        if subject_split.setdefault(subject, split) != split:
            raise TrainingDataError(f"{data_dir / 'index.csv'}: subject {subject!r} is in both "
                                    f"{subject_split[subject]!r} and {split!r}; a person must stay in one split")
        if split not in splits:
            continue
        mask_path = data_dir / "masks" / f"{path.stem}.png"
        if not mask_path.is_file():
            raise TrainingDataError(f"{path}: no mask {mask_path}")
        rgb = _read_rgb(path)
        mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
        if mask is None or mask.shape != rgb.shape[:2]:
            found = "unreadable" if mask is None else f"{mask.shape[1]}×{mask.shape[0]}"
            raise TrainingDataError(f"{mask_path}: mask is {found}, image {path.name} is {rgb.shape[1]}×{rgb.shape[0]}")
        if row.get("ipd_px"):
            try:
                ipd = float(row["ipd_px"])
            except ValueError:
                raise TrainingDataError(f"{data_dir / 'index.csv'}: row {path.stem!r} ({path.name}) has ipd_px {row['ipd_px']!r}; "
                                        "expected a number") from None
        elif measure_ipd is not None:
            ipd = float(measure_ipd(rgb))
        else:
            raise TrainingDataError(f"{path}: no ipd_px in index.csv and no landmarker to measure it")
        if not np.isfinite(ipd) or ipd <= 0:
            raise TrainingDataError(f"{path}: inter-pupil distance must be positive, got {ipd}")
        scale = WORK_IPD / ipd
        size = (max(8, round(rgb.shape[1] * scale)), max(8, round(rgb.shape[0] * scale)))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        image = cv2.resize(rgb, size, interpolation=interp)
        label = cv2.resize((mask > 0).astype(np.float32), size, interpolation=interp) >= 0.5
        ignore = None
        ignore_path = data_dir / "ignore" / f"{path.stem}.png"
        if ignore_path.is_file():
            raw = cv2.imread(str(ignore_path), cv2.IMREAD_GRAYSCALE)
            if raw is None or raw.shape != rgb.shape[:2]:
                raise TrainingDataError(f"{ignore_path}: ignore mask must be a readable image the size of {path.name}")
            ignore = (cv2.resize((raw > 0).astype(np.float32), size, interpolation=interp) > 0) & ~label
        samples.append(WrinkleSample(path.stem, subject, split, row.get("group") or "all", image, label, path, ignore))
    return samples


class PatchSampler:
    """Random training patches, reproducible from ``(seed, epoch, index)``.

    Each item: a window of ``patch + 2 * context`` px centred on a wrinkle pixel (probability
    ``positive_fraction``) or anywhere (images drawn uniformly, or with ``balance_groups`` with
    weight 1/sqrt(size of their group)), augmented, turned into network input, and cropped to
    the central ``patch`` px (the context keeps the input's local-mean filter and the
    geometric augmentation free of border effects). Returns ``(x, y)`` float32 arrays of
    shapes (3, patch, patch) and (1, patch, patch); ``y`` is 1 on wrinkles, 0 elsewhere and
    :data:`IGNORE_LABEL` where the sample's ignore mask says the label is unknown.
    """

    def __init__(self, samples: list[WrinkleSample], *, patch: int, context: int, positive_fraction: float,
                 length: int, seed: int, augment: Callable | None = None, balance_groups: bool = False) -> None:
        if not samples:
            raise TrainingDataError("no training images in the train split")
        self.samples, self.patch, self.context = samples, patch, context
        self.positive_fraction, self.length, self.seed, self.augment = positive_fraction, length, seed, augment
        self.epoch = 0
        self._positives = [np.flatnonzero(s.mask) for s in samples]
        groups = [s.group for s in samples]
        # 1/sqrt(group size) per image: small groups are drawn more often, without one person
        # of a one-person group becoming a fifth of all patches
        weights = np.array([groups.count(g) ** -0.5 for g in groups]) if balance_groups else np.ones(len(samples))
        self._cumulative = np.cumsum(weights / weights.sum())

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, self.epoch, i])
        k = min(int(np.searchsorted(self._cumulative, rng.uniform(), side="right")), len(self.samples) - 1)
        sample, pos = self.samples[k], self._positives[k]
        h, w = sample.mask.shape
        if len(pos) and rng.uniform() < self.positive_fraction:
            cy, cx = divmod(int(pos[rng.integers(len(pos))]), w)
        else:
            cy, cx = int(rng.integers(h)), int(rng.integers(w))
        half = self.patch // 2 + self.context
        pad = ((half, half), (half, half))
        y0, x0 = cy, cx  # window top-left in the padded frame
        image = np.pad(sample.image, (*pad, (0, 0)), mode="reflect")[y0:y0 + 2 * half, x0:x0 + 2 * half]
        # Mirror the labels as the image is mirrored: a reflected line is still a line.
        labels = sample.mask.astype(np.uint8)
        if sample.ignore is not None:
            labels[sample.ignore] = IGNORE_LABEL
        mask = np.pad(labels, pad, mode="reflect")[y0:y0 + 2 * half, x0:x0 + 2 * half]
        if self.augment is not None:
            out = self.augment(image=image, mask=mask, seed=int(rng.integers(2**31)))
            image, mask = out["image"], out["mask"]
        c = self.context
        x = cnn_input(np.ascontiguousarray(image))[:, c:c + self.patch, c:c + self.patch]
        y = mask[None, c:c + self.patch, c:c + self.patch].astype(np.float32)
        return np.ascontiguousarray(x), np.ascontiguousarray(y)

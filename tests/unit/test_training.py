"""Wrinkle CNN training: folder reading, patch sampling, identity splits, config, and a tiny end-to-end run."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import io
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from outcomes.errors import ConfigError, TrainingDataError
from outcomes.features.wrinkle_cnn import WORK_IPD
from outcomes.features.wrinkle_model import load_wrinkle_cnn
from outcomes.io import file_sha256
from outcomes.training.averaging import recompute_batch_norm, running_average
from outcomes.training.config import TrainWrinklesConfig, load_train_config
from outcomes.training.data import PatchSampler, WrinkleSample, read_wrinkle_folder
from outcomes.training.metrics import counts, scores
from outcomes.training.synthetic import split_identities
from outcomes.training.trainer import train_wrinkles
from outcomes.training.unet import WrinkleUNet
from outcomes.training.weights import read_wrinkle_unet

REPO = Path(__file__).resolve().parents[2]
SIZE = 96
N_IMAGES = 8
N_TRAIN = 6


def skin_texture(rng: np.random.Generator, size: int = SIZE) -> np.ndarray:
    """Skin-coloured noise texture, (size, size, 3) uint8."""
    blotch = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), 4)
    blotch = 10 * blotch / (np.abs(blotch).max() + 1e-6)
    rgb = np.array([200.0, 150.0, 130.0]) + blotch[..., None] + rng.normal(0, 3, (size, size, 3))
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def draw_lines(rgb: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """1-3 dark lines (30 % darker); returns the image and the 255-on-line mask."""
    h, w = rgb.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    for _ in range(int(rng.integers(1, 4))):
        p0 = (int(rng.integers(5, w - 5)), int(rng.integers(5, h - 5)))
        p1 = (int(rng.integers(5, w - 5)), int(rng.integers(5, h - 5)))
        if p0 == p1:
            p1 = (p0[0] + 10, p0[1])
        cv2.line(mask, p0, p1, 255, int(rng.integers(2, 4)))
    out = rgb.copy()
    on = mask > 0
    out[on] = np.rint(out[on] * 0.7).astype(np.uint8)
    return out, mask


def write_folder(root: Path, n: int = N_IMAGES, *, n_train: int = N_TRAIN, size: int = SIZE, ipd: str = "200",
                 index: bool = True, seed: int = 0, columns=("name", "subject", "split", "ipd_px", "group")) -> Path:
    """A tiny training folder: images/NAME.png, masks/NAME.png and index.csv (subjects s0.., one image each)."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rows = []
    for k in range(n):
        name = f"img{k}"
        rgb, mask = draw_lines(skin_texture(rng, size), rng)
        cv2.imwrite(str(root / "images" / f"{name}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(root / "masks" / f"{name}.png"), mask)
        row = {"name": name, "subject": f"s{k}", "split": "train" if k < n_train else "val", "ipd_px": ipd,
               "group": f"g{k % 2}"}
        rows.append({c: row[c] for c in columns})
    if index:
        write_index(root, rows)
    return root


def read_index(root: Path) -> list[dict]:
    with open(root / "index.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def write_index(root: Path, rows: list[dict]) -> None:
    with open(root / "index.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


# --------------------------------------------------------------------------- read_wrinkle_folder


def test_folder_is_read_at_the_working_scale(tmp_path):
    """Images and masks come back at WORK_IPD with their subject, split and group."""
    root = write_folder(tmp_path / "d", n=3, n_train=2, ipd=str(WORK_IPD / 2))
    samples = read_wrinkle_folder(root)
    assert [s.name for s in samples] == ["img0", "img1", "img2"]
    assert [s.split for s in samples] == ["train", "train", "val"]
    assert [s.subject for s in samples] == ["s0", "s1", "s2"] and samples[1].group == "g1"
    for s in samples:
        assert s.image.shape == (2 * SIZE, 2 * SIZE, 3) and s.image.dtype == np.uint8
        assert s.mask.shape == (2 * SIZE, 2 * SIZE) and s.mask.dtype == bool
        original = cv2.imread(str(root / "masks" / f"{s.name}.png"), cv2.IMREAD_GRAYSCALE) > 0
        # the doubled mask covers about four times the pixels, in the same places
        assert s.mask.sum() == pytest.approx(4 * original.sum(), rel=0.15)
        assert (cv2.resize(s.mask.astype(np.uint8), (SIZE, SIZE), interpolation=cv2.INTER_AREA) > 0)[original].mean() > 0.95
        assert s.source == root / "images" / f"{s.name}.png"
    # at ipd_px = WORK_IPD nothing is resampled
    same = read_wrinkle_folder(write_folder(tmp_path / "e", n=2, n_train=1, ipd=str(WORK_IPD)))
    original = cv2.imread(str(tmp_path / "e" / "masks" / "img0.png"), cv2.IMREAD_GRAYSCALE) > 0
    assert same[0].image.shape == (SIZE, SIZE, 3) and np.array_equal(same[0].mask, original)


def test_only_the_requested_splits_are_loaded(tmp_path):
    """splits= filters samples."""
    root = write_folder(tmp_path / "d", n=4, n_train=3)
    assert [s.name for s in read_wrinkle_folder(root, splits=("val",))] == ["img3"]


def test_missing_mask_names_the_image(tmp_path):
    """An image without a mask is a TrainingDataError naming the image."""
    root = write_folder(tmp_path / "d", n=3, n_train=2)
    (root / "masks" / "img1.png").unlink()
    with pytest.raises(TrainingDataError, match=r"img1\.png.*no mask"):
        read_wrinkle_folder(root)


def test_mask_of_another_size_is_refused(tmp_path):
    """A mask whose size differs from its image is a TrainingDataError naming both sizes."""
    root = write_folder(tmp_path / "d", n=3, n_train=2)
    cv2.imwrite(str(root / "masks" / "img2.png"), np.zeros((SIZE, SIZE + 4), np.uint8))
    with pytest.raises(TrainingDataError, match=rf"img2\.png.*{SIZE + 4}×{SIZE}.*{SIZE}×{SIZE}"):
        read_wrinkle_folder(root)


def test_unreadable_image_is_refused(tmp_path):
    """A corrupt image file is a TrainingDataError naming it."""
    root = write_folder(tmp_path / "d", n=2, n_train=1)
    (root / "images" / "img0.png").write_bytes(b"not a png")
    with pytest.raises(TrainingDataError, match=r"img0\.png.*not a readable image"):
        read_wrinkle_folder(root)


def test_subject_in_two_splits_is_refused(tmp_path):
    """One person in train and val is a TrainingDataError naming the subject."""
    root = write_folder(tmp_path / "d", n=4, n_train=3)
    rows = read_index(root)
    rows[3]["subject"] = "s0"
    write_index(root, rows)
    with pytest.raises(TrainingDataError, match=r"'s0'.*both"):
        read_wrinkle_folder(root)


def test_subject_defaults_to_the_name_prefix(tmp_path):
    """Without a subject column the person is NAME up to "__", and two variants of one person share a split."""
    root = tmp_path / "d"
    write_folder(root, n=3, n_train=3, columns=("name", "split", "ipd_px"))
    for k, new in enumerate(["p1__v0", "p1__v1", "p2__v0"]):
        for sub in ("images", "masks"):
            (root / sub / f"img{k}.png").rename(root / sub / f"{new}.png")
    write_index(root, [{"name": n, "split": s, "ipd_px": "200"}
                       for n, s in [("p1__v0", "train"), ("p1__v1", "val"), ("p2__v0", "train")]])
    with pytest.raises(TrainingDataError, match="'p1'"):
        read_wrinkle_folder(root)
    write_index(root, [{"name": n, "ipd_px": "200"} for n in ("p1__v0", "p1__v1", "p2__v0")])
    samples = read_wrinkle_folder(root)
    assert [s.subject for s in samples] == ["p1", "p1", "p2"]
    assert samples[0].split == samples[1].split and all(s.split in ("train", "val") for s in samples)
    assert all(s.group == "all" for s in samples)


def test_bad_split_value_is_refused(tmp_path):
    """A split other than train/val/test is a TrainingDataError naming the row."""
    root = write_folder(tmp_path / "d", n=3, n_train=2)
    rows = read_index(root)
    rows[1]["split"] = "training"
    write_index(root, rows)
    with pytest.raises(TrainingDataError, match=r"'img1'.*'training'"):
        read_wrinkle_folder(root)


def test_index_without_name_column_is_refused(tmp_path):
    """index.csv must have a name column."""
    root = write_folder(tmp_path / "d", n=2, n_train=1, columns=("subject", "split", "ipd_px"))
    with pytest.raises(TrainingDataError, match="'name' column"):
        read_wrinkle_folder(root)


def test_empty_folder_is_refused(tmp_path):
    """A folder without images (or with only other files) is a TrainingDataError."""
    with pytest.raises(TrainingDataError, match="no images"):
        read_wrinkle_folder(tmp_path)
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "notes.txt").write_text("x")
    with pytest.raises(TrainingDataError, match="no images"):
        read_wrinkle_folder(tmp_path)


def test_missing_scale_without_landmarker_is_refused(tmp_path):
    """No ipd_px in index.csv and no measure_ipd is a TrainingDataError naming the image."""
    root = write_folder(tmp_path / "d", n=2, n_train=1, columns=("name", "subject", "split"))
    with pytest.raises(TrainingDataError, match=r"img0\.png.*ipd_px"):
        read_wrinkle_folder(root)
    root = write_folder(tmp_path / "e", n=2, n_train=1, ipd="")
    with pytest.raises(TrainingDataError, match=r"img0\.png.*ipd_px"):
        read_wrinkle_folder(root)
    root = write_folder(tmp_path / "f", n=2, n_train=1, index=False)
    with pytest.raises(TrainingDataError, match="ipd_px"):
        read_wrinkle_folder(root)


@pytest.mark.parametrize("ipd", ["0", "-3", "nan", "inf"])
def test_nonpositive_scale_is_refused(tmp_path, ipd):
    """A zero, negative or non-finite ipd_px is a TrainingDataError."""
    root = write_folder(tmp_path / "d", n=2, n_train=1, ipd=ipd)
    with pytest.raises(TrainingDataError, match="inter-pupil distance"):
        read_wrinkle_folder(root)


def test_non_numeric_scale_is_a_training_data_error(tmp_path):
    """A non-numeric ipd_px is a TrainingDataError naming the image, like every other folder problem."""
    root = write_folder(tmp_path / "d", n=2, n_train=1, ipd="abc")
    with pytest.raises(TrainingDataError, match=r"img0\.png"):
        read_wrinkle_folder(root)


def test_measure_ipd_is_used_when_the_index_has_no_scale(tmp_path):
    """measure_ipd is called with each image lacking ipd_px, and its answer sets the scale."""
    root = write_folder(tmp_path / "d", n=3, n_train=2, ipd="")
    rows = read_index(root)
    rows[2]["ipd_px"] = "200"  # this one has a scale; it must not be measured
    write_index(root, rows)
    seen = []

    def measure(rgb: np.ndarray) -> float:
        seen.append(rgb.shape)
        assert rgb.dtype == np.uint8
        return 100.0

    samples = read_wrinkle_folder(root, measure_ipd=measure)
    assert seen == [(SIZE, SIZE, 3)] * 2
    assert [s.image.shape[:2] for s in samples] == [(2 * SIZE, 2 * SIZE)] * 2 + [(SIZE, SIZE)]


def test_rgb_channel_order_is_kept(tmp_path):
    """Images come back RGB (not OpenCV's BGR)."""
    root = write_folder(tmp_path / "d", n=2, n_train=1)
    rgb = np.zeros((SIZE, SIZE, 3), np.uint8)
    rgb[..., 0] = 220  # red
    cv2.imwrite(str(root / "images" / "img0.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    sample = read_wrinkle_folder(root)[0]
    assert sample.image[..., 0].min() == 220 and sample.image[..., 2].max() == 0


# --------------------------------------------------------------------------- PatchSampler


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> list[WrinkleSample]:
    return read_wrinkle_folder(write_folder(tmp_path_factory.mktemp("patches") / "d"), splits=("train",))


def test_patch_shapes_and_values(samples):
    """Items are (3, p, p) float32 input and (1, p, p) float32 labels in {0, 1}."""
    sampler = PatchSampler(samples, patch=32, context=16, positive_fraction=0.5, length=10, seed=0)
    assert len(sampler) == 10
    for i in range(10):
        x, y = sampler[i]
        assert x.shape == (3, 32, 32) and x.dtype == np.float32 and np.isfinite(x).all()
        assert y.shape == (1, 32, 32) and y.dtype == np.float32
        assert set(np.unique(y)) <= {0.0, 1.0}


def test_patches_are_reproducible_from_seed_epoch_and_index(samples):
    """The same (seed, epoch, index) gives identical arrays; another epoch or seed gives another patch."""
    from outcomes.training.augment import wrinkle_augmentation

    for augment in (None, wrinkle_augmentation()):
        a = PatchSampler(samples, patch=32, context=16, positive_fraction=0.5, length=8, seed=3, augment=augment)
        b = PatchSampler(samples, patch=32, context=16, positive_fraction=0.5, length=8, seed=3, augment=augment)
        a.epoch = b.epoch = 2
        for i in (0, 5):
            xa, ya = a[i]
            xb, yb = b[i]
            assert np.array_equal(xa, xb) and np.array_equal(ya, yb)
            assert np.array_equal(a[i][0], xa)  # asking twice gives the same again
        x_before = a[0][0]
        a.epoch = 3
        assert not np.array_equal(a[0][0], x_before)
        other = PatchSampler(samples, patch=32, context=16, positive_fraction=0.5, length=8, seed=4, augment=augment)
        other.epoch = 2
        assert not np.array_equal(other[0][0], x_before)
        assert not np.array_equal(a[1][0], a[2][0])


def test_positive_patches_are_centred_on_a_wrinkle(samples):
    """With positive_fraction 1 every patch's centre pixel is a wrinkle pixel (no augmentation)."""
    sampler = PatchSampler(samples, patch=32, context=16, positive_fraction=1.0, length=40, seed=1)
    for i in range(40):
        _, y = sampler[i]
        assert y[0, 16, 16] == 1.0 and y.sum() >= 2


def test_negative_patches_are_anywhere(samples):
    """With positive_fraction 0 most patches miss the thin lines (they cover a few % of each image)."""
    sampler = PatchSampler(samples, patch=32, context=16, positive_fraction=0.0, length=40, seed=1)
    centre_hits = sum(sampler[i][1][0, 16, 16] for i in range(40))
    assert centre_hits < 20


def test_patch_input_matches_cnn_input_of_the_image(samples):
    """Without augmentation the patch input is cnn_input of the surrounding window, cropped (labels aligned)."""
    from outcomes.features.wrinkle_cnn import cnn_input

    sample = samples[0]
    sampler = PatchSampler([sample], patch=32, context=16, positive_fraction=1.0, length=30, seed=5)
    full_x = cnn_input(sample.image)
    matched = 0
    for i in range(30):
        x, y = sampler[i]
        # find the patch position from the label and input: search windows fully inside the image
        hits = [(r, c) for r in range(16, SIZE - 48) for c in range(16, SIZE - 48)
                if np.array_equal(sample.mask[r:r + 32, c:c + 32], y[0].astype(bool))
                and np.abs(full_x[:, r:r + 32, c:c + 32] - x).max() < 0.05]
        matched += bool(hits)
    assert matched >= 5  # interior windows (with 16 px context inside the image) match exactly


def test_border_padding_labels_mirrored_lines():
    """Near the border the label is padded like the image, so a mirrored line is labelled a wrinkle."""
    img = np.full((64, 64, 3), 180, np.uint8)
    mask = np.zeros((64, 64), bool)
    img[:, 2:5] = 90
    mask[:, 2:5] = True
    sample = WrinkleSample("a", "s", "train", "all", img, mask, Path("a.png"))
    sampler = PatchSampler([sample], patch=32, context=16, positive_fraction=0.0, length=100, seed=0)
    unlabeled_dark = 0
    for i in range(100):
        x, y = sampler[i]
        unlabeled_dark += int(((x.mean(axis=0) < -1.0) & (y[0] == 0)).sum())
    assert unlabeled_dark == 0


def _with_ignore(root: Path, name: str = "img0") -> np.ndarray:
    """Write an ignore mask over the left half of ``name``; returns it (bool, image size)."""
    (root / "ignore").mkdir(exist_ok=True)
    mask = cv2.imread(str(root / "masks" / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
    ignore = np.zeros(mask.shape, bool)
    ignore[:, : mask.shape[1] // 2] = True
    cv2.imwrite(str(root / "ignore" / f"{name}.png"), ignore.astype(np.uint8) * 255)
    return ignore


def test_ignore_masks_are_read_and_never_cover_a_wrinkle(tmp_path):
    """ignore/NAME.png marks unknown labels; a labelled wrinkle pixel is never ignored."""
    root = write_folder(tmp_path / "d", n=2, n_train=1)
    written = _with_ignore(root)
    first, second = read_wrinkle_folder(root)
    assert second.ignore is None
    assert np.array_equal(first.ignore, written & ~first.mask)
    assert not (first.ignore & first.mask).any() and (first.mask & written).any()


def test_ignore_mask_of_another_size_is_refused(tmp_path):
    """An ignore mask that does not match its image is named in the error."""
    root = write_folder(tmp_path / "d", n=2, n_train=1)
    (root / "ignore").mkdir()
    cv2.imwrite(str(root / "ignore" / "img0.png"), np.zeros((10, 10), np.uint8))
    with pytest.raises(TrainingDataError, match=r"ignore.*img0\.png"):
        read_wrinkle_folder(root)


def test_ignored_pixels_get_the_ignore_label_in_patches(tmp_path):
    """Patches carry IGNORE_LABEL where the label is unknown, 1 on wrinkles, 0 elsewhere."""
    from outcomes.training.data import IGNORE_LABEL

    root = write_folder(tmp_path / "d", n=2, n_train=1)
    _with_ignore(root)
    sample = read_wrinkle_folder(root)[0]
    sampler = PatchSampler([sample], patch=SIZE, context=16, positive_fraction=0.0, length=1, seed=0)
    seen = set()
    for i in range(20):
        _, y = sampler[i]
        seen |= set(np.unique(y).tolist())
    assert seen == {0.0, 1.0, float(IGNORE_LABEL)}


def test_loss_and_metrics_leave_ignored_pixels_out(tmp_path):
    """Changing the prediction on ignored pixels changes neither the loss nor the scores."""
    import torch

    from outcomes.training.data import IGNORE_LABEL
    from outcomes.training.metrics import evaluate
    from outcomes.training.trainer import _loss

    labels = torch.zeros(1, 1, 8, 8)
    labels[0, 0, 2, :] = 1
    labels[0, 0, :, 6:] = IGNORE_LABEL
    logits = torch.full((1, 1, 8, 8), -3.0)
    changed = logits.clone()
    changed[0, 0, :, 6:] = 5.0
    assert float(_loss(logits, labels, 1.0)) == pytest.approx(float(_loss(changed, labels, 1.0)))
    assert float(_loss(changed, labels, 1.0)) < float(_loss(changed, torch.where(labels == IGNORE_LABEL, 0, labels), 1.0))

    torch.manual_seed(0)
    model = WrinkleUNet((4, 8)).eval()
    image = np.full((32, 32, 3), 128, np.uint8)
    mask = np.zeros((32, 32), bool)
    everywhere = np.ones((32, 32), bool)
    plain = WrinkleSample("a", "s", "val", "g", image, mask, Path("a.png"))
    ignored = WrinkleSample("a", "s", "val", "g", image, mask, Path("a.png"), ignore=everywhere)
    # with everything ignored there is nothing to get wrong: perfect scores at any threshold
    low = (0.0001,)
    assert evaluate(model, [ignored], thresholds=low)["by_threshold"]["0.0001"]["precision"] == 1.0
    assert evaluate(model, [plain], thresholds=low)["by_threshold"]["0.0001"]["precision"] == 0.0


def test_sampler_needs_training_images():
    """An empty train split is a TrainingDataError."""
    with pytest.raises(TrainingDataError):
        PatchSampler([], patch=32, context=16, positive_fraction=0.5, length=4, seed=0)


# --------------------------------------------------------------------------- split_identities


def identities() -> dict[str, str]:
    groups = {"white": 20, "black": 9, "east_asian": 4, "west_asian": 3, "mixed": 2, "solo": 1}
    return {f"{g}{k:02d}": g for g, n in groups.items() for k in range(n)}


def test_every_identity_gets_exactly_one_split():
    """Each identity is assigned once, to train, val or test."""
    ids = identities()
    split = split_identities(ids, seed=0)
    assert set(split) == set(ids)
    assert set(split.values()) <= {"train", "val", "test"}


def test_every_group_of_two_or_more_has_a_test_member():
    """Groups with >= 2 people have a test person, groups with >= 4 a val person; sizes follow the fractions."""
    ids = identities()
    for seed in range(3):
        split = split_identities(ids, seed)
        for group in set(ids.values()):
            members = [i for i, g in ids.items() if g == group]
            got = [split[i] for i in members]
            n = len(members)
            if n >= 2:
                assert "test" in got and "train" in got
                assert got.count("test") == max(1, round(0.25 * n))
            else:
                assert got == ["train"]
            if n >= 4:
                assert got.count("val") == max(1, round(0.12 * n))
            else:
                assert "val" not in got


def test_split_is_deterministic_for_a_seed():
    """The same seed gives the same split, independent of dict order; another seed gives another."""
    ids = identities()
    a = split_identities(ids, seed=7)
    b = split_identities(dict(reversed(list(ids.items()))), seed=7)
    assert a == b
    assert any(split_identities(ids, seed=s) != a for s in (8, 9, 10))


# --------------------------------------------------------------------------- TrainWrinklesConfig


def test_train_config_reads_yaml(tmp_path):
    """A YAML file overrides the defaults; lists become tuples; the hash follows the values."""
    path = tmp_path / "t.yaml"
    path.write_text("widths: [4, 8]\npatch: 32\ncontext: 16\nepochs: 2\n")
    cfg = load_train_config(path)
    assert cfg.widths == (4, 8) and cfg.patch == 32 and cfg.epochs == 2 and cfg.batch_size == 16
    assert load_train_config(None) == TrainWrinklesConfig()
    assert cfg.sha256() == TrainWrinklesConfig(widths=(4, 8), patch=32, context=16, epochs=2).sha256()
    assert cfg.sha256() != TrainWrinklesConfig(widths=(4, 8), patch=32, context=16, epochs=3).sha256()


@pytest.mark.parametrize(("config", "card"), [("wrinkles.yaml", "../outcomes/models/wrinkle_unet.card.json"),
                                             ("wrinkles_visible.yaml", "visible/wrinkle_unet.card.json"),
                                             ("wrinkles_visible_swa.yaml", "visible_swa/wrinkle_unet.card.json"),
                                             ("wrinkles_visible_swa2.yaml", "visible_swa2/wrinkle_unet.card.json"),
                                             ("wrinkles_visible_swa3.yaml", "visible_swa3/wrinkle_unet.card.json"),
                                             ("wrinkles_visible_swa4.yaml", "visible_swa4/wrinkle_unet.card.json")])
def test_shipped_training_configs_are_those_of_the_shipped_models(config, card):
    """Each configs/train file loads and is, by its hash, the one its model in models/ was trained with."""
    cfg = load_train_config(REPO / "configs" / "train" / config)
    assert cfg.patch % 2 ** (len(cfg.widths) - 1) == 0
    assert cfg.sha256() == json.loads((REPO / "models" / card).read_text())["training"]["config_sha256"]


@pytest.mark.parametrize(("text", "match"), [
    ("epoch: 3\n", "unknown key"),
    ("widths: [8]\n", "widths"),
    ("patch: 100\n", "patch"),  # default widths have 4 levels: stride 8
    ("widths: [4, 8]\ncontext: 15\n", "context"),
    ("batch_size: 0\n", "batch_size"),
    ("positive_fraction: 1.5\n", "positive_fraction"),
    ("threshold: 1\n", "threshold"),
    ("device: tpu\n", "device"),
    ("epochs: 2.5\n", "epochs"),
    ("augment: maybe\n", "augment"),
    ("widths: [4, 8\n", "cannot read"),
])
def test_train_config_rejects_bad_yaml(tmp_path, text, match):
    """Unknown keys, strides that do not divide the patch and out-of-range values are ConfigErrors."""
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_train_config(path)


# --------------------------------------------------------------------------- metrics


def test_scores_from_counts():
    """Dice, IoU, precision and recall from pixel counts; empty masks score 1."""
    pred = np.array([[1, 1, 0, 0]], bool)
    truth = np.array([[1, 0, 1, 0]], bool)
    assert counts(pred, truth) == (1, 1, 1)
    assert scores(1, 1, 1) == pytest.approx({"dice": 0.5, "iou": 1 / 3, "precision": 0.5, "recall": 0.5})
    assert scores(0, 0, 0) == {"dice": 1.0, "iou": 1.0, "precision": 1.0, "recall": 1.0}
    assert scores(0, 3, 0)["precision"] == 0.0 and scores(0, 0, 2)["recall"] == 0.0
    with pytest.raises(ValueError):
        counts(pred, truth[:, :3])


# --------------------------------------------------------------------------- end to end


TINY_YAML = """\
widths: [4, 8]
patch: 32
context: 16
batch_size: 8
epochs: {epochs}
patches_per_epoch: 64
workers: 0
device: cpu
"""


@dataclass
class Run:
    rc: int
    out: str
    err: str
    seconds: float


def run_cli(*args: str) -> Run:
    from outcomes.cli import main

    out, err = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(args))
    return Run(rc, out.getvalue(), err.getvalue(), time.perf_counter() - t0)


@dataclass
class Trained:
    data: Path
    config: Path
    out: Path
    run: Run


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Trained:
    root = tmp_path_factory.mktemp("train")
    data = write_folder(root / "data")
    config = root / "train.yaml"
    config.write_text(TINY_YAML.format(epochs=3))
    out = root / "out"
    run = run_cli("train", "wrinkles", "--config", str(config), "--data", str(data), "--out", str(out))
    return Trained(data, config, out, run)


def card_of(out: Path) -> dict:
    return json.loads((out / "wrinkle_unet.card.json").read_text())


def test_training_writes_verified_weights_and_a_card(trained):
    """The run exits 0 and leaves weights whose sha256 is the card's, loadable with that sha."""
    assert trained.run.rc == 0, trained.run.err
    weights = trained.out / "wrinkle_unet.pt"
    assert weights.is_file() and (trained.out / "wrinkle_unet.card.json").is_file()
    assert (trained.out / "checkpoint.pt").is_file()
    card = card_of(trained.out)
    assert card["sha256"] == file_sha256(weights) and card["weights_file"] == "wrinkle_unet.pt"
    assert card["size_bytes"] == weights.stat().st_size
    model, metadata, _ = read_wrinkle_unet(weights, card["sha256"])
    assert model.widths == (4, 8)
    assert metadata["config_sha256"] == card["training"]["config_sha256"]
    assert str(weights) in trained.run.out and card["sha256"] in trained.run.out
    assert "epoch   3" in trained.run.err  # one log line per epoch


def test_model_card_describes_the_run(trained):
    """The card holds architecture, input contract, config hash, per-threshold val metrics and the history."""
    card = card_of(trained.out)
    cfg = TrainWrinklesConfig(widths=(4, 8), patch=32, context=16, batch_size=8, epochs=3, patches_per_epoch=64,
                              workers=0, device="cpu")
    assert card["architecture"]["widths"] == [4, 8] and card["architecture"]["in_channels"] == 3
    assert card["architecture"]["parameters"] == sum(p.numel() for p in WrinkleUNet((4, 8), 3).parameters())
    assert read_wrinkle_unet(trained.out / "wrinkle_unet.pt", card["sha256"])[0].widths == (4, 8)
    assert {"image", "scale", "preprocessing", "tiling"} <= set(card["input"])
    training = card["training"]
    assert training["config_sha256"] == cfg.sha256()
    assert training["config"]["widths"] == [4, 8] and training["config"]["epochs"] == 3
    assert training["images"] == {"train": N_TRAIN, "val": N_IMAGES - N_TRAIN}
    assert training["val_subjects"] == ["s6", "s7"] and training["test_subjects"] == []
    assert training["epochs_run"] == 3 and 1 <= training["best_epoch"] <= 3
    assert training["data_rendering"] is None  # a site's own folder: no rendering.json
    val = card["metrics"]["val"]
    assert "test" not in card["metrics"]
    assert val["n_images"] == N_IMAGES - N_TRAIN
    for t in ("0.5", "0.3", "0.7"):
        m = val["by_threshold"][t]
        assert set(m) == {"dice", "iou", "precision", "recall"}
        assert all(0.0 <= v <= 1.0 for v in m.values())
    assert set(val["by_group"]) == {"g0", "g1"}
    history = card["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert all({"loss", "dice", "iou", "precision", "recall"} <= set(h) for h in history)
    assert all(np.isfinite(h["loss"]) and h["loss"] > 0 for h in history)
    best = max(history, key=lambda h: h["dice"])
    assert history[training["best_epoch"] - 1]["dice"] == best["dice"]


def test_export_writes_float32_and_int8_onnx_with_int8_scores(trained):
    """Both ONNX files are written and carded; int8 ranges come from val images (never test); the card scores int8."""
    card = card_of(trained.out)
    onnx = card["onnx"]
    float_path, int8_path = trained.out / "wrinkle_unet.onnx", trained.out / "wrinkle_unet.int8.onnx"
    assert onnx["float32"] == {"file": float_path.name, "sha256": file_sha256(float_path)}
    int8 = onnx["int8"]
    assert int8["available"] and int8["file"] == int8_path.name and int8["sha256"] == file_sha256(int8_path)
    assert 1 <= len(int8["calibration_images"]) <= TrainWrinklesConfig().int8_calibration_images
    val_names = {p.stem for p in (trained.data / "images").iterdir()} - {f"img{i}" for i in range(N_TRAIN)}
    assert set(int8["calibration_images"]) <= val_names
    assert set(int8["metrics"]["val"]["by_threshold"]["0.5"]) == {"dice", "iou", "precision", "recall"}
    as_float = load_wrinkle_cnn(float_path, onnx["float32"]["sha256"], "cpu", "float32")
    as_int8 = load_wrinkle_cnn(int8_path, int8["sha256"], "cpu", "int8")
    assert as_float.metadata["source_weights_sha256"] == card["sha256"] == as_int8.metadata["source_weights_sha256"]
    assert as_float.metadata["config_sha256"] == card["training"]["config_sha256"]
    # the exported network is the trained one
    model = read_wrinkle_unet(trained.out / "wrinkle_unet.pt", card["sha256"])[0].eval()
    x = np.random.default_rng(0).normal(0, 1, (1, 3, 32, 48)).astype(np.float32)
    import torch

    with torch.no_grad():
        np.testing.assert_allclose(as_float(x), model(torch.from_numpy(x)).numpy(), atol=1e-4, rtol=1e-4)


def test_rerun_resumes_without_training_again(trained, tmp_path):
    """The same command on a finished run resumes, runs no epoch and re-exports the same model."""
    out = tmp_path / "out"
    shutil.copytree(trained.out, out)
    before = card_of(out)
    run = run_cli("train", "wrinkles", "--config", str(trained.config), "--data", str(trained.data), "--out", str(out))
    assert run.rc == 0, run.err
    assert "resuming after epoch 3" in run.err and "epoch   1" not in run.err
    after = card_of(out)
    assert after["history"] == before["history"] and after["training"]["epochs_run"] == 3
    assert after["metrics"] == before["metrics"] and after["training"]["best_epoch"] == before["training"]["best_epoch"]
    assert after["sha256"] == file_sha256(out / "wrinkle_unet.pt")


def test_changed_config_is_not_resumed_unless_asked_to_start_over(trained, tmp_path):
    """Another config on the same folder fails (exit 1, nothing overwritten); --no-resume retrains from scratch."""
    out = tmp_path / "out"
    shutil.copytree(trained.out, out)
    sha = file_sha256(out / "wrinkle_unet.pt")
    config = tmp_path / "two.yaml"
    config.write_text(TINY_YAML.format(epochs=2))
    args = ("train", "wrinkles", "--config", str(config), "--data", str(trained.data), "--out", str(out))
    refused = run_cli(*args)
    assert refused.rc == 1
    assert "different config" in refused.err and "--no-resume" in refused.err
    assert file_sha256(out / "wrinkle_unet.pt") == sha
    retrained = run_cli(*args, "--no-resume")
    assert retrained.rc == 0, retrained.err
    card = card_of(out)
    assert [h["epoch"] for h in card["history"]] == [1, 2]
    assert card["training"]["config"]["epochs"] == 2
    assert card["sha256"] == file_sha256(out / "wrinkle_unet.pt")


def test_changed_data_is_not_resumed(trained, tmp_path):
    """The same config on other data refuses the old checkpoint."""
    out = tmp_path / "out"
    shutil.copytree(trained.out, out)
    data = write_folder(tmp_path / "other", seed=1)
    run = run_cli("train", "wrinkles", "--config", str(trained.config), "--data", str(data), "--out", str(out))
    assert run.rc == 1 and "different config or data" in run.err


def test_corrupt_checkpoint_is_a_one_line_error(tmp_path):
    """A damaged checkpoint.pt in --out is reported (exit 1, naming it), not a traceback."""
    data = write_folder(tmp_path / "d", n=3, n_train=2)
    config = tmp_path / "t.yaml"
    config.write_text(TINY_YAML.format(epochs=1))
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "checkpoint.pt").write_bytes(b"garbage")
    run = run_cli("train", "wrinkles", "--config", str(config), "--data", str(data), "--out", str(tmp_path / "o"))
    assert run.rc == 1 and "checkpoint.pt" in run.err


def test_training_needs_train_and_val_images(tmp_path):
    """A folder without val subjects fails with a one-line TrainingDataError (exit 1) before training."""
    data = write_folder(tmp_path / "d", n=3, n_train=3)
    config = tmp_path / "t.yaml"
    config.write_text(TINY_YAML.format(epochs=1))
    run = run_cli("train", "wrinkles", "--config", str(config), "--data", str(data), "--out", str(tmp_path / "o"))
    assert run.rc == 1 and "need train and val" in run.err
    assert not (tmp_path / "o" / "wrinkle_unet.pt").exists()


def test_bad_training_config_is_a_cli_error(tmp_path):
    """An unknown key in the training YAML is reported (exit 1), naming the key."""
    data = write_folder(tmp_path / "d", n=2, n_train=1)
    config = tmp_path / "t.yaml"
    config.write_text("epoch: 3\n")
    run = run_cli("train", "wrinkles", "--config", str(config), "--data", str(data), "--out", str(tmp_path / "o"))
    assert run.rc == 1 and "epoch" in run.err and "unknown key" in run.err


# --------------------------------------------------------------------------- fine-tuning and weight averaging


def test_running_average_is_the_mean_of_the_states():
    """Float entries become the arithmetic mean of every state added; integer counters the latest."""
    import torch
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1), torch.nn.BatchNorm2d(2))
    states, average = [], None
    for k in range(3):
        with torch.no_grad():
            for p in net.parameters():
                p.fill_(float(k + 1))
        net[1].num_batches_tracked.fill_(10 * k)
        states.append({n: v.clone() for n, v in net.state_dict().items()})
        average = running_average(average, net, k)
    assert torch.allclose(average["0.weight"], torch.full_like(states[0]["0.weight"], 2.0))
    assert int(average["1.num_batches_tracked"]) == 20
    with pytest.raises(ValueError, match="earlier average"):
        running_average(None, net, 2)


def test_batch_norm_statistics_are_the_mean_over_the_batches():
    """Recomputed running mean/var are the plain means of the batches' statistics; no batches leave them."""
    import torch
    gen = torch.Generator().manual_seed(0)
    bn = torch.nn.Sequential(torch.nn.BatchNorm2d(3))
    batches = [torch.randn(4, 3, 8, 8, generator=gen) * (k + 1) + k for k in range(3)]
    n = recompute_batch_norm(bn, iter(batches), "cpu")
    assert n == 3 and not bn.training and bn[0].momentum == 0.1
    means = torch.stack([b.mean(dim=(0, 2, 3)) for b in batches]).mean(0)
    variances = torch.stack([b.transpose(0, 1).reshape(3, -1).var(dim=1) for b in batches]).mean(0)
    assert torch.allclose(bn[0].running_mean, means, atol=1e-5)
    assert torch.allclose(bn[0].running_var, variances, atol=1e-4)
    before = bn[0].running_mean.clone()
    assert recompute_batch_norm(bn, iter([]), "cpu") == 0
    assert torch.equal(bn[0].running_mean, before)


@pytest.mark.parametrize(("text", "match"), [
    ("init_weights: outcomes/models/wrinkle_unet.pt\n", "init_sha256"),
    ("epochs: 0\n", "epochs"),
    ("epochs: 0\nswa_epochs: 2\n", "epochs"),  # averaging alone needs starting weights
    ("swa_epochs: -1\n", "swa_epochs"),
    ("swa_learning_rate: 0\n", "swa_learning_rate"),
    ("init_sha256: 12\n", "expected text"),
])
def test_fine_tuning_settings_are_checked(tmp_path, text, match):
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_train_config(path)


def test_later_settings_change_the_hash_only_when_set():
    """Fine-tuning and averaging settings at their defaults leave the hash of older configs alone."""
    base = TrainWrinklesConfig()
    # the hash as it was computed before these settings existed
    older = {k: v for k, v in dataclasses.asdict(base).items() if k not in (
        "device", "workers", "int8_calibration_images", "init_weights", "init_sha256", "swa_epochs", "swa_learning_rate")}
    assert base.sha256() == hashlib.sha256(json.dumps(older, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert TrainWrinklesConfig(swa_epochs=3).sha256() != base.sha256()
    assert TrainWrinklesConfig(init_weights="a.pt", init_sha256="0" * 64).sha256() != base.sha256()


def fine_tune_yaml(trained: Trained, *, epochs: int, swa_epochs: int, sha: str | None = None) -> str:
    weights = trained.out / "wrinkle_unet.pt"
    return (TINY_YAML.format(epochs=epochs) + f"init_weights: {weights}\ninit_sha256: {sha or file_sha256(weights)}\n"
            f"swa_epochs: {swa_epochs}\n")


def test_fine_tuning_starts_from_the_given_weights_and_averages(trained, tmp_path):
    """Averaging alone: the starting weights are scored first, then 2 averaged epochs; the card says which
    weights were exported and why, and a rerun resumes without training."""
    config = tmp_path / "ft.yaml"
    config.write_text(fine_tune_yaml(trained, epochs=0, swa_epochs=2))
    args = ("train", "wrinkles", "--config", str(config), "--data", str(trained.data), "--out", str(tmp_path / "o"))
    run = run_cli(*args)
    assert run.rc == 0, run.err
    assert "starting weights wrinkle_unet.pt: val Dice" in run.err and "average of 2 epochs: val Dice" in run.err
    card = card_of(tmp_path / "o")
    selection = card["training"]["selection"]
    assert selection["starting_weights"]["sha256"] == card_of(trained.out)["sha256"]
    assert 0.0 <= selection["starting_weights"]["val_dice"] <= 1.0
    assert selection["averaging"]["epochs"] == 2 and 0.0 <= selection["averaging"]["val_dice"] <= 1.0
    assert [(h["epoch"], h.get("averaged")) for h in card["history"]] == [(1, True), (2, True)]
    beaten = selection["averaging"]["val_dice"] > selection["starting_weights"]["val_dice"]
    assert selection["exported"] == ("average" if beaten else "starting weights")
    assert ("exported the average of 2 averaged epochs" if beaten else "exported the starting weights") in run.out
    exported = torch_state(tmp_path / "o" / "wrinkle_unet.pt")
    start = torch_state(trained.out / "wrinkle_unet.pt")
    assert beaten != all(np.array_equal(exported[k], start[k]) for k in start)
    rerun = run_cli(*args)
    assert rerun.rc == 0 and "resuming after epoch 2" in rerun.err and "epoch   1" not in rerun.err
    assert card_of(tmp_path / "o")["training"]["selection"] == selection


def torch_state(path: Path) -> dict:
    import torch

    return {k: v.numpy() for k, v in torch.load(path, weights_only=True)["state_dict"].items()}


def test_averaging_follows_the_main_schedule(trained, tmp_path):
    """2 scheduled epochs then 2 averaged ones: four history rows, the last two marked averaged."""
    config = tmp_path / "t.yaml"
    config.write_text(TINY_YAML.format(epochs=2) + "swa_epochs: 2\n")
    run = run_cli("train", "wrinkles", "--config", str(config), "--data", str(trained.data), "--out", str(tmp_path / "o"))
    assert run.rc == 0, run.err
    card = card_of(tmp_path / "o")
    assert [h.get("averaged", False) for h in card["history"]] == [False, False, True, True]
    assert card["training"]["selection"]["exported"] in ("average", "best epoch")
    assert 1 <= card["training"]["best_epoch"] <= 2


class _Interrupted(Exception):
    pass


def test_a_run_interrupted_while_averaging_resumes_to_the_same_weights(trained, tmp_path):
    """Killed after the first of 2 averaged epochs was checkpointed, the same run resumes at the second and
    exports the weights an uninterrupted run does."""
    config = tmp_path / "t.yaml"
    config.write_text(fine_tune_yaml(trained, epochs=0, swa_epochs=2))
    cfg = load_train_config(config)

    def stop_at_second_epoch(line: str) -> None:
        if line.startswith("epoch   2"):
            raise _Interrupted

    with pytest.raises(_Interrupted):
        train_wrinkles(cfg, trained.data, tmp_path / "cut", progress=False, log=stop_at_second_epoch)
    lines: list[str] = []
    resumed = train_wrinkles(cfg, trained.data, tmp_path / "cut", progress=False, log=lines.append)
    assert lines[0].startswith("resuming after epoch 1") and not any(line.startswith("epoch   1") for line in lines)
    whole = train_wrinkles(cfg, trained.data, tmp_path / "whole", progress=False, log=lambda line: None)
    assert resumed.exported == whole.exported
    a, b = torch_state(resumed.weights), torch_state(whole.weights)
    assert all(np.allclose(a[k], b[k], atol=1e-6) for k in a)
    import torch

    # the averages themselves, whichever weights were exported
    cut, full = (torch.load(tmp_path / run / "checkpoint.pt", weights_only=True) for run in ("cut", "whole"))
    assert cut["swa_count"] == full["swa_count"] == 2
    assert all(torch.allclose(cut["swa_state"][k].float(), full["swa_state"][k].float(), atol=1e-6)
               for k in full["swa_state"])


def test_wrong_starting_weights_are_refused(trained, tmp_path):
    """A wrong checksum names the file and both checksums, other widths name both, a missing file names the
    path and the setting (exit 1 each, nothing trained)."""
    config = tmp_path / "ft.yaml"
    config.write_text(fine_tune_yaml(trained, epochs=1, swa_epochs=0, sha="ab" * 32))
    run = run_cli("train", "wrinkles", "--config", str(config), "--data", str(trained.data), "--out", str(tmp_path / "o"))
    assert run.rc == 1 and "wrinkle_unet.pt" in run.err and "ab" * 32 in run.err and "init_sha256" in run.err
    config.write_text(fine_tune_yaml(trained, epochs=1, swa_epochs=0).replace("widths: [4, 8]", "widths: [4, 16]"))
    run = run_cli("train", "wrinkles", "--config", str(config), "--data", str(trained.data), "--out", str(tmp_path / "p"))
    assert run.rc == 1 and "[4, 8]" in run.err and "[4, 16]" in run.err
    assert not (tmp_path / "p" / "wrinkle_unet.pt").exists()
    for missing in ("no/such/run", str(tmp_path / "absent")):
        config.write_text(fine_tune_yaml(trained, epochs=1, swa_epochs=0).replace(str(trained.out), missing))
        run = run_cli("train", "wrinkles", "--config", str(config), "--data", str(trained.data), "--out",
                      str(tmp_path / "q"))
        assert run.rc == 1 and f"{missing}/wrinkle_unet.pt" in run.err and "init_weights" in run.err


# --------------------------------------------------------------------------- import boundaries


def test_pipeline_does_not_import_training_code():
    """Importing the pipeline, the wrinkle fusion and the CLI loads neither albumentations nor outcomes.training."""
    code = ("import outcomes.pipeline, outcomes.features.wrinkle_fusion, outcomes.cli, sys; "
            "print('albumentations' in sys.modules, any(m.startswith('outcomes.training') for m in sys.modules), "
            "'torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    albumentations, training, torch_loaded = result.stdout.split()
    assert albumentations == "False" and training == "False"
    assert torch_loaded == "False"  # torch is imported only when a CNN is configured and loaded


# --------------------------------------------------------------------------- dark-skin augmentation, group balance


def test_darker_skin_keeps_the_relative_depth_of_a_line():
    """Darkening scales linear light: the image gets darker, a line keeps its fraction of light removed."""
    from outcomes.training.augment import _SRGB_TO_LINEAR, darker_skin

    img = np.full((4, 4, 3), (200, 160, 140), np.uint8)
    img[2] = np.rint(255 * (0.8 * _SRGB_TO_LINEAR[img[0, 0]]) ** (1 / 2.2)).astype(np.uint8)  # ~20 % darker row
    out = darker_skin(img, np.random.default_rng(3))
    assert (out < img).all()
    before = _SRGB_TO_LINEAR[img[2, 0]] / _SRGB_TO_LINEAR[img[0, 0]]
    after = _SRGB_TO_LINEAR[out[2, 0]] / _SRGB_TO_LINEAR[out[0, 0]]
    np.testing.assert_allclose(after, before, atol=0.06)
    assert np.array_equal(out, darker_skin(img, np.random.default_rng(3)))


def test_group_balance_draws_small_groups_more_often():
    """balance_groups draws each image with weight 1/sqrt(group size)."""
    image, mask = np.full((16, 16, 3), 128, np.uint8), np.zeros((16, 16), bool)
    samples = [WrinkleSample(f"i{k}", f"s{k}", "train", "small" if k == 0 else "big", image, mask, Path("x"))
               for k in range(10)]
    sampler = PatchSampler(samples, patch=8, context=8, positive_fraction=0.0, length=1, seed=0, balance_groups=True)
    assert sampler._cumulative[0] == pytest.approx(1 / (1 + 9 / 3))
    plain = PatchSampler(samples, patch=8, context=8, positive_fraction=0.0, length=1, seed=0)
    assert plain._cumulative[0] == pytest.approx(0.1)


def test_darker_skin_probability_is_validated(tmp_path):
    """darker_skin_probability must be a probability."""
    path = tmp_path / "t.yaml"
    path.write_text("darker_skin_probability: 1.5\n")
    with pytest.raises(ConfigError, match="darker_skin_probability"):
        load_train_config(path)

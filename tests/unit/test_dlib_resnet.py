"""The numpy runner of dlib's face-recognition ResNet gives dlib's own outputs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from outcomes.dlib_resnet import FaceResNet, read_face_resnet
from outcomes.errors import ModelError
from outcomes.identity import EMBEDDING_FILE, PACKAGE

dlib = pytest.importorskip("dlib")


@pytest.fixture(scope="module")
def network_path() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None:
        pytest.skip(f"{PACKAGE} is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "models" / EMBEDDING_FILE[0]


@pytest.fixture(scope="module")
def network(network_path) -> FaceResNet:
    return read_face_resnet(network_path.read_bytes())


def _face_like_chip(seed: int) -> np.ndarray:
    """Smooth shading with texture: activations of every sign reach every layer."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:150, 0:150] / 150.0
    base = 120 + 60 * np.sin(3 * x + rng.uniform(0, 6)) * np.cos(2 * y + rng.uniform(0, 6))
    chip = base[..., None] * rng.uniform(0.6, 1.2, 3) + rng.normal(0, 12, (150, 150, 3))
    return np.clip(chip, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_embedding_equals_dlibs_runner(network, network_path, seed):
    chip = _face_like_chip(seed)
    reference = np.asarray(dlib.face_recognition_model_v1(str(network_path)).compute_face_descriptor(chip))
    ours = network.embed(chip)
    assert ours.shape == (128,)
    assert np.abs(ours - reference).max() < 1e-5, np.abs(ours - reference).max()


def test_the_network_is_read_in_forward_order(network):
    kinds = [layer.kind for layer in network.layers]
    assert kinds[:5] == ["input", "conv", "affine", "relu", "maxpool"]
    assert kinds[-2:] == ["avgpool", "fc"]
    assert network.chip_size == (150, 150)
    first = network.layers[1].settings
    assert first["weights"].shape == (32, 3, 7, 7) and first["stride"] == (2, 2) and first["padding"] == (0, 0)
    assert not first["weights"].flags.writeable


def test_a_wrong_chip_is_refused_with_its_shape(network):
    with pytest.raises(ValueError, match=r"\(150, 150, 3\)"):
        network.embed(np.zeros((160, 160, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        network.embed(np.zeros((150, 150, 3), np.float32))


def test_bytes_that_are_not_the_network_are_refused(network_path):
    data = network_path.read_bytes()
    with pytest.raises(ModelError, match="layer counts|cut short"):
        read_face_resnet(data[: len(data) // 2])
    with pytest.raises(ModelError, match="layer counts"):
        read_face_resnet(b"\x00" * 1000)

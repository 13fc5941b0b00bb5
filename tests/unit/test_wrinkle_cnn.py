"""Wrinkle CNN: network shapes, input normalisation, tiled inference, weights files, ONNX export, probability maps."""

from __future__ import annotations

import functools
import hashlib
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from outcomes.errors import ModelError
from outcomes.features.wrinkle_cnn import cnn_input, predict_logits, wrinkle_probability
from outcomes.features.wrinkle_model import WrinkleCNN, load_wrinkle_cnn, pick_device
from outcomes.io import file_sha256
from outcomes.training.export import export_onnx
from outcomes.training.unet import TorchLogits, WrinkleUNet
from outcomes.training.weights import WEIGHTS_FORMAT, read_wrinkle_unet, save_wrinkle_weights


def tiny_model(seed: int = 0, widths=(4, 8)) -> WrinkleUNet:
    """A small randomly initialised U-Net in eval mode, with non-trivial batch-norm statistics."""
    torch.manual_seed(seed)
    model = WrinkleUNet(widths)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return model.eval()


def tiny_torch(seed: int = 0, widths=(4, 8)) -> TorchLogits:
    """The tiny torch network as the callable predict_logits runs."""
    return TorchLogits(tiny_model(seed, widths))


_ONNX_DIR = Path(tempfile.mkdtemp(prefix="tiny_wrinkle_onnx_"))


@functools.cache
def tiny_onnx(seed: int = 0, head_gain: float = 1.0) -> Path:
    """The tiny network exported to ONNX (once per seed), the head's weights scaled by ``head_gain``."""
    model = tiny_model(seed)
    with torch.no_grad():
        model.head.weight.mul_(head_gain)
        if head_gain != 1.0:
            model.head.bias.zero_()
    path = _ONNX_DIR / f"tiny_{seed}_{head_gain:g}.onnx"
    export_onnx(model, path, {"test": "tiny"})
    return path


def tiny_cnn(seed: int = 0, head_gain: float = 1.0) -> WrinkleCNN:
    """The tiny network as inference runs it: ONNX on onnxruntime."""
    return load_wrinkle_cnn(tiny_onnx(seed, head_gain), None, "cpu", "float32", threads=1)


class CountingNetwork:
    """Wraps a network and records the shape of every input it is called with."""

    def __init__(self, network: WrinkleCNN) -> None:
        self.network, self.stride, self.calls = network, network.stride, []

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.calls.append(tuple(x.shape))
        return self.network(x)


def srgb_to_lin(rgb: np.ndarray) -> np.ndarray:
    v = rgb.astype(np.float64) / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def lin_to_srgb(lin: np.ndarray) -> np.ndarray:
    lin = np.clip(lin, 0.0, 1.0)
    v = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)
    return np.clip(np.rint(v * 255.0), 0, 255).astype(np.uint8)


def textured_skin(shape=(96, 128), seed: int = 0) -> np.ndarray:
    """Skin-coloured mid-tone image with smooth blotches and fine noise."""
    rng = np.random.default_rng(seed)
    base = np.array([190.0, 140.0, 120.0])
    blotch = cv2.GaussianBlur(rng.normal(0, 1, shape).astype(np.float32), (0, 0), 6)
    blotch = 12 * blotch / (np.abs(blotch).max() + 1e-6)
    rgb = base + blotch[..., None] + rng.normal(0, 3, (*shape, 3))
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def darken_line(rgb: np.ndarray, p0, p1, factor: float = 0.7, thickness: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Multiply linear light by ``factor`` on a drawn line; return the image and the line mask."""
    mask = np.zeros(rgb.shape[:2], np.uint8)
    cv2.line(mask, p0, p1, 1, thickness)
    lin = srgb_to_lin(rgb)
    lin[mask.astype(bool)] *= factor
    return lin_to_srgb(lin), mask.astype(bool)


# --------------------------------------------------------------------------- WrinkleUNet


@pytest.mark.parametrize(("widths", "h", "w"), [((4, 8), 16, 22), ((4, 8, 8), 24, 32), ((2, 3, 4, 5), 8, 16)])
def test_unet_output_is_one_logit_per_pixel(widths, h, w):
    """Output is (N, 1, H, W) for any H, W that are multiples of the stride."""
    torch.manual_seed(0)
    model = WrinkleUNet(widths).eval()
    assert model.stride == 2 ** (len(widths) - 1)
    with torch.no_grad():
        out = model(torch.randn(2, 3, h, w))
    assert out.shape == (2, 1, h, w)
    assert torch.isfinite(out).all()


def test_unet_rejects_wrong_channels_and_sizes_with_the_expected_shape_in_the_message():
    """Wrong channel count or a size that is not a multiple of the stride is a ValueError naming both."""
    model = WrinkleUNet((4, 8, 8)).eval()  # stride 4
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\).*multiples of 4.*\(1, 1, 16, 16\)"):
        model(torch.zeros(1, 1, 16, 16))
    with pytest.raises(ValueError, match=r"multiples of 4.*\(1, 3, 18, 16\)"):
        model(torch.zeros(1, 3, 18, 16))
    with pytest.raises(ValueError, match=r"multiples of 4.*\(1, 3, 16, 14\)"):
        model(torch.zeros(1, 3, 16, 14))
    with pytest.raises(ValueError, match="expected"):
        model(torch.zeros(3, 16, 16))
    grey = WrinkleUNet((4, 8), in_channels=1).eval()
    assert grey(torch.zeros(1, 1, 8, 8)).shape == (1, 1, 8, 8)


@pytest.mark.parametrize("widths", [(), (8,), (8, 0), (4, -1, 8)])
def test_unet_widths_are_validated(widths):
    """Fewer than 2 levels or a non-positive width is refused."""
    with pytest.raises(ValueError, match="widths"):
        WrinkleUNet(widths)


def test_unet_arch_round_trips_through_its_constructor():
    """arch() lists exactly what rebuilds the same parameter shapes."""
    model = WrinkleUNet((3, 5, 7), in_channels=2)
    arch = model.arch()
    assert arch == {"name": "WrinkleUNet", "widths": [3, 5, 7], "in_channels": 2}
    again = WrinkleUNet(tuple(arch["widths"]), arch["in_channels"])
    assert {k: v.shape for k, v in again.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}


# --------------------------------------------------------------------------- cnn_input


def test_cnn_input_shape_and_dtype():
    """(H, W, 3) uint8 → (3, H, W) float32, finite."""
    x = cnn_input(textured_skin((40, 56)))
    assert x.shape == (3, 40, 56) and x.dtype == np.float32
    assert np.isfinite(x).all() and x.flags["C_CONTIGUOUS"]


@pytest.mark.parametrize("bad", [np.zeros((8, 8, 3), np.float32), np.zeros((8, 8), np.uint8),
                                 np.zeros((8, 8, 4), np.uint8), np.zeros((8, 8, 3), np.uint16)])
def test_cnn_input_rejects_other_images(bad):
    """Only (H, W, 3) uint8 is accepted."""
    with pytest.raises(ValueError, match="uint8"):
        cnn_input(bad)


def test_cnn_input_is_invariant_to_exposure_but_sees_a_dark_line():
    """Halving linear light barely changes the input; a line 30 % darker changes it far more."""
    rgb, line = darken_line(textured_skin(), (20, 30), (110, 60))
    half = lin_to_srgb(srgb_to_lin(rgb) * 0.5)
    x, x_half = cnn_input(rgb), cnn_input(half)
    diff = np.abs(x - x_half)
    # the line's signal: how far the line pixels sit below the surrounding skin, in input units
    signal = np.median(x[:, ~line]) - np.median(x[:, line])
    assert signal > 1.0  # 4 * -log(0.7) ≈ 1.43
    assert np.median(diff) < 0.05 * signal
    assert diff.mean() < 0.06 * signal
    assert abs(np.median(x) - np.median(x_half)) < 0.02 * signal
    # the line's own contrast survives the exposure change
    signal_half = np.median(x_half[:, ~line]) - np.median(x_half[:, line])
    assert signal_half == pytest.approx(signal, rel=0.1)


def test_cnn_input_removes_smooth_shading():
    """A smooth light fall-off across the image (×0.4 → ×1 in linear light) is removed by the local mean."""
    rgb, line = darken_line(textured_skin(), (20, 30), (110, 60))
    ramp = np.exp(np.linspace(np.log(0.4), 0.0, rgb.shape[1]))[None, :, None]
    shaded = lin_to_srgb(srgb_to_lin(rgb) * ramp)
    x, x_shaded = cnn_input(rgb), cnn_input(shaded)
    signal = np.median(x[:, ~line]) - np.median(x[:, line])
    inner = np.abs(x - x_shaded)[:, 16:-16, 16:-16]  # away from the borders, where the blur reflects
    assert inner.mean() < 0.05 * signal
    assert np.percentile(inner, 99) < 0.25 * signal


def test_cnn_input_keeps_hue():
    """A reddish and a greyish patch of equal luminance give different channel balances."""
    red = np.full((40, 40, 3), (200, 120, 120), np.uint8)
    grey = np.full((40, 40, 3), (140, 140, 140), np.uint8)
    xr, xg = cnn_input(red), cnn_input(grey)
    assert xr[0].mean() - xr[1].mean() > 1.0
    assert abs(xg[0].mean() - xg[1].mean()) < 1e-3


# --------------------------------------------------------------------------- predict_logits


def test_tiled_prediction_equals_the_whole_image_forward():
    """Tiles with a margin beyond the receptive field reproduce one forward pass over the padded image."""
    model = tiny_model(1)
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (3, 100, 130)).astype(np.float32)
    tile, margin = 64, 16
    core = tile - 2 * margin
    logits = predict_logits(TorchLogits(model), x, tile=tile, margin=margin)
    assert logits.shape == (100, 130) and logits.dtype == np.float32
    ny, nx = -(-100 // core), -(-130 // core)
    padded = np.pad(x, ((0, 0), (margin, ny * core - 100 + margin), (margin, nx * core - 130 + margin)), mode="reflect")
    with torch.no_grad():
        direct = model(torch.from_numpy(padded[None]))[0, 0].numpy()[margin:margin + 100, margin:margin + 130]
    np.testing.assert_allclose(logits, direct, atol=1e-5, rtol=0)
    # the tiles really are independent passes: a tile margin too small to cover the receptive field differs
    coarse = predict_logits(TorchLogits(model), x, tile=32, margin=4)
    assert np.abs(coarse - direct).max() > 1e-3


def test_tiles_outside_keep_are_skipped_and_hold_minus_20():
    """Tiles whose core has no kept pixel stay at -20; kept tiles hold the network's logits."""
    model = tiny_cnn(2)
    x = np.random.default_rng(1).normal(0, 1, (3, 100, 130)).astype(np.float32)
    keep = np.zeros((100, 130), bool)
    keep[40, 70] = True  # core 32: tile row 1 (32..63), tile column 2 (64..95)
    full = predict_logits(model, x, tile=64, margin=16)
    part = predict_logits(model, x, tile=64, margin=16, keep=keep)
    inside = np.zeros_like(keep)
    inside[32:64, 64:96] = True
    np.testing.assert_array_equal(part[~inside], -20.0)
    np.testing.assert_allclose(part[inside], full[inside], atol=1e-6)
    assert np.all(predict_logits(model, x, tile=64, margin=16, keep=np.zeros_like(keep)) == -20.0)


@pytest.mark.parametrize(("tile", "margin"), [(63, 16), (64, 15), (64, 32), (32, 16)])
def test_predict_logits_rejects_tiles_that_do_not_fit_the_stride(tile, margin):
    """tile and margin must be multiples of the stride with tile > 2 margin."""
    model = tiny_torch(0, widths=(4, 8, 8))  # stride 4
    with pytest.raises(ValueError, match="tile"):
        predict_logits(model, np.zeros((3, 40, 40), np.float32), tile=tile, margin=margin)


# --------------------------------------------------------------------------- weights files


def test_save_returns_the_file_sha256_and_read_reproduces_the_model(tmp_path):
    """save_wrinkle_weights returns the file's sha256; reading it gives the same outputs and metadata."""
    model = tiny_model(3)
    path = tmp_path / "sub" / "w.pt"
    sha = save_wrinkle_weights(model, path, {"best_epoch": 7})
    assert sha == hashlib.sha256(path.read_bytes()).hexdigest() == file_sha256(path)
    assert not list(path.parent.glob(".*tmp"))  # the temporary file was renamed away
    again, metadata, actual = read_wrinkle_unet(path, sha)
    assert actual == sha and metadata == {"best_epoch": 7} and again.widths == (4, 8)
    x = torch.randn(1, 3, 24, 40)
    with torch.no_grad():
        torch.testing.assert_close(again.eval()(x), model.eval()(x))
    # an upper-case expected checksum is the same checksum; None skips the check (fresh training output)
    assert read_wrinkle_unet(path, sha.upper())[2] == sha
    assert read_wrinkle_unet(path, None)[2] == sha


def test_onnx_export_runs_as_the_torch_network_and_carries_its_metadata(tmp_path):
    """The exported file gives the torch network's logits at any size that fits the stride; provenance is kept."""
    model = tiny_model(3)
    path = tmp_path / "w.onnx"
    sha = export_onnx(model, path, {"best_epoch": 7})
    assert sha == file_sha256(path) and not list(tmp_path.glob(".*tmp"))
    cnn = load_wrinkle_cnn(path, sha, "cpu", "float32")
    assert isinstance(cnn, WrinkleCNN) and cnn.sha256 == sha and cnn.path == path and cnn.device == "cpu"
    assert cnn.stride == 2 and cnn.precision == "float32" and cnn.metadata["best_epoch"] == "7"
    assert cnn.describe() == {"w.onnx": sha}
    for shape in ((1, 3, 24, 40), (2, 3, 64, 18)):
        x = torch.randn(*shape)
        with torch.no_grad():
            np.testing.assert_allclose(cnn(x.numpy()), model.eval()(x).numpy(), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="multiples of 2"):
        cnn(np.zeros((1, 3, 25, 40), np.float32))
    assert load_wrinkle_cnn(path, sha.upper(), "cpu").sha256 == sha
    with pytest.raises(ModelError, match="int8"):  # the file says what it holds
        load_wrinkle_cnn(path, sha, "cpu", "int8")


@pytest.mark.parametrize("kind", ["pt", "onnx"])
def test_wrong_sha_names_the_file_and_the_expected_checksum(tmp_path, kind):
    """A checksum mismatch is a ModelError naming the path, the expected and the actual sha."""
    path = tmp_path / f"w.{kind}"
    sha = save_wrinkle_weights(tiny_model(), path) if kind == "pt" else export_onnx(tiny_model(), path)
    expected = "ab" * 32
    with pytest.raises(ModelError) as info:
        read_wrinkle_unet(path, expected) if kind == "pt" else load_wrinkle_cnn(path, expected, "cpu")
    message = str(info.value)
    assert str(path) in message and expected in message and sha in message
    assert info.value.code == ("model_checksum" if kind == "onnx" else "model_invalid")


def test_missing_weights_file(tmp_path):
    """A missing file is a ModelError naming it, with or without a checksum."""
    for sha in (None, "0" * 64):
        with pytest.raises(ModelError, match="nope.pt"):
            read_wrinkle_unet(tmp_path / "nope.pt", sha)
        with pytest.raises(ModelError, match="nope.onnx"):
            load_wrinkle_cnn(tmp_path / "nope.onnx", sha, "cpu")
    with pytest.raises(ModelError):
        read_wrinkle_unet(tmp_path, None)  # a folder is not a weights file
    with pytest.raises(ModelError):
        load_wrinkle_cnn(tmp_path, None, "cpu")


@pytest.mark.parametrize("damage", ["truncate", "overwrite", "text"])
def test_corrupt_onnx_file_is_a_model_error(tmp_path, damage):
    """Damaged ONNX bytes are a ModelError naming the file, not an onnxruntime exception."""
    path = tmp_path / "w.onnx"
    export_onnx(tiny_model(), path)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "overwrite":
        path.write_bytes(data[:10] + b"\xff" * 200 + data[210:])
    else:
        path.write_text("this is not an ONNX file\n")
    with pytest.raises(ModelError, match=str(path).replace("\\", "\\\\")):
        load_wrinkle_cnn(path, None, "cpu")


def test_an_onnx_file_that_is_not_a_wrinkle_export_is_refused(tmp_path):
    """A valid ONNX network without the export's input name and stride is refused, naming what it has."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])])
    path = tmp_path / "other.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    with pytest.raises(ModelError, match="not a wrinkle CNN export"):
        load_wrinkle_cnn(path, None, "cpu")


@pytest.mark.parametrize("damage", ["truncate", "overwrite", "text"])
def test_corrupt_file_without_checksum_is_a_model_error(tmp_path, damage):
    """Damaged bytes are reported as a ModelError, not a torch or zip exception."""
    path = tmp_path / "w.pt"
    save_wrinkle_weights(tiny_model(), path)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "overwrite":
        path.write_bytes(data[:10] + b"\x00" * 200 + data[210:])
    else:
        path.write_text("this is not a torch file\n")
    with pytest.raises(ModelError, match=str(path).replace("\\", "\\\\")):
        read_wrinkle_unet(path, None)


@pytest.mark.parametrize("blob", [{"format": "something/else", "state_dict": {}}, {"arch": {}}, [1, 2, 3],
                                  torch.zeros(3)])
def test_foreign_torch_file_is_refused(tmp_path, blob):
    """A torch file that is not in the wrinkle weights format is a ModelError naming the expected format."""
    path = tmp_path / "w.pt"
    torch.save(blob, path)
    with pytest.raises(ModelError, match="outcomes.wrinkle_unet/1"):
        read_wrinkle_unet(path, None)


def _saved_blob(model: WrinkleUNet) -> dict:
    return {"format": WEIGHTS_FORMAT, "arch": model.arch(), "state_dict": model.state_dict(), "metadata": {}}


@pytest.mark.parametrize("edit", ["widths", "in_channels", "missing_key", "extra_key", "no_arch", "bad_widths"])
def test_weights_that_do_not_fit_the_declared_architecture(tmp_path, edit):
    """A state dict inconsistent with its declared architecture is a ModelError, never a partial load."""
    blob = _saved_blob(tiny_model())
    if edit == "widths":
        blob["arch"]["widths"] = [4, 16]
    elif edit == "in_channels":
        blob["arch"]["in_channels"] = 1
    elif edit == "missing_key":
        blob["state_dict"].pop("head.weight")
    elif edit == "extra_key":
        blob["state_dict"]["surprise"] = torch.zeros(1)
    elif edit == "no_arch":
        del blob["arch"]
    else:
        blob["arch"]["widths"] = [4]
    path = tmp_path / "w.pt"
    torch.save(blob, path)
    with pytest.raises(ModelError, match="architecture"):
        read_wrinkle_unet(path, None)


SIDE_EFFECTS: list[str] = []


class Payload:
    """Records in SIDE_EFFECTS whenever an instance is unpickled."""

    def __init__(self) -> None:
        self.value = 1

    def __setstate__(self, state: dict) -> None:
        SIDE_EFFECTS.append("setstate")
        self.__dict__.update(state)


def test_pickled_python_objects_are_never_executed(tmp_path):
    """weights_only loading refuses a custom class instance and never runs its unpickling code."""
    path = tmp_path / "w.pt"
    torch.save({"format": WEIGHTS_FORMAT, "arch": {"widths": [4, 8], "in_channels": 3}, "state_dict": {},
                "metadata": {"x": Payload()}}, path)
    # control: an unrestricted load of this file does run the hook (so the check below can fail)
    SIDE_EFFECTS.clear()
    torch.load(path, weights_only=False)
    assert SIDE_EFFECTS == ["setstate"]
    SIDE_EFFECTS.clear()
    with pytest.raises(ModelError, match="not a readable torch weights file"):
        read_wrinkle_unet(path, None)
    assert SIDE_EFFECTS == []


def test_pick_device():
    """auto resolves to cpu or cuda; unknown names are refused; cuda without the provider is a ModelError."""
    import onnxruntime

    has_cuda = "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    assert pick_device("cpu") == "cpu"
    assert pick_device("auto") == ("cuda" if has_cuda else "cpu")
    with pytest.raises(ValueError, match="device"):
        pick_device("gpu")
    if not has_cuda:
        with pytest.raises(ModelError, match="cuda"):
            pick_device("cuda")


# --------------------------------------------------------------------------- wrinkle_probability


def test_probability_map_shape_range_and_roi():
    """Same shape as the photo, float32 in [0, 1], exactly 0 outside the roi and non-trivial inside."""
    cnn = tiny_cnn(4)
    rgb, _ = darken_line(textured_skin((90, 120), seed=3), (10, 20), (100, 70))
    roi = np.zeros((90, 120), bool)
    roi[20:70, 30:100] = True
    prob = wrinkle_probability(cnn, rgb, 150.0, roi)
    assert prob.shape == (90, 120) and prob.dtype == np.float32
    assert prob.min() >= 0.0 and prob.max() <= 1.0
    assert np.all(prob[~roi] == 0.0)
    assert prob[roi].min() > 1e-6  # logits of -20 (skipped tiles) would give ~2e-9
    assert prob[roi].std() > 0
    whole = wrinkle_probability(cnn, rgb, 150.0)
    assert whole.shape == (90, 120) and whole.dtype == np.float32 and whole.min() > 1e-6


def test_probability_inside_a_full_roi_matches_no_roi():
    """An all-True roi gives the same map as no roi."""
    cnn = tiny_cnn(5)
    rgb = textured_skin((64, 80), seed=4)
    np.testing.assert_allclose(wrinkle_probability(cnn, rgb, 200.0, np.ones((64, 80), bool)),
                               wrinkle_probability(cnn, rgb, 200.0), atol=1e-6)


def test_empty_roi_gives_zeros():
    """An all-False roi gives an all-zero map."""
    prob = wrinkle_probability(tiny_cnn(), textured_skin((40, 50)), 200.0, np.zeros((40, 50), bool))
    assert prob.shape == (40, 50) and prob.dtype == np.float32 and not prob.any()


def test_probability_follows_the_working_scale():
    """The network runs at WORK_IPD: a photo at twice the scale gives (about) the same map, resized."""
    cnn = tiny_cnn(6)
    rgb = textured_skin((64, 64), seed=5)
    small = wrinkle_probability(cnn, rgb, 200.0)
    big_rgb = cv2.resize(rgb, (128, 128), interpolation=cv2.INTER_LINEAR)
    big = wrinkle_probability(cnn, big_rgb, 400.0)
    back = cv2.resize(big, (64, 64), interpolation=cv2.INTER_AREA)
    assert np.abs(back - small)[8:-8, 8:-8].mean() < 0.25 * np.abs(small - small.mean()).mean() + 1e-3


@pytest.mark.parametrize("ipd", [0, -5.0, float("nan"), float("inf"), "200", None])
def test_probability_rejects_bad_ipd(ipd):
    """ipd_px must be a positive finite number."""
    with pytest.raises(ValueError, match="ipd_px"):
        wrinkle_probability(tiny_cnn(), textured_skin((32, 32)), ipd)


@pytest.mark.parametrize("roi", [np.ones((31, 32), bool), np.ones((32, 32), np.uint8), np.ones((32, 32, 1), bool)])
def test_probability_rejects_bad_roi(roi):
    """roi must be bool with the photo's shape."""
    with pytest.raises(ValueError, match="roi"):
        wrinkle_probability(tiny_cnn(), textured_skin((32, 32)), 200.0, roi)


def test_probability_rejects_bad_images():
    """The photo must be (H, W, 3) uint8."""
    with pytest.raises(ValueError, match="uint8"):
        wrinkle_probability(tiny_cnn(), textured_skin((32, 32)).astype(np.float32), 200.0)


def test_a_face_that_fits_one_tile_makes_one_network_call():
    """A photo that fits one tile at the working scale is run once, padded only by the margin."""
    cnn = CountingNetwork(tiny_cnn(7))
    wrinkle_probability(cnn, textured_skin((60, 60)), 100.0)  # 120 px at WORK_IPD
    assert cnn.calls == [(1, 3, 120 + 2 * 32, 120 + 2 * 32)]


def test_mirror_average_is_mirror_symmetric_where_one_pass_is_not():
    """Averaged over the photo and its mirror, the map of a mirrored photo (and roi) is the mirrored map."""
    cnn = tiny_cnn(8)
    rgb, _ = darken_line(textured_skin((72, 96), seed=6), (10, 15), (85, 50))
    roi = np.zeros((72, 96), bool)
    roi[10:60, 5:70] = True
    flip = lambda a: np.ascontiguousarray(a[:, ::-1])  # noqa: E731
    once, once_mirrored = wrinkle_probability(cnn, rgb, 200.0, roi), wrinkle_probability(cnn, flip(rgb), 200.0, flip(roi))
    assert np.abs(flip(once_mirrored) - once).max() > 1e-3  # a random network is not symmetric by itself
    both = wrinkle_probability(cnn, rgb, 200.0, roi, mirror_average=True)
    both_mirrored = wrinkle_probability(cnn, flip(rgb), 200.0, flip(roi), mirror_average=True)
    np.testing.assert_allclose(flip(both_mirrored), both, atol=1e-6)
    assert np.all(both[~roi] == 0.0)


def test_mirror_average_is_the_mean_of_the_two_logits():
    """At the working scale: sigmoid of the mean of the photo's logits and the mirrored photo's, mirrored back."""
    # head ×20: logits that differ by about one unit between the passes, where the mean of logits
    # and the mean of probabilities part
    cnn = tiny_cnn(9, head_gain=20.0)
    rgb, _ = darken_line(textured_skin((64, 80), seed=7), (5, 10), (40, 55))  # not mirror-symmetric
    logit = lambda p: np.log(p) - np.log1p(-p)  # noqa: E731
    once = wrinkle_probability(cnn, rgb, 200.0).astype(np.float64)
    once_mirrored = wrinkle_probability(cnn, np.ascontiguousarray(rgb[:, ::-1]), 200.0).astype(np.float64)[:, ::-1]
    expected = 1.0 / (1.0 + np.exp(-0.5 * (logit(once) + logit(once_mirrored))))
    assert np.abs(0.5 * (once + once_mirrored) - expected).max() > 1e-3  # averaging probabilities would fail
    np.testing.assert_allclose(wrinkle_probability(cnn, rgb, 200.0, mirror_average=True), expected, atol=1e-5)


def test_mirror_average_runs_the_network_twice():
    cnn = CountingNetwork(tiny_cnn(7))
    wrinkle_probability(cnn, textured_skin((60, 60)), 100.0, mirror_average=True)
    assert cnn.calls == [(1, 3, 184, 184)] * 2

"""int8 inference of the wrinkle U-Net: calibration, the integer network, and loading with stored scales."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_wrinkle_cnn import tiny_model

from outcomes.errors import ModelError
from outcomes.features.wrinkle_cnn import prepare_for_inference
from outcomes.features.wrinkle_int8 import QPARAMS_KEY, calibrate_int8, int8_available, quantize_unet
from outcomes.features.wrinkle_weights import _pick_precision, load_wrinkle_cnn, save_wrinkle_weights

pytestmark = pytest.mark.skipif(not int8_available(), reason="this torch build has no x86 quantized engine")


def inputs(n: int = 3, h: int = 40, w: int = 48, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(0.0, 1.0, (3, h, w)).astype(np.float32) for _ in range(n)]


@pytest.fixture(scope="module")
def calibrated():
    # 8-16 channels: with 4 the random network's output barely varies, and any rounding looks large beside it
    model = prepare_for_inference(tiny_model(0, (8, 16)))
    return model, calibrate_int8(model, inputs())


def test_calibration_gives_a_valid_scale_for_every_activation(calibrated):
    _, qparams = calibrated
    assert "quant" in qparams and any(k.startswith("join.") for k in qparams)
    for name, (scale, zero_point) in qparams.items():
        assert scale > 0 and np.isfinite(scale), name
        assert 0 <= zero_point <= 127 and isinstance(zero_point, int), name
    # after a ReLU the range starts at 0: zero point 0
    assert all(qparams[k][1] == 0 for k in qparams if k.startswith(("encoder.", "join.")))


def test_int8_network_follows_the_float_one(calibrated):
    """Same contract (float in, float logits out, same shape); the logits track float32 closely."""
    model, qparams = calibrated
    net = quantize_unet(model, qparams)
    x = torch.from_numpy(inputs(1, seed=7)[0][None])
    with torch.inference_mode():
        ref, out = model(x), net(x)
    assert out.shape == ref.shape == (1, 1, 40, 48) and out.dtype == torch.float32
    assert not out.is_quantized
    corr = np.corrcoef(ref.numpy().ravel(), out.numpy().ravel())[0, 1]
    assert corr > 0.98
    assert (out - ref).abs().mean() < 0.1 * ref.std()


def test_quantization_is_deterministic_from_weights_and_scales(calibrated):
    model, qparams = calibrated
    x = torch.from_numpy(inputs(1, seed=3)[0][None])
    with torch.inference_mode():
        assert torch.equal(quantize_unet(model, qparams)(x), quantize_unet(model, qparams)(x))


def test_int8_network_checks_the_input_shape(calibrated):
    net = quantize_unet(*calibrated)
    with pytest.raises(ValueError, match="multiples of 2"):
        net(torch.zeros(1, 3, 41, 48))


def test_calibration_rejects_bad_inputs_and_unfolded_models():
    model = prepare_for_inference(tiny_model())
    with pytest.raises(ValueError, match="at least one"):
        calibrate_int8(model, [])
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        calibrate_int8(model, [np.zeros((1, 8, 8), np.float32)])
    with pytest.raises(ValueError, match="smaller than"):
        calibrate_int8(model, [np.zeros((3, 1, 8), np.float32)])
    with pytest.raises(ValueError, match="batch norm folded"):
        calibrate_int8(tiny_model(), inputs(1))


def test_scales_must_name_every_activation_and_be_valid(calibrated):
    model, qparams = calibrated
    missing = dict(qparams)
    missing.pop("quant")
    with pytest.raises(ValueError, match="must name"):
        quantize_unet(model, missing)
    with pytest.raises(ValueError, match="'quant'.*scale"):
        quantize_unet(model, {**qparams, "quant": [0.0, 10]})
    with pytest.raises(ValueError, match="zero point"):
        quantize_unet(model, {**qparams, "quant": [0.1, 300]})


def test_calibration_with_inputs_of_other_sizes_crops_to_the_stride():
    model = prepare_for_inference(tiny_model())
    qparams = calibrate_int8(model, inputs(1, h=41, w=45))
    assert set(qparams) == set(calibrate_int8(model, inputs(1)))


# --------------------------------------------------------------------------- loading


def save_with_scales(tmp_path, qparams=None):  # noqa: ANN001, ANN201
    model = tiny_model()
    folded = prepare_for_inference(tiny_model())
    metadata = {QPARAMS_KEY: qparams if qparams is not None else calibrate_int8(folded, inputs())}
    path = tmp_path / "w.pt"
    return path, save_wrinkle_weights(model, path, metadata)


def test_auto_loads_int8_on_cpu_when_the_weights_carry_scales(tmp_path):
    path, sha = save_with_scales(tmp_path)
    cnn = load_wrinkle_cnn(path, sha, "cpu")
    assert cnn.precision == "int8" and cnn.describe() == {"wrinkle-cnn": f"w.pt sha256:{sha} int8"}
    assert load_wrinkle_cnn(path, sha, "cpu", "int8").precision == "int8"
    assert load_wrinkle_cnn(path, sha, "cpu", "float32").precision == "float32"


def test_int8_without_scales_is_refused_by_name(tmp_path):
    path = tmp_path / "plain.pt"
    sha = save_wrinkle_weights(tiny_model(), path)
    assert load_wrinkle_cnn(path, sha, "cpu").precision == "float32"  # auto: float32, nothing to quantize with
    with pytest.raises(ModelError, match=f"{path}.*no int8 activation scales.*{QPARAMS_KEY}"):
        load_wrinkle_cnn(path, sha, "cpu", "int8")


def test_corrupt_scales_are_a_model_error(tmp_path):
    path, sha = save_with_scales(tmp_path, qparams={"quant": [0.1, 0]})
    with pytest.raises(ModelError, match=f"{path}: unusable int8 activation scales"):
        load_wrinkle_cnn(path, sha, "cpu")


def test_precision_choice():
    calibrated_meta, plain = {QPARAMS_KEY: {}}, {}
    assert _pick_precision("auto", "cuda", calibrated_meta, "w.pt") == "float32"  # quantized kernels are CPU-only
    assert _pick_precision("auto", "cpu", plain, "w.pt") == "float32"
    assert _pick_precision("float32", "cpu", calibrated_meta, "w.pt") == "float32"
    with pytest.raises(ModelError, match="CPU only"):
        _pick_precision("int8", "cuda", calibrated_meta, "w.pt")
    with pytest.raises(ValueError, match="precision must be one of"):
        load_wrinkle_cnn("nowhere.pt", None, "cpu", "fp16")

"""Wrinkle detector choice: CNN/classical fusion, configuration and weights lookup."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from test_wrinkle_cnn import tiny_cnn, tiny_model

from outcomes.config import WrinkleConfig, config_from_mapping
from outcomes.errors import ConfigError, ModelError
from outcomes.features.wrinkle_fusion import find_wrinkles, fuse
from outcomes.features.wrinkle_model import WrinkleCNN, load_configured_cnn
from outcomes.features.wrinkles import response_params
from outcomes.model_store import MODELS_DIR_ENV, find_model_file, package_models_dir
from outcomes.training.export import export_onnx

SHAPE = (40, 50)


def maps(seed: int = 0):
    """A random CNN probability, a classical response and a roi of SHAPE."""
    rng = np.random.default_rng(seed)
    prob = rng.uniform(0, 1, SHAPE).astype(np.float32)
    response = rng.uniform(0, 1, SHAPE).astype(np.float32)
    roi = np.zeros(SHAPE, bool)
    roi[5:35, 8:44] = True
    return prob, response, roi


def skin_with_line(shape=(96, 120)) -> np.ndarray:
    rng = np.random.default_rng(1)
    rgb = np.clip(np.rint(np.array([200.0, 150.0, 130.0]) + rng.normal(0, 2, (*shape, 3))), 0, 255).astype(np.uint8)
    line = np.zeros(shape, np.uint8)
    cv2.line(line, (15, 30), (105, 60), 1, 3)
    rgb[line.astype(bool)] = (rgb[line.astype(bool)] * 0.75).astype(np.uint8)
    return rgb


# --------------------------------------------------------------------------- fuse


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.8])
def test_cnn_weight_one_is_the_cnn_alone(threshold):
    """cnn_weight 1: mask is probability >= threshold inside the roi."""
    prob, classical, roi = maps()
    out = fuse(prob, classical, roi, ipd_px=200.0, cnn_weight=1.0, threshold=threshold)
    np.testing.assert_array_equal(out.mask, (prob >= threshold) & roi)
    np.testing.assert_array_equal(out.response, np.where(roi, prob, 0))
    assert out.response.dtype == np.float32


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.8])
def test_cnn_weight_zero_is_the_classical_response(threshold):
    """cnn_weight 0: mask is classical response >= threshold inside the roi (the probability is ignored)."""
    prob, classical, roi = maps()
    out = fuse(prob, classical, roi, ipd_px=200.0, cnn_weight=0.0, threshold=threshold)
    np.testing.assert_array_equal(out.mask, (classical >= threshold) & roi)
    np.testing.assert_array_equal(
        fuse(1 - prob, classical, roi, ipd_px=200.0, cnn_weight=0.0, threshold=threshold).mask, out.mask)


def test_fused_score_is_the_weighted_mean():
    """The response is w p + (1 - w) r inside the roi and 0 outside; the mask never leaves the roi."""
    prob, classical, roi = maps(1)
    out = fuse(prob, classical, roi, ipd_px=200.0, cnn_weight=0.7, threshold=0.5)
    expected = 0.7 * prob + 0.3 * classical
    np.testing.assert_allclose(out.response[roi], expected[roi], atol=1e-6)
    assert np.all(out.response[~roi] == 0) and not out.mask[~roi].any()
    np.testing.assert_array_equal(out.mask, out.response >= 0.5)
    assert out.ipd_px == 200.0


@pytest.mark.parametrize("weight", [0.3, 0.5, 0.7])
def test_more_cnn_probability_never_removes_a_pixel(weight):
    """Raising the probability anywhere keeps every detected pixel (the fusion is monotone)."""
    prob, classical, roi = maps(2)
    base = fuse(prob, classical, roi, ipd_px=200.0, cnn_weight=weight, threshold=0.5)
    rng = np.random.default_rng(3)
    higher = np.minimum(prob + rng.uniform(0, 0.5, SHAPE).astype(np.float32), 1.0)
    raised = fuse(higher, classical, roi, ipd_px=200.0, cnn_weight=weight, threshold=0.5)
    assert np.all(raised.mask[base.mask])
    assert raised.mask.sum() > base.mask.sum()
    # and raising the classical response does the same
    stronger = np.minimum(classical + 0.3, 1.0).astype(np.float32)
    raised_c = fuse(prob, stronger, roi, ipd_px=200.0, cnn_weight=weight, threshold=0.5)
    assert np.all(raised_c.mask[base.mask]) and raised_c.mask.sum() > base.mask.sum()


def test_fuse_rejects_shape_mismatch_and_bad_weight():
    """Probability, classical response and roi must share a shape; the weight is in [0, 1]."""
    prob, classical, roi = maps()
    with pytest.raises(ValueError, match="same shape"):
        fuse(prob[:-1], classical, roi, ipd_px=200.0, cnn_weight=0.5, threshold=0.5)
    with pytest.raises(ValueError, match="same shape"):
        fuse(prob, classical, roi[:, :-1], ipd_px=200.0, cnn_weight=0.5, threshold=0.5)
    with pytest.raises(ValueError, match="same shape"):
        fuse(prob, classical[1:], roi, ipd_px=200.0, cnn_weight=0.5, threshold=0.5)
    for w in (-0.1, 1.1):
        with pytest.raises(ValueError, match="cnn_weight"):
            fuse(prob, classical, roi, ipd_px=200.0, cnn_weight=w, threshold=0.5)


def test_fused_map_names_its_detector_and_settings():
    """detector is "cnn+classical"; params record the weight, threshold, caller's params and classical params."""
    prob, classical, roi = maps()
    out = fuse(prob, classical, roi, ipd_px=200.0, cnn_weight=0.6, threshold=0.4, params={"model_sha256": "f" * 64})
    assert out.detector == "cnn+classical"
    assert out.params["cnn_weight"] == 0.6 and out.params["threshold"] == 0.4
    assert out.params["model_sha256"] == "f" * 64
    assert out.params["classical"] == response_params()
    assert classical is not out.response  # input left alone


# --------------------------------------------------------------------------- find_wrinkles


def test_classical_detector_needs_no_cnn():
    """detector classical runs without a CNN and reports "classical"."""
    rgb = skin_with_line()
    roi = np.ones(rgb.shape[:2], bool)
    wmap = find_wrinkles(rgb, 200.0, roi, None, WrinkleConfig(detector="classical"))
    assert wmap.detector == "classical" and wmap.mask.shape == rgb.shape[:2]
    assert wmap.mask.any()  # the drawn line is found


@pytest.mark.parametrize("detector", ["cnn", "fused"])
def test_cnn_detectors_without_a_cnn_are_a_model_error(detector):
    """Asking for the CNN without loading it fails loudly, naming the detector."""
    rgb = skin_with_line()
    with pytest.raises(ModelError, match=detector):
        find_wrinkles(rgb, 200.0, np.ones(rgb.shape[:2], bool), None, WrinkleConfig(detector=detector))


def test_cnn_detector_stays_in_the_roi():
    """detector cnn: mask ⊆ roi, response is the probability (0 outside the roi), params name the model."""
    rgb = skin_with_line()
    roi = np.zeros(rgb.shape[:2], bool)
    roi[20:80, 10:70] = True
    cnn = tiny_cnn(3)
    wmap = find_wrinkles(rgb, 200.0, roi, cnn, WrinkleConfig(detector="cnn", threshold=0.3))
    assert wmap.detector == "cnn" and wmap.mask.shape == roi.shape
    assert not wmap.mask[~roi].any() and np.all(wmap.response[~roi] == 0)
    np.testing.assert_array_equal(wmap.mask, (wmap.response >= 0.3) & roi)
    assert wmap.params["model_sha256"] == cnn.sha256 and wmap.params["threshold"] == 0.3


def test_cnn_detector_applies_and_records_the_mirror_average():
    """wrinkles.cnn_mirror_average reaches the CNN and is recorded in the map's params."""
    from outcomes.features.wrinkle_cnn import wrinkle_probability

    rgb = skin_with_line()
    roi = np.ones(rgb.shape[:2], bool)
    cnn = tiny_cnn(4)
    maps = {mirror: find_wrinkles(rgb, 200.0, roi, cnn, WrinkleConfig(detector="cnn", cnn_mirror_average=mirror))
            for mirror in (False, True)}
    for mirror, wmap in maps.items():
        np.testing.assert_allclose(wmap.response, wrinkle_probability(cnn, rgb, 200.0, roi, mirror_average=mirror))
        assert wmap.params["mirror_average"] is mirror
    assert not np.allclose(maps[True].response, maps[False].response)  # the setting changes the map


def test_fused_detector_combines_both():
    """detector fused: the response is the configured mix of the CNN probability and the classical response."""
    from outcomes.features.wrinkle_cnn import wrinkle_probability
    from outcomes.features.wrinkles import detect_wrinkles

    rgb = skin_with_line()
    roi = np.zeros(rgb.shape[:2], bool)
    roi[10:90, 5:115] = True
    cnn = tiny_cnn(4)
    wmap = find_wrinkles(rgb, 200.0, roi, cnn, WrinkleConfig(detector="fused", cnn_weight=0.25))
    expected = 0.25 * wrinkle_probability(cnn, rgb, 200.0, roi) + 0.75 * detect_wrinkles(rgb, 200.0, roi).response
    np.testing.assert_allclose(wmap.response, np.where(roi, expected, 0), atol=1e-5)
    assert wmap.detector == "cnn+classical" and wmap.params["cnn_weight"] == 0.25
    assert not wmap.mask[~roi].any()


# --------------------------------------------------------------------------- WrinkleConfig


def test_wrinkle_config_defaults_validate():
    """The defaults build, and a valid override is taken."""
    cfg = config_from_mapping({"wrinkles": {"detector": "cnn", "cnn_weight": 1, "cnn_sha256": "a" * 64}})
    assert cfg.wrinkles.detector == "cnn" and cfg.wrinkles.cnn_weight == 1.0 and cfg.wrinkles.cnn_sha256 == "a" * 64
    assert WrinkleConfig().detector in ("classical", "cnn", "fused")


@pytest.mark.parametrize(("section", "key"), [
    ({"detector": "unet"}, "wrinkles.detector"),
    ({"detector": "Fused"}, "wrinkles.detector"),
    ({"cnn_sha256": "a" * 63}, "wrinkles.cnn_sha256"),
    ({"cnn_sha256": "a" * 65}, "wrinkles.cnn_sha256"),
    ({"cnn_sha256": "A" * 64}, "wrinkles.cnn_sha256"),
    ({"cnn_sha256": "g" * 64}, "wrinkles.cnn_sha256"),
    ({"cnn_int8_sha256": "g" * 64}, "wrinkles.cnn_int8_sha256"),
    ({"cnn_weight": 1.5}, "wrinkles.cnn_weight"),
    ({"cnn_weight": -0.1}, "wrinkles.cnn_weight"),
    ({"threshold": 0.0}, "wrinkles.threshold"),
    ({"threshold": 1.0}, "wrinkles.threshold"),
    ({"device": "gpu"}, "wrinkles.device"),
    ({"cnn_weight": "high"}, "wrinkles.cnn_weight"),
    ({"cnn_weights": 3}, "wrinkles.cnn_weights"),
    ({"weights": "x.pt"}, "wrinkles.weights"),
])
def test_wrinkle_config_rejects_bad_values(section, key):
    """A bad or unknown wrinkles setting is a ConfigError naming its key."""
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config_from_mapping({"wrinkles": section})


# --------------------------------------------------------------------------- model lookup


def test_absolute_model_path_is_used_as_given(tmp_path):
    path = tmp_path / "w.onnx"
    path.write_bytes(b"x")
    assert find_model_file(path, "setting") == path and find_model_file(str(path), "setting") == path
    with pytest.raises(ModelError, match="missing.onnx") as info:
        find_model_file(tmp_path / "missing.onnx", "setting")
    assert info.value.code == "model_not_found"


def test_a_model_name_is_found_along_the_search_path(tmp_path, monkeypatch):
    """$OUTCOMES_MODELS_DIR folders first, in order, then the package's models folder."""
    first, second = tmp_path / "a", tmp_path / "b"
    for folder in (first, second):
        folder.mkdir()
    (second / "only_b_3f9c.onnx").write_bytes(b"b")
    (first / "wrinkle_unet.onnx").write_bytes(b"shadow")
    monkeypatch.setenv(MODELS_DIR_ENV, f"{first}:{second}")
    assert find_model_file("only_b_3f9c.onnx", "s") == second / "only_b_3f9c.onnx"
    assert find_model_file("wrinkle_unet.onnx", "s") == first / "wrinkle_unet.onnx"  # searched before the package
    monkeypatch.delenv(MODELS_DIR_ENV)
    assert find_model_file("wrinkle_unet.onnx", "s") == package_models_dir() / "wrinkle_unet.onnx"


def test_a_shadowing_model_with_another_checksum_is_refused(tmp_path, monkeypatch):
    """A file found first on the search path that is not the configured model fails on its sha256."""
    (tmp_path / "wrinkle_unet.int8.onnx").write_bytes(b"not the model")
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path))
    with pytest.raises(ModelError, match="sha256") as info:
        load_configured_cnn(WrinkleConfig(device="cpu"))
    assert info.value.code == "model_checksum"


def test_a_relative_path_with_folders_is_found_in_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "only_here_3f9c.onnx").write_bytes(b"x")
    assert find_model_file("sub/only_here_3f9c.onnx", "s") == tmp_path / "sub" / "only_here_3f9c.onnx"


def test_a_model_found_nowhere_names_the_folders_tried(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path))
    with pytest.raises(ModelError, match=r"no_such_3f9c\.onnx.*" + str(tmp_path).replace("/", ".")):
        find_model_file("no_such_3f9c.onnx", "wrinkles.cnn_weights")


def test_classical_config_loads_no_cnn():
    """detector classical loads nothing, whatever the weights settings say."""
    assert load_configured_cnn(WrinkleConfig(detector="classical", cnn_weights="/nowhere/x.onnx")) is None


def test_the_shipped_model_loads_int8_on_cpu_and_float32_when_asked():
    cnn = load_configured_cnn(WrinkleConfig(device="cpu"))
    assert cnn.precision == "int8" and cnn.path.name == "wrinkle_unet.int8.onnx" and cnn.stride == 8
    assert cnn.sha256 == WrinkleConfig().cnn_int8_sha256
    as_float = load_configured_cnn(WrinkleConfig(device="cpu", cnn_precision="float32"))
    assert as_float.precision == "float32" and as_float.sha256 == WrinkleConfig().cnn_sha256
    assert load_configured_cnn(WrinkleConfig(device="cpu", cnn_int8_weights="")).precision == "float32"
    with pytest.raises(ModelError, match="cnn_int8_weights"):
        load_configured_cnn(WrinkleConfig(device="cpu", cnn_int8_weights="", cnn_precision="int8"))


def test_configured_cnn_is_checked_against_its_sha(tmp_path):
    """load_configured_cnn verifies the configured sha256: a mismatch names the file and the expected sha."""
    path = tmp_path / "w.onnx"
    sha = export_onnx(tiny_model(0), path)
    wrong = "1" * 64
    with pytest.raises(ModelError) as info:
        load_configured_cnn(WrinkleConfig(detector="fused", cnn_weights=str(path), cnn_sha256=wrong, device="cpu",
                                          cnn_int8_weights=""))
    assert str(path) in str(info.value) and wrong in str(info.value)
    cnn = load_configured_cnn(WrinkleConfig(detector="cnn", cnn_weights=str(path), cnn_sha256=sha, device="cpu",
                                            cnn_int8_weights=""))
    assert isinstance(cnn, WrinkleCNN) and cnn.sha256 == sha and cnn.path == path and cnn.device == "cpu"


def test_configured_cnn_missing_file_is_a_model_error(tmp_path):
    """A configured absolute path that does not exist fails with a ModelError naming it."""
    path = tmp_path / "absent.onnx"
    with pytest.raises(ModelError, match="absent.onnx"):
        load_configured_cnn(WrinkleConfig(detector="cnn", cnn_weights=str(path), device="cpu", cnn_int8_weights=""))


def test_restricting_a_wrinkle_map_zeroes_response_and_mask_outside_the_roi():
    from outcomes.face_analysis import restrict_wrinkles
    from outcomes.features.wrinkles import WrinkleMap

    rng = np.random.default_rng(0)
    response = rng.random((20, 30)).astype(np.float32)
    full = WrinkleMap(response=response, mask=response > 0.5, ipd_px=40.0, detector="cnn+classical")
    roi = np.zeros((20, 30), bool)
    roi[5:15, 10:25] = True
    part = restrict_wrinkles(full, roi)
    assert part.response.dtype == np.float32 and not part.response[~roi].any() and not part.mask[~roi].any()
    assert np.array_equal(part.response[roi], response[roi]) and np.array_equal(part.mask[roi], full.mask[roi])
    assert part.detector == full.detector and part.ipd_px == full.ipd_px
    with pytest.raises(ValueError, match="bool mask"):
        restrict_wrinkles(full, roi.astype(np.uint8))

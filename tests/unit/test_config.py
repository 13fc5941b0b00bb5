"""Typed configuration: defaults, YAML overrides, rejection of unknown keys and wrong types."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from outcomes.config import (
    AlignmentConfig,
    AlignmentQCConfig,
    Config,
    ExpressionConfig,
    IdentityConfig,
    InputConfig,
    LandmarkConfig,
    WrinkleConfig,
    config_from_mapping,
    load_config,
)
from outcomes.errors import ConfigError, OutcomesError

REPO = Path(__file__).resolve().parents[2]
DEFAULT_YAML = REPO / "outcomes" / "configs" / "default.yaml"


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def all_leaf_values(cfg) -> dict[str, object]:
    """Flatten a config into {"alignment.qc.max_yaw_change_deg": 8.0, …}."""
    out: dict[str, object] = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            out.update({f"{f.name}.{k}": v for k, v in all_leaf_values(value).items()})
        else:
            out[f.name] = value
    return out


# --------------------------------------------------------------------------- defaults


def test_none_gives_the_defaults():
    assert load_config(None) == Config()
    assert load_config() == Config()


def test_config_is_frozen():
    cfg = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.input = InputConfig(max_pixels=1)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.landmarks.crop_scale = 3.0  # type: ignore[misc]


def test_default_yaml_documents_the_real_defaults():
    if not DEFAULT_YAML.exists():
        pytest.skip(f"{DEFAULT_YAML} is not in this checkout")
    loaded = load_config(DEFAULT_YAML)
    assert loaded == Config()
    # Same values *and* same Python types (e.g. tuples, not lists; floats, not ints).
    got, want = all_leaf_values(loaded), all_leaf_values(Config())
    assert got.keys() == want.keys()
    for key in want:
        assert type(got[key]) is type(want[key]), key
    assert loaded.sha256() == Config().sha256()


def test_default_yaml_spells_out_every_key():
    if not DEFAULT_YAML.exists():
        pytest.skip(f"{DEFAULT_YAML} is not in this checkout")
    import yaml

    data = yaml.safe_load(DEFAULT_YAML.read_text())

    def leaves(d: dict, prefix: str = "") -> set[str]:
        out = set()
        for k, v in d.items():
            out |= leaves(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}"}
        return out

    assert leaves(data) == set(all_leaf_values(Config()))


def test_empty_file_gives_the_defaults(tmp_path):
    assert load_config(write(tmp_path, "")) == Config()
    assert load_config(write(tmp_path, "# only a comment\n", "c.yaml")) == Config()


# --------------------------------------------------------------------------- overrides


def test_partial_yaml_overrides_only_its_keys(tmp_path):
    path = write(
        tmp_path,
        "landmarks:\n  crop_scale: 2.5\nalignment:\n  refine: false\n  qc:\n    max_yaw_change_deg: 5.0\n",
    )
    cfg = load_config(path)
    want = dataclasses.replace(
        Config(),
        landmarks=dataclasses.replace(LandmarkConfig(), crop_scale=2.5),
        alignment=dataclasses.replace(
            AlignmentConfig(), refine=False, qc=dataclasses.replace(AlignmentQCConfig(), max_yaw_change_deg=5.0)
        ),
    )
    assert cfg == want
    changed = {k for k, v in all_leaf_values(cfg).items() if all_leaf_values(Config())[k] != v}
    assert changed == {"landmarks.crop_scale", "alignment.refine", "alignment.qc.max_yaw_change_deg"}


def test_list_becomes_tuple(tmp_path):
    cfg = load_config(write(tmp_path, "alignment:\n  refine_ipd_px: [30, 60.5, 120]\n"))
    assert cfg.alignment.refine_ipd_px == (30.0, 60.5, 120.0)
    assert isinstance(cfg.alignment.refine_ipd_px, tuple)
    assert all(type(v) is float for v in cfg.alignment.refine_ipd_px)


@pytest.mark.parametrize(
    ("yaml_text", "getter", "value"),
    [
        ("landmarks:\n  crop_scale: 3\n", lambda c: c.landmarks.crop_scale, 3.0),
        ("alignment:\n  qc:\n    max_yaw_change_deg: 10\n", lambda c: c.alignment.qc.max_yaw_change_deg, 10.0),
        ("alignment:\n  local_ipd_px: 80\n", lambda c: c.alignment.local_ipd_px, 80.0),
    ],
)
def test_ints_are_accepted_for_floats(tmp_path, yaml_text, getter, value):
    got = getter(load_config(write(tmp_path, yaml_text)))
    assert got == value
    assert type(got) is float


def test_mapping_api_matches_file_api(tmp_path):
    data = {"input": {"max_pixels": 1234}, "alignment": {"refine_model": "affine"}}
    from_map = config_from_mapping(data)
    from_file = load_config(write(tmp_path, "input:\n  max_pixels: 1234\nalignment:\n  refine_model: affine\n"))
    assert from_map == from_file
    assert from_map.input.max_pixels == 1234
    assert from_map.alignment.refine_model == "affine"


# --------------------------------------------------------------------------- rejections


@pytest.mark.parametrize(
    ("yaml_text", "path_parts", "key"),
    [
        ("colour: red\n", [], "colour"),
        ("landmarks:\n  crop_sclae: 2.0\n", ["landmarks"], "crop_sclae"),
        ("alignment:\n  qc:\n    max_yaw: 3.0\n", ["alignment", "qc"], "max_yaw"),
        ("input:\n  max_pixels: 10\n  max_bytes: 10\n", ["input"], "max_bytes"),
    ],
)
def test_unknown_keys_are_rejected_with_their_path(tmp_path, yaml_text, path_parts, key):
    path = write(tmp_path, yaml_text)
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    msg = str(excinfo.value)
    assert str(path) in msg
    assert key in msg
    if path_parts:
        assert ".".join(path_parts) in msg
    assert "\n" not in msg


@pytest.mark.parametrize(
    ("yaml_text", "where"),
    [
        # a string for a float (quoted, and YAML 1.1's dot-less exponent, which is a string too)
        ("landmarks:\n  crop_scale: '2.0'\n", "landmarks.crop_scale"),
        ("landmarks:\n  crop_scale: two\n", "landmarks.crop_scale"),
        ("alignment:\n  refine_epsilon: 1e-5\n", "alignment.refine_epsilon"),
        # a float for an int
        ("landmarks:\n  min_face_px: 64.0\n", "landmarks.min_face_px"),
        ("input:\n  max_pixels: 1.5e+8\n", "input.max_pixels"),
        # a number for a bool, and a bool for a number
        ("alignment:\n  refine: 1\n", "alignment.refine"),
        ("alignment:\n  local: 0\n", "alignment.local"),
        ("alignment:\n  refine: 'yes please'\n", "alignment.refine"),
        ("landmarks:\n  crop_scale: true\n", "landmarks.crop_scale"),
        ("landmarks:\n  min_face_px: false\n", "landmarks.min_face_px"),
        # a scalar for a list, and a wrong item in a list
        ("alignment:\n  refine_ipd_px: 60.0\n", "alignment.refine_ipd_px"),
        ("alignment:\n  refine_ipd_px: '60, 120'\n", "alignment.refine_ipd_px"),
        ("alignment:\n  refine_ipd_px: [60.0, big]\n", "alignment.refine_ipd_px[1]"),
        # a number for text
        ("alignment:\n  refine_model: 3\n", "alignment.refine_model"),
        # null for a value
        ("landmarks:\n  crop_scale: null\n", "landmarks.crop_scale"),
        # a scalar or list where a section is expected
        ("alignment: 3\n", "alignment"),
        ("alignment:\n  qc: [1, 2]\n", "alignment.qc"),
        ("input: fast\n", "input"),
    ],
)
def test_wrong_types_are_rejected(tmp_path, yaml_text, where):
    path = write(tmp_path, yaml_text)
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    msg = str(excinfo.value)
    assert str(path) in msg
    assert where in msg
    assert "\n" not in msg


@pytest.mark.parametrize("text", ["- 1\n- 2\n", "just a string\n", "42\n"])
def test_top_level_must_be_a_mapping(tmp_path, text):
    with pytest.raises(ConfigError, match="mapping"):
        load_config(write(tmp_path, text))


def test_missing_file_is_a_config_error(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    assert str(path) in str(excinfo.value)


def test_invalid_yaml_is_a_config_error(tmp_path):
    path = write(tmp_path, "landmarks:\n  crop_scale: [\n")
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    assert str(path) in str(excinfo.value)


def test_config_error_is_an_outcomes_error():
    assert issubclass(ConfigError, OutcomesError)


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system ['touch {marker}']",
        "!!python/object/apply:pathlib.Path.touch [!!python/object/apply:pathlib.Path ['{marker}']]",
        "!!python/object/new:outcomes.config.InputConfig {{}}",
        "!!python/name:os.system",
    ],
)
def test_python_tags_are_rejected_not_executed(tmp_path, tag):
    marker = tmp_path / "pwned"
    path = write(tmp_path, "input: " + tag.format(marker=marker) + "\n")
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    assert str(path) in str(excinfo.value)
    assert not marker.exists()


# --------------------------------------------------------------------------- hashing


def test_sha256_is_stable():
    a, b = Config().sha256(), Config().sha256()
    assert a == b
    assert re.fullmatch(r"[0-9a-f]{64}", a)
    assert load_config(None).sha256() == a


@pytest.mark.parametrize(
    "changed",
    [
        Config(input=InputConfig(max_pixels=99)),
        Config(landmarks=LandmarkConfig(crop_scale=2.0001)),
        Config(alignment=AlignmentConfig(refine=False)),
        Config(alignment=AlignmentConfig(refine_ipd_px=(60.0,))),
        Config(alignment=AlignmentConfig(qc=AlignmentQCConfig(max_out_of_frame=0.5))),
        Config(wrinkles=WrinkleConfig(cnn_mirror_average=True)),
    ],
)
def test_sha256_changes_when_a_value_changes(changed):
    assert changed != Config()
    assert changed.sha256() != Config().sha256()


def test_settings_added_later_keep_earlier_hashes_until_set():
    """Settings added later (wrinkles.cnn_mirror_average; the expression and identity checks) count
    in the hash only when set away from their earlier behaviour, so scorers, baselines and batch jobs
    made with the same measurement settings still match. The stored hashes are those since the
    wrinkle CNN runs as ONNX (wrinkles.cnn_int8_weights)."""
    assert Config().sha256() == "53714038d1b7596cc2182d38989468ef43ac0d35388a501f6f25763d34cc1934"
    assert load_config(REPO / "outcomes" / "configs" / "classical.yaml").sha256() == \
        "b3063ae4a0267fe8f5bfeff97105a55042ffbddae64a8e6722fa72b22b86e654"
    assert Config(wrinkles=WrinkleConfig(cnn_mirror_average=True)).sha256() != Config().sha256()
    assert Config(expression=ExpressionConfig(max_distance=6.0)).sha256() != Config().sha256()
    assert Config(identity=IdentityConfig(check=False)).sha256() != Config().sha256()
    with pytest.raises(ConfigError, match="wrinkles.cnn_mirror_average"):
        WrinkleConfig(cnn_mirror_average=1)


def test_comparability_settings_are_validated():
    with pytest.raises(ConfigError, match="expression.max_distance"):
        ExpressionConfig(max_distance=0)
    with pytest.raises(ConfigError, match="identity.max_distance"):
        IdentityConfig(max_distance=3.0)
    with pytest.raises(ConfigError, match="expression.check"):
        ExpressionConfig(check="yes")
    with pytest.raises(ConfigError, match="unknown key"):
        config_from_mapping({"identity": {"threshold": 0.5}})


def test_sha256_ignores_how_a_value_was_written(tmp_path):
    """``3`` and ``3.0`` for a float setting are the same configuration."""
    a = load_config(write(tmp_path, "landmarks:\n  crop_scale: 3\n", "a.yaml"))
    b = load_config(write(tmp_path, "landmarks:\n  crop_scale: 3.0\n", "b.yaml"))
    assert a == b and a.sha256() == b.sha256()


# --------------------------------------------------------------------------- ranges


@pytest.mark.parametrize(
    ("yaml_text", "where"),
    [
        ("alignment:\n  refine_model: banana\n", "alignment.refine_model"),
        ("alignment:\n  refine_model: Homography\n", "alignment.refine_model"),
        ("alignment:\n  refine_ipd_px: []\n", "alignment.refine_ipd_px"),
        ("alignment:\n  refine_ipd_px: [60, -1]\n", "alignment.refine_ipd_px"),
        ("alignment:\n  refine_max_iterations: 0\n", "alignment.refine_max_iterations"),
        ("input:\n  max_pixels: 0\n", "input.max_pixels"),
        ("input:\n  max_pixels: 1000000000\n", "input.max_pixels"),
        ("input:\n  max_file_bytes: -5\n", "input.max_file_bytes"),
        ("landmarks:\n  min_detection_confidence: 1.5\n", "landmarks.min_detection_confidence"),
        ("landmarks:\n  crop_scale: 0.5\n", "landmarks.crop_scale"),
    ],
)
def test_out_of_range_values_are_rejected(tmp_path, yaml_text, where):
    path = write(tmp_path, yaml_text)
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    msg = str(excinfo.value)
    assert where in msg
    assert "\n" not in msg


def test_out_of_range_error_names_the_file(tmp_path):
    path = write(tmp_path, "alignment:\n  refine_model: banana\n")
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    assert str(path) in str(excinfo.value)


def test_pixel_limit_cannot_exceed_the_decoders_own():
    from PIL import Image

    hard = 2 * Image.MAX_IMAGE_PIXELS
    with pytest.raises(ConfigError, match="input.max_pixels"):
        InputConfig(max_pixels=hard + 1)
    assert InputConfig(max_pixels=hard).max_pixels == hard

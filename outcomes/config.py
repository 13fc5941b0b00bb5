"""Typed configuration: plain YAML validated into frozen dataclasses.

The defaults live here, in code; ``outcomes/configs/default.yaml`` spells them out for
people and a test keeps the two equal. A YAML file may set any subset of the
keys; unknown keys and wrongly typed values are rejected with the key's path.
YAML is read with ``yaml.safe_load``: no code runs from a config.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from outcomes.errors import ConfigError
from outcomes.features.pigment import PigmentThresholds
from outcomes.scoring import ScorerParams

# Pillow refuses any image above twice its MAX_IMAGE_PIXELS (89 478 485) on
# its own, before our check can run; a larger limit of ours could not be met.
PILLOW_HARD_PIXEL_LIMIT = 2 * 89_478_485


def _require(condition: bool, where: str, problem: str) -> None:
    if not condition:
        raise ConfigError(f"{where}: {problem}")


@dataclass(frozen=True)
class InputConfig:
    # Decompression-bomb guard, checked from the header before decoding.
    # 100 MP is above any clinical camera (a 61 MP full-frame sensor is 9504×6336).
    max_pixels: int = 100_000_000
    max_file_bytes: int = 300_000_000

    def __post_init__(self) -> None:
        _require(0 < self.max_pixels <= PILLOW_HARD_PIXEL_LIMIT, "input.max_pixels",
                 f"must be between 1 and {PILLOW_HARD_PIXEL_LIMIT} (the image decoder's own hard limit), "
                 f"got {self.max_pixels}")
        _require(self.max_file_bytes > 0, "input.max_file_bytes", f"must be positive, got {self.max_file_bytes}")


@dataclass(frozen=True)
class LandmarkConfig:
    # mediapipe full-range detector score below which a detection is ignored.
    min_detection_confidence: float = 0.5
    # The face box is enlarged by this factor before cropping for the mesh,
    # so that the mesh model sees the whole head as in its training crops.
    crop_scale: float = 2.0
    # The second meshing pass crops the mesh's own extent enlarged by this.
    recrop_scale: float = 2.0
    # A face whose detector box is smaller than this (pixels) is refused: the
    # mesh would be too coarse to compare wrinkles.
    min_face_px: int = 64
    # A second face is reported (QC flag) when at least this fraction of the
    # largest face's box area.
    other_face_min_area_ratio: float = 0.1

    def __post_init__(self) -> None:
        _require(0.0 < self.min_detection_confidence < 1.0, "landmarks.min_detection_confidence",
                 f"must be between 0 and 1, got {self.min_detection_confidence}")
        for name in ("crop_scale", "recrop_scale"):
            value = getattr(self, name)
            _require(1.0 <= value <= 4.0, f"landmarks.{name}", f"must be between 1 and 4, got {value}")


@dataclass(frozen=True)
class AlignmentQCConfig:
    # Beyond these head-rotation differences a 2-D registration cannot make the
    # skin correspond (out-of-plane rotation changes what is visible).
    max_yaw_change_deg: float = 8.0
    max_pitch_change_deg: float = 8.0
    # In-plane roll is corrected by registration; a large one only warns.
    warn_roll_change_deg: float = 10.0
    # Relative size change of the face (|scale - 1|) above which we warn:
    # resampling by more than this loses or invents texture detail.
    warn_scale_change: float = 0.25
    # Residual misfit at stable landmarks after registration, as a fraction of
    # the inter-pupil distance, above which the pair is not usable.
    max_residual_rel_ipd: float = 0.03
    # Fraction of BEFORE's face box that AFTER does not cover, above which the
    # face is "partly out of frame".
    max_out_of_frame: float = 0.02


@dataclass(frozen=True)
class AlignmentConfig:
    # RANSAC inlier threshold for the landmark similarity fit, fraction of IPD.
    ransac_threshold_rel_ipd: float = 0.05
    # Intensity refinement (ECC) works on the face at this inter-pupil distance
    # in pixels (images are resampled to it), coarse to fine.
    refine: bool = True
    refine_ipd_px: tuple[float, ...] = (60.0, 120.0)
    refine_max_iterations: int = 60
    refine_epsilon: float = 1e-5
    # Motion model of the refinement: "affine" or "homography".
    refine_model: str = "homography"
    # The refinement is kept only if its residual at the stable landmarks is
    # at most this much (fraction of IPD) above the landmark fit's.
    refine_max_disagreement_rel_ipd: float = 0.01
    # Bounded non-rigid correction for residual expression/pose differences.
    local: bool = True
    local_ipd_px: float = 100.0
    local_max_rel_ipd: float = 0.04
    local_smoothing_rel_ipd: float = 0.15
    qc: AlignmentQCConfig = field(default_factory=AlignmentQCConfig)

    def __post_init__(self) -> None:
        _require(self.refine_model in ("affine", "homography"), "alignment.refine_model",
                 f"must be 'affine' or 'homography', got {self.refine_model!r}")
        _require(len(self.refine_ipd_px) > 0 and all(v > 0 for v in self.refine_ipd_px),
                 "alignment.refine_ipd_px", f"must be a non-empty list of positive sizes, got {list(self.refine_ipd_px)}")
        _require(self.refine_max_iterations > 0, "alignment.refine_max_iterations",
                 f"must be positive, got {self.refine_max_iterations}")
        for name in ("ransac_threshold_rel_ipd", "local_ipd_px", "local_max_rel_ipd", "local_smoothing_rel_ipd"):
            value = getattr(self, name)
            _require(value > 0, f"alignment.{name}", f"must be positive, got {value}")


@dataclass(frozen=True)
class IlluminationConfig:
    # Beyond these the follow-up's lighting differs from the baseline's more
    # than one global correction can be trusted to undo (pair not usable).
    max_exposure_stops: float = 2.0
    max_white_balance: float = 0.25
    # Largest per-channel tone (gamma) change, |gamma − 1|.
    max_tone_change: float = 0.3
    # Left/right or top/bottom gain difference: side lighting changed.
    max_nonuniformity: float = 0.10


@dataclass(frozen=True)
class ExpressionConfig:
    # A follow-up whose expression differs from the baseline's is not comparable:
    # a smile deepens the folds and shades the cheeks, a raised brow creases the
    # forehead (outcomes/expression.py).
    check: bool = True
    # Mahalanobis distance of the six expression measures' change under the noise of
    # repeat photos of unchanged faces (outcomes/data/expression_noise.json), above
    # which the expression changed. 4.5 was chosen on the tuning half of the London
    # set's neutral/smiling pairs and simulated repeats: every tuning smile above it,
    # no tuning repeat (benchmarks/real_photo_qc.py reports the held-out half).
    max_distance: float = 4.5
    # Each measure's repeat-photo sd counts as at least this (IPD units, ~0.4 mm):
    # mediapipe parts closed lips by up to 0.02 IPD between repeats, which is no
    # expression a clinician would see.
    min_noise_sd_ipd: float = 0.006
    # When the expression changed, PIH is not assessed in regions whose mesh points
    # moved more than this (median, IPD units) after registration: their shading moved.
    # About the landmarks' own repeat noise (~0.5 mm): a smile's new shadows reach skin
    # that moved only 0.01-0.02 IPD once the registration has taken up the rest.
    pih_min_motion_ipd: float = 0.008

    def __post_init__(self) -> None:
        _require(isinstance(self.check, bool), "expression.check", f"must be true or false, got {self.check!r}")
        for name in ("max_distance", "min_noise_sd_ipd", "pih_min_motion_ipd"):
            value = getattr(self, name)
            _require(value > 0, f"expression.{name}", f"must be positive, got {value}")


@dataclass(frozen=True)
class IdentityConfig:
    # The follow-up must show the baseline's person (outcomes/identity.py).
    check: bool = True
    # Face-embedding distance above which the two photos show different people: the
    # embedding model's published operating point (dlib, LFW), not tuned here.
    max_distance: float = 0.6

    def __post_init__(self) -> None:
        _require(isinstance(self.check, bool), "identity.check", f"must be true or false, got {self.check!r}")
        _require(0.0 < self.max_distance < 2.0, "identity.max_distance",
                 f"must be between 0 and 2, got {self.max_distance}")


@dataclass(frozen=True)
class RegionConfig:
    # A region with less visible skin than this fraction is omitted, not scored.
    min_skin_fraction: float = 0.4
    # Fewer scored regions than this makes the pair not usable.
    min_regions: int = 6


WRINKLE_DETECTORS = ("classical", "cnn", "fused")
CNN_PRECISIONS = ("auto", "int8", "float32")


@dataclass(frozen=True)
class WrinkleConfig:
    # classical: Hessian line filters only; cnn: the wrinkle U-Net only; fused:
    # both, as cnn_weight × CNN probability + (1 − cnn_weight) × classical response.
    # Fused by default: on the CNN's held-out faces it raises wrinkle Dice 0.496 →
    # 0.549 (black faces 0.22 → 0.42); "Improved or better" on ≥ 45 % reductions goes
    # from 87 to 100 %, and calibrated agreement with simulated raters (quadratic κ)
    # from ~0.73 to 0.86–0.90. A pair takes ~1.3 s with the int8 CNN (benchmarks/wrinkle_cnn.py,
    # validity.py, calibration.py; models/README.md). classical needs no model file
    # and is ~0.5 s faster a pair (outcomes/configs/classical.yaml, `--config classical`).
    detector: str = "fused"
    # The network as ONNX files, named along the model search path ($OUTCOMES_MODELS_DIR,
    # then the package's models folder; outcomes/model_store.py) or by absolute path, and
    # refused unless their sha256 is the one given here (from the model card).
    cnn_weights: str = "wrinkle_unet.onnx"
    cnn_sha256: str = "6bc87e22d7ae719460f8eb3cefd1aee69b68d332a1b197736a7c747e6a5f2b60"
    # The same network quantized to 8-bit integers; "" for none.
    cnn_int8_weights: str = "wrinkle_unet.int8.onnx"
    cnn_int8_sha256: str = "d38fb0a7fc028be299c0bf6da918378bf914c0d71f39c110b9cbc5727e949666"
    device: str = "auto"
    # auto: the int8 file on CPU when one is configured (faster, the same Dice within
    # 0.005 on held-out renders; models/README.md), float32 otherwise and on CUDA;
    # int8 or float32 force one.
    cnn_precision: str = "auto"
    cnn_weight: float = 0.5
    # Average the CNN's logits over the photo and its mirror image (twice the network
    # time, ~0.1-0.15 s more a photo in int8). Off by default: with the default model it
    # moved val Dice by less than 0.01 either way; configs/visible.yaml turns it on
    # (models/README.md).
    cnn_mirror_average: bool = False
    # A pixel is a wrinkle where the fused (or CNN) score reaches this.
    threshold: float = 0.5

    def __post_init__(self) -> None:
        _require(self.detector in WRINKLE_DETECTORS, "wrinkles.detector",
                 f"must be one of {list(WRINKLE_DETECTORS)}, got {self.detector!r}")
        _require(self.device in ("auto", "cpu", "cuda"), "wrinkles.device",
                 f"must be auto, cpu or cuda, got {self.device!r}")
        _require(self.cnn_precision in CNN_PRECISIONS, "wrinkles.cnn_precision",
                 f"must be one of {list(CNN_PRECISIONS)}, got {self.cnn_precision!r}")
        for key in ("cnn_sha256", "cnn_int8_sha256"):
            value = getattr(self, key)
            _require(len(value) == 64 and all(c in "0123456789abcdef" for c in value),
                     f"wrinkles.{key}", f"must be 64 lower-case hex digits, got {value!r}")
        _require(0.0 <= self.cnn_weight <= 1.0, "wrinkles.cnn_weight", f"must be in [0, 1], got {self.cnn_weight}")
        _require(isinstance(self.cnn_mirror_average, bool), "wrinkles.cnn_mirror_average",
                 f"must be true or false, got {self.cnn_mirror_average!r}")
        _require(0.0 < self.threshold < 1.0, "wrinkles.threshold", f"must be in (0, 1), got {self.threshold}")


@dataclass(frozen=True)
class Config:
    input: InputConfig = field(default_factory=InputConfig)
    landmarks: LandmarkConfig = field(default_factory=LandmarkConfig)
    alignment: AlignmentConfig = field(default_factory=AlignmentConfig)
    illumination: IlluminationConfig = field(default_factory=IlluminationConfig)
    regions: RegionConfig = field(default_factory=RegionConfig)
    expression: ExpressionConfig = field(default_factory=ExpressionConfig)
    identity: IdentityConfig = field(default_factory=IdentityConfig)
    wrinkles: WrinkleConfig = field(default_factory=WrinkleConfig)
    pigment: PigmentThresholds = field(default_factory=PigmentThresholds)
    gais: ScorerParams = field(default_factory=ScorerParams)

    def sha256(self) -> str:
        """Hash of the resolved configuration (all values, defaults included).

        Settings added after release (``_LATER_SETTINGS``) count only when they differ from
        the behaviour before they existed, so calibrated scorers, reusable baselines and batch
        jobs made with an earlier version keep matching the configuration they were made with.
        """
        text = json.dumps(without_earlier_values(dataclasses.asdict(self), _LATER_SETTINGS), sort_keys=True,
                          separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


# (section, setting, the value that behaves as before the setting existed), for settings
# added after configurations were first hashed. The expression and identity checks
# only decide whether a pair is usable and never change a measured value of a
# comparable pair, so at their defaults they leave the hash as it was.
_LATER_SETTINGS = (
    ("wrinkles", "cnn_mirror_average", False),
    ("expression", dataclasses.asdict(ExpressionConfig())),
    ("identity", dataclasses.asdict(IdentityConfig())),
)


def without_earlier_values(values: dict, later: tuple[tuple, ...]) -> dict:
    """``values`` (nested, as from ``dataclasses.asdict``) less each later setting that holds its earlier value.

    ``later`` lists ``(*path, earlier_value)``: the keys down to a setting added after
    configurations were first hashed, and the value with which it behaves as before it
    existed. Leaving such settings out keeps earlier hashes valid until one is used.
    """
    for *path, earlier in later:
        *parents, name = path
        section = values
        for key in parents:
            section = section[key]
        if section[name] == earlier:
            del section[name]
    return values


def load_config(path: str | Path | None = None) -> Config:
    """Read a YAML config file over the defaults; ``None`` gives the defaults.

    Raises
    ------
    ConfigError
        The file cannot be read or parsed, has unknown keys, or a value has the
        wrong type.
    """
    if path is None:
        return Config()
    return load_yaml_dataclass(Config, resolve_config_path(path))


def bundled_configs() -> dict[str, Path]:
    """Configurations shipped inside the package, by name (``default``, ``classical``)."""
    folder = Path(__file__).resolve().parent / "configs"
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


def resolve_config_path(path: str | Path) -> Path:
    """``path`` itself when it exists, else the bundled configuration of that name.

    ``classical`` or ``classical.yaml`` names ``outcomes/configs/classical.yaml`` unless a
    file of that name is in the working folder.
    """
    path = Path(path)
    try:
        if path.exists() or len(path.parts) > 1:
            return path
    except OSError:  # a name too long to look up: reading it reports the problem
        return path
    bundled = bundled_configs()
    name = path.stem if path.suffix in (".yaml", ".yml") else path.name
    return bundled.get(name, path)


def config_from_mapping(data: Any, source: str = "<mapping>") -> Config:
    """Validate a plain mapping (as parsed from YAML) into a :class:`Config`."""
    return dataclass_from_mapping(Config, data, source)


def dataclass_from_mapping(cls: type, data: Any, source: str = "<mapping>") -> Any:
    """Validate a plain mapping into the frozen dataclass ``cls`` (unknown keys rejected)."""
    try:
        return _build(cls, data, "")
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def load_yaml_dataclass(cls: type, path: str | Path) -> Any:
    """Read a YAML file into ``cls`` with the same rules as :func:`load_config`."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        detail = " ".join(str(exc).split())  # YAML's messages span lines; ours is one
        raise ConfigError(f"{path}: cannot read config: {detail}") from None
    return dataclass_from_mapping(cls, data, source=str(path))


def _build(cls: type, data: Any, where: str) -> Any:
    """``where`` is the dotted key path of ``data`` ('' for the top level)."""
    if data is None:  # an empty YAML section: no overrides
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'top level'}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - fields)
    if unknown:
        keys = [f"{where}.{k}" if where else str(k) for k in unknown]
        raise ConfigError(f"unknown key(s) {keys}; allowed here: {sorted(fields)}")
    values = {name: _convert(hints[name], value, f"{where}.{name}" if where else name) for name, value in data.items()}
    return cls(**values)  # range checks in __post_init__ raise ConfigError


def _convert(hint: Any, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where)
    origin = typing.get_origin(hint)
    if origin is tuple:
        (item,) = {a for a in typing.get_args(hint) if a is not Ellipsis}
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return tuple(_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) != 1 or len(typing.get_args(hint)) != 2:
            raise ConfigError(f"{where}: union-typed settings other than 'X | None' are not supported")
        return None if value is None else _convert(args[0], value, where)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected text, got {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported setting type {hint!r}")

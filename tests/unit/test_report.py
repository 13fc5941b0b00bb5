"""The clinician's HTML report, on a small synthetic assessment built from the dataclasses directly."""

from __future__ import annotations

import base64
import dataclasses
import io
import re

import numpy as np
import pytest
from PIL import Image

from outcomes.assessment import Assessment, RegionChange
from outcomes.color import SkinTone
from outcomes.features.pigment import PihResult, RegionPigment
from outcomes.illumination import IlluminationFit
from outcomes.report import render_report, write_report
from outcomes.scoring import GRADE_LABELS, GaisEstimate
from outcomes.types import ANCHOR_NAMES, AlignedPair, HeadPose, Landmarks, Photo, Registration

SIZE = 200
HOSTILE = "<script>alert(1)</script>"
REGIONS = {"forehead": (40, 30, 160, 60), "cheek_right": (45, 90, 90, 130), "cheek_left": (110, 90, 155, 130),
           "chin": (80, 150, 120, 175)}  # name → (x0, y0, x1, y1)


def _make(cls, **given):
    """``cls(**given)``, tolerant of fields added or dropped since this test was written.

    Required fields not given get a neutral value from their annotation; given
    names the class no longer has are dropped.
    """
    defaults = {"dict": {}, "tuple": (), "ndarray": np.ones(3), "bool": False, "float": 0.0, "int": 0, "str": ""}
    names = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {k: v for k, v in given.items() if k in names}
    for name, f in names.items():
        if name not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            kwargs[name] = next((v for k, v in defaults.items() if k in str(f.type)), None)
    return cls(**kwargs)


def _landmarks(rng: np.random.Generator) -> Landmarks:
    points = np.column_stack([rng.uniform(40, 160, 478), rng.uniform(30, 185, 478)])
    anchors = {name: points[i].copy() for i, name in enumerate(ANCHOR_NAMES)}
    anchors["right_pupil"], anchors["left_pupil"] = np.array([75.0, 75.0]), np.array([125.0, 75.0])
    return _make(Landmarks, points=points, depth=rng.normal(0, 5, 478), scheme="mediapipe-478", anchors=anchors,
                 pose=HeadPose(1.0, -0.5, 0.2), faces_found=1, face_box=(35.0, 25.0, 165.0, 190.0),
                 image_size=(SIZE, SIZE))


def make_assessment(*, pih_flag: bool = True, usable: bool = True, erythema: bool = True,
                    flags: tuple[str, ...] = ("large_roll_change",)) -> Assessment:
    """A small but complete Assessment: 200×200 photos, four regions, wrinkles, a PIH spot, redness."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    skin = np.stack([200 - yy // 4, 150 - yy // 5, 120 + xx // 10], axis=-1).astype(np.uint8)
    before_px = np.clip(skin + rng.integers(-8, 8, skin.shape), 0, 255).astype(np.uint8)
    after_px = np.clip(before_px.astype(int) + 5, 0, 255).astype(np.uint8)
    before = Photo(before_px, "/clinic/Jane_Doe_visit1.jpg", "a" * 64)
    after = Photo(after_px, "/clinic/Jane_Doe_visit2.jpg", "b" * 64)
    lm = _landmarks(rng)
    reg = _make(Registration, after_to_before=np.eye(3), local_flow=None, residual_px=1.2, residual_rel_ipd=0.024,
                local_max_px=0.0, pose_change=HeadPose(1.5, -0.8, 3.9), ok=usable, qc_flags=flags)
    pair = _make(AlignedPair, before=before, after=after, after_in_before=after_px,
                 valid=np.ones((SIZE, SIZE), bool), before_landmarks=lm, after_landmarks=lm, registration=reg)
    masks = {}
    for name, (x0, y0, x1, y1) in REGIONS.items():
        m = np.zeros((SIZE, SIZE), bool)
        m[y0:y1, x0:x1] = True
        masks[name] = m
    wr_b, wr_a = np.zeros((SIZE, SIZE), bool), np.zeros((SIZE, SIZE), bool)
    wr_b[40:42, 50:150] = wr_b[50:52, 60:140] = True
    wr_a[40:41, 60:140] = True
    spots, red = np.zeros((SIZE, SIZE), bool), np.zeros((SIZE, SIZE), bool)
    if pih_flag:
        spots[100:108, 60:68] = True
    if erythema:
        red[100:115, 120:140] = True
    colour = tuple(_make(RegionPigment, region=n, delta_L=-1.5, delta_a=0.4, delta_b=0.8, delta_e=1.8,
                         area_fraction=0.03 if (pih_flag and n == "cheek_right") else 0.0) for n in REGIONS)
    pih = _make(PihResult, flag=pih_flag, severity="moderate" if pih_flag else "none",
                area_fraction=0.012 if pih_flag else 0.0, delta_e=4.2 if pih_flag else 0.0, regions=colour,
                spot_mask=spots, erythema_mask=red)
    regions = {n: _make(RegionChange, wrinkle_before=0.30, wrinkle_after=0.21,
                        wrinkle_detail_before={"area_fraction": 0.1}, wrinkle_detail_after={"area_fraction": 0.07})
               for n in REGIONS}
    regions["chin"] = _make(RegionChange, wrinkle_before=0.1, wrinkle_after=0.12, laxity_before=3.0, laxity_after=2.5,
                            laxity_confidence=0.7)
    probs = {"1": 0.02, "2": 0.11, "3": 0.57, "4": 0.23, "5": 0.07}
    gais = _make(GaisEstimate, grade=3, label=GRADE_LABELS[3], probabilities=probs, improvement_score=0.31,
                 wrinkle_component=0.31, laxity_component=None, override=None)
    fit = _make(IlluminationFit, gains=np.array([1.1, 1.05, 1.0]), offsets=np.zeros(3), gammas=np.ones(3),
                exposure_stops=0.12, white_balance=0.1, nonuniformity=0.02, residual_delta_e=1.4, n_pixels=5000,
                correctable=True)
    return _make(
        Assessment, pair=pair, after_normalised=before_px.copy(), gais=gais,
        skin_before=_make(SkinTone, ita_deg=35.2, category="intermediate", fitzpatrick="III",
                          fitzpatrick_source="estimated"),
        ita_after=34.1, pih=pih, regions=regions,
        omitted_regions={"jawline_left": "mostly hidden: 20% visible skin, below 50%"}, illumination=fit,
        usable=usable, qc_flags=flags + (() if usable else ("residual_too_large",)),
        provenance={"package_version": "0.1.0", "config_sha256": "c" * 64, "inputs_sha256": ["a" * 64, "b" * 64],
                    "models": {"mediapipe-face-mesh": "mediapipe==0.10.14"}},
        stage_ms={"align_ms": 120.0, "align.refine_ms": 40.0, "pih_ms": 12.5}, wrinkle_mask_before=wr_b,
        wrinkle_mask_after=wr_a, region_masks=masks,
        not_assessable={"submental": "needs a profile (90°) view; not assessable on a frontal photo"},
    )


@pytest.fixture(scope="module")
def report() -> str:
    return render_report(make_assessment())


def test_one_self_contained_document(report):
    assert report.startswith("<!DOCTYPE html>")
    assert report.count("<html") == 1 and report.count("</html>") == 1 and report.count("<body") == 1
    assert "http://" not in report and "https://" not in report and "//cdn" not in report
    # Every url(...), src and href points inside the document.
    for ref in re.findall(r'(?:url\(|src=|href=)["\']?([^"\')\s>]+)', report):
        assert ref.startswith(("data:", "#")), ref


def test_embeds_decodable_images(report):
    uris = re.findall(r"data:image/(jpeg|png);base64,([A-Za-z0-9+/=]+)", report)
    kinds = {k for k, _ in uris}
    assert kinds == {"jpeg", "png"}
    for kind, data in uris:
        image = Image.open(io.BytesIO(base64.b64decode(data)))
        assert image.format == kind.upper() and image.width > 0


def test_grade_and_probabilities(report):
    assert "Improved" in report and ">3<" in report
    for label in GRADE_LABELS.values():
        assert label in report
    for p in ("2\u202f%", "11\u202f%", "57\u202f%", "23\u202f%", "7\u202f%"):
        assert p in report
    assert "wrinkle severity 31\u202f% lower than baseline" in report


def test_pih_warning_only_when_flagged(report):
    assert "Possible post-inflammatory hyperpigmentation" in report and "moderate" in report
    assert "1.20\u202f%" in report and "ΔE*ab 4.2" in report
    clean = render_report(make_assessment(pih_flag=False))
    assert "Possible post-inflammatory hyperpigmentation" not in clean
    assert "No new hyperpigmentation (PIH) found" in clean


def test_erythema_note_separate_from_pih():
    assert "Redness (erythema) seen" in render_report(make_assessment(pih_flag=False))
    assert "Redness (erythema) seen" not in render_report(make_assessment(pih_flag=False, erythema=False))


def test_not_usable_banner_only_when_unusable(report):
    assert "do not trust this estimate" not in report
    bad = render_report(make_assessment(usable=False, flags=("pose_change_yaw",)))
    assert "do not trust this estimate" in bad
    assert "turned left/right differently" in bad and "could not be aligned closely enough" in bad


def test_every_region_in_the_table(report):
    table = report[report.index('id="regions"'):]
    for name in [*REGIONS, "jawline_left", "submental"]:
        assert name in table
    assert "mostly hidden" in table and "needs a profile" in table


def test_no_file_names(report):
    assert "Jane_Doe" not in report and "/clinic/" not in report
    assert "a" * 64 in report and "b" * 64 in report


def test_hostile_text_is_escaped():
    text = render_report(make_assessment(usable=False, flags=(HOSTILE,)))
    assert HOSTILE not in text and "alert(1)" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert text.count("<script>") == 1  # the report's own script only


def test_hostile_provenance_and_region_names_escaped():
    a = make_assessment()
    a = dataclasses.replace(a, provenance={**a.provenance, "note": HOSTILE, "path": "/clinic/Jane_Doe_visit2.jpg"},
                            omitted_regions={HOSTILE: HOSTILE})
    text = render_report(a)
    assert HOSTILE not in text and "Jane_Doe" not in text


def test_write_report_is_atomic(tmp_path):
    out = write_report(tmp_path / "sub" / "report.html", make_assessment())
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.html"]


def test_size_stays_small_for_large_photos():
    a = make_assessment()
    big = np.asarray(Image.fromarray(a.pair.before.pixels).resize((1350, 1350)))
    scale = lambda m: np.asarray(Image.fromarray(m).resize((1350, 1350), Image.NEAREST))  # noqa: E731
    lm = dataclasses.replace(a.pair.before_landmarks, points=a.pair.before_landmarks.points * 6.75,
                             face_box=tuple(v * 6.75 for v in a.pair.before_landmarks.face_box))
    pair = dataclasses.replace(a.pair, before=Photo(big, "x", "a" * 64), after_in_before=big,
                               valid=np.ones(big.shape[:2], bool), before_landmarks=lm)
    pih = dataclasses.replace(a.pih, spot_mask=scale(a.pih.spot_mask), erythema_mask=scale(a.pih.erythema_mask))
    a = dataclasses.replace(a, pair=pair, after_normalised=big, pih=pih,
                            wrinkle_mask_before=scale(a.wrinkle_mask_before),
                            wrinkle_mask_after=scale(a.wrinkle_mask_after),
                            region_masks={k: scale(v) for k, v in a.region_masks.items()})
    text = render_report(a)
    assert len(text.encode()) < 2_000_000
    widths = [Image.open(io.BytesIO(base64.b64decode(d))).width
              for d in re.findall(r"data:image/\w+;base64,([A-Za-z0-9+/=]+)", text)]
    assert widths and max(widths) <= 700

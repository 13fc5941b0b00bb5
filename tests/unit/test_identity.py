"""Identity embeddings: distances, checks, the shipped model files, and the comparability checks."""

from __future__ import annotations

import numpy as np
import pytest

import outcomes.identity as identity
from outcomes.comparability import check_comparability, pih_not_assessable
from outcomes.config import ExpressionConfig, IdentityConfig
from outcomes.errors import ModelError
from outcomes.identity import FaceIdentity, identity_distance, load_identity_model
from outcomes.landmarks import MESH_ANCHOR_INDEX, frontal_template
from outcomes.types import HeadPose, Landmarks


def unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=128)
    return v / np.linalg.norm(v) * 0.5


def mesh(points: np.ndarray) -> Landmarks:
    return Landmarks(points=points, depth=np.zeros(len(points)), scheme="mediapipe-478",
                     anchors={k: points[i].copy() for k, i in MESH_ANCHOR_INDEX.items()},
                     pose=HeadPose(0.0, 0.0, 0.0), faces_found=1, face_box=(0, 0, 1, 1), image_size=(800, 800))


def test_distance_is_a_metric_on_embeddings():
    a, b = FaceIdentity(unit(0)), FaceIdentity(unit(1))
    assert identity_distance(a, a) == 0
    assert identity_distance(a, b) == pytest.approx(identity_distance(b, a))
    assert identity_distance(a, b) == pytest.approx(np.linalg.norm(unit(0) - unit(1)))


def test_embeddings_of_different_models_do_not_compare():
    with pytest.raises(ValueError, match="different models"):
        identity_distance(FaceIdentity(unit(0)), FaceIdentity(unit(0), model="another"))


def test_identity_needs_128_finite_values():
    with pytest.raises(ValueError, match="128"):
        FaceIdentity(np.zeros(64))
    with pytest.raises(ValueError, match="128"):
        FaceIdentity(np.full(128, np.nan))


def test_model_files_are_checksum_verified(monkeypatch):
    monkeypatch.setattr(identity, "EMBEDDING_FILE", (identity.EMBEDDING_FILE[0], "0" * 64))
    with pytest.raises(ModelError, match="sha256"):
        load_identity_model()


def test_missing_package_is_a_model_error(monkeypatch):
    monkeypatch.setattr(identity, "PACKAGE", "no_such_package_for_outcomes")
    with pytest.raises(ModelError, match="not installed"):
        load_identity_model()


def test_shipped_model_loads_and_names_its_checksum():
    model = load_identity_model()
    assert model.describe() == {identity.MODEL_NAME: identity.EMBEDDING_FILE[1]}


def test_another_person_is_flagged_and_its_expression_not_compared():
    face = mesh(frontal_template()[:, :2].astype(np.float64) * 300 + 400)
    far = FaceIdentity(unit(0)), FaceIdentity(-unit(0))  # distance 1.0
    result = check_comparability(face, face, *far, ExpressionConfig(), IdentityConfig())
    assert not result.usable and result.identity_distance == pytest.approx(1.0)
    assert len(result.flags) == 1 and result.flags[0].startswith("different_person:") and "0.6" in result.flags[0]
    assert result.expression is None
    masks = {"cheek_left": np.ones((4, 4), bool), "chin": np.ones((4, 4), bool)}
    assert set(pih_not_assessable(result, face, face, np.eye(3), masks, ExpressionConfig())) == set(masks)


def test_same_person_same_expression_is_comparable():
    face = mesh(frontal_template()[:, :2].astype(np.float64) * 300 + 400)
    same = FaceIdentity(unit(0)), FaceIdentity(unit(0) + 0.01)
    result = check_comparability(face, face, *same, ExpressionConfig(), IdentityConfig())
    assert result.usable and result.flags == ()
    assert result.to_dict()["identity"]["same_person"] and not result.to_dict()["expression"]["changed"]
    assert pih_not_assessable(result, face, face, np.eye(3), {"chin": np.ones((4, 4), bool)}, ExpressionConfig()) == {}


def test_checks_switched_off_measure_nothing():
    face = mesh(frontal_template()[:, :2].astype(np.float64) * 300 + 400)
    far = FaceIdentity(unit(0)), FaceIdentity(-unit(0))
    result = check_comparability(face, face, *far, ExpressionConfig(check=False), IdentityConfig(check=False))
    assert result.usable and result.identity_distance is None and result.expression is None

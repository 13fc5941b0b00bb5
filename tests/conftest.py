"""Shared fixtures: where the real faces are, and loaded models (once per session)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``$OUTCOMES_SHARED_DATA`` or ``../shared/data`` beside the repository."""
    return Path(os.environ.get("OUTCOMES_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not (path / "london" / "neutral").is_dir():
        pytest.skip(f"real face photos not found at {path} (set OUTCOMES_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def models():
    from outcomes.runtime import load_models

    loaded = load_models()
    yield loaded
    loaded.close()

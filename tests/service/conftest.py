"""Fixtures of the clinic server's tests: each test on a fresh SQLite database and, where
PostgreSQL is installed (``.ci/run`` installs it), on a fresh PostgreSQL database too."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the clinic server needs the service extra: pip install -e '.[service]'")
pytest.importorskip("sqlalchemy", reason="the clinic server needs the service extra")

from tests.service.postgres import create_database, postgres_bin, postgres_server  # noqa: E402

PASSWORD = "correct-horse-battery"
_names = itertools.count()


@pytest.fixture(scope="session")
def postgres_admin_url():
    url = os.environ.get("OUTCOMES_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    if postgres_bin() is None:
        if os.environ.get("OUTCOMES_REQUIRE_POSTGRES"):
            pytest.fail("OUTCOMES_REQUIRE_POSTGRES is set but PostgreSQL's initdb was not found")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql; .ci/run does)")
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return None  # the default: SQLite in the data folder
    admin = request.getfixturevalue("postgres_admin_url")
    return create_database(admin, f"outcomes_test_{os.getpid()}_{next(_names)}")


@dataclass
class Service:
    """A clinic server application on a fresh database, with the assessments it queued."""

    settings: object
    app: object
    client: object
    queued: list[int] = field(default_factory=list)

    def add_user(self, username: str, clinic: str = "Harbour Clinic", role: str = "clinician") -> str:
        from outcomes.service.admin import add_user

        add_user(self.settings, username, clinic, role, PASSWORD)
        return username

    def token(self, username: str, password: str = PASSWORD) -> str:
        answer = self.client.post("/api/v1/tokens", json={"username": username, "password": password})
        assert answer.status_code == 201, answer.text
        return answer.json()["token"]

    def auth(self, username: str) -> dict:
        return {"Authorization": f"Bearer {self.token(username)}"}

    def sessions(self):
        from outcomes.service.db import make_engine, make_sessionmaker

        return make_sessionmaker(make_engine(self.settings.database), self.settings.audit_key())


def make_service(tmp_path: Path, database_url: str | None, **overrides) -> Service:  # noqa: ANN003
    from fastapi.testclient import TestClient

    from outcomes.service.app import create_app
    from outcomes.service.settings import ServiceSettings

    settings = ServiceSettings(data_dir=tmp_path / "data", database_url=database_url, **overrides)
    queued: list[int] = []
    app = create_app(settings, enqueue=queued.append)
    client = TestClient(app, base_url="https://testserver")
    return Service(settings, app, client, queued)


@pytest.fixture
def service(tmp_path, database_url) -> Service:
    return make_service(tmp_path, database_url)


def face_jpeg(variant: int = 0, **save) -> bytes:  # noqa: ANN003
    """A bundled sample face as JPEG bytes; ``variant`` changes its bytes (not its content much)."""
    import io

    from PIL import Image

    repo = Path(__file__).resolve().parents[2]
    with Image.open(repo / "data_samples" / "S02_baseline.jpg") as im:
        im = im.convert("RGB")
        if variant:  # a corner block, different enough to survive JPEG compression
            im.paste((variant * 37 % 256, variant * 91 % 256, 0), (0, 0, 16, 16))
        out = io.BytesIO()
        im.save(out, "JPEG", quality=92, **save)
        return out.getvalue()

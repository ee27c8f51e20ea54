"""Root test configuration (plugins must be declared here: pytest refuses them in nested conftests).

Catalog fixtures run every catalog test on SQLite and, when ``DANGAN_TEST_PG_URL`` names a reachable
PostgreSQL (``.ci/run`` starts one; see README "Tests"), on PostgreSQL too, each test in a fresh schema.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests.fixtures_s3"]

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

PG_ENV = "DANGAN_TEST_PG_URL"


def _pg_schema_url(base: str) -> Iterator[str]:
    import psycopg
    from sqlalchemy.engine import make_url

    schema = f"t_{uuid.uuid4().hex[:12]}"
    plain = base.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(plain, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL at {PG_ENV} not reachable ({exc}); see README 'Tests'")
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options=-csearch_path%3D{schema}"
    password = make_url(base).password
    if password:  # hand out the password by reference, as operators must register it
        os.environ["DANGAN_TEST_PG_PASSWORD"] = str(password)
        url = url.replace(f":{password}@", ":${DANGAN_TEST_PG_PASSWORD}@", 1)
    yield url
    from dangan.catalog.db import dispose_engines

    dispose_engines()
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgres"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty catalog URL: SQLite in tmp_path, and PostgreSQL when DANGAN_TEST_PG_URL is set."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.db'}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_ENV} is not set in CI: .ci/run must start PostgreSQL")
        pytest.skip(f"{PG_ENV} not set; see README 'Tests' to run catalog tests on PostgreSQL")
    yield from _pg_schema_url(base)


@pytest.fixture
def settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Embedded-default settings in a fresh data folder."""
    from dangan.config import load_settings

    return load_settings(data_dir=tmp_path / "data")


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """Flows run against a temporary local Prefect server (one per test session)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(autouse=True)
def _fresh_cli_state() -> Iterator[None]:
    """Each test starts without settings left by an earlier CLI invocation in this process."""
    from cli.support import State

    State.settings = None
    yield
    State.settings = None

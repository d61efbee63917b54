"""Fixtures shared by the whole suite.

Storage tests take the ``database_url`` or ``engine`` fixture, parametrised over the
backends available: SQLite always; PostgreSQL when MOBILE_SERVICES_TEST_DATABASE_URL
names a server (``.ci/run`` sets it). Each test gets a fresh database: a new SQLite
file, or a new PostgreSQL schema dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, text
from sqlmodel import SQLModel

from mobile_services.storage import tables  # noqa: F401  (registers the tables)
from mobile_services.storage.db import make_engine, normalise_url

# Property tests check behaviour, never speed (speed is measured by benchmarks/): no deadline,
# so a first call that loads a library's data, or a busy CI machine, is not a failure.
hypothesis_settings.register_profile("mobile-services", deadline=None)
hypothesis_settings.load_profile("mobile-services")

PG_URL_ENV = "MOBILE_SERVICES_TEST_DATABASE_URL"

pytest_plugins = ["tests.fakes.plugin", "tests.fixtures.territory", "tests.fixtures.valley"]


def _backends() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get(PG_URL_ENV) else ["sqlite"]


@pytest.fixture(params=_backends())
def backend(request: pytest.FixtureRequest) -> str:
    """Name of the storage backend this test runs on."""
    return str(request.param)


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh, empty database (no tables) on the current backend."""
    if backend == "sqlite":
        yield f"sqlite:///{(tmp_path / 'test.db').as_posix()}"
        return
    base = normalise_url(os.environ[PG_URL_ENV])
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """URL of a fresh database with every table created."""
    engine = make_engine(empty_database_url)
    SQLModel.metadata.create_all(engine)
    engine.dispose()
    return empty_database_url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a fresh database with every table created."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def _hermetic_settings(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test reads the developer's own MOBILE_SERVICES_* environment or data folder."""
    for name in list(os.environ):
        if name.startswith("MOBILE_SERVICES_") and name != PG_URL_ENV:
            monkeypatch.delenv(name)
    monkeypatch.setenv("MOBILE_SERVICES_CONFIG_FILE", str(tmp_path_factory.getbasetemp() / "no-such-config.toml"))
    # One search per plan: the suite already runs on every core (pytest -n); the parallel
    # portfolio has its own tests (tests/unit/routing/test_portfolio.py, test_plan_week.py).
    monkeypatch.setenv("MOBILE_SERVICES_SOLVER_WORKERS", "1")

"""Shared fixtures: a real registry on SQLite and, when configured, on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from signoff.registry import Registry

POSTGRES_ENV = "SIGNOFF_TEST_POSTGRES_URL"


def postgres_base_url() -> str | None:
    """The PostgreSQL server given to the tests, if any."""
    return os.environ.get(POSTGRES_ENV) or None


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL on a fresh, empty schema of the test PostgreSQL database (dropped afterwards)."""
    base = postgres_base_url()
    if base is None:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV}=postgresql://... (CI sets it)")
    schema = f"signoff_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def registry_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A registry URL on each backend: the same store suite runs on SQLite and PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(autouse=True)
def signoff_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep every test's private keys in its own directory (never in the real ~/.signoff)."""
    home = tmp_path / "signoff-home"
    monkeypatch.setenv("SIGNOFF_HOME", str(home))
    monkeypatch.delenv("SIGNOFF_DB", raising=False)
    monkeypatch.delenv("SIGNOFF_ACTOR", raising=False)
    return home


@pytest.fixture
def registry(registry_url: str) -> Iterator[Registry]:
    """An initialised, empty registry."""
    reg, _ = Registry.init(registry_url)
    with reg:
        yield reg


@pytest.fixture
def make_artifact(tmp_path: Path) -> Callable[..., Path]:
    """Create a small model directory whose content depends on ``seed``."""

    def make(seed: str = "v1", *, name: str | None = None) -> Path:
        directory = tmp_path / "artifacts" / (name or seed)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "weights.bin").write_bytes(seed.encode() * 1000)
        (directory / "config.json").write_text(f'{{"seed": "{seed}"}}')
        return directory

    return make

"""Opening and initialising registries: every wrong database is refused and left untouched."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from signoff.errors import InvalidInputError, StoreError
from signoff.registry import Registry
from signoff.store import head_revision, resolve_location


def test_init_creates_then_is_idempotent(tmp_path: Path) -> None:
    url = str(tmp_path / "nested" / "registry.db")
    registry, first = Registry.init(url)
    registry.close()
    assert first.created and first.after == head_revision()
    registry, second = Registry.init(url)
    registry.close()
    assert not second.created and not second.changed
    with sqlite3.connect(url) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_open_missing_sqlite_registry_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    with pytest.raises(StoreError, match=r"no signoff registry.*signoff init"):
        Registry.open(str(path))
    assert not path.exists()


def test_open_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(b"\x00garbage" * 1000)
    for action in (Registry.open, Registry.init):
        with pytest.raises(StoreError, match="not a signoff registry"):
            action(str(path))
    assert path.read_bytes() == b"\x00garbage" * 1000


def test_open_a_foreign_sqlite_database(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE customers (id INTEGER)")
    for action in (Registry.open, Registry.init):
        with pytest.raises(StoreError, match=r"not a signoff registry.*customers"):
            action(str(path))
    with sqlite3.connect(path) as connection:
        tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
    assert tables == {"customers"}


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    Registry.init(str(path))[0].close()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE signoff_schema_version SET version_num = '9999'")
    for action in (Registry.open, Registry.init):
        with pytest.raises(StoreError, match="newer than this signoff"):
            action(str(path))


def test_bad_urls() -> None:
    with pytest.raises(InvalidInputError, match="unsupported database"):
        resolve_location("mysql://root@localhost/x")
    with pytest.raises(InvalidInputError, match="in-memory"):
        resolve_location("sqlite://")
    assert resolve_location("postgresql://u@h/db").url.startswith("postgresql+psycopg://")


def test_env_var_chooses_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNOFF_DB", str(tmp_path / "env.db"))
    assert resolve_location().sqlite_path == tmp_path / "env.db"


@pytest.mark.postgres
def test_empty_postgres_database_is_not_a_registry(postgres_url: str) -> None:
    with pytest.raises(StoreError, match=r"no signoff registry.*signoff init"):
        Registry.open(postgres_url)


@pytest.mark.postgres
def test_foreign_postgres_database_is_refused(postgres_url: str) -> None:
    engine = sa.create_engine(resolve_location(postgres_url).url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE invoices (id int)")
    try:
        with pytest.raises(StoreError, match=r"not a signoff registry.*invoices"):
            Registry.init(postgres_url)
    finally:
        engine.dispose()


def test_unreachable_postgres_is_a_clear_error() -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(StoreError, match="cannot open the registry"):
        Registry.open("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")


def test_schema_revisions_match_the_migrations() -> None:
    """Opening a registry reads the revision without Alembic; the constant must stay true."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from signoff.store.database import MIGRATIONS_DIR
    from signoff.store.schema import SCHEMA_REVISIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    scripts = ScriptDirectory.from_config(config)
    ordered = [s.revision for s in reversed(list(scripts.walk_revisions()))]
    assert tuple(ordered) == SCHEMA_REVISIONS


def test_an_older_registry_is_upgraded_by_init(tmp_path: Path) -> None:
    """A registry at the first schema opens only after `signoff init` upgrades it."""
    from alembic import command
    from alembic.config import Config

    from signoff.store import create_registry_engine
    from signoff.store.database import MIGRATIONS_DIR

    path = tmp_path / "old.db"
    location = resolve_location(str(path))
    engine = create_registry_engine(location)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    engine.dispose()
    with pytest.raises(StoreError, match="older schema"):
        Registry.open(str(path))
    registry, result = Registry.init(str(path))
    with registry:
        assert (result.before, result.after) == ("0001", head_revision())
        assert registry.audit_verify().ok

"""The audit log: every change is an event, the log is sealed, and any tampering is found."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signoff.errors import ImmutableError
from signoff.registry import Registry
from signoff.store import resolve_location


@pytest.fixture
def populated(registry: Registry, make_artifact: Callable[..., Path]) -> Registry:
    registry.create_model("fraud", risk_tier="high", actor="alice")
    registry.register_version("fraud", make_artifact("v1"), actor="alice")
    registry.register_version("fraud", make_artifact("v2"), actor="bob")
    registry.set_alias("fraud", "champion", 1, actor="carol")
    return registry


class Tamperer:
    """Changes rows behind signoff's back, with the append-only triggers switched off."""

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(resolve_location(url).url)
        self.postgres = self.engine.dialect.name == "postgresql"

    def run(self, *statements: str) -> None:
        with self.engine.begin() as connection:
            for table in ("versions", "events"):
                if self.postgres:
                    connection.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            if not self.postgres:
                names = connection.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger'"
                ).scalars()
                for name in list(names):
                    connection.exec_driver_sql(f"DROP TRIGGER {name}")
            for statement in statements:
                connection.exec_driver_sql(statement)
            for table in ("versions", "events"):
                if self.postgres:
                    connection.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")

    def close(self) -> None:
        self.engine.dispose()


@pytest.fixture
def tamper(registry_url: str) -> Iterator[Tamperer]:
    tamperer = Tamperer(registry_url)
    yield tamperer
    tamperer.close()


def test_every_change_is_an_event_and_the_log_verifies(populated: Registry) -> None:
    events = populated.audit_events()
    assert [e.type for e in events] == [
        "key.registered",
        "policy.set",
        "model.created",
        "version.registered",
        "version.registered",
        "alias.moved",
    ]
    assert [e.seq for e in events] == list(range(6))
    assert events[4].actor == "bob" and events[4].subject == "fraud@2"
    report = populated.audit_verify()
    assert report.ok, report.problems
    assert report.size == 6 and report.checkpoint_size == 6
    assert report.checked["versions"] == 2 and report.checked["policies"] == 1
    assert [e.seq for e in populated.audit_events(subject="fraud")] == [3, 4, 5]


def test_proofs_verify(populated: Registry) -> None:
    for seq in range(6):
        assert populated.audit_proof(seq).verified
    for old in range(1, 7):
        assert populated.audit_consistency(old).verified
    assert populated.audit_consistency(2).old_checkpoint is not None


def test_the_database_refuses_to_rewrite_events(populated: Registry) -> None:
    from signoff.store.schema import EventRow

    for statement in (sa.update(EventRow).values(leaf="{}"), sa.delete(EventRow)):
        with (
            pytest.raises(ImmutableError, match="append-only"),
            populated._store.transaction() as tx,
        ):
            tx.session.execute(statement)
    assert populated.audit_verify().ok


TAMPERING = {
    "version artifact": (
        "UPDATE versions SET artifact_uri = 'file:///evil' WHERE number = 1",
        "fraud@1 was modified",
    ),
    "version lineage": (
        'UPDATE versions SET lineage = \'{"parents": [], "datasets": [], "code": null, '
        '"run_uri": "x"}\' WHERE number = 2',
        "fraud@2 was modified",
    ),
    "version stage": ("UPDATE versions SET stage = 'production' WHERE number = 2", "stage"),
    "version deleted": (
        "DELETE FROM aliases; DELETE FROM versions WHERE number = 2",
        "fraud@2 was deleted",
    ),
    "model owner": ("UPDATE models SET owner = 'mallory'", "model 'fraud' differs"),
    "alias moved": (
        "UPDATE aliases SET version_id = (SELECT id FROM versions WHERE number = 2)",
        "alias fraud@champion",
    ),
    "event modified": (
        "UPDATE events SET leaf = replace(leaf, '\"alice\"', '\"mallory\"') WHERE seq = 2",
        "do not match the signed checkpoint",
    ),
    "event deleted": ("DELETE FROM events WHERE seq = 5", "signed checkpoint covers 6"),
    "events reordered": (
        "UPDATE events SET seq = 100 WHERE seq = 3; UPDATE events SET seq = 3 WHERE seq = 4; "
        "UPDATE events SET seq = 4 WHERE seq = 100",
        "do not match the signed checkpoint",
    ),
    "key swapped": ("UPDATE keys SET principal = 'mallory'", "was modified"),
    "checkpoint forged": (
        "UPDATE checkpoints SET note = replace(note, 'signoff', 'signoff')||'x'",
        "not signed by a registered registry key",
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_tampering_is_found_and_named(populated: Registry, tamper: Tamperer, case: str) -> None:
    statement, expected = TAMPERING[case]
    tamper.run(*[s for s in statement.split("; ") if s])
    report = populated.audit_verify()
    assert not report.ok
    assert any(expected in problem for problem in report.problems), report.problems


def test_unsealed_events_fail_closed(populated: Registry, tamper: Tamperer) -> None:
    tamper.run("DELETE FROM checkpoints")
    report = populated.audit_verify()
    assert not report.ok and "no signed checkpoint" in report.problems[0]


COLUMNS = {
    "models": ["owner", "team", "description", "created_by"],
    "versions": ["artifact_uri", "created_by", "stage", "root_digest"],
    "aliases": ["updated_by"],
    "keys": ["principal", "public_key"],
    "events": ["leaf"],
}


@pytest.fixture(scope="module")
def template_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small registry built once; each example tampers with a fresh copy of its file."""
    directory = tmp_path_factory.mktemp("template")
    path = directory / "registry.db"
    registry, _ = Registry.init(str(path))
    with registry:
        registry.create_model("m", risk_tier="limited", actor="alice", description="d")
        for i in range(3):
            artifact = directory / f"a{i}"
            artifact.mkdir()
            (artifact / "w.bin").write_bytes(bytes([i]) * 64)
            registry.register_version("m", artifact, actor="alice")
        registry.set_alias("m", "prod", 2, actor="bob")
        registry.set_alias("m", "prod", 3, actor="carol")
        assert registry.audit_verify().ok
    return path


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    table=st.sampled_from(sorted(COLUMNS)),
    data=st.data(),
    junk=st.text(alphabet="abcdefXYZ0123 ", min_size=1, max_size=12),
)
def test_random_tampering_is_always_detected(
    tmp_path_factory: pytest.TempPathFactory,
    template_registry: Path,
    table: str,
    data: st.DataObject,
    junk: str,
) -> None:
    """Property: changing any stored value of any audited row makes `audit verify` fail."""
    path = tmp_path_factory.mktemp("tamper") / "registry.db"
    shutil.copyfile(template_registry, path)
    column = data.draw(st.sampled_from(COLUMNS[table]))
    tamperer = Tamperer(str(path))
    with tamperer.engine.connect() as connection:
        count = connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()
    row = data.draw(st.integers(min_value=0, max_value=count - 1))
    key = "seq" if table == "events" else "id"
    tamperer.run(
        f"UPDATE {table} SET {column} = COALESCE({column}, '') || '{junk}' "
        f"WHERE {key} = (SELECT {key} FROM {table} ORDER BY {key} LIMIT 1 OFFSET {row})"
    )
    tamperer.close()
    with Registry.open(str(path)) as registry:
        assert not registry.audit_verify().ok

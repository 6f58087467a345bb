"""``store.prepared``: statements run on the DBAPI cursor read and fail as SQLAlchemy would."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from signoff.errors import ConflictError, ImmutableError
from signoff.registry import Registry
from signoff.store.prepared import Prepared
from signoff.store.schema import EventRow, LogStateRow, ModelRow, VersionRow


@pytest.fixture
def filled(registry: Registry, make_artifact: Callable[..., Path]) -> Registry:
    """A registry with a model (tags) and a version (JSON manifest, lineage, metadata)."""
    registry.create_model("fraud", risk_tier="high", tags={"domain": "payments"}, actor="alice")
    registry.register_version(
        "fraud", make_artifact("v1"), actor="alice", metadata={"auc": "0.91", "n": 3}
    )
    return registry


@pytest.mark.parametrize(
    "statement",
    [
        sa.select(ModelRow.id, ModelRow.name, ModelRow.tags, ModelRow.created_at),
        sa.select(VersionRow).where(VersionRow.number == sa.bindparam("number")),
        sa.select(LogStateRow.size, LogStateRow.frontier),
        sa.select(sa.func.max(EventRow.seq)),
    ],
    ids=["model", "version", "log-state", "aggregate"],
)
def test_rows_equal_sqlalchemys(filled: Registry, statement: sa.Select[tuple[object]]) -> None:
    params = {"number": 1}
    with filled._store.transaction() as tx:
        expected = [tuple(row) for row in tx.connection.execute(statement, params)]
        assert Prepared(statement).all(tx.connection, params) == expected
    assert expected  # the comparison compared something


def test_timestamps_come_back_aware_utc(filled: Registry) -> None:
    with filled._store.transaction() as tx:
        created = Prepared(sa.select(ModelRow.created_at)).scalar(tx.connection)
    assert isinstance(created, datetime)
    assert created.tzinfo is UTC


def test_a_constraint_violation_is_a_conflict(filled: Registry) -> None:
    insert = Prepared(sa.insert(ModelRow))
    row = {
        "name": "fraud",
        "owner": "mallory",
        "risk_tier": "high",
        "tags": {},
        "created_by": "mallory",
        "created_at": datetime.now(UTC),
        "version_count": 0,
    }
    with pytest.raises(ConflictError), filled._store.transaction() as tx:
        insert.run(tx.connection, row)
    assert [m.owner for m in filled.list_models()] == ["alice"]


def test_a_trigger_refusal_is_immutable(filled: Registry) -> None:
    with pytest.raises(ImmutableError), filled._store.transaction() as tx:
        Prepared(sa.delete(EventRow)).run(tx.connection)
    assert filled.audit_verify().ok


def test_executemany_inserts_every_row(filled: Registry) -> None:
    size = filled.audit_verify().size
    with filled._store.transaction() as tx:
        for _ in range(3):
            tx.events.append("test.event", actor="t", at=datetime.now(UTC), subject="s", data={})
        assert [seq for seq, _ in tx.events.iter_leaves(start=size)] == [size, size + 1, size + 2]
    with filled._store.transaction() as tx:
        assert tx.events.head()[0] == size + 3

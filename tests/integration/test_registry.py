"""The registry service on a real store: the same suite runs on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from signoff.artifacts import digest_path
from signoff.domain import CodeRef, DatasetRef, Lineage, Stage
from signoff.errors import (
    ConflictError,
    ImmutableError,
    InvalidInputError,
    NotFoundError,
)
from signoff.registry import Registry
from signoff.store.schema import ModelRow, VersionRow

SHA = "ab" * 32


def _model(registry: Registry, name: str = "fraud") -> None:
    registry.create_model(
        name, risk_tier="high", owner="risk-team", actor="alice", tags={"domain": "payments"}
    )


def _count(registry: Registry, row: type[ModelRow] | type[VersionRow]) -> int:
    with registry._store.transaction() as tx:
        return len(tx.session.scalars(select(row)).all())


def test_create_and_read_models(registry: Registry) -> None:
    _model(registry, "fraud")
    registry.create_model("churn", risk_tier="minimal", actor="bob")
    fraud = registry.get_model("fraud")
    assert (fraud.owner, fraud.risk_tier.value, fraud.created_by) == ("risk-team", "high", "alice")
    assert fraud.tags == {"domain": "payments"}
    assert fraud.created_at.tzinfo is not None
    assert registry.get_model("churn").owner == "bob"  # owner defaults to the actor
    assert [m.name for m in registry.list_models()] == ["churn", "fraud"]


def test_duplicate_model_is_refused_and_writes_nothing(registry: Registry) -> None:
    _model(registry)
    with pytest.raises(ConflictError, match="already exists"):
        registry.create_model("fraud", risk_tier="minimal", actor="bob")
    assert _count(registry, ModelRow) == 1
    assert registry.get_model("fraud").risk_tier.value == "high"


@pytest.mark.parametrize("name", ["", "Fraud", "-fraud", "fr aud", "fraud@1", "x" * 129, "é"])
def test_invalid_model_names_are_refused(registry: Registry, name: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid model name"):
        registry.create_model(name, risk_tier="high")
    assert _count(registry, ModelRow) == 0


def test_invalid_risk_tier_is_refused(registry: Registry) -> None:
    with pytest.raises(InvalidInputError, match="minimal, limited, high"):
        registry.create_model("fraud", risk_tier="extreme")


def test_register_versions_with_lineage(
    registry: Registry, make_artifact: Callable[..., Path]
) -> None:
    _model(registry)
    first = registry.register_version("fraud", make_artifact("v1"), actor="alice")
    registry.set_alias("fraud", "champion", 1, actor="alice")
    lineage = Lineage(
        parents=("fraud@champion",),
        datasets=(DatasetRef(name="tx-2026", uri="s3://data/tx.parquet", sha256=SHA),),
        code=CodeRef(repo="https://git.example/fraud", commit="0123abcd" * 5),
        run_uri="mlflow://runs/42",
    )
    second = registry.register_version(
        "fraud", make_artifact("v2"), actor="bob", lineage=lineage, metadata={"auc": "0.91"}
    )
    assert (first.number, second.number) == (1, 2)
    assert second.stage is Stage.CANDIDATE
    assert second.lineage.parents == ("fraud@1",)  # an alias parent is pinned to its number
    assert second.artifact.root_digest == digest_path(make_artifact("v2")).root_digest
    stored = registry.get_version("fraud@2")
    assert stored.lineage == second.lineage
    assert stored.metadata == {"auc": "0.91"}
    assert stored.created_by == "bob"
    assert stored.artifact.manifest == second.artifact.manifest
    assert stored.artifact.uri == make_artifact("v2").absolute().as_uri()


def test_same_artifact_twice_is_refused(
    registry: Registry, make_artifact: Callable[..., Path]
) -> None:
    _model(registry)
    registry.register_version("fraud", make_artifact("v1"))
    with pytest.raises(ConflictError, match="already registered as fraud@1"):
        registry.register_version("fraud", make_artifact("v1", name="copy"))
    # the refused registration did not consume a number
    assert registry.register_version("fraud", make_artifact("v2")).number == 2


def test_unknown_parent_writes_nothing(
    registry: Registry, make_artifact: Callable[..., Path]
) -> None:
    _model(registry)
    with pytest.raises(NotFoundError, match="fraud@7 not found"):
        registry.register_version(
            "fraud", make_artifact("v1"), lineage=Lineage(parents=("fraud@7",))
        )
    assert _count(registry, VersionRow) == 0
    assert registry.register_version("fraud", make_artifact("v1")).number == 1


def test_register_into_unknown_model(
    registry: Registry, make_artifact: Callable[..., Path]
) -> None:
    with pytest.raises(NotFoundError, match="model 'ghost' not found"):
        registry.register_version("ghost", make_artifact("v1"))


def test_malformed_dataset_digest() -> None:
    with pytest.raises(InvalidInputError, match="malformed sha256"):
        DatasetRef(name="d", uri="s3://d", sha256="xyz")
    with pytest.raises(InvalidInputError, match="NAME=URI@SHA256"):
        DatasetRef.parse("just-a-name")
    assert DatasetRef.parse(f"d=s3://b/k@v2@sha256:{SHA}").uri == "s3://b/k@v2"


def test_references_numbers_aliases_latest(
    registry: Registry, make_artifact: Callable[..., Path]
) -> None:
    _model(registry)
    registry.register_version("fraud", make_artifact("v1"))
    registry.register_version("fraud", make_artifact("v2"))
    registry.set_alias("fraud", "champion", 1, actor="carol")
    assert registry.get_version("fraud@champion").number == 1
    assert registry.get_version("fraud@latest").number == 2
    assert registry.get_version("fraud@1").aliases == ("champion",)
    with pytest.raises(NotFoundError, match="fraud@3 not found"):
        registry.get_version("fraud@3")
    with pytest.raises(NotFoundError, match="alias 'staging'"):
        registry.get_version("fraud@staging")
    with pytest.raises(InvalidInputError, match="NAME@NUMBER"):
        registry.get_version("fraud")
    with pytest.raises(InvalidInputError, match="start at 1"):
        registry.get_version("fraud@0")


def test_alias_moves_are_recorded(registry: Registry, make_artifact: Callable[..., Path]) -> None:
    _model(registry)
    registry.register_version("fraud", make_artifact("v1"))
    registry.register_version("fraud", make_artifact("v2"))
    registry.set_alias("fraud", "champion", 1, actor="carol")
    move = registry.set_alias("fraud", "champion", 2, actor="dave")
    assert (move.from_number, move.to_number) == (1, 2)
    history = registry.alias_history("fraud")
    assert [(m.alias, m.from_number, m.to_number, m.moved_by) for m in history] == [
        ("champion", None, 1, "carol"),
        ("champion", 1, 2, "dave"),
    ]
    assert registry.get_version("fraud@champion").number == 2
    assert registry.get_version("fraud@1").aliases == ()


def test_alias_errors(registry: Registry, make_artifact: Callable[..., Path]) -> None:
    _model(registry)
    registry.register_version("fraud", make_artifact("v1"))
    with pytest.raises(NotFoundError):
        registry.set_alias("fraud", "champion", 5)
    with pytest.raises(InvalidInputError, match="built-in"):
        registry.set_alias("fraud", "latest", 1)
    with pytest.raises(InvalidInputError, match="invalid alias"):
        registry.set_alias("fraud", "1st", 1)
    assert registry.alias_history("fraud") == []


def test_versions_are_immutable(registry: Registry, make_artifact: Callable[..., Path]) -> None:
    _model(registry)
    version = registry.register_version("fraud", make_artifact("v1"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        version.number = 5  # type: ignore[misc]
    for statement in (
        update(VersionRow).values(root_digest="0" * 64),
        update(VersionRow).values(lineage={"parents": []}),
        update(VersionRow).values(artifact_uri="file:///elsewhere"),
        delete(VersionRow),
    ):
        with (
            pytest.raises(ImmutableError, match="versions are"),
            registry._store.transaction() as tx,
        ):
            tx.session.execute(statement)
    assert registry.get_version("fraud@1") == version


def test_latest_of_empty_model(registry: Registry) -> None:
    _model(registry)
    with pytest.raises(NotFoundError, match="no versions yet"):
        registry.get_version("fraud@latest")

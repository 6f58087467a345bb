"""SQLAlchemy tables of the registry. Only the store package imports this module."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

VERSION_TABLE = "signoff_schema_version"
"""Alembic's version table; its presence is what makes a database a signoff registry."""
SCHEMA_REVISIONS = ("0001", "0002", "0003", "0004")
"""Alembic revisions in order (kept equal to the migrations by a test)."""


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of the registry tables."""

    type_annotation_map: dict[Any, Any] = {  # noqa: RUF012 - SQLAlchemy's documented hook
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
    }


class ModelRow(Base):
    """A registered model; ``version_count`` hands out gap-free version numbers under a row lock."""

    __tablename__ = "models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    owner: Mapped[str] = mapped_column(String(256))
    team: Mapped[str | None] = mapped_column(String(256))
    risk_tier: Mapped[str] = mapped_column(String(16))
    intended_use: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime]
    version_count: Mapped[int] = mapped_column(Integer, default=0)


class VersionRow(Base):
    """An immutable version; triggers in the migration refuse UPDATE of its identity and DELETE."""

    __tablename__ = "versions"
    __table_args__ = (
        UniqueConstraint("model_id", "number", name="uq_versions_model_number"),
        UniqueConstraint("model_id", "root_digest", name="uq_versions_model_digest"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    artifact_uri: Mapped[str] = mapped_column(Text)
    root_digest: Mapped[str] = mapped_column(String(64), index=True)
    total_size: Mapped[int] = mapped_column(BigInteger)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)
    lineage: Mapped[dict[str, Any]] = mapped_column(JSON)
    extra: Mapped[dict[str, Any]] = mapped_column("metadata", JSON)
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime]
    stage: Mapped[str] = mapped_column(String(16))


class AliasRow(Base):
    """Where an alias of a model points now."""

    __tablename__ = "aliases"
    __table_args__ = (UniqueConstraint("model_id", "name", name="uq_aliases_model_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    name: Mapped[str] = mapped_column(String(128))
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"))
    updated_by: Mapped[str] = mapped_column(String(256))
    updated_at: Mapped[datetime]


class KeyRow(Base):
    """A principal's Ed25519 public key; revocation is a timestamp, never a delete."""

    __tablename__ = "keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    keyid: Mapped[str] = mapped_column(String(64), unique=True)
    principal: Mapped[str] = mapped_column(String(256), index=True)
    public_key: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(256))
    revoke_reason: Mapped[str | None] = mapped_column(Text)


class EvidenceRow(Base):
    """A DSSE envelope about one version's artifact, stored verbatim (approvals included)."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    predicate_type: Mapped[str] = mapped_column(Text)
    envelope: Mapped[str] = mapped_column(Text)
    envelope_sha256: Mapped[str] = mapped_column(String(64))
    attached_by: Mapped[str] = mapped_column(String(256))
    attached_at: Mapped[datetime]
    produced_at: Mapped[datetime]
    # What the registry verified at attach time, and its MAC over it (migration 0004); None on
    # rows attached without the registry key or before 0004.
    claims: Mapped[str | None] = mapped_column(Text)
    receipt: Mapped[str | None] = mapped_column(String(64))


class ExceptionRow(Base):
    """A named, expiring exception to one policy rule for a model or one of its versions."""

    __tablename__ = "policy_exceptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    rule_id: Mapped[str] = mapped_column(String(128))
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), index=True)
    version_number: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    approver: Mapped[str] = mapped_column(String(256))
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime]


class PolicyRow(Base):
    """Every policy ever set, verbatim; the newest row is in force."""

    __tablename__ = "policies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    digest: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    set_by: Mapped[str] = mapped_column(String(256))
    set_at: Mapped[datetime]


class EventRow(Base):
    """One audit event: ``seq`` is its leaf index; ``leaf`` the canonical JSON that is hashed.

    The leaf text is the only copy of the event's content, so there are no columns that could
    disagree with what the Merkle tree commits to. Append-only (triggers refuse UPDATE/DELETE).
    """

    __tablename__ = "events"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    leaf: Mapped[str] = mapped_column(Text)


class LogStateRow(Base):
    """The one row with the log size and Merkle frontier; locking it serialises writers."""

    __tablename__ = "log_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    frontier: Mapped[dict[str, Any]] = mapped_column(JSON)


class CheckpointRow(Base):
    """A checkpoint (C2SP signed note) the registry key signed over the log at ``size``."""

    __tablename__ = "checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]

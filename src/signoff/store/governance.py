"""Governance rows inside a store transaction: keys, evidence, exceptions and policies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from signoff.errors import StoreError
from signoff.store.schema import (
    EvidenceRow,
    ExceptionRow,
    KeyRow,
    ModelRow,
    PolicyRow,
    VersionRow,
)


@dataclass(frozen=True)
class KeyRecord:
    """A registered public key."""

    keyid: str
    principal: str
    public_key: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    revoke_reason: str | None

    @property
    def active(self) -> bool:
        """Not revoked."""
        return self.revoked_at is None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "keyid": self.keyid,
            "principal": self.principal,
            "public_key": self.public_key,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "revoked_by": self.revoked_by,
            "revoke_reason": self.revoke_reason,
        }


@dataclass(frozen=True)
class EvidenceRecord:
    """A stored DSSE envelope attached to a version."""

    id: int
    model: str
    number: int
    kind: str
    predicate_type: str
    envelope: str
    envelope_sha256: str
    attached_by: str
    attached_at: datetime
    produced_at: datetime

    @property
    def ref(self) -> str:
        """The version it is about."""
        return f"{self.model}@{self.number}"


@dataclass(frozen=True)
class ExceptionRecord:
    """A named, expiring exception to one rule."""

    name: str
    rule_id: str
    model: str
    version_number: int | None
    reason: str
    approver: str
    expires_at: datetime
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "name": self.name,
            "rule_id": self.rule_id,
            "model": self.model,
            "version": self.version_number,
            "reason": self.reason,
            "approver": self.approver,
            "expires_at": self.expires_at.isoformat(),
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class PolicyRecord:
    """A policy as set: its text, digest and who set it when."""

    id: int
    name: str
    digest: str
    text: str
    set_by: str
    set_at: datetime


class GovernanceStore:
    """Reads and writes governance rows within one open transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # --- keys ---------------------------------------------------------------------------------

    def add_key(self, record: KeyRecord) -> None:
        """Register a public key."""
        self.session.add(
            KeyRow(
                keyid=record.keyid,
                principal=record.principal,
                public_key=record.public_key,
                created_by=record.created_by,
                created_at=record.created_at,
            )
        )
        self.session.flush()

    def get_key(self, keyid: str) -> KeyRecord | None:
        """The key with ``keyid``, revoked or not."""
        row = self.session.scalars(select(KeyRow).where(KeyRow.keyid == keyid)).one_or_none()
        return _key(row) if row is not None else None

    def list_keys(self, principal: str | None = None) -> list[KeyRecord]:
        """All keys (of ``principal``), oldest first."""
        query = select(KeyRow).order_by(KeyRow.id)
        if principal is not None:
            query = query.where(KeyRow.principal == principal)
        return [_key(row) for row in self.session.scalars(query)]

    def revoke_key(self, keyid: str, *, by: str, at: datetime, reason: str) -> None:
        """Mark a key revoked."""
        row = self.session.scalars(select(KeyRow).where(KeyRow.keyid == keyid)).one()
        row.revoked_at, row.revoked_by, row.revoke_reason = at, by, reason
        self.session.flush()

    # --- evidence -----------------------------------------------------------------------------

    def add_evidence(
        self,
        model: str,
        number: int,
        *,
        kind: str,
        predicate_type: str,
        envelope: str,
        envelope_sha256: str,
        attached_by: str,
        attached_at: datetime,
        produced_at: datetime,
    ) -> EvidenceRecord:
        """Attach an envelope to a version."""
        version_id = self._version_id(model, number)
        row = EvidenceRow(
            version_id=version_id,
            kind=kind,
            predicate_type=predicate_type,
            envelope=envelope,
            envelope_sha256=envelope_sha256,
            attached_by=attached_by,
            attached_at=attached_at,
            produced_at=produced_at,
        )
        self.session.add(row)
        self.session.flush()
        return _evidence(row, model, number)

    def list_evidence(self, model: str, number: int | None = None) -> list[EvidenceRecord]:
        """Evidence of a version (or of every version of ``model``), oldest first."""
        query = (
            select(EvidenceRow, VersionRow.number)
            .join(VersionRow, EvidenceRow.version_id == VersionRow.id)
            .join(ModelRow, VersionRow.model_id == ModelRow.id)
            .where(ModelRow.name == model)
            .order_by(EvidenceRow.id)
        )
        if number is not None:
            query = query.where(VersionRow.number == number)
        return [_evidence(row, model, num) for row, num in self.session.execute(query)]

    def all_evidence(self) -> list[EvidenceRecord]:
        """Every evidence record, oldest first (for auditing)."""
        query = (
            select(EvidenceRow, VersionRow.number, ModelRow.name)
            .join(VersionRow, EvidenceRow.version_id == VersionRow.id)
            .join(ModelRow, VersionRow.model_id == ModelRow.id)
            .order_by(EvidenceRow.id)
        )
        return [_evidence(row, model, num) for row, num, model in self.session.execute(query)]

    def all_policies(self) -> list[PolicyRecord]:
        """Every policy ever set, oldest first."""
        rows = self.session.scalars(select(PolicyRow).order_by(PolicyRow.id))
        return [PolicyRecord(r.id, r.name, r.digest, r.text, r.set_by, r.set_at) for r in rows]

    def get_evidence(self, evidence_id: int) -> EvidenceRecord | None:
        """One evidence record by id."""
        found = self.session.execute(
            select(EvidenceRow, VersionRow.number, ModelRow.name)
            .join(VersionRow, EvidenceRow.version_id == VersionRow.id)
            .join(ModelRow, VersionRow.model_id == ModelRow.id)
            .where(EvidenceRow.id == evidence_id)
        ).one_or_none()
        if found is None:
            return None
        row, number, model = found
        return _evidence(row, model, number)

    # --- exceptions ---------------------------------------------------------------------------

    def add_exception(self, record: ExceptionRecord) -> None:
        """Record an exception."""
        model_id = self.session.scalar(select(ModelRow.id).where(ModelRow.name == record.model))
        if model_id is None:
            raise StoreError(f"model {record.model!r} vanished during the transaction")
        self.session.add(
            ExceptionRow(
                name=record.name,
                rule_id=record.rule_id,
                model_id=model_id,
                version_number=record.version_number,
                reason=record.reason,
                approver=record.approver,
                expires_at=record.expires_at,
                created_at=record.created_at,
            )
        )
        self.session.flush()

    def get_exception(self, name: str) -> ExceptionRecord | None:
        """The exception called ``name``."""
        found = self.session.execute(
            select(ExceptionRow, ModelRow.name)
            .join(ModelRow, ExceptionRow.model_id == ModelRow.id)
            .where(ExceptionRow.name == name)
        ).one_or_none()
        return _exception(*found) if found is not None else None

    def list_exceptions(self, model: str | None = None) -> list[ExceptionRecord]:
        """All exceptions (of ``model``), oldest first."""
        query = (
            select(ExceptionRow, ModelRow.name)
            .join(ModelRow, ExceptionRow.model_id == ModelRow.id)
            .order_by(ExceptionRow.id)
        )
        if model is not None:
            query = query.where(ModelRow.name == model)
        return [_exception(row, name) for row, name in self.session.execute(query)]

    # --- policies -----------------------------------------------------------------------------

    def add_policy(self, name: str, digest: str, text: str, *, by: str, at: datetime) -> None:
        """Record a new policy; it is in force from now on."""
        self.session.add(PolicyRow(name=name, digest=digest, text=text, set_by=by, set_at=at))
        self.session.flush()

    def current_policy(self) -> PolicyRecord | None:
        """The policy in force: the newest one set."""
        row = self.session.scalars(
            select(PolicyRow).order_by(PolicyRow.id.desc()).limit(1)
        ).one_or_none()
        if row is None:
            return None
        return PolicyRecord(row.id, row.name, row.digest, row.text, row.set_by, row.set_at)

    def _version_id(self, model: str, number: int) -> int:
        version_id = self.session.scalar(
            select(VersionRow.id)
            .join(ModelRow, VersionRow.model_id == ModelRow.id)
            .where(ModelRow.name == model, VersionRow.number == number)
        )
        if version_id is None:
            raise StoreError(f"version {model}@{number} vanished during the transaction")
        return version_id


def _key(row: KeyRow) -> KeyRecord:
    return KeyRecord(
        keyid=row.keyid,
        principal=row.principal,
        public_key=row.public_key,
        created_by=row.created_by,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
        revoke_reason=row.revoke_reason,
    )


def _evidence(row: EvidenceRow, model: str, number: int) -> EvidenceRecord:
    return EvidenceRecord(
        id=row.id,
        model=model,
        number=number,
        kind=row.kind,
        predicate_type=row.predicate_type,
        envelope=row.envelope,
        envelope_sha256=row.envelope_sha256,
        attached_by=row.attached_by,
        attached_at=row.attached_at,
        produced_at=row.produced_at,
    )


def _exception(row: ExceptionRow, model: str) -> ExceptionRecord:
    return ExceptionRecord(
        name=row.name,
        rule_id=row.rule_id,
        model=model,
        version_number=row.version_number,
        reason=row.reason,
        approver=row.approver,
        expires_at=row.expires_at,
        created_at=row.created_at,
    )

"""Governance rows inside a store transaction: keys, evidence, exceptions and policies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.orm import Session

from signoff.errors import StoreError
from signoff.store.prepared import Prepared
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
    claims: str | None = None
    receipt: str | None = None

    @property
    def ref(self) -> str:
        """The version it is about."""
        return f"{self.model}@{self.number}"


class GatedVersion(NamedTuple):
    """What a gate reads of a version (``GovernanceStore.gated_versions``)."""

    id: int
    model: str
    number: int
    stage: str
    created_by: str
    root_digest: str
    metadata: dict[str, Any]


class GatedEvidence(NamedTuple):
    """An evidence row without its envelope (``GovernanceStore.gated_evidence``)."""

    id: int
    version_id: int
    kind: str
    predicate_type: str
    envelope_sha256: str
    produced_at: datetime
    claims: str | None
    receipt: str | None


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


class Transaction(Protocol):
    """What ``GovernanceStore`` uses of its transaction (``StoreSession``)."""

    @property
    def connection(self) -> Connection:
        """The transaction's connection."""
        ...

    @property
    def session(self) -> Session:
        """An ORM session on the transaction's connection."""
        ...

    def model_id(self, name: str) -> int | None:
        """The id of model ``name``, if it exists."""
        ...

    def version_id(self, model: str, number: int) -> int | None:
        """The id of version ``number`` of ``model``, if it exists."""
        ...


_KEY_COLUMNS = (
    KeyRow.keyid,
    KeyRow.principal,
    KeyRow.public_key,
    KeyRow.created_by,
    KeyRow.created_at,
    KeyRow.revoked_at,
    KeyRow.revoked_by,
    KeyRow.revoke_reason,
)
_ALL_KEYS = Prepared(select(*_KEY_COLUMNS).order_by(KeyRow.id))
_INSERT_KEY = Prepared(insert(KeyRow))
_REVOKE_KEY = Prepared(
    update(KeyRow)
    .where(KeyRow.keyid == bindparam("key"))
    .values(revoked_at=bindparam("at"), revoked_by=bindparam("by"), revoke_reason=bindparam("why"))
)
_EVIDENCE_COLUMNS = (
    EvidenceRow.id,
    EvidenceRow.kind,
    EvidenceRow.predicate_type,
    EvidenceRow.envelope,
    EvidenceRow.envelope_sha256,
    EvidenceRow.attached_by,
    EvidenceRow.attached_at,
    EvidenceRow.produced_at,
    EvidenceRow.claims,
    EvidenceRow.receipt,
)
_INSERT_EVIDENCE = Prepared(insert(EvidenceRow).returning(EvidenceRow.id))
_EVIDENCE_OF_VERSION = Prepared(
    select(*_EVIDENCE_COLUMNS)
    .where(EvidenceRow.version_id == bindparam("version_id"))
    .order_by(EvidenceRow.id)
)
_EVIDENCE_OF_MODEL = Prepared(
    select(*_EVIDENCE_COLUMNS, VersionRow.number)
    .join(VersionRow, EvidenceRow.version_id == VersionRow.id)
    .where(VersionRow.model_id == bindparam("model_id"))
    .order_by(EvidenceRow.id)
)
_ALL_EVIDENCE = Prepared(
    select(*_EVIDENCE_COLUMNS, VersionRow.number, ModelRow.name)
    .join(VersionRow, EvidenceRow.version_id == VersionRow.id)
    .join(ModelRow, VersionRow.model_id == ModelRow.id)
    .order_by(EvidenceRow.id)
)
_ONE_EVIDENCE = Prepared(_ALL_EVIDENCE.statement.where(EvidenceRow.id == bindparam("evidence_id")))
_EXCEPTION_COLUMNS = (
    ExceptionRow.name,
    ExceptionRow.rule_id,
    ModelRow.name,
    ExceptionRow.version_number,
    ExceptionRow.reason,
    ExceptionRow.approver,
    ExceptionRow.expires_at,
    ExceptionRow.created_at,
)
_ALL_EXCEPTIONS = Prepared(
    select(*_EXCEPTION_COLUMNS)
    .join(ModelRow, ExceptionRow.model_id == ModelRow.id)
    .order_by(ExceptionRow.id)
)
_EXCEPTIONS_OF_MODEL = Prepared(
    _ALL_EXCEPTIONS.statement.where(ModelRow.name == bindparam("model"))
)
_NAMED_EXCEPTION = Prepared(_ALL_EXCEPTIONS.statement.where(ExceptionRow.name == bindparam("name")))
_INSERT_EXCEPTION = Prepared(insert(ExceptionRow))
_POLICY_COLUMNS = (
    PolicyRow.id,
    PolicyRow.name,
    PolicyRow.digest,
    PolicyRow.text,
    PolicyRow.set_by,
    PolicyRow.set_at,
)
_ALL_POLICIES = Prepared(select(*_POLICY_COLUMNS).order_by(PolicyRow.id))
_CURRENT_POLICY = Prepared(select(*_POLICY_COLUMNS).order_by(PolicyRow.id.desc()).limit(1))
_INSERT_POLICY = Prepared(insert(PolicyRow))


class GovernanceStore:
    """Reads and writes governance rows within one open transaction.

    Statements are built once (module constants) and run on the transaction's connection, not
    through the ORM: a governed registration reads keys and policy many times, and an ORM load
    costs ~4x a Core one. The keys, the current policy, exceptions and a version's evidence are
    read once per transaction and remembered until this transaction changes them (``add_key``,
    ``revoke_key``, ``add_policy``, ``add_exception``, ``add_evidence``): within a transaction
    every call sees the same rows, and its own writes.
    """

    def __init__(self, tx: Transaction) -> None:
        self._ids = tx
        self._conn = tx.connection
        self._keys: tuple[KeyRecord, ...] | None = None
        self._policy: PolicyRecord | None = None
        self._policy_read = False
        self._evidence: dict[tuple[str, int], list[EvidenceRecord]] = {}
        self._exceptions: dict[str | None, list[ExceptionRecord]] = {}

    @property
    def session(self) -> Session:
        """An ORM session on the transaction's connection."""
        return self._ids.session

    # --- keys ---------------------------------------------------------------------------------

    def add_key(self, record: KeyRecord) -> None:
        """Register a public key."""
        _INSERT_KEY.run(
            self._conn,
            {
                "keyid": record.keyid,
                "principal": record.principal,
                "public_key": record.public_key,
                "created_by": record.created_by,
                "created_at": record.created_at,
            },
        )
        self._keys = None

    def _all_keys(self) -> tuple[KeyRecord, ...]:
        if self._keys is None:
            self._keys = tuple(KeyRecord(*row) for row in _ALL_KEYS.all(self._conn))
        return self._keys

    def get_key(self, keyid: str) -> KeyRecord | None:
        """The key with ``keyid``, revoked or not."""
        return next((k for k in self._all_keys() if k.keyid == keyid), None)

    def list_keys(self, principal: str | None = None) -> list[KeyRecord]:
        """All keys (of ``principal``), oldest first."""
        keys = self._all_keys()
        if principal is None:
            return list(keys)
        return [k for k in keys if k.principal == principal]

    def revoke_key(self, keyid: str, *, by: str, at: datetime, reason: str) -> None:
        """Mark a key revoked."""
        self._keys = None
        done = _REVOKE_KEY.run(self._conn, {"key": keyid, "at": at, "by": by, "why": reason})
        if done != 1:
            raise StoreError(f"key {keyid[:16]} vanished during the transaction")

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
        claims: str | None = None,
        receipt: str | None = None,
    ) -> EvidenceRecord:
        """Attach an envelope to a version (with the registry's receipt of it, if sealed)."""
        version_id = self._version_id(model, number)
        evidence_id = _INSERT_EVIDENCE.scalar(
            self._conn,
            {
                "version_id": version_id,
                "kind": kind,
                "predicate_type": predicate_type,
                "envelope": envelope,
                "envelope_sha256": envelope_sha256,
                "attached_by": attached_by,
                "attached_at": attached_at,
                "produced_at": produced_at,
                "claims": claims,
                "receipt": receipt,
            },
        )
        record = EvidenceRecord(
            evidence_id,
            model,
            number,
            kind,
            predicate_type,
            envelope,
            envelope_sha256,
            attached_by,
            attached_at,
            produced_at,
            claims,
            receipt,
        )
        known = self._evidence.get((model, number))
        if known is not None:
            known.append(record)  # the newest id: still oldest first
        return record

    def list_evidence(self, model: str, number: int | None = None) -> list[EvidenceRecord]:
        """Evidence of a version (or of every version of ``model``), oldest first."""
        if number is not None:
            known = self._evidence.get((model, number))
            if known is None:
                version_id = self._ids.version_id(model, number)
                if version_id is None:
                    return []
                rows = _EVIDENCE_OF_VERSION.all(self._conn, {"version_id": version_id})
                known = self._evidence[(model, number)] = [
                    _evidence(row, model, number) for row in rows
                ]
            return list(known)
        model_id = self._ids.model_id(model)
        if model_id is None:
            return []
        rows = _EVIDENCE_OF_MODEL.all(self._conn, {"model_id": model_id})
        return [_evidence(row, model, row[10]) for row in rows]

    def all_evidence(self) -> list[EvidenceRecord]:
        """Every evidence record, oldest first (for auditing)."""
        rows = _ALL_EVIDENCE.all(self._conn)
        return [_evidence(row, row[11], row[10]) for row in rows]

    def gated_versions(self, stages: tuple[str, ...]) -> list[GatedVersion]:
        """Every version in one of ``stages`` with what its gate reads, by model and number.

        A light read for bulk gate evaluation (``coverage``): no manifest, lineage or aliases.
        """
        query = (
            select(
                VersionRow.id,
                ModelRow.name,
                VersionRow.number,
                VersionRow.stage,
                VersionRow.created_by,
                VersionRow.root_digest,
                VersionRow.extra,
            )
            .join(ModelRow, VersionRow.model_id == ModelRow.id)
            .where(VersionRow.stage.in_(stages))
            .order_by(ModelRow.name, VersionRow.number)
        )
        return [GatedVersion(*row) for row in self.session.connection().execute(query).all()]

    def gated_evidence(
        self, stages: tuple[str, ...], *, except_kinds: tuple[str, ...] = ()
    ) -> list[GatedEvidence]:
        """The evidence of every version in one of ``stages``, oldest first, without envelopes
        (and without rows of ``except_kinds``).

        ``get_evidence`` reads a row's envelope when it must be judged in full.
        """
        query = (
            select(
                EvidenceRow.id,
                EvidenceRow.version_id,
                EvidenceRow.kind,
                EvidenceRow.predicate_type,
                EvidenceRow.envelope_sha256,
                EvidenceRow.produced_at,
                EvidenceRow.claims,
                EvidenceRow.receipt,
            )
            .join(VersionRow, EvidenceRow.version_id == VersionRow.id)
            .where(VersionRow.stage.in_(stages), EvidenceRow.kind.not_in(except_kinds))
            .order_by(EvidenceRow.id)
        )
        # On the connection: a plain Core result, without the ORM's per-row processing.
        return [GatedEvidence(*row) for row in self.session.connection().execute(query).all()]

    def all_policies(self) -> list[PolicyRecord]:
        """Every policy ever set, oldest first."""
        return [PolicyRecord(*row) for row in _ALL_POLICIES.all(self._conn)]

    def get_evidence(self, evidence_id: int) -> EvidenceRecord | None:
        """One evidence record by id."""
        row = _ONE_EVIDENCE.first(self._conn, {"evidence_id": evidence_id})
        if row is None:
            return None
        return _evidence(row, row[11], row[10])

    # --- exceptions ---------------------------------------------------------------------------

    def add_exception(self, record: ExceptionRecord) -> None:
        """Record an exception."""
        model_id = self._ids.model_id(record.model)
        if model_id is None:
            raise StoreError(f"model {record.model!r} vanished during the transaction")
        self._exceptions.clear()
        _INSERT_EXCEPTION.run(
            self._conn,
            {
                "name": record.name,
                "rule_id": record.rule_id,
                "model_id": model_id,
                "version_number": record.version_number,
                "reason": record.reason,
                "approver": record.approver,
                "expires_at": record.expires_at,
                "created_at": record.created_at,
            },
        )

    def get_exception(self, name: str) -> ExceptionRecord | None:
        """The exception called ``name``."""
        row = _NAMED_EXCEPTION.first(self._conn, {"name": name})
        return ExceptionRecord(*row) if row is not None else None

    def list_exceptions(self, model: str | None = None) -> list[ExceptionRecord]:
        """All exceptions (of ``model``), oldest first."""
        known = self._exceptions.get(model)
        if known is None:
            if model is None:
                rows = _ALL_EXCEPTIONS.all(self._conn)
            else:
                rows = _EXCEPTIONS_OF_MODEL.all(self._conn, {"model": model})
            known = self._exceptions[model] = [ExceptionRecord(*row) for row in rows]
        return list(known)

    # --- policies -----------------------------------------------------------------------------

    def add_policy(self, name: str, digest: str, text: str, *, by: str, at: datetime) -> None:
        """Record a new policy; it is in force from now on."""
        self._policy, self._policy_read = None, False
        _INSERT_POLICY.run(
            self._conn,
            {"name": name, "digest": digest, "text": text, "set_by": by, "set_at": at},
        )

    def current_policy(self) -> PolicyRecord | None:
        """The policy in force: the newest one set."""
        if not self._policy_read:
            row = _CURRENT_POLICY.first(self._conn)
            self._policy = PolicyRecord(*row) if row is not None else None
            self._policy_read = True
        return self._policy

    def _version_id(self, model: str, number: int) -> int:
        version_id = self._ids.version_id(model, number)
        if version_id is None:
            raise StoreError(f"version {model}@{number} vanished during the transaction")
        return version_id


def _evidence(row: Sequence[Any], model: str, number: int) -> EvidenceRecord:
    """The record of a row starting with ``_EVIDENCE_COLUMNS``."""
    id_, kind, predicate_type, envelope, envelope_sha256, by, at, produced_at, claims, receipt = (
        row[:10]
    )
    return EvidenceRecord(
        id_,
        model,
        number,
        kind,
        predicate_type,
        envelope,
        envelope_sha256,
        by,
        at,
        produced_at,
        claims,
        receipt,
    )

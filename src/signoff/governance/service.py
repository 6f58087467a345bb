"""The governance half of ``Registry``: keys, evidence, approvals, policy, gates, promotion.

A mixin so that ``Registry`` stays the one service object while each half stays readable. It
relies on ``Registry`` for ``_store``, ``_write()`` (a transaction sealed by a checkpoint),
``keystore`` and ``_signing_key()``.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.utils import Buffer

from signoff.attestations import (
    APPROVAL_PREDICATE,
    FINDING_PREDICATE,
    VSA_PREDICATE,
    AttestationRef,
)
from signoff.attestations import approval_predicate as make_approval
from signoff.attestations import vsa_predicate as make_vsa
from signoff.domain import Stage, Version, VersionRef, validate_model_name
from signoff.errors import (
    CheckFailedError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from signoff.governance.collector import gc_paused
from signoff.governance.coverage import (
    CoverageReport,
    drift_of,
    gated_variables,
    misplaced_aliases,
)
from signoff.governance.evidence import (
    APPROVAL_KIND,
    GATE_KIND,
    EvidenceView,
    Keyring,
    PreparedEvidence,
    first_hand_claims,
    judge,
    prepare_envelope,
    report_predicate,
    sign_evidence,
    utc_text,
    verified_claims,
    view_from_claims,
)
from signoff.governance.gates import STAGE_ORDER, GateInput, decide
from signoff.governance.receipts import Claims, ReceiptedRow, ReceiptKey
from signoff.identity import resolve_actor
from signoff.keys import KeyStore, load_public_key_pem, validate_principal
from signoff.lookup import now, require_model, resolve
from signoff.policy import Decision, Policy, default_policy_text
from signoff.scanner.findings import ScanReport
from signoff.store import Store, StoreSession
from signoff.store.governance import EvidenceRecord, ExceptionRecord, KeyRecord, PolicyRecord
from signoff.store.row_digests import evidence_digest, exception_digest

REGISTRY_PRINCIPAL = "signoff-registry"
"""The principal whose key signs checkpoints and gate decisions."""

EXCEPTION_NAME_MAX = 128


class _Signer(Ed25519PrivateKey):
    """An Ed25519 private key that derives its public key once.

    Every DSSE signature and every checkpoint asks the key for its public half (to name the key
    id), and deriving it is a scalar multiplication: ~60 us, twenty times per governed
    registration. Signing and serialising go to the wrapped key unchanged.
    """

    __slots__ = ("_key", "_public")

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self._public = key.public_key()

    def public_key(self) -> Ed25519PublicKey:
        """The public key, derived when this was made."""
        return self._public

    def private_bytes(
        self,
        encoding: serialization.Encoding,
        format: serialization.PrivateFormat,
        encryption_algorithm: serialization.KeySerializationEncryption,
    ) -> bytes:
        """The wrapped key's serialisation."""
        return self._key.private_bytes(encoding, format, encryption_algorithm)

    def private_bytes_raw(self) -> bytes:
        """The wrapped key's raw bytes."""
        return self._key.private_bytes_raw()

    def sign(self, data: Buffer) -> bytes:
        """An Ed25519 signature of ``data`` by the wrapped key."""
        return self._key.sign(data)

    def __copy__(self) -> _Signer:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> _Signer:
        return self


def signer(key: Ed25519PrivateKey) -> Ed25519PrivateKey:
    """``key``, deriving its public key once for all the signatures it will make."""
    return key if isinstance(key, _Signer) else _Signer(key)


@dataclass(frozen=True)
class Promotion:
    """The outcome of ``promote``: the decision (for gated moves) and whether the stage moved."""

    ref: str
    from_stage: Stage
    to_stage: Stage
    decision: Decision | None
    moved: bool
    decision_evidence_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "ref": self.ref,
            "from": self.from_stage.value,
            "to": self.to_stage.value,
            "moved": self.moved,
            "decision": self.decision.to_dict() if self.decision else None,
            "decision_evidence_id": self.decision_evidence_id,
        }


class GovernanceMixin:
    """Keys, evidence, approvals, policy, exceptions, gates, promotion and coverage."""

    _store: Store
    keystore: KeyStore
    _receipt_key_cache: tuple[Ed25519PrivateKey, ReceiptKey] | None = None
    _private_keys: dict[str, tuple[tuple[int, ...], Ed25519PrivateKey, str]] | None = None

    def _write(self) -> AbstractContextManager[StoreSession]:  # provided by Registry
        raise NotImplementedError

    def _signing_key(self, tx: StoreSession) -> Ed25519PrivateKey | None:  # provided by Registry
        raise NotImplementedError

    def _register_public_key(  # provided by Registry
        self, tx: StoreSession, principal: str, public_key: Ed25519PublicKey, actor: str
    ) -> KeyRecord:
        raise NotImplementedError

    # --- keys ---------------------------------------------------------------------------------

    def create_key(self, principal: str, *, actor: str | None = None) -> KeyRecord:
        """Make a key pair for ``principal``: the private key a 0600 file, the public registered."""
        who = resolve_actor(actor)
        validate_principal(principal)
        if principal == REGISTRY_PRINCIPAL:
            raise InvalidInputError(
                f"{REGISTRY_PRINCIPAL!r} is the registry's own principal",
                hint="`signoff init` creates the registry key",
            )
        if self.keystore.exists(principal):
            raise ConflictError(
                f"principal {principal!r} already has a key at {self.keystore.path_for(principal)}",
                hint="keys are never overwritten; revoke it first and move the file away",
            )
        with self._write() as tx:
            key = self.keystore.create(principal)
            return self._register_public_key(tx, principal, key.public_key(), who)

    def add_public_key(self, principal: str, pem: str, *, actor: str | None = None) -> KeyRecord:
        """Register an outside evaluator's public key, so envelopes it signs are trusted."""
        who = resolve_actor(actor)
        validate_principal(principal)
        public_key = load_public_key_pem(pem)
        with self._write() as tx:
            return self._register_public_key(tx, principal, public_key, who)

    def list_keys(self) -> list[KeyRecord]:
        """Every registered key, revoked ones included."""
        with self._store.transaction() as tx:
            return tx.gov.list_keys()

    def revoke_key(self, key: str, *, reason: str, actor: str | None = None) -> list[KeyRecord]:
        """Revoke a key (by key id prefix of >= 8 hex digits, or every active key of a principal).

        Evidence it signed stays stored but no longer counts in any gate.
        """
        who = resolve_actor(actor)
        if not reason.strip():
            raise InvalidInputError("a revocation needs a reason", hint="give --reason TEXT")
        with self._write() as tx:
            active = [k for k in tx.gov.list_keys() if k.active]
            chosen = [k for k in active if k.principal == key] or (
                [k for k in active if k.keyid.startswith(key)] if len(key) >= 8 else []
            )
            if not chosen:
                raise NotFoundError(
                    f"no active key {key!r}",
                    hint="give a principal or a key id prefix (8+ hex digits) from "
                    "`signoff key list`",
                )
            if any(k.principal == REGISTRY_PRINCIPAL for k in chosen):
                raise InvalidInputError(
                    "the registry key cannot be revoked here",
                    hint="it seals the audit log; key rotation is not supported yet",
                )
            when = now()
            for record in chosen:
                tx.gov.revoke_key(record.keyid, by=who, at=when, reason=reason)
                tx.events.append(
                    "key.revoked",
                    actor=who,
                    at=when,
                    subject=f"key:{record.principal}",
                    data={"keyid": record.keyid, "principal": record.principal, "reason": reason},
                )
            return [k for k in tx.gov.list_keys() if k.keyid in {c.keyid for c in chosen}]

    def _actor_key(self, tx: StoreSession, actor: str) -> Ed25519PrivateKey:
        key, keyid = self._private_key(actor)
        record = tx.gov.get_key(keyid)
        if record is None or record.principal != actor or not record.active:
            raise InvalidInputError(
                f"{actor!r}'s key {keyid[:16]} is not registered or was revoked",
                hint=f"create a new key with `signoff key create {actor}`",
            )
        return key

    def _private_key(self, principal: str) -> tuple[Ed25519PrivateKey, str]:
        """``principal``'s private key and its key id, parsed once per process while its file
        stays the same.

        Loading reads, checks and parses a PEM file (~0.2 ms), and a governed registration signs
        with the same few keys many times. The file's identity, size, times and mode are checked
        on every call, so a replaced, rewritten or loosened key file is loaded (and checked)
        again. Whichever key is used, ``_actor_key`` still requires it to be registered, active
        and the principal's own.
        """
        path = self.keystore.path_for(principal)
        try:
            info = path.stat()
        except OSError:
            info = None
        if info is None:
            raise InvalidInputError(
                f"{principal!r} has no signing key at {path}",
                hint=f"create one with `signoff key create {principal}`",
            )
        stamp = (
            info.st_dev,
            info.st_ino,
            info.st_size,
            info.st_mtime_ns,
            info.st_ctime_ns,
            info.st_mode,
            info.st_uid,
        )
        cache = self._private_keys
        if cache is None:
            cache = self._private_keys = {}
        cached = cache.get(str(path))
        if cached is not None and cached[0] == stamp:
            return cached[1], cached[2]
        key = signer(self.keystore.load(principal))
        keyid = hashlib.sha256(key.public_key().public_bytes_raw()).hexdigest()
        cache[str(path)] = (stamp, key, keyid)
        return key, keyid

    # --- evidence -----------------------------------------------------------------------------

    def add_evidence(
        self,
        ref: str | VersionRef,
        report: str | Path,
        *,
        kind: str,
        fmt: str = "native",
        actor: str | None = None,
    ) -> EvidenceView:
        """Convert a report (native finding JSON, SARIF, JUnit), sign it as the actor, attach."""
        who = resolve_actor(actor)
        when = now()
        predicate_type, predicate = report_predicate(Path(report), fmt, kind, when)
        with self._write() as tx:
            version = resolve(tx, _ref(ref))
            key = self._actor_key(tx, who)
            prepared = sign_evidence(version, kind, predicate_type, predicate, key, when)
            return self._attached(tx, version, prepared, who, when)

    def attach_envelope(
        self,
        ref: str | VersionRef,
        envelope: str,
        *,
        kind: str | None = None,
        actor: str | None = None,
    ) -> EvidenceView:
        """Attach a DSSE envelope signed elsewhere (an evaluator's own key), verbatim.

        Its subject must be the version's digest; an unknown signer is kept but untrusted.
        """
        who = resolve_actor(actor)
        when = now()
        with self._write() as tx:
            version = resolve(tx, _ref(ref))
            prepared = prepare_envelope(version, envelope, kind, when)
            return self._attached(tx, version, prepared, who, when)

    def _attached(
        self,
        tx: StoreSession,
        version: Version,
        prepared: PreparedEvidence,
        actor: str,
        when: datetime,
    ) -> EvidenceView:
        """``_attach``, its verdict remembered for the transaction's later gates (a batch)."""
        view = self._attach(tx, version, prepared, actor, when)
        tx.memo[_judged_key(view, version, tuple(tx.gov.list_keys()))] = view
        return view

    def _attach(
        self,
        tx: StoreSession,
        version: Version,
        prepared: PreparedEvidence,
        actor: str,
        when: datetime,
    ) -> EvidenceView:
        keyring = _keyring(tx)
        envelope_sha256 = hashlib.sha256(prepared.envelope.encode("utf-8")).hexdigest()
        verified = first_hand_claims(prepared, keyring) or verified_claims(
            prepared, version, keyring
        )
        claims, receipt = self._receipt(tx, version, prepared, envelope_sha256, verified)
        record = tx.gov.add_evidence(
            version.model,
            version.number,
            kind=prepared.kind,
            predicate_type=prepared.predicate_type,
            envelope=prepared.envelope,
            envelope_sha256=envelope_sha256,
            attached_by=actor,
            attached_at=when,
            produced_at=prepared.produced_at,
            claims=claims,
            receipt=receipt,
        )
        tx.events.append(
            "evidence.attached",
            actor=actor,
            at=when,
            subject=version.ref,
            data={
                "model": version.model,
                "number": version.number,
                "evidence_id": record.id,
                "kind": record.kind,
                "predicate_type": record.predicate_type,
                "row_digest": evidence_digest(record),
            },
        )
        if verified is None:
            return judge(record, version, keyring)
        return view_from_claims(record, verified, keyring)

    def _receipt(
        self,
        tx: StoreSession,
        version: Version,
        prepared: PreparedEvidence,
        envelope_sha256: str,
        claims: Claims | None,
    ) -> tuple[str | None, str | None]:
        """The claims verified now as stored text, and the registry's receipt of them (see
        ``receipts``).

        None, None when this machine lacks the registry key or the envelope is not about this
        version: such rows are always judged in full.
        """
        receipt_key = self._receipt_key(tx)
        if receipt_key is None or claims is None:
            return None, None
        text = claims.to_text()
        receipt = receipt_key.seal(
            ReceiptedRow(
                version.artifact.root_digest,
                prepared.kind,
                prepared.predicate_type,
                envelope_sha256,
                utc_text(prepared.produced_at),
                text,
            )
        )
        return text, receipt

    def _receipt_key(self, tx: StoreSession) -> ReceiptKey | None:
        """The receipt MAC key, derived from the registry key (None without it)."""
        key = self._signing_key(tx)
        if key is None:
            return None
        cached = self._receipt_key_cache
        if cached is None or cached[0] is not key:
            cached = self._receipt_key_cache = (key, ReceiptKey(key))
        return cached[1]

    def list_evidence(self, ref: str | VersionRef) -> list[EvidenceView]:
        """All evidence of a version, each judged now (trusted or not, and why)."""
        with self._store.transaction() as tx:
            version = resolve(tx, _ref(ref))
            keyring = _keyring(tx)
            return [
                judge(r, version, keyring)
                for r in tx.gov.list_evidence(version.model, version.number)
            ]

    def get_evidence(self, evidence_id: int) -> tuple[EvidenceView, str]:
        """One evidence record judged now, and its verbatim envelope."""
        with self._store.transaction() as tx:
            record = tx.gov.get_evidence(evidence_id)
            if record is None:
                raise NotFoundError(
                    f"evidence {evidence_id} not found",
                    hint="list evidence with `signoff evidence list REF`",
                )
            version = resolve(tx, VersionRef(model=record.model, number=record.number))
            keyring = _keyring(tx)
            return judge(record, version, keyring), record.envelope

    def scan(
        self,
        ref: str | VersionRef,
        *,
        path: str | Path | None = None,
        actor: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[ScanReport, EvidenceView]:
        """Scan a version's artifact and attach the result as signed ``artifact-scan`` evidence.

        The bytes at ``path`` (default: the version's ``file://`` URI) must be the registered
        ones, before and after the scan. The scan is signed by the registry key (signoff's own
        scanner) when this machine holds it, else by the actor's key.
        """
        # Imported here: the scanner is only needed by scans (keeps CLI start-up light).
        from signoff.governance.scanning import artifact_path, scan_version
        from signoff.governance.scanning import report_predicate as scan_predicate

        who = resolve_actor(actor)
        with self._store.transaction() as tx:
            version = resolve(tx, _ref(ref))
            policy, _ = _policy(tx)
        local = artifact_path(version, path)
        report = scan_version(version, local, policy.scan_allowlist, progress)
        when = now()
        predicate = scan_predicate(report, when)
        with self._write() as tx:
            key = self._signing_key(tx) or self._actor_key(tx, who)
            prepared = sign_evidence(
                version, "artifact-scan", FINDING_PREDICATE, predicate, key, when
            )
            return report, self._attached(tx, version, prepared, who, when)

    # --- approvals ----------------------------------------------------------------------------

    def approve(
        self, ref: str | VersionRef, *, stage: str, reason: str, actor: str | None = None
    ) -> EvidenceView:
        """Sign and attach the actor's approval of a version for ``stage``."""
        return self._decide(ref, stage, "approve", reason, actor)

    def reject(
        self, ref: str | VersionRef, *, stage: str, reason: str, actor: str | None = None
    ) -> EvidenceView:
        """Sign and attach the actor's rejection of a version for ``stage``."""
        return self._decide(ref, stage, "reject", reason, actor)

    def _decide(
        self, ref: str | VersionRef, stage: str, decision: str, reason: str, actor: str | None
    ) -> EvidenceView:
        who = resolve_actor(actor)
        target = _gated_stage(stage)
        if not reason.strip():
            raise InvalidInputError(f"a {decision} needs a reason", hint="give --reason TEXT")
        when = now()
        predicate = make_approval(target.value, decision, reason=reason, approver=who, time=when)
        with self._write() as tx:
            version = resolve(tx, _ref(ref))
            key = self._actor_key(tx, who)
            prepared = sign_evidence(
                version, APPROVAL_KIND, APPROVAL_PREDICATE, predicate, key, when
            )
            return self._attached(tx, version, prepared, who, when)

    # --- policy and exceptions ----------------------------------------------------------------

    def set_policy(self, text: str, *, actor: str | None = None) -> PolicyRecord:
        """Validate (compile every rule) and put a policy in force; an audited change."""
        who = resolve_actor(actor)
        policy = Policy.load(text)
        with self._write() as tx:
            return self._record_policy(tx, policy, who)

    def _record_policy(self, tx: StoreSession, policy: Policy, actor: str) -> PolicyRecord:
        when = now()
        tx.gov.add_policy(policy.name, policy.digest, policy.text, by=actor, at=when)
        record = tx.gov.current_policy()
        assert record is not None
        tx.events.append(
            "policy.set",
            actor=actor,
            at=when,
            subject=f"policy:{policy.name}",
            data={"policy_id": record.id, "name": policy.name, "digest": policy.digest},
        )
        return record

    def _ensure_policy(self) -> None:
        """A new registry starts under the shipped default policy (recorded like any other)."""
        with self._write() as tx:
            if tx.gov.current_policy() is None:
                self._record_policy(tx, Policy.load(default_policy_text()), REGISTRY_PRINCIPAL)

    def current_policy(self) -> tuple[Policy, PolicyRecord]:
        """The policy in force and its record."""
        with self._store.transaction() as tx:
            return _policy(tx)

    def grant_exception(
        self,
        name: str,
        *,
        rule_id: str,
        model: str,
        reason: str,
        expires: datetime | timedelta,
        version: int | None = None,
        actor: str | None = None,
    ) -> ExceptionRecord:
        """Waive one rule for a model (or one version) until ``expires``; counted apart."""
        who = resolve_actor(actor)
        if not name or len(name) > EXCEPTION_NAME_MAX or not name.replace("-", "").isalnum():
            raise InvalidInputError(
                f"invalid exception name {name!r}",
                hint="use letters, digits and '-', at most 128 characters",
            )
        if not reason.strip():
            raise InvalidInputError("an exception needs a reason", hint="give --reason TEXT")
        when = now()
        expires_at = when + expires if isinstance(expires, timedelta) else expires
        if expires_at.tzinfo is None or expires_at <= when:
            raise InvalidInputError(
                "an exception must expire in the future", hint="give --expires e.g. 30d"
            )
        with self._write() as tx:
            require_model(tx, validate_model_name(model))
            if version is not None:
                resolve(tx, VersionRef(model=model, number=version))
            policy, _ = _policy(tx)
            known = {r.id for stage in policy.stages for r in policy.rules(stage)}
            if rule_id not in known:
                raise InvalidInputError(
                    f"policy {policy.name!r} has no rule {rule_id!r}",
                    hint=f"rules: {', '.join(sorted(known))}",
                )
            if tx.gov.get_exception(name) is not None:
                raise ConflictError(f"exception {name!r} already exists", hint="choose a new name")
            record = ExceptionRecord(
                name=name,
                rule_id=rule_id,
                model=model,
                version_number=version,
                reason=reason,
                approver=who,
                expires_at=expires_at,
                created_at=when,
            )
            tx.gov.add_exception(record)
            tx.events.append(
                "exception.granted",
                actor=who,
                at=when,
                subject=f"{model}@{version}" if version else f"model:{model}",
                data={"name": name, "rule_id": rule_id, "row_digest": exception_digest(record)},
            )
            return record

    def list_exceptions(self, model: str | None = None) -> list[ExceptionRecord]:
        """All exceptions (of ``model``), expired ones included."""
        with self._store.transaction() as tx:
            return tx.gov.list_exceptions(model)

    # --- gates and promotion ------------------------------------------------------------------

    def gate_check(self, ref: str | VersionRef, stage: str) -> Decision:
        """Evaluate ``stage``'s gate for a version now, rule by rule (changes nothing)."""
        target = _gated_stage(stage)
        with self._store.transaction() as tx:
            version = resolve(tx, _ref(ref))
            policy, _ = _policy(tx)
            return decide(policy, target.value, _gate_input(tx, version))

    def promote(
        self, ref: str | VersionRef, to: str, *, actor: str | None = None, reason: str = ""
    ) -> Promotion:
        """Move a version to stage ``to``.

        Upward moves (candidate -> approved -> production) pass the stage's gate first; when it
        blocks nothing changes. An allowed promotion stores the decision as a SLSA verification
        summary signed by the registry key. Demotion and retirement need no gate but are audited.
        """
        who = resolve_actor(actor)
        target = _stage(to)
        with self._write() as tx:
            version = resolve(tx, _ref(ref))
            current = version.stage
            _check_transition(version, current, target)
            decision: Decision | None = None
            evidence_id: int | None = None
            upward = target in STAGE_ORDER and STAGE_ORDER[target] > STAGE_ORDER.get(current, -1)
            if upward:
                policy, policy_record = _policy(tx)
                gate_input = _gate_input(tx, version)
                decision = decide(policy, target.value, gate_input)
                if not decision.allowed:
                    return Promotion(version.ref, current, target, decision, moved=False)
                key = self._signing_key(tx)
                if key is None:
                    raise CheckFailedError(
                        "the registry key is not available here, so the decision cannot be signed",
                        hint="promote on the machine that holds the registry key",
                    )
                vsa = _vsa(version, decision, gate_input, policy_record)
                prepared = sign_evidence(version, GATE_KIND, VSA_PREDICATE, vsa, key, now())
                evidence_id = self._attached(tx, version, prepared, who, now()).id
            tx.set_stage(version.model, version.number, target)
            tx.events.append(
                "stage.changed",
                actor=who,
                at=now(),
                subject=version.ref,
                data={
                    "model": version.model,
                    "number": version.number,
                    "from": current.value,
                    "to": target.value,
                    "reason": reason,
                    "decision_evidence_id": evidence_id,
                    "policy_digest": decision.policy_digest if decision else None,
                },
            )
            return Promotion(version.ref, current, target, decision, True, evidence_id)

    def check_protected_alias(self, tx: StoreSession, alias: str, version: Version) -> None:
        """Refuse pointing a protected alias at a version outside its required stage."""
        policy, _ = _policy(tx)
        required = policy.protected_aliases.get(alias)
        if required is not None and version.stage.value != required:
            raise CheckFailedError(
                f"alias {alias!r} is protected: it may only point at a {required!r} version, "
                f"and {version.ref} is {version.stage.value!r}",
                hint=f"promote it first: `signoff promote {version.ref} --to {required}`",
            )

    def coverage(self, *, workers: int | None = None) -> CoverageReport:
        """Evaluate every approved and production version against its stage's gate now.

        Large runs split the gate evaluations over ``workers`` forked processes (default: the
        CPU count, up to 8); a process running other threads always evaluates alone.
        """
        if workers is not None and workers < 1:
            raise InvalidInputError(f"workers must be at least 1, not {workers}", hint="use 1+")
        with self._store.transaction() as tx, gc_paused():
            policy, _ = _policy(tx)
            keyring = Keyring.from_records(tx.gov.list_keys())
            when = now()
            gated = gated_variables(tx, keyring, self._receipt_key(tx), when)
            drifted = drift_of(
                policy,
                gated,
                tx.gov.list_exceptions(),
                when,
                workers=workers if workers is not None else min(os.cpu_count() or 1, 8),
            )
            stages = {(v.model, v.number): v.stage for v, _ in gated}
            drifted += misplaced_aliases(policy, tx, stages)
            return CoverageReport(policy.name, policy.digest, len(gated), tuple(drifted))


def _ref(ref: str | VersionRef) -> VersionRef:
    return ref if isinstance(ref, VersionRef) else VersionRef.parse(ref)


def _stage(value: str) -> Stage:
    try:
        return Stage(value)
    except ValueError:
        raise InvalidInputError(
            f"unknown stage {value!r}",
            hint=f"choose one of: {', '.join(s.value for s in Stage)}",
        ) from None


def _gated_stage(value: str) -> Stage:
    stage = _stage(value)
    if stage not in (Stage.APPROVED, Stage.PRODUCTION):
        raise InvalidInputError(
            f"stage {value!r} has no gate", hint="gates guard 'approved' and 'production'"
        )
    return stage


def _check_transition(version: Version, current: Stage, target: Stage) -> None:
    if current == target:
        raise InvalidInputError(
            f"{version.ref} is already {target.value}", hint="choose another stage"
        )
    if current == Stage.RETIRED:
        raise InvalidInputError(
            f"{version.ref} is retired, and retirement is final",
            hint="register the artifact as a new version to bring it back",
        )
    if target == Stage.PRODUCTION and current == Stage.CANDIDATE:
        raise InvalidInputError(
            f"{version.ref} is a candidate; it must be approved before production",
            hint=f"promote it with `signoff promote {version.ref} --to approved` first",
        )


def _policy(tx: StoreSession) -> tuple[Policy, PolicyRecord]:
    record = tx.gov.current_policy()
    if record is None:
        raise NotFoundError(
            "the registry has no policy", hint="set one with `signoff policy set FILE`"
        )
    policy = _load_policy(record.text)
    if policy.digest != record.digest:
        raise CheckFailedError(
            f"the stored policy {record.name!r} does not match its digest",
            hint="run `signoff audit verify`: the database was changed outside signoff",
        )
    return policy, record


@functools.lru_cache(maxsize=8)
def _load_policy(text: str) -> Policy:
    """``Policy.load`` memoised by text: a policy is immutable, and parsing its YAML and
    compiling its CEL costs ~20 ms, once per gate check or promotion otherwise."""
    return Policy.load(text)


def _keyring(tx: StoreSession) -> Keyring:
    """The active keys now, as a keyring (built once per distinct set of key rows)."""
    return _keyring_of(tuple(tx.gov.list_keys()))


@functools.lru_cache(maxsize=16)
def _keyring_of(records: tuple[KeyRecord, ...]) -> Keyring:
    return Keyring.from_records(records)


def _judged(
    tx: StoreSession,
    record: EvidenceRecord,
    version: Version,
    keyring: Keyring,
    keys: tuple[KeyRecord, ...],
) -> EvidenceView:
    """``judge``, remembered for the rest of the transaction: a batch passes a version through
    two gates, each judging all its evidence, which the batch itself attached and judged."""
    envelope_sha256 = hashlib.sha256(record.envelope.encode("utf-8")).hexdigest()
    memo_key = _judged_key(record, version, keys, envelope_sha256)
    view: EvidenceView | None = tx.memo.get(memo_key)
    if view is None:
        view = tx.memo[memo_key] = judge(record, version, keyring)
    return view


def _judged_key(
    row: EvidenceRecord | EvidenceView,
    version: Version,
    keys: tuple[KeyRecord, ...],
    envelope_sha256: str | None = None,
) -> tuple[object, ...]:
    """What a verdict depends on: the row's fields ``judge`` reads (the envelope by its
    SHA-256), the version's artifact digest and the key rows the keyring was built from."""
    return (
        _judged,
        row.id,
        row.ref,
        row.kind,
        row.predicate_type,
        envelope_sha256 or row.envelope_sha256,
        row.attached_by,
        row.attached_at,
        row.produced_at,
        version.artifact.root_digest,
        keys,
    )


def _gate_input(tx: StoreSession, version: Version) -> GateInput:
    keys = tuple(tx.gov.list_keys())
    keyring = _keyring_of(keys)
    model = require_model(tx, version.model)
    return GateInput(
        model=model,
        version=version,
        evidence=tuple(
            _judged(tx, r, version, keyring, keys)
            for r in tx.gov.list_evidence(version.model, version.number)
        ),
        exceptions=tuple(tx.gov.list_exceptions(version.model)),
        now=now(),
    )


def _vsa(
    version: Version, decision: Decision, gate_input: GateInput, policy: PolicyRecord
) -> dict[str, Any]:
    inputs: Iterator[EvidenceView] = iter(gate_input.trusted() + gate_input.approvals())
    return make_vsa(
        verifier_id="https://signoff.dev/registry",
        time_verified=gate_input.now,
        resource_uri=version.artifact.uri,
        policy_uri=f"signoff:policy/{policy.name}/{policy.id}",
        policy_sha256=policy.digest,
        verification_result="PASSED",
        verified_levels=[f"SIGNOFF_STAGE_{decision.stage.upper()}"],
        input_attestations=[
            AttestationRef(sha256=e.envelope_sha256, uri=f"signoff:evidence/{e.id}") for e in inputs
        ],
    )

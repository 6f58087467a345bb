"""Evidence: building signed statements about a version, and judging stored ones.

Every piece of evidence is a DSSE envelope around an in-toto Statement whose subject is the
version's artifact root digest. Trust is decided when the evidence is *read*, not when it was
stored: an envelope counts only if a currently registered, unrevoked key verifies it, so
revoking a key withdraws everything it signed, and a row changed in the database stops verifying.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from signoff.attestations import (
    APPROVAL_PREDICATE,
    FINDING_PREDICATE,
    MAX_REPORT_BYTES,
    PAYLOAD_TYPE,
    TEST_RESULT_PREDICATE,
    VSA_PREDICATE,
    Envelope,
    junit_to_predicate,
    make_statement,
    parse_approval_predicate,
    parse_finding_predicate,
    parse_statement,
    parse_test_result_predicate,
    sarif_to_predicate,
    sign,
    statement_bytes,
    subject_digests,
    verified_keyids,
)
from signoff.attestations.predicates import FINDING_KINDS
from signoff.domain import Version
from signoff.errors import InvalidInputError, SignoffError
from signoff.governance.receipts import Claims, ReceiptedRow, ReceiptKey
from signoff.keys import key_id, load_public_key_pem
from signoff.store.governance import EvidenceRecord, KeyRecord

APPROVAL_KIND = "approval"
GATE_KIND = "gate-decision"
REPORT_FORMATS = ("native", "sarif", "junit")
CLOCK_SKEW = timedelta(minutes=5)
TEST_RESULTS = {"PASSED": "pass", "WARNED": "warn", "FAILED": "fail"}
VERIFIED_CACHE_SIZE = 1 << 17
"""Envelope verifications remembered per process (a ~32-byte token and the result each)."""


@dataclass(frozen=True)
class Keyring:
    """The keys that may vouch for evidence now: registered and not revoked."""

    keys: dict[str, tuple[str, Ed25519PublicKey]]

    @classmethod
    def from_records(cls, records: Iterable[KeyRecord]) -> Keyring:
        """Active keys only."""
        return cls({r.keyid: (r.principal, _public_key(r.public_key)) for r in records if r.active})

    def verify(self, envelope: Envelope) -> str | None:
        """The principal whose active key signed ``envelope``, if any."""
        return self.signer(self.verified_keyids(envelope))

    def verified_keyids(self, envelope: Envelope) -> frozenset[str]:
        """The keyids of active keys whose signature over ``envelope`` verifies."""
        return _verified_keyids(envelope, {k: pub for k, (_, pub) in self.keys.items()})

    def signer(self, keyids: Iterable[str]) -> str | None:
        """The principal of the first (sorted) of ``keyids`` that is an active key, if any."""
        for keyid in sorted(keyids):
            if keyid in self.keys:
                return self.keys[keyid][0]
        return None


_public_key = functools.lru_cache(maxsize=1024)(load_public_key_pem)
"""``load_public_key_pem`` memoised: a key is parsed once per process, not once per keyring."""

_verified: dict[bytes, frozenset[str]] = {}
_verified_lock = threading.Lock()


def _verified_keyids(envelope: Envelope, keyring: Mapping[str, Ed25519PublicKey]) -> frozenset[str]:
    """``verified_keyids``, remembered by a digest of everything its answer depends on.

    That is the payload type, the payload and, for each signature, its keyid, its bytes and the
    raw bytes of the keyring's key for that keyid (or none). The same envelope judged again
    against the same keys (each gate check, promotion and coverage run judges all of a
    version's evidence) costs a SHA-256 instead of an Ed25519 verification (~100 us). A changed
    envelope or key is another digest, and a key left out of the keyring (revoked) is looked
    up as "none", so the answer is always what ``verified_keyids`` would say now.
    """
    token = hashlib.sha256()
    parts = [envelope.payload_type.encode("utf-8", "surrogatepass"), envelope.payload]
    for signature in envelope.signatures:
        key = keyring.get(signature.keyid)
        raw = key.public_bytes_raw() if key is not None else b""
        parts += [signature.keyid.encode("utf-8", "surrogatepass"), signature.sig, raw]
    for part in parts:
        token.update(len(part).to_bytes(8, "big"))
        token.update(part)
    digest = token.digest()
    found = _verified.get(digest)
    if found is None:
        found = frozenset(verified_keyids(envelope, keyring))
        with _verified_lock:
            if len(_verified) >= VERIFIED_CACHE_SIZE:
                del _verified[next(iter(_verified))]  # the oldest
            _verified[digest] = found
    return found


@dataclass(frozen=True)
class EvidenceView:
    """A stored envelope as judged now: trusted or not, and what it claims."""

    id: int
    ref: str
    kind: str
    predicate_type: str
    trusted: bool
    signer: str | None
    problem: str | None
    result: str | None
    predicate: dict[str, Any]
    attached_by: str
    attached_at: datetime
    produced_at: datetime
    findings: tuple[dict[str, Any], ...] = field(default=())
    envelope_sha256: str = ""

    def age_days(self, now: datetime) -> float:
        """Days since the evidence was produced."""
        return age_days(self.produced_at, now)

    def to_dict(self, now: datetime) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "id": self.id,
            "ref": self.ref,
            "kind": self.kind,
            "predicate_type": self.predicate_type,
            "trusted": self.trusted,
            "signer": self.signer,
            "problem": self.problem,
            "result": self.result,
            "findings": list(self.findings),
            "attached_by": self.attached_by,
            "attached_at": self.attached_at.isoformat(),
            "produced_at": self.produced_at.isoformat(),
            "age_days": round(self.age_days(now), 3),
            "predicate": self.predicate,
        }

    def policy_value(self, now: datetime) -> dict[str, Any]:
        """The map a policy expression sees in ``evidence``."""
        base = evidence_value(
            self.kind, self.predicate_type, self.signer, self.result, self.predicate, self.findings
        )
        base["age_days"] = self.age_days(now)
        return base

    def approval_value(self, now: datetime, creator: str) -> dict[str, Any]:
        """The map a policy expression sees in ``approvals``."""
        base = approval_value(self.signer, self.predicate, creator)
        base["age_days"] = self.age_days(now)
        return base


def evidence_value(
    kind: str,
    predicate_type: str,
    signer: str | None,
    result: str | None,
    predicate: Mapping[str, Any],
    findings: Iterable[Mapping[str, Any]],
) -> dict[str, Any]:
    """An ``evidence`` record of the policy variables, all but ``age_days``."""
    tool = predicate.get("tool") if isinstance(predicate.get("tool"), dict) else {}
    metrics = predicate.get("metrics") if isinstance(predicate.get("metrics"), dict) else {}
    return {
        "kind": kind,
        "result": result or "",
        "predicate_type": predicate_type,
        "signer": signer or "",
        "metrics": metrics,
        "findings": [dict(f) for f in findings],
        "tool": tool,
    }


def approval_value(
    signer: str | None, predicate: Mapping[str, Any], creator: str
) -> dict[str, Any]:
    """An ``approvals`` record of the policy variables, all but ``age_days``."""
    approver = signer or ""
    return {
        "approver": approver,
        "stage": str(predicate.get("stage", "")),
        "decision": str(predicate.get("decision", "")),
        "reason": str(predicate.get("reason", "")),
        "by_creator": approver == creator,
    }


def age_days(produced_at: datetime, now: datetime) -> float:
    """Days from ``produced_at`` to ``now``."""
    return (now - produced_at).total_seconds() / 86400


def judge(record: EvidenceRecord, version: Version, keyring: Keyring) -> EvidenceView:
    """Decide whether a stored envelope counts for ``version`` and read what it claims."""
    return judge_for_digest(record, version.artifact.root_digest, keyring)


def judge_for_digest(record: EvidenceRecord, root_digest: str, keyring: Keyring) -> EvidenceView:
    """``judge`` for the version whose artifact root digest is ``root_digest``."""
    problem: str | None = None
    signer: str | None = None
    predicate: dict[str, Any] = {}
    try:
        envelope = Envelope.from_json(record.envelope)
        statement = parse_statement(envelope.payload)
        predicate = dict(statement.predicate)
        if root_digest not in subject_digests(statement):
            problem = "its subject is not this version's artifact digest"
        elif statement.predicate_type != record.predicate_type:
            problem = "its predicate type differs from the one recorded"
        else:
            signer = keyring.verify(envelope)
            if signer is None:
                problem = "not signed by a registered, unrevoked key"
            elif record.kind == APPROVAL_KIND and predicate.get("approver") != signer:
                problem = "the approval names another approver than its signer"
    except SignoffError as exc:
        problem = f"unreadable envelope: {exc.message}"
    envelope_sha256 = hashlib.sha256(record.envelope.encode("utf-8")).hexdigest()
    return _view(record, signer, problem, predicate, envelope_sha256)


def _view(
    record: EvidenceRecord,
    signer: str | None,
    problem: str | None,
    predicate: dict[str, Any],
    envelope_sha256: str,
) -> EvidenceView:
    """The view of ``record`` judged: trusted unless there is a ``problem``."""
    result, findings = _claims(record.predicate_type, predicate)
    return EvidenceView(
        id=record.id,
        ref=record.ref,
        kind=record.kind,
        predicate_type=record.predicate_type,
        trusted=problem is None,
        signer=signer,
        problem=problem,
        result=result,
        predicate=predicate,
        attached_by=record.attached_by,
        attached_at=record.attached_at,
        produced_at=record.produced_at,
        findings=findings,
        envelope_sha256=envelope_sha256,
    )


def _claims(
    predicate_type: str, predicate: Mapping[str, Any]
) -> tuple[str | None, tuple[dict[str, Any], ...]]:
    findings = predicate.get("findings")
    found = (
        tuple(dict(f) for f in findings if isinstance(f, dict))
        if isinstance(findings, list)
        else ()
    )
    if predicate_type == FINDING_PREDICATE:
        result = predicate.get("result")
        return (result if isinstance(result, str) else None), found
    if predicate_type == TEST_RESULT_PREDICATE:
        return TEST_RESULTS.get(str(predicate.get("result"))), ()
    if predicate_type == APPROVAL_PREDICATE:
        return str(predicate.get("decision")), ()
    if predicate_type == VSA_PREDICATE:
        return ("pass" if predicate.get("verificationResult") == "PASSED" else "fail"), ()
    return None, found


# --- building evidence -----------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedEvidence:
    """A signed envelope ready to store, with what the store indexes.

    Evidence signoff signs itself also carries what it knows first-hand: the statement's
    predicate and the keyid of the key that signed it, so attaching it needs no re-parse or
    signature check (``first_hand_claims``).
    """

    kind: str
    predicate_type: str
    envelope: str
    produced_at: datetime
    predicate: Mapping[str, Any] | None = None
    signed_with: str | None = None


def report_predicate(path: Path, fmt: str, kind: str, now: datetime) -> tuple[str, dict[str, Any]]:
    """Read a report file as a predicate: ``native`` finding JSON, SARIF 2.1.0 or JUnit XML."""
    if fmt not in REPORT_FORMATS:
        raise InvalidInputError(
            f"unknown report format {fmt!r}", hint=f"choose one of: {', '.join(REPORT_FORMATS)}"
        )
    check_kind(kind)
    data = _read_report(path)
    if fmt == "sarif":
        return FINDING_PREDICATE, sarif_to_predicate(data, kind, now)
    if fmt == "junit":
        return FINDING_PREDICATE, junit_to_predicate(data, kind, now)
    try:
        predicate = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError(
            f"{path} is not JSON: {exc}",
            hint="give a signoff finding predicate (see README), or --format sarif|junit",
        ) from None
    if not isinstance(predicate, dict):
        raise InvalidInputError(f"{path} is not a JSON object", hint="give a finding predicate")
    predicate.setdefault("kind", kind)
    predicate.setdefault("metrics", {})
    predicate.setdefault("time", now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    for finding in predicate.get("findings") or []:
        if isinstance(finding, dict):  # optional in reports; the signed predicate spells them out
            finding.setdefault("detail", "")
            finding.setdefault("location", "")
    report = parse_finding_predicate(predicate)
    if report.kind != kind:
        raise InvalidInputError(
            f"{path} reports kind {report.kind!r} but --kind is {kind!r}",
            hint="make them agree",
        )
    return FINDING_PREDICATE, predicate


def check_kind(kind: str) -> str:
    """Refuse evidence kinds signoff does not know."""
    if kind not in FINDING_KINDS:
        raise InvalidInputError(
            f"unknown evidence kind {kind!r}", hint=f"choose one of: {', '.join(FINDING_KINDS)}"
        )
    return kind


def _read_report(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_REPORT_BYTES:
            raise InvalidInputError(
                f"{path} is {size} bytes, over the {MAX_REPORT_BYTES}-byte report limit",
                hint="split the report",
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise InvalidInputError(f"report {path} does not exist", hint="check the path") from None
    except IsADirectoryError:
        raise InvalidInputError(f"report {path} is a directory", hint="give a file") from None
    except PermissionError:
        raise InvalidInputError(
            f"report {path} is not readable", hint="check its permissions"
        ) from None


def sign_evidence(
    version: Version,
    kind: str,
    predicate_type: str,
    predicate: Mapping[str, Any],
    key: Ed25519PrivateKey,
    now: datetime,
) -> PreparedEvidence:
    """Wrap ``predicate`` in a statement about ``version`` and sign it."""
    statement = make_statement(version.ref, version.artifact.root_digest, predicate_type, predicate)
    envelope = sign(statement_bytes(statement), PAYLOAD_TYPE, key)
    return PreparedEvidence(
        kind,
        predicate_type,
        envelope.to_json(),
        produced_time(predicate, now),
        predicate=statement["predicate"],
        signed_with=envelope.signatures[0].keyid,
    )


def prepare_envelope(
    version: Version, text: str, kind: str | None, now: datetime
) -> PreparedEvidence:
    """Check a pre-signed envelope: it must be an in-toto statement about this version's bytes."""
    envelope = Envelope.from_json(text)
    if envelope.payload_type != PAYLOAD_TYPE:
        raise InvalidInputError(
            f"envelope payload type is {envelope.payload_type!r}, not {PAYLOAD_TYPE!r}",
            hint="attach in-toto statements only",
        )
    statement = parse_statement(envelope.payload)
    digests = subject_digests(statement)
    if version.artifact.root_digest not in digests:
        raise InvalidInputError(
            f"the evidence is about other bytes (sha256:{sorted(digests)[0][:12]}...), "
            f"not {version.ref} (sha256:{version.artifact.root_digest[:12]}...)",
            hint="evidence must name the version's exact artifact digest as its subject",
        )
    predicate = dict(statement.predicate)
    if statement.predicate_type == FINDING_PREDICATE:
        report = parse_finding_predicate(predicate)
        if kind is not None and kind != report.kind:
            raise InvalidInputError(
                f"the envelope reports kind {report.kind!r} but --kind is {kind!r}",
                hint="make them agree",
            )
        kind = report.kind
    elif statement.predicate_type == TEST_RESULT_PREDICATE:
        parse_test_result_predicate(predicate)
        kind = check_kind(kind or "evaluation")
    elif statement.predicate_type == APPROVAL_PREDICATE:
        parse_approval_predicate(predicate)
        kind = APPROVAL_KIND
    else:
        kind = check_kind(kind or "custom")
    return PreparedEvidence(kind, statement.predicate_type, text, produced_time(predicate, now))


def produced_time(predicate: Mapping[str, Any], now: datetime) -> datetime:
    """When the evidence was produced: its own time if it states one (not in the future)."""
    stated = predicate.get("time") or predicate.get("timeVerified")
    if not isinstance(stated, str):
        return now
    try:
        when = datetime.fromisoformat(stated.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(
            f"evidence time {stated!r} is not an RFC 3339 timestamp",
            hint="write e.g. 2026-11-26T12:00:00Z",
        ) from None
    if when.tzinfo is None:
        raise InvalidInputError(f"evidence time {stated!r} has no timezone", hint="end it with Z")
    if when > now + CLOCK_SKEW:
        raise InvalidInputError(
            f"evidence time {stated} is in the future", hint="check the producer's clock"
        )
    return when


# --- receipts: what was verified at attach time, for bulk reads ------------------------------


def utc_text(moment: datetime) -> str:
    """``moment`` in UTC, ISO 8601: how a receipt spells a row's time on every backend."""
    return (moment if moment.tzinfo is UTC else moment.astimezone(UTC)).isoformat()


def verified_claims(
    prepared: PreparedEvidence, version: Version, keyring: Keyring
) -> Claims | None:
    """What a receipt records about ``prepared``: who verifiably signed it, now.

    None when the envelope would not be judged about this version (wrong subject or predicate
    type); such a row gets no receipt and is always judged in full.
    """
    try:
        envelope = Envelope.from_json(prepared.envelope)
        statement = parse_statement(envelope.payload)
    except SignoffError:
        return None
    if version.artifact.root_digest not in subject_digests(statement):
        return None
    if statement.predicate_type != prepared.predicate_type:
        return None
    return Claims.of(
        keyring.verified_keyids(envelope),
        (signature.keyid for signature in envelope.signatures),
        statement.predicate,
    )


def first_hand_claims(prepared: PreparedEvidence, keyring: Keyring) -> Claims | None:
    """The claims of evidence signoff just signed, without parsing or verifying it again.

    Its one signature verifies under the key that made it, so it is verified exactly when the
    keyring holds that very key as active: the keyid is the SHA-256 of the public key, so an
    entry under that keyid whose own key id matches is the same key. None for an envelope
    signed elsewhere: ``verified_claims`` checks that one in full.
    """
    keyid = prepared.signed_with
    if keyid is None or prepared.predicate is None:
        return None
    entry = keyring.keys.get(keyid)
    verified = [keyid] if entry is not None and key_id(entry[1]) == keyid else []
    return Claims.of(verified, [keyid], prepared.predicate)


def _trust(kind: str, claims: Claims, keyring: Keyring) -> tuple[str | None, str | None]:
    """The signer and, if the evidence does not count, why: as ``judge`` decides after its
    subject and predicate-type checks, for an envelope whose signatures verified as claimed."""
    signer = keyring.signer(claims.signed_by)
    if signer is None:
        return None, "not signed by a registered, unrevoked key"
    if kind == APPROVAL_KIND and claims.predicate.get("approver") != signer:
        return signer, "the approval names another approver than its signer"
    return signer, None


def view_from_claims(record: EvidenceRecord, claims: Claims, keyring: Keyring) -> EvidenceView:
    """The view ``judge`` gives a row whose envelope verified as ``claims`` say, about this
    version (``verified_claims`` and ``first_hand_claims`` establish both)."""
    signer, problem = _trust(record.kind, claims, keyring)
    return _view(record, signer, problem, dict(claims.predicate), record.envelope_sha256)


class Receipted(NamedTuple):
    """A receipted evidence row as judged by ``ReceiptReader``."""

    signer: str | None
    problem: str | None
    result: str | None
    predicate: Mapping[str, Any]
    findings: tuple[dict[str, Any], ...]


class ReceiptReader:
    """Judges receipted evidence rows in bulk without parsing envelopes or verifying signatures.

    ``judge`` answers what ``judge_for_digest`` would, or None when the row must be judged in
    full: no receipt, a receipt that does not check, or a signature keyid that was not verified
    at attach time but names an active key now. See ``signoff.governance.receipts``. Verdicts
    are remembered per distinct (kind, predicate type, claims): rows that claim the same thing
    share one parse and one verdict, and each row costs a MAC check.
    """

    def __init__(self, keyring: Keyring, receipt_key: ReceiptKey) -> None:
        self._keyring = keyring
        self._key = receipt_key
        self._verdicts: dict[tuple[str, str, str], Receipted | None] = {}

    def judge(
        self,
        root_digest: str,
        kind: str,
        predicate_type: str,
        envelope_sha256: str,
        produced_at: datetime,
        claims: str | None,
        receipt: str | None,
    ) -> Receipted | None:
        """The verdict on one row, or None: judge it in full."""
        if claims is None or receipt is None:
            return None
        row = ReceiptedRow(
            root_digest, kind, predicate_type, envelope_sha256, utc_text(produced_at), claims
        )
        if not self._key.check(receipt, row):
            return None
        key = (kind, predicate_type, claims)
        try:
            return self._verdicts[key]
        except KeyError:
            verdict = self._verdicts[key] = self._verdict(kind, predicate_type, claims)
            return verdict

    def _verdict(self, kind: str, predicate_type: str, text: str) -> Receipted | None:
        found = Claims.from_text(text)
        if found is None:
            return None
        active = self._keyring.keys
        if any(keyid in active for keyid in found.other_keyids):
            return None  # a key registered since might verify it now: the full check decides
        signer, problem = _trust(kind, found, self._keyring)
        result, findings = _claims(predicate_type, found.predicate)
        return Receipted(signer, problem, result, found.predicate, findings)

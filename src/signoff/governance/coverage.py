"""Continuous compliance: every approved and production version evaluated against its gate now.

The same decision ``gate_check`` reaches, for every gated version at once, read lean: versions
without manifests, evidence without envelopes, and trust taken from the registry's receipts
(``signoff.governance.receipts``) where they check. A row without a valid receipt -- or any row
when this machine lacks the registry key -- is judged in full, envelope and signature.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from signoff.domain import Stage
from signoff.governance.evidence import (
    APPROVAL_KIND,
    GATE_KIND,
    Keyring,
    ReceiptReader,
    age_days,
    approval_value,
    evidence_value,
    judge_for_digest,
)
from signoff.governance.gates import model_value, version_value
from signoff.governance.receipts import ReceiptKey
from signoff.policy import Policy
from signoff.store import StoreSession
from signoff.store.governance import (
    EvidenceRecord,
    ExceptionRecord,
    GatedEvidence,
    GatedVersion,
)

GATED_STAGES = (Stage.APPROVED.value, Stage.PRODUCTION.value)
FULL_READ_ONE_BY_ONE = 64
"""Rows to judge in full that are read one query each; more are read in one query."""
MIN_PER_WORKER = 1000
"""Versions a forked worker must have to be worth its start-up (a few ms)."""


@dataclass(frozen=True)
class Drift:
    """One version or alias out of policy now."""

    ref: str
    stage: str
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {"ref": self.ref, "stage": self.stage, "reasons": list(self.reasons)}


@dataclass(frozen=True)
class CoverageReport:
    """``coverage``: every approved/production version evaluated now against its stage's gate."""

    policy_name: str
    policy_digest: str
    checked: int
    drifted: tuple[Drift, ...]

    @property
    def ok(self) -> bool:
        """True when nothing is out of policy."""
        return not self.drifted

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "ok": self.ok,
            "policy": {"name": self.policy_name, "digest": self.policy_digest},
            "checked": self.checked,
            "drifted": [d.to_dict() for d in self.drifted],
        }


_Item = tuple[GatedVersion, dict[str, Any]]


@dataclass
class _Inputs:
    """One version's trusted evidence and approvals, as policy records."""

    evidence: list[dict[str, Any]]
    approvals: list[dict[str, Any]]


def gated_variables(
    tx: StoreSession,
    keyring: Keyring,
    receipt_key: ReceiptKey | None,
    now: datetime,
) -> list[tuple[GatedVersion, dict[str, Any]]]:
    """Every gated version with its policy variables, as ``GateInput.variables`` builds them."""
    models = {m.name: m for m in tx.list_models()}
    versions = tx.gov.gated_versions(GATED_STAGES)
    by_id = {v.id: v for v in versions}
    inputs = {v.id: _Inputs([], []) for v in versions}
    # Gate decisions never reach a policy (``GateInput.trusted``), so they are not even read.
    rows = tx.gov.gated_evidence(GATED_STAGES, except_kinds=(GATE_KIND,))
    _judge_rows(tx, rows, by_id, inputs, keyring, receipt_key, now)
    model_values = {name: model_value(model) for name, model in models.items()}
    return [
        (
            version,
            {
                "model": model_values[version.model],
                "version": version_value(
                    f"{version.model}@{version.number}",
                    version.number,
                    version.stage,
                    version.created_by,
                    version.root_digest,
                    version.metadata,
                ),
                "evidence": inputs[version.id].evidence,
                "approvals": inputs[version.id].approvals,
                "now": now,
            },
        )
        for version in versions
    ]


def _judge_rows(
    tx: StoreSession,
    rows: Sequence[GatedEvidence],
    versions: dict[int, GatedVersion],
    inputs: dict[int, _Inputs],
    keyring: Keyring,
    receipt_key: ReceiptKey | None,
    now: datetime,
) -> None:
    """Append each trusted row's policy record to its version's inputs, in row order."""
    reader = ReceiptReader(keyring, receipt_key) if receipt_key is not None else None
    verdicts = [
        reader.judge(
            versions[row.version_id].root_digest,
            row.kind,
            row.predicate_type,
            row.envelope_sha256,
            row.produced_at,
            row.claims,
            row.receipt,
        )
        if reader is not None
        else None
        for row in rows
    ]
    records = _full_records(
        tx, [row.id for row, v in zip(rows, verdicts, strict=True) if v is None]
    )
    # Policy records without age_days, shared by rows with equal claims: the policy layer only
    # reads them, and each row adds its own age in a copy.
    shared: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row, verdict in zip(rows, verdicts, strict=True):
        version = versions[row.version_id]
        if verdict is None:
            record = records.get(row.id)
            if record is None:
                continue  # not possible inside one transaction; nothing to judge
            view = judge_for_digest(record, version.root_digest, keyring)
            trusted, signer, result = view.trusted, view.signer, view.result
            predicate: Mapping[str, Any] = view.predicate
            findings = view.findings
            key: tuple[Any, ...] | None = None
        else:
            trusted, signer, result = verdict.problem is None, verdict.signer, verdict.result
            predicate, findings = verdict.predicate, verdict.findings
            key = (row.kind, row.predicate_type, row.claims, version.created_by)
        if not trusted:
            continue
        base = shared.get(key) if key is not None else None
        if base is None:
            base = (
                approval_value(signer, predicate, version.created_by)
                if row.kind == APPROVAL_KIND
                else evidence_value(
                    row.kind, row.predicate_type, signer, result, predicate, findings
                )
            )
            if key is not None:
                shared[key] = base
        value = {**base, "age_days": age_days(row.produced_at, now)}
        target = inputs[row.version_id]
        (target.approvals if row.kind == APPROVAL_KIND else target.evidence).append(value)


def _full_records(tx: StoreSession, ids: list[int]) -> dict[int, EvidenceRecord]:
    """The stored records (envelopes included) of the rows to judge in full: one by one when
    few (a revoked or new key), in one read of all evidence when many (no registry key here)."""
    if len(ids) <= FULL_READ_ONE_BY_ONE:
        found = (tx.gov.get_evidence(evidence_id) for evidence_id in ids)
        return {record.id: record for record in found if record is not None}
    wanted = set(ids)
    return {record.id: record for record in tx.gov.all_evidence() if record.id in wanted}


def drift_of(
    policy: Policy,
    gated: Sequence[tuple[GatedVersion, dict[str, Any]]],
    exceptions: Iterable[ExceptionRecord],
    now: datetime,
    *,
    workers: int = 1,
) -> list[Drift]:
    """The gated versions whose stage's gate blocks now, with the blocking rules' messages.

    With ``workers`` > 1 the versions are split between forked processes (see ``_forked``).
    """
    by_model: dict[str, list[ExceptionRecord]] = {}
    for exception in exceptions:
        if exception.expires_at > now:
            by_model.setdefault(exception.model, []).append(exception)

    def evaluate(chunk: Sequence[tuple[GatedVersion, dict[str, Any]]]) -> list[Drift]:
        # One batch evaluator per process: it reuses the results of rules whose inputs repeat
        # across versions, and reaches exactly the decisions ``Policy.evaluate`` would.
        evaluator = policy.batch()
        drifted: list[Drift] = []
        for version, variables in chunk:
            if not policy.has_stage(version.stage):
                reasons = [f"the policy no longer defines a gate for {version.stage}"]
            else:
                excepted = {
                    x.rule_id
                    for x in by_model.get(version.model, ())
                    if x.version_number in (None, version.number)
                }
                decision = evaluator.evaluate(version.stage, variables, excepted_rule_ids=excepted)
                reasons = [f"{r.rule_id}: {r.message}" for r in decision.blocking]
            if reasons:
                drifted.append(
                    Drift(f"{version.model}@{version.number}", version.stage, tuple(reasons))
                )
        return drifted

    return _forked(evaluate, gated, workers)


def _forked(
    evaluate: Callable[[Sequence[_Item]], list[Drift]],
    items: Sequence[_Item],
    workers: int,
) -> list[Drift]:
    """``evaluate(items)``, split over ``workers`` processes when that is safe and worth it.

    Evaluating a gate is CPU work in the CEL binding, which holds the GIL, so threads cannot
    share it; forked children inherit the prepared variables for free. Children only evaluate
    and write their drift as JSON to a pipe; they never touch the database and leave with
    ``os._exit``. Forking is skipped when other threads run (a fork copies only the calling
    thread, and a lock held elsewhere would never be released in the child), without
    ``os.fork``, and for small runs. A child that fails has its share evaluated here instead.
    """
    workers = min(workers, len(items) // MIN_PER_WORKER)
    if workers <= 1 or not hasattr(os, "fork") or threading.active_count() > 1:
        return evaluate(items)
    size = -(-len(items) // workers)
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    children: list[tuple[int, int, Sequence[_Item]]] = []
    for chunk in chunks[1:]:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            os.close(read_end)
            status = 1
            try:
                payload = json.dumps([d.to_dict() for d in evaluate(chunk)]).encode("utf-8")
                with os.fdopen(write_end, "wb") as out:
                    out.write(payload)
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        children.append((pid, read_end, chunk))
    drifted = evaluate(chunks[0])
    for pid, read_end, chunk in children:
        with os.fdopen(read_end, "rb") as source:
            payload = source.read()
        _, status = os.waitpid(pid, 0)
        if status != 0:
            drifted += evaluate(chunk)
            continue
        drifted += [Drift(d["ref"], d["stage"], tuple(d["reasons"])) for d in json.loads(payload)]
    return drifted


def misplaced_aliases(
    policy: Policy, tx: StoreSession, stages: dict[tuple[str, int], str]
) -> list[Drift]:
    """Protected aliases pointing at a version outside their required stage."""
    drifted: list[Drift] = []
    for (model, alias), (number, _, _) in sorted(tx.alias_targets().items()):
        required = policy.protected_aliases.get(alias)
        actual = stages.get((model, number), "candidate or retired")
        if required is not None and actual != required:
            drifted.append(
                Drift(
                    f"{model}@{alias}",
                    actual,
                    (f"protected alias points at {model}@{number}, which is {actual}",),
                )
            )
    return drifted

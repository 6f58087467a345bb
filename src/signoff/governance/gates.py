"""Gates: what a policy sees about a version, and the decision it reaches.

Only trusted evidence whose subject is the version's exact digest reaches the policy; approvals
are trusted approval envelopes, each marked ``by_creator`` when the approver created the version
(separation of duties is the policy's call, not hard-coded). Exceptions that are named, unexpired
and scoped to the model or this version turn failures of their rule into ``excepted``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from signoff.domain import Model, Stage, Version
from signoff.governance.evidence import APPROVAL_KIND, GATE_KIND, EvidenceView
from signoff.policy import BatchEvaluator, Decision, Policy
from signoff.store.governance import ExceptionRecord

STAGE_ORDER = {Stage.CANDIDATE: 0, Stage.APPROVED: 1, Stage.PRODUCTION: 2}


@dataclass(frozen=True)
class GateInput:
    """Everything a gate decision rests on, kept to cite it in the signed decision."""

    model: Model
    version: Version
    evidence: tuple[EvidenceView, ...]
    exceptions: tuple[ExceptionRecord, ...]
    now: datetime

    def trusted(self) -> list[EvidenceView]:
        """Evidence that counts: trusted and not itself a gate decision or an approval."""
        return [e for e in self.evidence if e.trusted and e.kind not in (APPROVAL_KIND, GATE_KIND)]

    def approvals(self) -> list[EvidenceView]:
        """Trusted approval envelopes."""
        return [e for e in self.evidence if e.trusted and e.kind == APPROVAL_KIND]

    def variables(self) -> dict[str, Any]:
        """The policy variables (see ``signoff.policy.variables``)."""
        version, now = self.version, self.now
        return {
            "model": model_value(self.model),
            "version": version_value(
                version.ref,
                version.number,
                version.stage.value,
                version.created_by,
                version.artifact.root_digest,
                version.metadata,
            ),
            "evidence": [e.policy_value(now) for e in self.trusted()],
            "approvals": [a.approval_value(now, version.created_by) for a in self.approvals()],
            "now": now,
        }

    def active_exceptions(self) -> list[ExceptionRecord]:
        """Exceptions in force for this version now."""
        return [
            x
            for x in self.exceptions
            if x.model == self.model.name
            and x.version_number in (None, self.version.number)
            and x.expires_at > self.now
        ]


def model_value(model: Model) -> dict[str, Any]:
    """The ``model`` policy variable."""
    return {
        "name": model.name,
        "owner": model.owner,
        "team": model.team or "",
        "risk_tier": model.risk_tier.value,
        "intended_use": model.intended_use or "",
        "tags": dict(model.tags),
    }


def version_value(
    ref: str,
    number: int,
    stage: str,
    created_by: str,
    root_digest: str,
    metadata: Mapping[str, Any],
) -> dict[str, Any]:
    """The ``version`` policy variable."""
    return {
        "ref": ref,
        "number": number,
        "stage": stage,
        "created_by": created_by,
        "root_digest": root_digest,
        "metadata": {k: str(v) for k, v in metadata.items()},
    }


def decide(policy: Policy, stage: str, gate_input: GateInput) -> Decision:
    """Evaluate ``stage``'s gate for the version.

    Through the process's batch evaluator of ``policy``: the decision is exactly
    ``policy.evaluate``'s (``signoff.policy.batch`` is property-tested for that), and a rule
    whose inputs repeat from an earlier gate in this process is not run again.
    """
    excepted = {x.rule_id for x in gate_input.active_exceptions()}
    variables = gate_input.variables()
    with _evaluators_lock:
        evaluator = _evaluators.pop(policy.digest, None) or policy.batch(
            max_entries=EVALUATOR_ENTRIES
        )
        _evaluators[policy.digest] = evaluator  # most recently used last
        while len(_evaluators) > EVALUATORS:
            del _evaluators[next(iter(_evaluators))]
        return evaluator.evaluate(stage, variables, excepted_rule_ids=excepted)


EVALUATORS = 4
"""Policies whose batch evaluators a process keeps (the one in force, and a few recent)."""
EVALUATOR_ENTRIES = 50_000
"""Cache bound of each: a long-running server's memo stays a few MB."""
_evaluators: dict[str, BatchEvaluator] = {}
# The evaluator is not thread-safe; evaluating under the lock costs a server a gate at a time
# (~0.1-0.3 ms each), which is far below what the rest of a gate check costs.
_evaluators_lock = threading.Lock()

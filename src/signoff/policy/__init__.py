"""Policies: stage gates written as CEL rules in YAML, evaluated per version. No database here.

A policy (``kind: Policy``, shaped like a Kubernetes ValidatingAdmissionPolicy) lists, for the
``approved`` and ``production`` stages, rules whose ``check`` is a CEL expression over the
version's ``model``, ``version``, ``evidence``, ``approvals``, ``now`` and the policy's
``params`` (see ``signoff.policy.variables``)::

    policy = Policy.load(default_policy_text())
    decision = policy.evaluate("production", variables, excepted_rule_ids={"high-risk-red-team"})
    if not decision.allowed:
        for result in decision.blocking:
            print(result.rule_id, result.message)

For many versions in one run (``coverage``), ``policy.batch()`` returns a ``BatchEvaluator``
whose ``evaluate`` gives the same decisions while reusing rule results across versions.

The shipped ``default.yaml`` documents the format in its comments.
"""

from signoff.policy.batch import BatchEvaluator
from signoff.policy.defaults import default_policy_text
from signoff.policy.document import GATED_STAGES
from signoff.policy.policy import Policy
from signoff.policy.results import Action, Decision, Rule, RuleResult, Status

__all__ = [
    "GATED_STAGES",
    "Action",
    "BatchEvaluator",
    "Decision",
    "Policy",
    "Rule",
    "RuleResult",
    "Status",
    "default_policy_text",
]

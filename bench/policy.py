"""Benchmark: evaluating policy gates, 10,000 versions x 10 rules.

Usage::

    .venv/bin/python bench/policy.py [--versions 10000] [--repeats 3] [--json]

The policy is the shipped default's ``production`` gate (7 rules) plus 3 padding rules, so 10
rules per version. Each version's variables are realistic and distinct: a model (half of them
high risk), 4 evidence records (an artifact scan with 3 findings, an evaluation with 4 metrics,
a red-team exercise, an SBOM), 3 approvals. The variables are built before timing starts; the
timed part is ``Policy.evaluate`` per version, which converts them to CEL once and runs every
rule against that one context. The best of ``--repeats`` rounds is reported, split into
converting the variables and running the rules. It asserts nothing: it prints.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import UTC, datetime
from typing import Any

import cel

from signoff.policy import Policy, default_policy_text
from signoff.policy.variables import build_context

PADDING = """
        - id: pad-owner-set
          title: The model has an owner
          check: 'size(model.owner) > 0'
        - id: pad-accuracy
          title: The evaluation reports accuracy of at least 0.8
          check: >-
            evidence.exists(e, e.kind == "evaluation" && has(e.metrics.accuracy)
              && e.metrics.accuracy >= 0.8)
        - id: pad-signers
          title: All evidence is signed by the CI identity
          check: 'evidence.all(e, e.signer.endsWith("@ci.example.com"))'
          action: warn
"""


def padded_policy() -> Policy:
    """The default policy with three more production rules (10 in all)."""
    return Policy.load(default_policy_text().rstrip("\n") + "\n" + PADDING)


def version_variables(number: int, now: datetime) -> dict[str, Any]:
    """Distinct, realistic variables for version ``number``."""

    def evidence(kind: str, findings: list[dict[str, Any]], metrics: dict[str, float]) -> Any:
        return {
            "kind": kind,
            "result": "pass",
            "predicate_type": f"https://signoff.dev/attestation/{kind}/v1",
            "signer": "release@ci.example.com",
            "age_days": float(number % 60),
            "metrics": metrics,
            "findings": findings,
            "tool": {"name": f"{kind}-tool", "version": "1.2.3"},
        }

    def finding(index: int, severity: str) -> dict[str, Any]:
        return {"id": f"CVE-2024-{number}{index}", "severity": severity, "package": "numpy"}

    def approval(approver: str, by_creator: bool) -> dict[str, Any]:
        return {
            "approver": approver,
            "stage": "production",
            "decision": "approve",
            "reason": "reviewed the evaluation",
            "age_days": 1.0,
            "by_creator": by_creator,
        }

    return {
        "model": {
            "name": f"model-{number}",
            "owner": "alice@example.com",
            "team": "risk",
            "risk_tier": "high" if number % 2 else "limited",
            "intended_use": "fraud scoring",
            "tags": {"domain": "payments"},
        },
        "version": {
            "ref": f"model-{number}@1",
            "number": 1,
            "stage": "approved",
            "created_by": "alice@example.com",
            "root_digest": f"sha256:{number:064x}",
            "metadata": {"framework": "sklearn"},
        },
        "evidence": [
            evidence("artifact-scan", [finding(1, "low"), finding(2, "medium"), finding(3, "low")], {}),
            evidence("evaluation", [], {"accuracy": 0.91, "f1": 0.88, "auc": 0.95, "dpd": 0.04}),
            evidence("red-team", [finding(4, "low")], {}),
            evidence("sbom", [], {}),
        ],
        "approvals": [
            approval("alice@example.com", True),
            approval("bob@example.com", False),
            approval("carol@example.com", False),
        ],
        "now": now,
    }


def best(repeats: int, run: Any) -> float:
    """The smallest wall time of ``repeats`` runs of ``run()``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    policy = padded_policy()
    rules = len(policy.rules("production"))
    now = datetime.now(UTC)
    versions = [version_variables(n, now) for n in range(args.versions)]
    decisions = [policy.evaluate("production", v) for v in versions]  # warm-up, and a sanity check
    allowed = sum(d.allowed for d in decisions)

    total = best(args.repeats, lambda: [policy.evaluate("production", v) for v in versions])
    params = policy.params
    convert = best(args.repeats, lambda: [build_context(v, params) for v in versions])
    # For comparison: what passing the Python dict to every execute() costs (the binding then
    # converts all variables once per rule instead of once per version).
    sample = versions[: max(1, args.versions // 10)]
    programs = [cel.compile(r.check) for r in policy.rules("production")]
    merged = [{**v, "params": params} for v in sample]
    per_call = best(1, lambda: [p.execute(m) for m in merged for p in programs])
    per_call *= args.versions / len(sample)

    evaluations = args.versions * rules
    report = {
        "versions": args.versions,
        "rules_per_version": rules,
        "allowed": allowed,
        "total_s": round(total, 3),
        "per_version_us": round(total / args.versions * 1e6, 1),
        "per_rule_us": round(total / evaluations * 1e6, 2),
        "convert_variables_s": round(convert, 3),
        "run_rules_s": round(total - convert, 3),
        "dict_per_execute_s_estimated": round(per_call, 3),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    if args.json:
        print(json.dumps(report))
        return
    print(f"{args.versions:,} versions x {rules} rules ({allowed:,} allowed), best of {args.repeats}")
    print(f"  total                  {total:7.3f} s   target < 2 s")
    print(f"  per version            {report['per_version_us']:7.1f} us")
    print(f"  per rule evaluation    {report['per_rule_us']:7.2f} us   target < 20 us")
    print(f"  of which: variables -> CEL context   {convert:7.3f} s")
    print(f"            running the rules          {total - convert:7.3f} s")
    print(f"  (a dict per execute() instead: about {per_call:.3f} s)")


if __name__ == "__main__":
    main()

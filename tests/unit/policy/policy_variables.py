"""Builders of policy variables for the tests: a clean version, and its parts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
CREATOR = "alice@example.com"


def finding(severity: str, **extra: Any) -> dict[str, Any]:
    return {"id": "CVE-2025-0001", "severity": severity, "package": "numpy", **extra}


def evidence(
    kind: str,
    result: str = "pass",
    *,
    age_days: float = 3.0,
    findings: list[dict[str, Any]] | None = None,
    metrics: dict[str, float] | None = None,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "result": result,
        "predicate_type": f"https://signoff.dev/attestation/{kind}/v1",
        "signer": "release@ci.example.com",
        "age_days": age_days,
        "metrics": metrics or {},
        "findings": findings or [],
        "tool": {"name": f"{kind}-tool", "version": "1.0"},
    }


def approval(
    approver: str, decision: str = "approve", *, stage: str = "production"
) -> dict[str, Any]:
    return {
        "approver": approver,
        "stage": stage,
        "decision": decision,
        "reason": "looked at the evidence",
        "age_days": 1.0,
        "by_creator": approver == CREATOR,
    }


def clean_evidence() -> list[dict[str, Any]]:
    """What the default policy asks of a limited-risk model."""
    return [
        evidence("artifact-scan", findings=[finding("low")]),
        evidence("evaluation", metrics={"accuracy": 0.93}),
    ]


def variables(
    *,
    risk_tier: str = "limited",
    evidence_list: list[dict[str, Any]] | None = None,
    approvals: list[dict[str, Any]] | None = None,
    intended_use: str | None = "score card transactions for fraud",
) -> dict[str, Any]:
    """Variables of a version of model ``fraud`` created by ``CREATOR``."""
    return {
        "model": {
            "name": "fraud",
            "owner": CREATOR,
            "team": "risk",
            "risk_tier": risk_tier,
            "intended_use": intended_use,
            "tags": {"domain": "payments"},
        },
        "version": {
            "ref": "fraud@3",
            "number": 3,
            "stage": "approved",
            "created_by": CREATOR,
            "root_digest": "sha256:" + "ab" * 32,
            "metadata": {"framework": "sklearn"},
        },
        "evidence": clean_evidence() if evidence_list is None else evidence_list,
        "approvals": [] if approvals is None else approvals,
        "now": NOW,
    }


def policy_text(rules: str, *, stage: str = "approved", spec_extra: str = "") -> str:
    """A minimal policy whose ``stage`` has ``rules`` (YAML list items, indented 8 spaces)."""
    return f"""\
apiVersion: signoff.dev/v1
kind: Policy
metadata:
  name: test
spec:
{spec_extra}  stages:
    {stage}:
      rules:
{rules}"""

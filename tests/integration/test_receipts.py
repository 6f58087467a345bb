"""Receipts on a real store (SQLite and PostgreSQL): bulk reads judge evidence as a full check does.

``coverage`` trusts a row by the registry's receipt instead of parsing its envelope and checking
its signature. These tests build the policy variables of every gated version both ways -- with
the receipts and with the full check (no receipt key) -- and require them to be identical, in the
cases where trust changes after attach time: a revoked signer, a signer registered later, and
rows tampered with in the database.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from test_governance import PEOPLE, _envelope, add_clean_evidence, report

from signoff.governance import coverage
from signoff.governance.coverage import gated_variables
from signoff.governance.evidence import Keyring
from signoff.governance.service import REGISTRY_PRINCIPAL
from signoff.keys import generate_key, public_key_pem
from signoff.registry import Registry
from signoff.store import resolve_location


def both_ways(registry: Registry) -> tuple[list[Any], list[Any]]:
    """Every gated version's policy variables, judged by receipts and judged in full."""
    when = datetime.now(UTC)
    with registry._store.transaction() as tx:
        keyring = Keyring.from_records(tx.gov.list_keys())
        receipt_key = registry._receipt_key(tx)
        assert receipt_key is not None
        by_receipt = gated_variables(tx, keyring, receipt_key, when)
        in_full = gated_variables(tx, keyring, None, when)
    return by_receipt, in_full


def trusted_kinds(gated: list[Any]) -> list[str]:
    return sorted(e["kind"] for _, variables in gated for e in variables["evidence"])


def execute(registry_url: str, sql: str) -> None:
    engine = sa.create_engine(resolve_location(registry_url).url)
    with engine.begin() as connection:
        connection.exec_driver_sql(sql)
    engine.dispose()


def approved(registry: Registry, make_artifact: Callable[..., Path], tmp_path: Path) -> Registry:
    for person in PEOPLE:
        registry.create_key(person, actor=person)
    registry.create_model("fraud", risk_tier="high", intended_use="score payments", actor="alice")
    registry.register_version("fraud", make_artifact("v1"), actor="alice")
    add_clean_evidence(registry, tmp_path)
    assert registry.promote("fraud@1", "approved", actor="bob").moved
    return registry


def test_every_attached_row_carries_a_receipt(
    registry: Registry, make_artifact: Callable[..., Path], tmp_path: Path, registry_url: str
) -> None:
    gov = approved(registry, make_artifact, tmp_path)
    engine = sa.create_engine(resolve_location(registry_url).url)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT kind, claims, receipt FROM evidence").all()
    engine.dispose()
    assert sorted(kind for kind, _, _ in rows) == ["artifact-scan", "evaluation", "gate-decision"]
    assert all(claims and receipt and len(receipt) == 64 for _, claims, receipt in rows)
    by_receipt, in_full = both_ways(gov)
    assert by_receipt == in_full
    assert trusted_kinds(by_receipt) == ["artifact-scan", "evaluation"]
    assert gov.coverage().ok and gov.audit_verify().ok


def test_a_revoked_signer_withdraws_receipted_evidence(
    registry: Registry, make_artifact: Callable[..., Path], tmp_path: Path
) -> None:
    gov = approved(registry, make_artifact, tmp_path)
    gov.revoke_key("carol", reason="laptop stolen", actor="alice")
    by_receipt, in_full = both_ways(gov)
    assert by_receipt == in_full
    assert trusted_kinds(by_receipt) == []
    drift = gov.coverage()
    assert [d.ref for d in drift.drifted] == ["fraud@1"]
    assert any("artifact-scan-passed" in r for r in drift.drifted[0].reasons)


def test_a_signer_registered_after_attach_counts(
    registry: Registry, make_artifact: Callable[..., Path], tmp_path: Path
) -> None:
    gov = approved(registry, make_artifact, tmp_path)
    evaluator = generate_key()
    digest = gov.get_version("fraud@1").artifact.root_digest
    assert not gov.attach_envelope("fraud@1", _envelope(digest, evaluator), actor="bob").trusted
    by_receipt, in_full = both_ways(gov)
    assert by_receipt == in_full and "red-team" not in trusted_kinds(by_receipt)
    gov.add_public_key("redteam-vendor", public_key_pem(evaluator.public_key()), actor="alice")
    by_receipt, in_full = both_ways(gov)
    assert by_receipt == in_full
    red_team = [e for _, v in by_receipt for e in v["evidence"] if e["kind"] == "red-team"]
    assert [e["signer"] for e in red_team] == ["redteam-vendor"]


def test_tampered_claims_or_receipts_fall_back_to_the_full_check(
    registry: Registry, make_artifact: Callable[..., Path], tmp_path: Path, registry_url: str
) -> None:
    gov = approved(registry, make_artifact, tmp_path)
    # Evidence from an unknown evaluator is kept, untrusted; forge its claims to name carol.
    evaluator = generate_key()
    digest = gov.get_version("fraud@1").artifact.root_digest
    gov.attach_envelope("fraud@1", _envelope(digest, evaluator), actor="bob")
    with gov._store.transaction() as tx:
        carol = tx.gov.list_keys("carol")[0].keyid
    execute(
        registry_url,
        "UPDATE evidence SET claims = replace(claims, '\"signed_by\":[]', "
        f"'\"signed_by\":[\"{carol}\"]') WHERE kind = 'red-team'",
    )
    # And flip a genuine scan's claims from pass to fail, and break the evaluation's receipt.
    execute(
        registry_url,
        'UPDATE evidence SET claims = replace(claims, \'"result":"pass"\', '
        "'\"result\":\"fail\"') WHERE kind = 'artifact-scan'",
    )
    execute(
        registry_url,
        "UPDATE evidence SET receipt = '00' || substr(receipt, 3) WHERE kind = 'evaluation'",
    )
    by_receipt, in_full = both_ways(gov)
    assert by_receipt == in_full
    assert trusted_kinds(by_receipt) == ["artifact-scan", "evaluation"]
    scan = next(e for _, v in by_receipt for e in v["evidence"] if e["kind"] == "artifact-scan")
    assert scan["result"] == "pass"  # what the signed envelope says, not the forged claims
    assert gov.coverage().ok
    problems = gov.audit_verify().problems
    assert sum("was modified" in p for p in problems) == 3


def test_without_the_registry_key_coverage_judges_in_full(
    registry: Registry,
    make_artifact: Callable[..., Path],
    tmp_path: Path,
    registry_url: str,
) -> None:
    gov = approved(registry, make_artifact, tmp_path)
    gov.revoke_key("carol", reason="left", actor="alice")
    expected = gov.coverage()
    gov.keystore.path_for(REGISTRY_PRINCIPAL).unlink()
    with Registry.open(registry_url) as elsewhere:
        with elsewhere._store.transaction() as tx:
            assert elsewhere._receipt_key(tx) is None
        assert elsewhere.coverage() == expected
        # Evidence attached here has no receipt, and still counts.
        elsewhere.create_key("dave", actor="dave")
        for kind in ("artifact-scan", "evaluation"):
            elsewhere.add_evidence("fraud@1", report(tmp_path, kind), kind=kind, actor="dave")
        assert elsewhere.coverage().ok


def test_many_rows_to_judge_in_full_are_read_at_once(
    registry: Registry,
    make_artifact: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gov = approved(registry, make_artifact, tmp_path)
    monkeypatch.setattr(coverage, "FULL_READ_ONE_BY_ONE", 0)
    by_receipt, at_once = both_ways(gov)
    assert at_once == by_receipt
    assert trusted_kinds(at_once) == ["artifact-scan", "evaluation"]

"""Governance through the CLI: exit codes, JSON output and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from signoff.cli.app import hoist_global_options, run


class Cli:
    def __init__(self, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.db = db
        self.capsys = capsys

    def __call__(self, *args: str, actor: str = "alice") -> tuple[int, str, str]:
        code = run([*args, "--db", str(self.db), "--as", actor])  # global options after the command
        out, err = self.capsys.readouterr()
        return code, out, err

    def json(self, *args: str, actor: str = "alice") -> object:
        code, out, err = self(*args, "--json", actor=actor)
        assert code in (0, 1), err
        return json.loads(out)


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    c = Cli(tmp_path / "reg" / "registry.db", capsys)
    assert c("init")[0] == 0
    for person in ("alice", "bob", "carol"):
        assert c("key", "create", person, actor=person)[0] == 0
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"\x07" * 2048)
    assert c("model", "create", "fraud", "--risk", "limited", "--intended-use", "scoring")[0] == 0
    assert c("version", "register", "fraud", str(model))[0] == 0
    return c


def native(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.json"
    path.write_text(
        json.dumps(
            {"kind": kind, "result": "pass", "findings": [], "tool": {"name": "t", "version": "1"}}
        )
    )
    return path


def test_hoisting_global_options() -> None:
    assert hoist_global_options(["model", "list", "--db", "x", "--as=bob", "--debug"]) == [
        "--db",
        "x",
        "--as=bob",
        "--debug",
        "model",
        "list",
    ]
    assert hoist_global_options(["evidence", "add", "--", "--db"]) == [
        "evidence",
        "add",
        "--",
        "--db",
    ]


def test_gate_promote_approve_coverage(cli: Cli, tmp_path: Path) -> None:
    code, out, _ = cli("gate", "check", "fraud@1", "--stage", "approved")
    assert code == 1 and "BLOCKED" in out and "FAIL     artifact-scan-passed" in out
    code, out, _ = cli("promote", "fraud@1", "--to", "approved")
    assert code == 1 and "stays candidate" in out

    for kind in ("artifact-scan", "evaluation"):
        code, out, err = cli(
            "evidence", "add", "fraud@1", str(native(tmp_path, kind)), "--kind", kind, actor="carol"
        )
        assert code == 0, err
        assert "signed by carol, trusted" in out
    listed = cli.json("evidence", "list", "fraud@1")
    assert isinstance(listed, list) and [e["kind"] for e in listed] == [
        "artifact-scan",
        "evaluation",
    ]

    decision = cli.json("gate", "check", "fraud@1", "--stage", "approved")
    assert isinstance(decision, dict) and decision["allowed"] is True
    assert cli("promote", "fraud@1", "--to", "approved", actor="bob")[0] == 0

    code, _, err = cli("alias", "set", "fraud@1", "production")
    assert code == 1 and "protected" in err

    assert cli("approve", "fraud@1", "--stage", "production", "--reason", "mine")[0] == 0
    code, out, _ = cli("promote", "fraud@1", "--to", "production")
    assert code == 1 and "independent-approval" in out
    assert cli("approve", "fraud@1", "--stage", "production", "--reason", "ok", actor="bob")[0] == 0
    promoted = cli.json("promote", "fraud@1", "--to", "production", actor="bob")
    assert isinstance(promoted, dict) and promoted["moved"] is True
    assert promoted["decision_evidence_id"] is not None
    assert cli("alias", "set", "fraud@1", "production", actor="bob")[0] == 0

    code, out, _ = cli("coverage")
    assert code == 0 and out.startswith("OK: 1 approved/production")
    assert cli("key", "revoke", "carol", "--reason", "left")[0] == 0
    code, out, _ = cli("coverage")
    assert code == 1 and "fraud@1 (production)" in out

    code, out, _ = cli("audit", "verify")
    assert code == 0 and out.startswith("OK:")
    log = cli.json("audit", "log", "--subject", "fraud@1")
    assert isinstance(log, list) and {e["type"] for e in log} >= {
        "stage.changed",
        "evidence.attached",
    }
    proof = cli.json("audit", "proof", "2")
    assert isinstance(proof, dict) and proof["verified"] is True
    consistency = cli.json("audit", "consistency", "3")
    assert isinstance(consistency, dict) and consistency["verified"] is True


def test_policy_and_exceptions(cli: Cli, tmp_path: Path) -> None:
    code, out, _ = cli("policy", "default")
    assert code == 0 and "apiVersion: signoff.dev/v1" in out
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(out.replace("maxEvidenceAgeDays: 90", "maxEvidenceAgeDays: 14"))
    shown = cli.json("policy", "set", str(policy_file))
    assert isinstance(shown, dict) and len(shown["digest"]) == 64
    summary = cli.json("policy", "show")
    assert isinstance(summary, dict) and summary["digest"] == shown["digest"]
    broken = tmp_path / "broken.yaml"
    broken.write_text(out.replace('e.kind == "artifact-scan"', 'e.kind === "artifact-scan"', 1))
    code, _, err = cli("policy", "set", str(broken))
    assert code == 2 and "artifact-scan-passed" in err and len(err.strip().splitlines()) == 1

    code, out, _ = cli(
        "exception",
        "add",
        "EXC-7",
        "--rule",
        "evaluation-present",
        "--for",
        "fraud@1",
        "--reason",
        "suite down",
        "--expires",
        "7d",
        actor="bob",
    )
    assert code == 0 and "waived for fraud@1" in out
    listed = cli.json("exception", "list")
    assert isinstance(listed, list) and listed[0]["approver"] == "bob"
    code, _, err = cli(
        "exception",
        "add",
        "EXC-8",
        "--rule",
        "evaluation-present",
        "--for",
        "fraud",
        "--reason",
        "x",
        "--expires",
        "soon",
    )
    assert code == 2 and "invalid duration" in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("evidence", "add", "fraud@1", "{report}", "--kind", "vibes"), "unknown evidence kind"),
        (("evidence", "add", "fraud@1", "{report}"), "--kind is required"),
        (
            ("evidence", "add", "fraud@1", "{report}", "--kind", "evaluation", "--format", "pdf"),
            "unknown report format",
        ),
        (("evidence", "add", "fraud@1", "{report}", "--envelope"), "envelope"),
        (("evidence", "show", "99"), "evidence 99 not found"),
        (("gate", "check", "fraud@1", "--stage", "retired"), "has no gate"),
        (("promote", "fraud@1", "--to", "production"), "approved before production"),
        (("key", "revoke", "nobody", "--reason", "x"), "no active key"),
        (("key", "create", "bad name"), "invalid principal"),
        (("audit", "proof", "999"), "event 999 not found"),
        (("audit", "consistency", "0"), "outside"),
    ],
)
def test_bad_governance_input(
    cli: Cli, tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    report = native(tmp_path, "evaluation")
    before = cli.json("audit", "log")
    code, _, err = cli(*[str(report) if a == "{report}" else a for a in args])
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0]
    assert cli.json("audit", "log") == before

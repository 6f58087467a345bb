"""``signoff gate check``, ``promote``, ``approve``, ``reject``, ``coverage``."""

from typing import Annotated

import typer

from signoff.cli.context import open_registry, settings
from signoff.cli.models import JsonOption
from signoff.cli.output import console, print_json
from signoff.policy import Decision

gate_app = typer.Typer(help="Evaluate stage gates.", no_args_is_help=True)

STATUS_MARK = {
    "pass": "PASS",
    "fail": "FAIL",
    "warn": "WARN",
    "skipped": "SKIP",
    "excepted": "EXCEPTED",
    "error": "ERROR",
}

StageOption = Annotated[str, typer.Option("--stage", help="approved | production")]


def print_decision(decision: Decision) -> None:
    """Rule by rule, then the verdict."""
    console.print(
        f"gate {decision.stage} under policy {decision.policy_name} "
        f"(sha256:{decision.policy_digest[:12]})",
        markup=False,
    )
    for r in decision.results:
        message = f": {r.message}" if r.message and r.status != "pass" else ""
        console.print(f"  {STATUS_MARK[r.status]:<8} {r.rule_id}{message}", markup=False)
    counts = ", ".join(f"{n} {status}" for status, n in decision.counts.items() if n)
    verdict = "ALLOWED" if decision.allowed else "BLOCKED"
    console.print(f"{verdict} ({counts})", markup=False)


@gate_app.command("check")
def check(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The version.")],
    stage: StageOption,
    json_output: JsonOption = False,
) -> None:
    """Evaluate a stage's gate for a version now (exit 0 allowed, 1 blocked). Changes nothing."""
    decision = open_registry(ctx).gate_check(ref, stage)
    if json_output:
        print_json({"ref": ref, "allowed": decision.allowed, **decision.to_dict()})
    else:
        print_decision(decision)
    if not decision.allowed:
        raise typer.Exit(1)


def promote(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The version.")],
    to: Annotated[str, typer.Option("--to", help="approved | production | candidate | retired")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded).")] = "",
    json_output: JsonOption = False,
) -> None:
    """Move a version to a stage; upward moves must pass the gate (exit 1 when blocked)."""
    result = open_registry(ctx).promote(ref, to, actor=settings(ctx).actor, reason=reason)
    if json_output:
        print_json(result.to_dict())
    else:
        if result.decision is not None:
            print_decision(result.decision)
        if result.moved:
            signed = (
                f"; signed decision stored as evidence {result.decision_evidence_id}"
                if result.decision_evidence_id
                else ""
            )
            console.print(
                f"{result.ref}: {result.from_stage.value} -> {result.to_stage.value}{signed}",
                markup=False,
            )
        else:
            console.print(f"{result.ref} stays {result.from_stage.value}", markup=False)
    if not result.moved:
        raise typer.Exit(1)


def approve(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The version.")],
    stage: StageOption,
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded, signed).")],
    json_output: JsonOption = False,
) -> None:
    """Sign your approval of a version for a stage."""
    view = open_registry(ctx).approve(ref, stage=stage, reason=reason, actor=settings(ctx).actor)
    _print_decision_evidence(view.id, view.ref, "approved", stage, view.signer, json_output)


def reject(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The version.")],
    stage: StageOption,
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded, signed).")],
    json_output: JsonOption = False,
) -> None:
    """Sign your rejection of a version for a stage (the default policy then blocks it)."""
    view = open_registry(ctx).reject(ref, stage=stage, reason=reason, actor=settings(ctx).actor)
    _print_decision_evidence(view.id, view.ref, "rejected", stage, view.signer, json_output)


def _print_decision_evidence(
    evidence_id: int, ref: str, verb: str, stage: str, signer: str | None, json_output: bool
) -> None:
    if json_output:
        print_json(
            {
                "evidence_id": evidence_id,
                "ref": ref,
                "decision": verb,
                "stage": stage,
                "signer": signer,
            }
        )
    else:
        console.print(f"{signer} {verb} {ref} for {stage} (evidence {evidence_id})", markup=False)


def coverage(
    ctx: typer.Context,
    json_output: JsonOption = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            help="processes evaluating gates (default: the CPU count, up to 8)",
        ),
    ] = None,
) -> None:
    """Re-check every approved and production version against its gate now (exit 1 on drift)."""
    report = open_registry(ctx).coverage(workers=jobs)
    if json_output:
        print_json(report.to_dict())
    elif report.ok:
        console.print(
            f"OK: {report.checked} approved/production version(s) in policy "
            f"{report.policy_name} (sha256:{report.policy_digest[:12]})",
            markup=False,
        )
    else:
        console.print(f"OUT OF POLICY: {len(report.drifted)} item(s)", markup=False)
        for drift in report.drifted:
            console.print(f"  {drift.ref} ({drift.stage})", markup=False)
            for reason in drift.reasons:
                console.print(f"    - {reason}", markup=False)
    if not report.ok:
        raise typer.Exit(1)

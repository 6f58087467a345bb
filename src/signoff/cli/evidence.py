"""``signoff evidence add|list|show``."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from signoff.cli.context import open_registry, settings
from signoff.cli.models import JsonOption
from signoff.cli.output import console, print_json
from signoff.errors import InvalidInputError
from signoff.governance.evidence import EvidenceView

app = typer.Typer(help="Signed evidence bound to a version's exact bytes.", no_args_is_help=True)


@app.command("add")
def add(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The version: NAME@NUMBER or NAME@ALIAS.")],
    report: Annotated[
        Path, typer.Argument(help="Report file, or a DSSE envelope with --envelope.")
    ],
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            help="artifact-scan, red-team, evaluation, fairness, robustness, "
            "model-card, license, data, custom.",
        ),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="Report format: native | sarif | junit.")
    ] = "native",
    envelope: Annotated[
        bool, typer.Option("--envelope", help="REPORT is a pre-signed DSSE envelope; attach as is.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Attach evidence: convert and sign a report with your key, or attach a signed envelope."""
    registry = open_registry(ctx)
    actor = settings(ctx).actor
    if envelope:
        try:
            text = report.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"cannot read envelope {report}: {exc}") from None
        view = registry.attach_envelope(ref, text, kind=kind, actor=actor)
    else:
        if kind is None:
            raise InvalidInputError(
                "--kind is required for a report", hint="e.g. --kind evaluation"
            )
        view = registry.add_evidence(ref, report, kind=kind, fmt=fmt, actor=actor)
    _print_added(view, json_output)


def _print_added(view: EvidenceView, json_output: bool) -> None:
    now = datetime.now(UTC)
    if json_output:
        print_json(view.to_dict(now))
        return
    trust = "trusted" if view.trusted else f"UNTRUSTED ({view.problem})"
    console.print(
        f"Attached evidence {view.id} to {view.ref}: {view.kind} {view.result or ''} "
        f"signed by {view.signer or 'unknown'}, {trust}",
        markup=False,
    )


@app.command("list")
def list_evidence(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The version.")],
    json_output: JsonOption = False,
) -> None:
    """List a version's evidence, each judged now (trusted or not, and why)."""
    views = open_registry(ctx).list_evidence(ref)
    now = datetime.now(UTC)
    if json_output:
        print_json([v.to_dict(now) for v in views])
        return
    table = Table("id", "kind", "result", "findings", "signer", "trusted", "age (days)")
    for v in views:
        table.add_row(
            str(v.id),
            v.kind,
            v.result or "-",
            str(len(v.findings)),
            v.signer or "-",
            "yes" if v.trusted else f"no: {v.problem}",
            f"{v.age_days(now):.1f}",
        )
    console.print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    evidence_id: Annotated[int, typer.Argument(help="Evidence id (see `evidence list`).")],
    envelope: Annotated[
        bool, typer.Option("--envelope", help="Print the verbatim DSSE envelope.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Show one piece of evidence (or its verbatim envelope)."""
    view, text = open_registry(ctx).get_evidence(evidence_id)
    if envelope:
        print(text)
        return
    now = datetime.now(UTC)
    if json_output:
        print_json(view.to_dict(now))
        return
    data = view.to_dict(now)
    for key in (
        "id",
        "ref",
        "kind",
        "predicate_type",
        "result",
        "signer",
        "trusted",
        "problem",
        "produced_at",
        "attached_by",
        "attached_at",
    ):
        console.print(f"{key + ':':<15} {data[key]}", markup=False)
    for finding in view.findings:
        console.print(
            f"  [{finding.get('severity')}] {finding.get('id')}: {finding.get('title')} "
            f"{finding.get('location') or ''}",
            markup=False,
        )

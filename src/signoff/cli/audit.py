"""``signoff audit verify|log|proof|consistency``."""

from typing import Annotated

import typer
from rich.table import Table

from signoff.cli.context import open_registry
from signoff.cli.models import JsonOption
from signoff.cli.output import console, print_json

app = typer.Typer(help="Prove the registry's history is intact.", no_args_is_help=True)


@app.command("verify")
def verify(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Recompute the Merkle log and cross-check every row against it (exit 1 on any problem)."""
    report = open_registry(ctx).audit_verify()
    if json_output:
        print_json(report.to_dict())
    elif report.ok:
        counts = ", ".join(f"{n} {what}" for what, n in report.checked.items() if n)
        console.print(
            f"OK: {report.size} events, root {report.root[:16]}, sealed by the signed "
            f"checkpoint at {report.checkpoint_size}; rows checked: {counts or 'none'}",
            markup=False,
        )
    else:
        console.print(f"FAILED: {len(report.problems)} problem(s) in the audit log", markup=False)
        for problem in report.problems:
            console.print(f"  - {problem}", markup=False)
    if not report.ok:
        raise typer.Exit(1)


@app.command("log")
def log(
    ctx: typer.Context,
    subject: Annotated[
        str | None, typer.Option("--subject", help="Only events about this (e.g. fraud@2).")
    ] = None,
    start: Annotated[int, typer.Option("--from", help="First event number.", min=0)] = 0,
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many.", min=1)] = None,
    json_output: JsonOption = False,
) -> None:
    """List audit events, oldest first."""
    events = open_registry(ctx).audit_events(start=start, limit=limit, subject=subject)
    if json_output:
        print_json([e.to_dict() for e in events])
        return
    table = Table("#", "at", "actor", "event", "subject")
    for e in events:
        table.add_row(str(e.seq), e.at[:19], e.actor, e.type, e.subject)
    console.print(table)


@app.command("proof")
def proof(
    ctx: typer.Context,
    event: Annotated[int, typer.Argument(help="Event number (see `signoff audit log`).")],
    json_output: JsonOption = False,
) -> None:
    """Inclusion proof of one event against the newest signed checkpoint."""
    result = open_registry(ctx).audit_proof(event)
    if json_output:
        print_json(result.to_dict())
    else:
        console.print(
            f"event {event} ({result.event.type} {result.event.subject}) is leaf "
            f"{result.leaf_hash[:16]} of the {result.size}-event log with root "
            f"{result.root[:16]}: {'verified' if result.verified else 'NOT VERIFIED'}\n"
            f"proof: {len(result.proof)} hashes; checkpoint:\n{result.checkpoint}",
            markup=False,
        )
    if not result.verified:
        raise typer.Exit(1)


@app.command("consistency")
def consistency(
    ctx: typer.Context,
    old_size: Annotated[int, typer.Argument(help="Tree size of an earlier checkpoint.")],
    json_output: JsonOption = False,
) -> None:
    """Append-only proof from an earlier log size to the newest signed checkpoint."""
    result = open_registry(ctx).audit_consistency(old_size)
    if json_output:
        print_json(result.to_dict())
    else:
        console.print(
            f"log {result.old_size} (root {result.old_root[:16]}) -> {result.new_size} "
            f"(root {result.new_root[:16]}): "
            f"{'append-only, verified' if result.verified else 'NOT CONSISTENT'}",
            markup=False,
        )
    if not result.verified:
        raise typer.Exit(1)

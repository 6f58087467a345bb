"""``signoff key create|add|list|revoke``."""

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from signoff.cli.context import open_registry, settings
from signoff.cli.models import JsonOption
from signoff.cli.output import console, print_json
from signoff.errors import InvalidInputError

app = typer.Typer(help="Signing keys of principals (people, evaluators, CI).", no_args_is_help=True)


@app.command("create")
def create(
    ctx: typer.Context,
    principal: Annotated[str, typer.Argument(help="Who the key belongs to, e.g. alice.")],
    json_output: JsonOption = False,
) -> None:
    """Make an Ed25519 key pair: a 0600 private key file in the registry home, public registered."""
    registry = open_registry(ctx)
    record = registry.create_key(principal, actor=settings(ctx).actor)
    if json_output:
        print_json(record.to_dict())
    else:
        console.print(
            f"Created key {record.keyid[:16]} for {principal}; private key at "
            f"{registry.keystore.path_for(principal)} (mode 0600)",
            markup=False,
        )


@app.command("add")
def add(
    ctx: typer.Context,
    principal: Annotated[str, typer.Argument(help="Who the key belongs to.")],
    public_key: Annotated[Path, typer.Option("--public-key", help="PEM public key file.")],
    json_output: JsonOption = False,
) -> None:
    """Register an outside evaluator's public key (its envelopes then count as trusted)."""
    try:
        pem = public_key.read_text()
    except OSError as exc:
        raise InvalidInputError(
            f"cannot read {public_key}: {exc.strerror}", hint="give a PEM public key file"
        ) from None
    record = open_registry(ctx).add_public_key(principal, pem, actor=settings(ctx).actor)
    if json_output:
        print_json(record.to_dict())
    else:
        console.print(f"Registered key {record.keyid[:16]} for {principal}", markup=False)


@app.command("list")
def list_keys(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """List registered keys, revoked ones included."""
    keys = open_registry(ctx).list_keys()
    if json_output:
        print_json([k.to_dict() for k in keys])
        return
    table = Table("key id", "principal", "status", "created")
    for k in keys:
        status = "active" if k.active else f"revoked by {k.revoked_by}: {k.revoke_reason}"
        table.add_row(k.keyid[:16], k.principal, status, k.created_at.isoformat(timespec="seconds"))
    console.print(table)


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="A principal, or a key id prefix (8+ hex digits).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded).")],
    json_output: JsonOption = False,
) -> None:
    """Revoke a key: evidence it signed stays stored but no longer counts."""
    revoked = open_registry(ctx).revoke_key(key, reason=reason, actor=settings(ctx).actor)
    if json_output:
        print_json([k.to_dict() for k in revoked])
    else:
        for k in revoked:
            console.print(f"Revoked key {k.keyid[:16]} of {k.principal}", markup=False)

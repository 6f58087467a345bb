"""``signoff policy set|show|default`` and ``signoff exception add|list``."""

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from signoff.cli.context import open_registry, settings
from signoff.cli.models import JsonOption
from signoff.cli.output import console, print_json
from signoff.errors import InvalidInputError
from signoff.policy import default_policy_text

app = typer.Typer(help="The policy that gates promotion.", no_args_is_help=True)
exception_app = typer.Typer(
    help="Named, expiring exceptions to policy rules.", no_args_is_help=True
)


@app.command("set")
def set_policy(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Policy YAML file.")],
    json_output: JsonOption = False,
) -> None:
    """Validate a policy (every CEL rule compiles) and put it in force; audited."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read policy {path}: {exc}") from None
    record = open_registry(ctx).set_policy(text, actor=settings(ctx).actor)
    if json_output:
        print_json({"name": record.name, "digest": record.digest, "id": record.id})
    else:
        console.print(f"Policy {record.name} (sha256:{record.digest}) is in force", markup=False)


@app.command("show")
def show(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Print the policy in force (YAML), or its summary with --json."""
    policy, record = open_registry(ctx).current_policy()
    if json_output:
        print_json(
            {
                "name": record.name,
                "digest": record.digest,
                "set_by": record.set_by,
                "set_at": record.set_at.isoformat(),
                "protected_aliases": policy.protected_aliases,
                "stages": {
                    stage: [
                        {
                            "id": r.id,
                            "title": r.title,
                            "action": r.action,
                            "controls": list(r.controls),
                        }
                        for r in policy.rules(stage)
                    ]
                    for stage in policy.stages
                },
            }
        )
    else:
        print(record.text, end="" if record.text.endswith("\n") else "\n")


@app.command("default")
def default() -> None:
    """Print the shipped default policy, to copy and edit."""
    print(default_policy_text(), end="")


DURATION = re.compile(r"(\d+)([dh])")


def parse_duration(text: str) -> timedelta:
    """'30d' or '12h'."""
    match = DURATION.fullmatch(text.strip())
    if not match:
        raise InvalidInputError(f"invalid duration {text!r}", hint="write e.g. 30d or 12h")
    amount, unit = int(match.group(1)), match.group(2)
    return timedelta(days=amount) if unit == "d" else timedelta(hours=amount)


@exception_app.command("add")
def add_exception(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A unique name, e.g. EXC-2026-014.")],
    rule: Annotated[str, typer.Option("--rule", help="The rule id waived.")],
    target: Annotated[str, typer.Option("--for", help="A model NAME or one version NAME@N.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded).")],
    expires: Annotated[str, typer.Option("--expires", help="How long, e.g. 30d or 12h.")],
    json_output: JsonOption = False,
) -> None:
    """Grant an exception: the rule's failures are reported as `excepted` until it expires."""
    model, _, number = target.partition("@")
    if number and not number.isdigit():
        raise InvalidInputError(f"invalid target {target!r}", hint="write NAME or NAME@NUMBER")
    record = open_registry(ctx).grant_exception(
        name,
        rule_id=rule,
        model=model,
        version=int(number) if number else None,
        reason=reason,
        expires=parse_duration(expires),
        actor=settings(ctx).actor,
    )
    if json_output:
        print_json(record.to_dict())
    else:
        console.print(
            f"Exception {record.name}: rule {record.rule_id} waived for {target} until "
            f"{record.expires_at.isoformat(timespec='minutes')} (approved by {record.approver})",
            markup=False,
        )


@exception_app.command("list")
def list_exceptions(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Argument(help="Only this model's.")] = None,
    json_output: JsonOption = False,
) -> None:
    """List exceptions, expired ones included."""
    records = open_registry(ctx).list_exceptions(model)
    if json_output:
        print_json([r.to_dict() for r in records])
        return
    table = Table("name", "rule", "for", "approver", "expires", "reason")
    for r in records:
        target = f"{r.model}@{r.version_number}" if r.version_number else r.model
        table.add_row(
            r.name,
            r.rule_id,
            target,
            r.approver,
            r.expires_at.isoformat(timespec="minutes"),
            r.reason,
        )
    console.print(table)

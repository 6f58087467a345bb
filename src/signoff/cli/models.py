"""``signoff model create|list|show``."""

from typing import Annotated

import typer
from rich.table import Table

from signoff.cli.context import open_registry, settings
from signoff.cli.output import console, print_json
from signoff.domain import Model, RiskTier
from signoff.errors import InvalidInputError

app = typer.Typer(help="Create and inspect models.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def parse_tags(values: list[str]) -> dict[str, str]:
    """``["team=risk", "pii"]`` -> ``{"team": "risk", "pii": ""}``."""
    tags: dict[str, str] = {}
    for value in values:
        key, _, tag_value = value.partition("=")
        if not key.strip():
            raise InvalidInputError(f"invalid tag {value!r}", hint="write --tag KEY=VALUE")
        tags[key.strip()] = tag_value
    return tags


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Model name: [a-z0-9][a-z0-9._-]*")],
    risk: Annotated[
        RiskTier,
        typer.Option(
            "--risk", help="Risk tier, as the EU AI Act sorts systems.", case_sensitive=False
        ),
    ],
    owner: Annotated[
        str | None, typer.Option(help="Accountable owner [default: the actor]")
    ] = None,
    team: Annotated[str | None, typer.Option(help="Owning team.")] = None,
    intended_use: Annotated[
        str | None, typer.Option("--intended-use", help="What it is for.")
    ] = None,
    description: Annotated[str | None, typer.Option(help="Free description.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="KEY=VALUE, repeatable.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Create a model."""
    registry = open_registry(ctx)
    model = registry.create_model(
        name,
        risk_tier=risk.value,
        owner=owner,
        team=team,
        intended_use=intended_use,
        description=description,
        tags=parse_tags(tag or []),
        actor=settings(ctx).actor,
    )
    if json_output:
        print_json(model.to_dict())
    else:
        console.print(f"Created model {model.name} (risk {model.risk_tier}, owner {model.owner})")


@app.command("list")
def list_models(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """List models."""
    models = open_registry(ctx).list_models()
    if json_output:
        print_json([model.to_dict() for model in models])
        return
    if not models:
        console.print("No models yet. Create one with `signoff model create NAME --risk TIER`.")
        return
    table = Table("name", "risk", "owner", "team", "created")
    for model in models:
        table.add_row(
            model.name,
            model.risk_tier.value,
            model.owner,
            model.team or "",
            model.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Model name.")],
    json_output: JsonOption = False,
) -> None:
    """Show a model and its versions."""
    registry = open_registry(ctx)
    model = registry.get_model(name)
    versions = registry.list_versions(name)
    if json_output:
        data = model.to_dict()
        data["versions"] = [v.to_dict(with_files=False) for v in versions]
        print_json(data)
        return
    _print_model(model)
    if versions:
        console.print(
            "versions:     "
            + ", ".join(
                f"{v.number} ({v.stage.value}{', ' + ', '.join(v.aliases) if v.aliases else ''})"
                for v in versions
            )
        )
    else:
        console.print("versions:     none yet")


def _print_model(model: Model) -> None:
    rows = [
        ("model", model.name),
        ("risk tier", model.risk_tier.value),
        ("owner", model.owner),
        ("team", model.team or "-"),
        ("intended use", model.intended_use or "-"),
        ("description", model.description or "-"),
        ("tags", ", ".join(f"{k}={v}" for k, v in model.tags.items()) or "-"),
        ("created", f"{model.created_at.isoformat(timespec='seconds')} by {model.created_by}"),
    ]
    for label, value in rows:
        console.print(f"{label + ':':<13} {value}", markup=False)

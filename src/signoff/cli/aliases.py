"""``signoff alias set|history``."""

from typing import Annotated

import typer
from rich.table import Table

from signoff.cli.context import open_registry, settings
from signoff.cli.models import JsonOption
from signoff.cli.output import console, print_json
from signoff.domain import VersionRef
from signoff.errors import InvalidInputError

app = typer.Typer(
    help="Point named aliases (production, champion, ...) at versions.", no_args_is_help=True
)


@app.command("set")
def set_alias(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The version to point at: NAME@NUMBER.")],
    alias: Annotated[str, typer.Argument(help="Alias name, e.g. production.")],
    json_output: JsonOption = False,
) -> None:
    """Point an alias at a version (the move is recorded with who and when)."""
    target = VersionRef.parse(ref)
    registry = open_registry(ctx)
    number = target.number
    if number is None:
        number = registry.get_version(target).number
    if number is None:  # pragma: no cover - get_version always returns a number
        raise InvalidInputError(f"cannot resolve {ref!r}")
    move = registry.set_alias(target.model, alias, number, actor=settings(ctx).actor)
    if json_output:
        print_json(move.to_dict())
    else:
        was = f" (was @{move.from_number})" if move.from_number is not None else ""
        console.print(f"{move.model}@{move.alias} -> {move.model}@{move.to_number}{was}")


@app.command("history")
def history(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Model name.")],
    json_output: JsonOption = False,
) -> None:
    """Every alias move of a model: who, when, from where to where."""
    moves = open_registry(ctx).alias_history(model)
    if json_output:
        print_json([m.to_dict() for m in moves])
        return
    table = Table("alias", "from", "to", "by", "when")
    for m in moves:
        table.add_row(
            m.alias,
            str(m.from_number) if m.from_number is not None else "-",
            str(m.to_number),
            m.moved_by,
            m.moved_at.isoformat(timespec="seconds"),
        )
    console.print(table)

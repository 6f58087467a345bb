"""``signoff init``."""

import typer

from signoff.cli.context import settings
from signoff.cli.models import JsonOption
from signoff.cli.output import console, print_json
from signoff.registry import Registry


def init(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Create a registry (default ./.signoff/registry.db), or upgrade its schema."""
    registry, result = Registry.init(settings(ctx).db)
    registry.close()
    if json_output:
        print_json(
            {
                "location": result.location,
                "created": result.created,
                "schema_before": result.before,
                "schema": result.after,
            }
        )
    elif result.created:
        console.print(f"Initialised a signoff registry at {result.location}", markup=False)
    elif result.changed:
        console.print(
            f"Upgraded the registry at {result.location} from schema {result.before} "
            f"to {result.after}",
            markup=False,
        )
    else:
        console.print(f"The registry at {result.location} is up to date", markup=False)

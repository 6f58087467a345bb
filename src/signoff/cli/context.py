"""Settings shared by every command (--db, --as, --debug) and how commands reach the registry."""

from dataclasses import dataclass

import typer

from signoff.registry import Registry


@dataclass
class Settings:
    """Global options, filled by the root callback."""

    db: str | None = None
    actor: str | None = None
    debug: bool = False


def settings(ctx: typer.Context) -> Settings:
    """The global options of this invocation."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Settings) else Settings()


def open_registry(ctx: typer.Context) -> Registry:
    """Open the registry the global options point at; closed when the command ends."""
    registry = Registry.open(settings(ctx).db)
    ctx.call_on_close(registry.close)
    return registry

"""Shared look-ups for the registry service: the clock, models and version references."""

from __future__ import annotations

from datetime import UTC, datetime

from signoff.domain import Model, Version, VersionRef
from signoff.errors import NotFoundError
from signoff.store import StoreSession

LATEST = "latest"
"""A built-in alias: the highest version number of a model. It cannot be set."""


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def require_model(tx: StoreSession, name: str) -> Model:
    """The model called ``name`` (read once per transaction), else ``NotFoundError``."""
    model = tx.get_model(name)
    if model is None:
        raise NotFoundError(
            f"model {name!r} not found", hint="list models with `signoff model list`"
        )
    return model


def resolve(tx: StoreSession, ref: VersionRef) -> Version:
    """The version ``ref`` names (``name@N``, ``name@alias``, ``name@latest``), else
    ``NotFoundError``. The transaction remembers what it read, so resolving again is cheap."""
    number = ref.number
    if number is None:
        assert ref.alias is not None
        require_model(tx, ref.model)
        if ref.alias == LATEST:
            number = tx.latest_number(ref.model)
            if number is None:
                raise NotFoundError(
                    f"model {ref.model!r} has no versions yet",
                    hint=f"register one with `signoff version register {ref.model} PATH`",
                )
        else:
            number = tx.resolve_alias(ref.model, ref.alias)
            if number is None:
                raise NotFoundError(
                    f"alias {ref.alias!r} of model {ref.model!r} not found",
                    hint=f"set it with `signoff alias set {ref.model}@NUMBER {ref.alias}`",
                )
    version = tx.get_version(ref.model, number)
    if version is None:
        require_model(tx, ref.model)  # a missing model is the clearer error
        raise NotFoundError(
            f"version {ref.model}@{number} not found",
            hint=f"list versions with `signoff version list {ref.model}`",
        )
    return version

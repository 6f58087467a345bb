"""The variables every policy expression sees, and their conversion into one CEL context.

The caller (the registry) supplies, per version::

    model      map   name, owner, team, risk_tier, intended_use, tags (map)
    version    map   ref, number, stage, created_by, root_digest, metadata (map)
    evidence   list  of maps, verified evidence only: kind, result ("pass" | "warn" | "fail"),
                     predicate_type, signer, age_days (double), metrics (map), tool (map),
                     findings (list of maps: severity ("critical" | "high" | ...), id, ...)
    approvals  list  of maps: approver, stage, decision ("approve" | "reject"), reason,
                     age_days (double), by_creator (bool: the approver created the version)
    now        timestamp (a timezone-aware ``datetime``); ``now - timestamp`` is a duration

and the policy adds ``params`` (``spec.params`` plus ``maxEvidenceAgeDays``). Exceptions are not
a variable: they are applied to the results, so no rule can read or depend on them. ``age_days``
is computed when the variables are read, so it is the field that differs for every evidence and
approval item; ``batch.py`` keys expressions that only compare it with a limit by the outcomes.

Converting Python values to CEL values is what an evaluation costs most (the binding tries several
types, in order, on every string and map key), so the context is built once per version and every
rule of the stage runs against it, after ``Projection`` has trimmed what no rule can read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import cel

from signoff.errors import InvalidInputError
from signoff.policy.projection import Projection

SUPPLIED = frozenset({"model", "version", "evidence", "approvals", "now"})
PARAMS = "params"
NAMES = SUPPLIED | {PARAMS}

_MAPS = ("model", "version")
_LISTS = ("evidence", "approvals")


def build_context(
    variables: Mapping[str, Any], params: Mapping[str, Any], projection: Projection | None = None
) -> cel.Context:
    """Check the supplied ``variables`` and convert them, with ``params``, into a CEL context.

    With a ``projection``, only what it keeps is converted.
    """
    check_variables(variables)
    values = projection.apply(variables) if projection is not None else dict(variables)
    values[PARAMS] = params
    try:
        return cel.Context(values)
    except (ValueError, TypeError) as error:
        raise InvalidInputError(
            f"policy variables cannot be converted to CEL: {error}",
            hint="use only str, int, float, bool, None, list, dict and aware datetime values",
        ) from None


def check_variables(variables: Mapping[str, Any]) -> None:
    """Refuse supplied ``variables`` that are not exactly the policy variables, well typed."""
    names = set(variables)
    if PARAMS in names:
        raise InvalidInputError(
            "policy variable 'params' is set by the policy, not the caller",
            hint="put parameters in the policy's spec.params",
        )
    if unknown := sorted(names - SUPPLIED):
        raise InvalidInputError(
            f"unknown policy variable {unknown[0]!r}",
            hint=f"supply exactly: {', '.join(sorted(SUPPLIED))}",
        )
    if missing := sorted(SUPPLIED - names):
        raise InvalidInputError(
            f"missing policy variable {missing[0]!r}",
            hint=f"supply exactly: {', '.join(sorted(SUPPLIED))}",
        )
    for name in _MAPS:
        if not isinstance(variables[name], Mapping):
            raise InvalidInputError(
                f"policy variable {name!r} is not a mapping", hint="pass a dict of its fields"
            )
    for name in _LISTS:
        value = variables[name]
        if not isinstance(value, Sequence) or isinstance(value, str | bytes):
            raise InvalidInputError(
                f"policy variable {name!r} is not a list", hint="pass a list of dicts"
            )
    now = variables["now"]
    # The binding reads a naive datetime as local time; refuse rather than guess.
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise InvalidInputError(
            "policy variable 'now' is not a timezone-aware datetime",
            hint="pass datetime.now(timezone.utc)",
        )

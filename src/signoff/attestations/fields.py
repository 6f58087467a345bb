"""Validation of the JSON that attestations carry: strict parsing and typed field access.

Every reader of untrusted JSON (envelopes, statements, predicates, SARIF) goes through these
helpers so that the same input is refused the same way, with a message that names the field
(``where``) and a hint on how to fix it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from signoff.domain import SHA256_PATTERN
from signoff.errors import InvalidInputError

MISSING: Any = object()
"""Sentinel for an absent field (``None`` is a JSON value: null)."""

# RFC 3339 in UTC only ("Z"), so that times compare as strings and never carry a local offset.
# Up to nanoseconds are accepted (Go producers emit them); Python keeps microseconds.
_TIME_PATTERN = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z", re.ASCII)


def loads_strict(data: str | bytes, what: str) -> Any:
    """``json.loads`` that refuses duplicate keys, NaN/Infinity and absurd nesting.

    Duplicate keys are refused because parsers disagree on which one wins: a signed document
    must mean one thing to every verifier.
    """

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for key, value in pairs:
            if key in obj:
                raise InvalidInputError(
                    f"{what} has the key {key!r} twice", hint="give each key once per object"
                )
            obj[key] = value
        return obj

    def no_constant(name: str) -> Any:
        raise InvalidInputError(
            f"{what} contains {name}, which is not JSON", hint="give finite numbers only"
        )

    try:
        return json.loads(data, object_pairs_hook=unique, parse_constant=no_constant)
    except RecursionError:
        raise InvalidInputError(
            f"{what} is nested too deeply", hint="give a document nested less deeply"
        ) from None
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
        raise InvalidInputError(
            f"{what} is not valid JSON: {error}", hint="give a UTF-8 JSON document"
        ) from None


def describe(value: Any) -> str:
    """A short description of a wrong value for an error message."""
    if value is MISSING:
        return "missing"
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:40] + "...")
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    return "an array" if isinstance(value, list) else type(value).__name__


def require_object(value: Any, where: str) -> dict[str, Any]:
    """``value`` if it is a JSON object, else ``InvalidInputError``."""
    if not isinstance(value, dict):
        raise InvalidInputError(f"{where} must be an object, not {describe(value)}")
    return value


def require_list(value: Any, where: str, *, non_empty: bool = False) -> list[Any]:
    """``value`` if it is a JSON array (non-empty when asked), else ``InvalidInputError``."""
    if not isinstance(value, list):
        raise InvalidInputError(f"{where} must be an array, not {describe(value)}")
    if non_empty and not value:
        raise InvalidInputError(f"{where} must not be empty")
    return value


def require_str(value: Any, where: str, *, non_empty: bool = True) -> str:
    """``value`` if it is a string encodable as UTF-8 (non-empty unless told), else an error.

    Lone surrogates, which ``json`` lets through from ``\\ud800`` escapes, are refused: they
    cannot be canonicalized or signed.
    """
    if not isinstance(value, str):
        raise InvalidInputError(f"{where} must be a string, not {describe(value)}")
    if non_empty and not value.strip():
        raise InvalidInputError(f"{where} must not be empty")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(
            f"{where} is not valid Unicode", hint="remove lone surrogate escapes"
        ) from None
    return value


def require_enum(value: Any, where: str, allowed: Collection[str]) -> str:
    """``value`` if it is one of ``allowed``, else ``InvalidInputError`` listing them."""
    if not isinstance(value, str) or value not in allowed:
        raise InvalidInputError(
            f"{where} must be one of {', '.join(allowed)}, not {describe(value)}"
        )
    return value


def require_number(value: Any, where: str) -> int | float:
    """``value`` if it is a finite JSON number (booleans are not numbers), else an error."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(f"{where} must be a number, not {describe(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInputError(f"{where} must be a finite number, not {value}")
    return value


def require_sha256(value: Any, where: str) -> str:
    """``value`` if it is 64 lowercase hex digits, else ``InvalidInputError``."""
    if not isinstance(value, str) or not SHA256_PATTERN.fullmatch(value):
        raise InvalidInputError(
            f"{where} must be a SHA-256 digest, not {describe(value)}",
            hint="give the 64 lowercase hex digits that `sha256sum` prints",
        )
    return value


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC: ``2024-05-01T12:00:00Z`` (microseconds only when there are some)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInputError(
            f"time {moment.isoformat()} has no time zone",
            hint="pass an aware datetime, e.g. datetime.now(UTC)",
        )
    utc = moment.astimezone(UTC)
    fraction = f".{utc.microsecond:06d}" if utc.microsecond else ""
    return f"{utc:%Y-%m-%dT%H:%M:%S}{fraction}Z"


def parse_time(value: Any, where: str) -> datetime:
    """An aware UTC datetime from an RFC 3339 UTC string, else ``InvalidInputError``."""
    match = _TIME_PATTERN.fullmatch(value) if isinstance(value, str) else None
    hint = "give an RFC 3339 UTC time such as 2024-05-01T12:00:00Z"
    if match is None:
        raise InvalidInputError(
            f"{where} must be an RFC 3339 UTC time, not {describe(value)}", hint=hint
        )
    seconds, fraction = match.groups()
    try:
        moment = datetime.fromisoformat(seconds + (f".{fraction[:6]:0<6}" if fraction else ""))
    except ValueError:
        raise InvalidInputError(f"{where} is not a real time: {value!r}", hint=hint) from None
    return moment.replace(tzinfo=UTC)


def field(obj: Mapping[str, Any], key: str) -> Any:
    """``obj[key]``, or ``MISSING`` when absent."""
    return obj.get(key, MISSING)

"""Canonical bytes of audit events: RFC 8785 JSON Canonicalization Scheme (JCS).

An event's leaf bytes must be reproducible by anyone holding the event, in any language, so the
log hashes JCS bytes rather than whatever ``json.dumps`` happens to produce.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import rfc8785

from signoff.errors import InvalidInputError


def canonical_json(obj: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value (dict, list, str, int, float, ...)."""
    try:
        return rfc8785.dumps(obj)
    except rfc8785.CanonicalizationError as exc:
        raise InvalidInputError(
            f"value cannot be canonicalised as JSON: {exc}",
            hint="use only dicts with str keys, lists, str, bool, None, finite floats and "
            "integers within +/-(2**53 - 1)",
        ) from exc


def event_leaf(event: Mapping[str, Any]) -> bytes:
    """The leaf bytes of an audit event: its canonical JSON (an object at the top level)."""
    if not isinstance(event, Mapping):
        raise InvalidInputError(
            f"an audit event must be a JSON object, not {type(event).__name__}",
            hint="pass a dict of field names to values",
        )
    # rfc8785 serialises dicts only, not other Mapping types.
    return canonical_json(event if isinstance(event, dict) else dict(event))


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()

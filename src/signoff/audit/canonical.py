"""Canonical bytes of audit events: RFC 8785 JSON Canonicalization Scheme (JCS).

An event's leaf bytes must be reproducible by anyone holding the event, in any language, so the
log hashes JCS bytes rather than whatever ``json.dumps`` happens to produce.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import rfc8785

from signoff.errors import InvalidInputError

_SAFE_INT = 2**53 - 1
"""RFC 8785 (I-JSON) numbers are IEEE doubles: integers beyond this are refused."""

_ENCODER = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
)


def _plain(value: Any) -> bool:
    """Whether ``json.dumps(sort_keys=True, compact, ensure_ascii=False)`` of ``value`` is its
    RFC 8785 form: only None, bools, strs, ints within +/-(2**53 - 1), non-integral floats of
    magnitude 1e-4 to 1e16, lists, tuples and dicts whose keys are strs below U+D800 (exact
    types, no subclasses).

    For such values the two agree: strings escape the quote, the backslash and the controls
    BS, FF, LF, CR and TAB by their two-character escapes, other controls below U+0020 as
    lower-case six-character ``u00xx`` escapes, and keep everything else verbatim; integers
    print as their digits; and keys sort the same, because below U+D800 a character is one
    UTF-16 code unit of the same value (RFC 8785 sorts by UTF-16 code units, Python by code
    points, which differs once a key holds a character beyond the BMP). A lone
    surrogate passes this check but fails UTF-8 encoding, which sends it to the full path.
    """
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-_SAFE_INT <= value <= _SAFE_INT)
    if kind is float:
        # Between 1e-4 and 1e16 in magnitude, a non-integral finite float prints in plain
        # decimal notation both as Python's repr and as ECMAScript's Number::toString (RFC 8785
        # section 3.2.2.3), and both print the shortest digits that round-trip, correctly
        # rounded. Integral floats (1.0 vs 1), zeros and exponents differ: those go to rfc8785.
        return bool(1e-4 <= abs(value) < 1e16) and not value.is_integer()
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or (key and not key.isascii() and max(key) >= "\ud800"):
                return False
            if not _plain(item):
                return False
        return True
    if kind is list or kind is tuple:
        return all(_plain(item) for item in value)
    return False


def _fast(obj: Any) -> bytes | None:
    """The RFC 8785 bytes of ``obj`` by the C JSON encoder, or None when it is not ``_plain``."""
    try:
        if _plain(obj):
            return _ENCODER.encode(obj).encode("utf-8")
    except (UnicodeEncodeError, RecursionError):
        pass  # a lone surrogate or a very deep value: rfc8785 decides
    return None


def canonical_json(obj: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value (dict, list, str, int, float, ...).

    Values without exotic keys or floats outside plain notation (audit events, row digests,
    statements) take the C JSON encoder,
    whose output is then byte-identical (``_plain``; property-tested against ``rfc8785``);
    anything else goes through ``rfc8785``.
    """
    fast = _fast(obj)
    if fast is not None:
        return fast
    try:
        return rfc8785.dumps(obj)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError) as exc:  # a lone surrogate key
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

"""in-toto Statement v1: binds a predicate to the artifacts (subjects) it speaks about.

Spec: https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md. signoff signs the
RFC 8785 canonical JSON of a statement, so one statement always has one byte form. Parsing
follows the in-toto parsing rules: unknown fields are ignored, but every field signoff reads is
checked, and every subject must carry a sha256 digest (signoff identifies artifacts by it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from signoff.attestations.fields import (
    MISSING,
    field,
    loads_strict,
    require_list,
    require_object,
    require_sha256,
    require_str,
)
from signoff.audit.canonical import canonical_json
from signoff.errors import InvalidInputError

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
"""The DSSE payloadType of an in-toto statement."""


@dataclass(frozen=True)
class Statement:
    """A validated statement. ``subjects`` are ``(name, sha256)`` pairs (name ``""`` if unset)."""

    type: str
    subjects: tuple[tuple[str, str], ...]
    predicate_type: str
    predicate: dict[str, Any]


def make_statement(
    subject_name: str, sha256_hex: str, predicate_type: str, predicate: Mapping[str, Any]
) -> dict[str, Any]:
    """A statement about one subject, as a JSON-ready dict (validated)."""
    require_str(subject_name, "statement subject name")
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": subject_name, "digest": {"sha256": sha256_hex}}],
        "predicateType": predicate_type,
        "predicate": dict(predicate),
    }
    statement_from_object(statement)
    return statement


def statement_bytes(statement: Mapping[str, Any]) -> bytes:
    """The RFC 8785 canonical JSON of a (validated) statement: the bytes to sign."""
    statement_from_object(statement)
    try:
        return canonical_json(statement)
    except InvalidInputError as error:
        raise InvalidInputError(
            f"statement cannot be canonicalized: {error.message}",
            hint="use strings, booleans, null, integers within ±2**53 and finite floats",
        ) from None


def parse_statement(payload: bytes) -> Statement:
    """Parse and validate a statement from a DSSE payload; ``InvalidInputError`` if malformed."""
    return statement_from_object(loads_strict(payload, "statement"))


def statement_from_object(obj: Any) -> Statement:
    """Validate a decoded statement (a dict) and return it as a ``Statement``."""
    statement = require_object(dict(obj) if isinstance(obj, Mapping) else obj, "statement")
    kind = field(statement, "_type")
    if kind != STATEMENT_TYPE:
        raise InvalidInputError(
            f"statement _type must be {STATEMENT_TYPE!r}, not {kind!r}",
            hint="signoff reads in-toto Statement v1 only",
        )
    entries = require_list(field(statement, "subject"), "statement subject", non_empty=True)
    subjects = tuple(_subject(entry, f"statement subject[{i}]") for i, entry in enumerate(entries))
    predicate_type = require_str(field(statement, "predicateType"), "statement predicateType")
    predicate = field(statement, "predicate")
    # An unset predicate means the same as an empty one (spec).
    predicate = {} if predicate is MISSING else require_object(predicate, "statement predicate")
    return Statement(kind, subjects, predicate_type, predicate)


def subject_digests(statement: Statement | Mapping[str, Any]) -> set[str]:
    """The sha256 digests of the statement's subjects (a dict is validated first)."""
    if not isinstance(statement, Statement):
        statement = statement_from_object(statement)
    return {sha256 for _, sha256 in statement.subjects}


def _subject(entry: Any, where: str) -> tuple[str, str]:
    subject = require_object(entry, where)
    name = subject.get("name", "")
    require_str(name, f"{where}.name", non_empty=False)
    digest = require_object(field(subject, "digest"), f"{where}.digest")
    for algorithm, value in digest.items():
        require_str(value, f"{where}.digest.{algorithm}")
    return name, require_sha256(field(digest, "sha256"), f"{where}.digest.sha256")

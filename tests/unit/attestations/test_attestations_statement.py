"""in-toto Statement v1: building, canonical bytes, strict parsing, and the signed round trip."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from signoff.attestations import (
    FINDING_PREDICATE,
    PAYLOAD_TYPE,
    Envelope,
    Finding,
    finding_predicate,
    make_statement,
    parse_finding_predicate,
    parse_statement,
    sign,
    statement_bytes,
    subject_digests,
    verified_keyids,
)
from signoff.errors import InvalidInputError
from signoff.keys import generate_key, key_id

DIGEST = "a" * 64
OTHER = "b" * 64


def statement() -> dict[str, Any]:
    return make_statement("fraud-model", DIGEST, "https://example.com/p/v1", {"b": 1, "a": [2]})


def test_make_statement_builds_the_v1_shape() -> None:
    assert statement() == {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "fraud-model", "digest": {"sha256": DIGEST}}],
        "predicateType": "https://example.com/p/v1",
        "predicate": {"b": 1, "a": [2]},
    }


def test_statement_bytes_are_rfc8785_canonical() -> None:
    assert statement_bytes(statement()) == (
        b'{"_type":"https://in-toto.io/Statement/v1","predicate":{"a":[2],"b":1},'
        b'"predicateType":"https://example.com/p/v1",'
        b'"subject":[{"digest":{"sha256":"' + DIGEST.encode() + b'"},"name":"fraud-model"}]}'
    )


def test_parse_round_trip_and_subject_digests() -> None:
    parsed = parse_statement(statement_bytes(statement()))
    assert parsed.type == "https://in-toto.io/Statement/v1"
    assert parsed.subjects == (("fraud-model", DIGEST),)
    assert parsed.predicate_type == "https://example.com/p/v1"
    assert parsed.predicate == {"a": [2], "b": 1}
    assert subject_digests(parsed) == subject_digests(statement()) == {DIGEST}


def test_parsing_follows_the_in_toto_rules() -> None:
    doc = statement() | {"unknownField": {"x": 1}}  # unknown fields are ignored
    del doc["predicate"]  # unset predicate == empty predicate
    doc["subject"] = [
        {"digest": {"sha256": DIGEST, "sha512": "c" * 128}},  # name optional, more algorithms
        {"name": "b", "digest": {"sha256": OTHER}, "uri": "https://example.com/b"},
    ]
    parsed = parse_statement(json.dumps(doc).encode())
    assert parsed.predicate == {}
    assert parsed.subjects == (("", DIGEST), ("b", OTHER))
    assert subject_digests(doc) == {DIGEST, OTHER}


def mutate(path: list[Any], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(statement())
    target: Any = doc
    for step in path[:-1]:
        target = target[step]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (mutate(["_type"], "https://in-toto.io/Statement/v0.1"), "_type must be"),
        (mutate(["_type"], KeyError), "_type must be"),
        (mutate(["subject"], []), "subject must not be empty"),
        (mutate(["subject"], KeyError), "subject must be an array"),
        (mutate(["subject", 0], "x"), r"subject\[0\] must be an object"),
        (mutate(["subject", 0, "digest"], {"sha512": "c" * 128}), "sha256 must be a SHA-256"),
        (mutate(["subject", 0, "digest", "sha256"], "A" * 64), "must be a SHA-256"),
        (mutate(["subject", 0, "digest", "sha256"], "a" * 63), "must be a SHA-256"),
        (mutate(["subject", 0, "digest", "sha1"], 5), "digest.sha1 must be a string"),
        (mutate(["subject", 0, "name"], 5), "name must be a string"),
        (mutate(["predicateType"], KeyError), "predicateType must be a string"),
        (mutate(["predicateType"], ""), "predicateType must not be empty"),
        (mutate(["predicate"], [1]), "predicate must be an object"),
    ],
)
def test_malformed_statements_are_refused(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse_statement(json.dumps(doc).encode())
    with pytest.raises(InvalidInputError, match=message):
        statement_bytes(doc)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "not valid JSON"),
        (b"\xff\xfe\x00", "not valid JSON"),
        (b"[1]", "must be an object"),
        (b'{"_type": 1, "_type": 2}', "twice"),
        (b'{"x": NaN}', "NaN"),
    ],
)
def test_payloads_that_are_not_json_objects_are_refused(payload: bytes, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse_statement(payload)


def test_make_statement_validates_its_arguments() -> None:
    with pytest.raises(InvalidInputError, match="SHA-256"):
        make_statement("m", "sha256:" + DIGEST, FINDING_PREDICATE, {})
    with pytest.raises(InvalidInputError, match="subject name"):
        make_statement("", DIGEST, FINDING_PREDICATE, {})


@pytest.mark.parametrize("value", [2**60, float("nan"), float("inf")])
def test_values_outside_canonical_json_are_refused(value: Any) -> None:
    with pytest.raises(InvalidInputError, match="canonicalized"):
        statement_bytes(make_statement("m", DIGEST, FINDING_PREDICATE, {"x": value}))


def test_signed_finding_attestation_end_to_end() -> None:
    key = generate_key()
    predicate = finding_predicate(
        "artifact-scan",
        "warn",
        tool_name="modelscan",
        tool_version="0.8.1",
        time=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        findings=[Finding("pickle-global", "medium", "unsafe global", location="model.pkl")],
        metrics={"files": 3},
    )
    envelope = sign(
        statement_bytes(make_statement("fraud", DIGEST, FINDING_PREDICATE, predicate)),
        PAYLOAD_TYPE,
        key,
    )

    received = Envelope.from_json(envelope.to_json())
    kid = key_id(key.public_key())
    assert verified_keyids(received, {kid: key.public_key()}) == {kid}
    assert received.payload_type == PAYLOAD_TYPE
    parsed = parse_statement(received.payload)
    assert subject_digests(parsed) == {DIGEST}
    assert parsed.predicate_type == FINDING_PREDICATE
    report = parse_finding_predicate(parsed.predicate)
    assert report.result == "warn"
    assert report.findings[0].location == "model.pkl"

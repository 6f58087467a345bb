"""Evidence receipts: the MAC binds every field it seals, and only the registry key makes one."""

from __future__ import annotations

import pytest

from signoff.governance.receipts import Claims, ReceiptedRow, ReceiptKey
from signoff.keys import generate_key

FIELDS = {
    "root_digest": "ab" * 32,
    "kind": "artifact-scan",
    "predicate_type": "https://signoff.dev/finding/v1",
    "envelope_sha256": "cd" * 32,
    "produced_at": "2026-11-26T12:00:00+00:00",
    "claims": '{"other_keyids":[],"predicate":{"result":"pass"},"signed_by":["k1"]}',
}


def test_a_receipt_checks_for_exactly_what_it_sealed() -> None:
    key = ReceiptKey(generate_key())
    receipt = key.seal(ReceiptedRow(**FIELDS))
    assert len(receipt) == 64
    assert key.check(receipt, ReceiptedRow(**FIELDS))
    for name, value in FIELDS.items():
        assert not key.check(receipt, ReceiptedRow(**{**FIELDS, name: value + "x"})), name


def test_fields_cannot_be_shifted_between_each_other() -> None:
    key = ReceiptKey(generate_key())
    receipt = key.seal(ReceiptedRow(**FIELDS))
    shifted = {
        **FIELDS,
        "kind": "artifact-scanh",
        "predicate_type": "ttps://signoff.dev/finding/v1",
    }
    assert not key.check(receipt, ReceiptedRow(**shifted))


def test_only_the_same_registry_key_checks_a_receipt() -> None:
    registry_key = generate_key()
    receipt = ReceiptKey(registry_key).seal(ReceiptedRow(**FIELDS))
    assert ReceiptKey(registry_key).check(receipt, ReceiptedRow(**FIELDS))
    assert not ReceiptKey(generate_key()).check(receipt, ReceiptedRow(**FIELDS))
    assert not ReceiptKey(registry_key).check("00" * 32, ReceiptedRow(**FIELDS))


def test_claims_round_trip_and_drop_the_predicate_time() -> None:
    claims = Claims.of(
        ["k2", "k1"], ["k3", "k1", "k2"], {"result": "pass", "time": "2026-11-26T12:00:00Z"}
    )
    assert claims.signed_by == ("k1", "k2") and claims.other_keyids == ("k3",)
    text = claims.to_text()
    assert "time" not in text
    parsed = Claims.from_text(text)
    assert parsed is not None
    assert parsed.signed_by == ("k1", "k2") and parsed.other_keyids == ("k3",)
    assert parsed.predicate == {"result": "pass"}
    # Equal claims are equal text, whatever the order they were given in.
    assert Claims.of(["k1", "k2"], ["k2", "k3", "k1"], {"result": "pass"}).to_text() == text


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        "{}",
        '{"signed_by": "k1", "other_keyids": [], "predicate": {}}',
        '{"signed_by": [1], "other_keyids": [], "predicate": {}}',
        '{"signed_by": [], "other_keyids": [], "predicate": []}',
    ],
)
def test_malformed_claims_are_not_read(text: str) -> None:
    assert Claims.from_text(text) is None

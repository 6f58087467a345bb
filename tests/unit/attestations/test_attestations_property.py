"""Properties: any payload and type survive sign, JSON, parse and verify; any change breaks it."""

from __future__ import annotations

import base64
import json

from hypothesis import given
from hypothesis import strategies as st

from signoff.attestations.dsse import Envelope, sign, verified_keyids
from signoff.keys import generate_key, key_id

KEY = generate_key()
KID = key_id(KEY.public_key())
KEYRING = {KID: KEY.public_key()}

payloads = st.binary(max_size=512)
types = st.text(max_size=64)  # any Unicode, including "" and non-ASCII


@given(payload=payloads, payload_type=types, url_safe=st.booleans())
def test_sign_json_parse_verify_round_trip(
    payload: bytes, payload_type: str, url_safe: bool
) -> None:
    envelope = sign(payload, payload_type, KEY)
    text = envelope.to_json()
    if url_safe:  # verifiers must accept the URL-safe alphabet too
        obj = json.loads(text)
        obj["payload"] = base64.urlsafe_b64encode(payload).decode()
        text = json.dumps(obj)
    parsed = Envelope.from_json(text)
    assert parsed == envelope
    assert verified_keyids(parsed, KEYRING) == {KID}


@given(payload=payloads, payload_type=types, other=payloads, other_type=types)
def test_a_signature_verifies_for_its_own_payload_and_type_only(
    payload: bytes, payload_type: str, other: bytes, other_type: str
) -> None:
    envelope = sign(payload, payload_type, KEY)
    moved = Envelope(other, other_type, envelope.signatures)
    expected = {KID} if (other, other_type) == (payload, payload_type) else set()
    assert verified_keyids(moved, KEYRING) == expected

"""DSSE: the spec's test vector, envelope JSON, and Ed25519 verification that fails closed."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from signoff.attestations.dsse import (
    MAX_SIGNATURES,
    Envelope,
    Signature,
    add_signature,
    pae,
    sign,
    verified_keyids,
)
from signoff.errors import InvalidInputError
from signoff.keys import generate_key, key_id

# The worked example of DSSE protocol.md ("Test Vectors").
SPEC_TYPE = "http://example.com/HelloWorld"
SPEC_BODY = b"hello world"
SPEC_PAE = b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
SPEC_X = 46950820868899156662930047687818585632848591499744589407958293238635476079160
SPEC_Y = 5640078356564379163099075877009565129882514886557779369047442380624545832820
SPEC_D = 97358161215184420915383655311931858321456579547487070936769975997791359926199
SPEC_ENVELOPE = """{"payload": "aGVsbG8gd29ybGQ=",
 "payloadType": "http://example.com/HelloWorld",
 "signatures": [{"sig": "A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA=="}]}"""  # noqa: E501

TYPE = "application/vnd.in-toto+json"


def test_pae_known_answer_from_the_spec() -> None:
    assert pae(SPEC_TYPE, SPEC_BODY) == SPEC_PAE


def test_pae_lengths_are_utf8_byte_lengths() -> None:
    assert pae("", b"") == b"DSSEv1 0  0 "
    assert pae("é", b"\x00" * 10) == b"DSSEv1 2 \xc3\xa9 10 " + b"\x00" * 10


def test_spec_envelope_parses_and_its_ecdsa_signature_verifies_over_our_pae() -> None:
    envelope = Envelope.from_json(SPEC_ENVELOPE)
    assert envelope.payload == SPEC_BODY
    assert envelope.payload_type == SPEC_TYPE
    (signature,) = envelope.signatures
    assert signature.keyid == ""
    public = ec.EllipticCurvePublicNumbers(SPEC_X, SPEC_Y, ec.SECP256R1()).public_key()
    raw = signature.sig
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, pae(envelope.payload_type, envelope.payload), ec.ECDSA(hashes.SHA256()))


def test_spec_signature_is_reproduced_with_deterministic_ecdsa() -> None:
    private = ec.derive_private_key(SPEC_D, ec.SECP256R1())
    try:
        der = private.sign(SPEC_PAE, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    except Exception as error:  # OpenSSL < 3.2 has no RFC 6979 signing
        pytest.skip(f"deterministic ECDSA unavailable: {error}")
    r, s = decode_dss_signature(der)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert raw == Envelope.from_json(SPEC_ENVELOPE).signatures[0].sig


def test_sign_round_trip_and_verify() -> None:
    key = generate_key()
    envelope = sign(b'{"a": 1}', TYPE, key)
    kid = key_id(key.public_key())
    assert envelope.signatures[0].keyid == kid
    parsed = Envelope.from_json(envelope.to_json())
    assert parsed == envelope
    assert verified_keyids(parsed, {kid: key.public_key()}) == {kid}


def test_to_json_is_the_standard_envelope() -> None:
    envelope = Envelope(b"\xfb\xff", TYPE, (Signature("k1", b"\x01\x02"), Signature("", b"\x03")))
    assert json.loads(envelope.to_json()) == {
        "payload": "+/8=",
        "payloadType": TYPE,
        "signatures": [{"keyid": "k1", "sig": "AQI="}, {"sig": "Aw=="}],
    }


def tampered(envelope: Envelope, **changes: Any) -> Envelope:
    fields = {
        "payload": envelope.payload,
        "payload_type": envelope.payload_type,
        "signatures": envelope.signatures,
    }
    return Envelope(**(fields | changes))


def test_tampering_with_anything_signed_fails_verification() -> None:
    key = generate_key()
    kid = key_id(key.public_key())
    keyring = {kid: key.public_key()}
    envelope = sign(b"payload", TYPE, key)
    sig = envelope.signatures[0].sig
    flipped = bytes([sig[0] ^ 1]) + sig[1:]
    for bad in (
        tampered(envelope, payload=b"payloae"),
        tampered(envelope, payload=b""),
        tampered(envelope, payload_type="application/json"),
        tampered(envelope, signatures=(Signature(kid, flipped),)),
        tampered(envelope, signatures=(Signature(kid, sig[:-1]),)),
        tampered(envelope, signatures=(Signature(kid, sig + b"\x00"),)),
    ):
        assert verified_keyids(bad, keyring) == set()


def test_pae_prevents_moving_bytes_between_type_and_payload() -> None:
    key = generate_key()
    kid = key_id(key.public_key())
    envelope = sign(b"b c", "a", key)
    shifted = tampered(envelope, payload_type="a b", payload=b"c")
    assert verified_keyids(shifted, {kid: key.public_key()}) == set()


def test_unknown_keys_and_impostor_keyids_do_not_verify() -> None:
    signer, other = generate_key(), generate_key()
    other_kid = key_id(other.public_key())
    envelope = sign(b"x", TYPE, signer)
    assert verified_keyids(envelope, {}) == set()
    assert verified_keyids(envelope, {other_kid: other.public_key()}) == set()
    # A signature by `signer` that claims to be by `other`.
    impostor = tampered(envelope, signatures=(Signature(other_kid, envelope.signatures[0].sig),))
    assert verified_keyids(impostor, {other_kid: other.public_key()}) == set()


def test_a_keyring_entry_under_the_wrong_id_is_refused() -> None:
    signer, other = generate_key(), generate_key()
    envelope = sign(b"x", TYPE, signer)
    kid = key_id(signer.public_key())
    with pytest.raises(InvalidInputError, match="not the key id of its key"):
        verified_keyids(envelope, {kid: other.public_key()})


def test_multiple_signers_each_verify_once() -> None:
    alice, bob, carol = generate_key(), generate_key(), generate_key()
    envelope = add_signature(add_signature(sign(b"x", TYPE, alice), bob), alice)
    assert len(envelope.signatures) == 2
    keyring = {key_id(k.public_key()): k.public_key() for k in (alice, bob, carol)}
    assert verified_keyids(Envelope.from_json(envelope.to_json()), keyring) == {
        key_id(alice.public_key()),
        key_id(bob.public_key()),
    }


def test_url_safe_and_unpadded_base64_are_accepted() -> None:
    key = generate_key()
    payload = b"\xfb\xff\xfe\xfa"  # standard base64 "+//++g==", URL-safe "-__-_g=="
    envelope = sign(payload, TYPE, key)
    sig = envelope.signatures[0].sig
    for encode in (base64.urlsafe_b64encode, lambda b: base64.urlsafe_b64encode(b).rstrip(b"=")):
        text = json.dumps(
            {
                "payload": encode(payload).decode(),
                "payloadType": TYPE,
                "signatures": [{"keyid": key_id(key.public_key()), "sig": encode(sig).decode()}],
            }
        )
        assert Envelope.from_json(text) == envelope


def valid() -> dict[str, Any]:
    return {"payload": "aGk=", "payloadType": TYPE, "signatures": [{"keyid": "k", "sig": "AQI="}]}


def with_signature(**entry: Any) -> dict[str, Any]:
    return valid() | {"signatures": [entry]}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("not json", "not valid JSON"),
        ("[]", "must be an object"),
        ('{"payload": "aGk=", "payload": "aGk="}', "twice"),
        (json.dumps({k: v for k, v in valid().items() if k != "payload"}), "payload is missing"),
        (json.dumps(valid() | {"payload": "a*b="}), "not base64"),
        (json.dumps(valid() | {"payload": "aGk"}), None),  # unpadded: accepted
        (json.dumps(valid() | {"payload": "aGk=="}), "not base64"),
        (json.dumps(valid() | {"payload": "a"}), "not base64"),
        (json.dumps(valid() | {"payload": 5}), "not base64"),
        (json.dumps(valid() | {"payloadType": None}), "payloadType must be a string"),
        (json.dumps({k: v for k, v in valid().items() if k != "payloadType"}), "payloadType"),
        ('{"payload": "aGk=", "payloadType": "\\ud800", "signatures": []}', "not valid Unicode"),
        (json.dumps(valid() | {"signatures": []}), "must not be empty"),
        (json.dumps(valid() | {"signatures": {}}), "must be an array"),
        (json.dumps(valid() | {"extra": 1}), "unknown field 'extra'"),
        (json.dumps(with_signature(keyid="k")), r"signatures\[0\].sig is missing"),
        (json.dumps(with_signature(sig="")), r"signatures\[0\].sig is empty"),
        (json.dumps(with_signature(sig="AQI=", keyid=7)), "keyid must be a string"),
        (json.dumps(with_signature(sig="AQI=", cert="x")), "unknown field 'cert'"),
        (json.dumps(valid() | {"signatures": ["AQI="]}), "must be an object"),
        (json.dumps(valid() | {"signatures": [{"sig": "AQI="}] * (MAX_SIGNATURES + 1)}), "more"),
        ("[" * 100_000, "nested too deeply|not valid JSON"),
    ],
)
def test_malformed_envelopes_are_refused(document: str, message: str | None) -> None:
    if message is None:
        Envelope.from_json(document)
        return
    with pytest.raises(InvalidInputError, match=message):
        Envelope.from_json(document)


def test_an_envelope_needs_a_signature() -> None:
    with pytest.raises(InvalidInputError, match="no signatures"):
        Envelope(b"x", TYPE, ())

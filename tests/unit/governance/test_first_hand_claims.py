"""Evidence signoff signs itself is judged at attach time without re-verifying its signature."""

from __future__ import annotations

from datetime import UTC, datetime

from signoff.governance.evidence import Keyring, PreparedEvidence, first_hand_claims
from signoff.keys import generate_key, key_id

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def prepared(keyid: str | None, predicate: dict[str, str] | None) -> PreparedEvidence:
    return PreparedEvidence(
        "evaluation", "https://example/p", "{}", NOW, predicate=predicate, signed_with=keyid
    )


def test_verified_only_when_the_active_keyring_holds_that_very_key() -> None:
    signer, other = generate_key().public_key(), generate_key().public_key()
    keyid = key_id(signer)
    predicate = {"result": "pass"}
    active = Keyring({keyid: ("carol", signer)})
    claims = first_hand_claims(prepared(keyid, predicate), active)
    assert claims is not None and claims.signed_by == (keyid,) and claims.other_keyids == ()
    # Revoked (not in the keyring): kept, with the keyid as unverified.
    revoked = first_hand_claims(prepared(keyid, predicate), Keyring({}))
    assert revoked is not None and revoked.signed_by == () and revoked.other_keyids == (keyid,)
    # A keyring entry under that keyid holding another key (a tampered key row) is not it.
    spoofed = first_hand_claims(prepared(keyid, predicate), Keyring({keyid: ("carol", other)}))
    assert spoofed is not None and spoofed.signed_by == ()


def test_envelopes_signed_elsewhere_are_left_to_the_full_check() -> None:
    assert first_hand_claims(prepared(None, None), Keyring({})) is None
    assert first_hand_claims(prepared("ab" * 32, None), Keyring({})) is None

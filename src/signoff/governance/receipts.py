"""Evidence receipts: the registry's sealed record of what it verified when evidence was attached.

Judging a stored envelope in full means parsing it and checking an Ed25519 signature (~100 us).
Bulk reads -- ``coverage`` over every approved and production version -- do that for tens of
thousands of envelopes, so at attach time the registry records what it verified:

* ``claims``: compact JSON of the keyids whose signatures verified, the other signature keyids
  (unknown or failing then), and the statement's predicate without its timestamp;
* ``receipt``: a MAC (keyed BLAKE2b) over those claims and the row's policy-relevant columns (the
  version's root digest, kind, predicate type, envelope SHA-256, produced time), under a key
  derived (HKDF) from the registry's private signing key.

A reader holding the registry key trusts a receipted row as the full check would: the MAC proves
the registry verified these claims against this digest, signatures never change their verdict
for a given key (a keyid names one key), and the keys are judged *now* -- a signer revoked since
drops the evidence, and any other signature keyid that has since become an active key sends the
row back to the full check. A missing or failing receipt, or a reader without the registry key,
also gets the full check. The receipt binds no row id (it is computed before the insert): a
copied row is a duplicate of genuine evidence about the same bytes, and ``audit verify`` names
inserted rows anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

RECEIPT_CONTEXT = b"signoff/evidence-receipt/v1"
_UNTIMED = ("time", "timeVerified")


@dataclass(frozen=True, slots=True)
class Claims:
    """What the registry verified about an envelope when it was attached."""

    signed_by: tuple[str, ...]
    """Keyids whose signature verified then, sorted."""
    other_keyids: tuple[str, ...]
    """The envelope's other signature keyids (unknown or not verifying then), sorted."""
    predicate: Mapping[str, Any]
    """The statement's predicate, without its timestamp (the row's ``produced_at`` has it)."""

    def to_text(self) -> str:
        """Compact, key-sorted JSON: equal claims are equal text (memoised by readers)."""
        return json.dumps(
            {
                "signed_by": list(self.signed_by),
                "other_keyids": list(self.other_keyids),
                "predicate": {k: v for k, v in self.predicate.items() if k not in _UNTIMED},
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )

    @classmethod
    def from_text(cls, text: str) -> Claims | None:
        """Parse stored claims; None when they are not what ``to_text`` writes."""
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        signed_by, others = _strings(data.get("signed_by")), _strings(data.get("other_keyids"))
        predicate = data.get("predicate")
        if signed_by is None or others is None or not isinstance(predicate, dict):
            return None
        return cls(signed_by, others, predicate)

    @classmethod
    def of(
        cls, verified: Iterable[str], all_keyids: Iterable[str], predicate: Mapping[str, Any]
    ) -> Claims:
        """Claims for an envelope whose signatures carry ``all_keyids``, of which ``verified``
        verified."""
        signed = set(verified)
        return cls(tuple(sorted(signed)), tuple(sorted(set(all_keyids) - signed)), predicate)


def _strings(value: object) -> tuple[str, ...] | None:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return None


class ReceiptedRow(NamedTuple):
    """What a receipt seals: the row's policy-relevant columns and its claims."""

    root_digest: str
    """The artifact root digest of the version the row is attached to."""
    kind: str
    predicate_type: str
    envelope_sha256: str
    produced_at: str
    """``evidence.utc_text`` of the row's produced time."""
    claims: str
    """``Claims.to_text()``."""


class ReceiptKey:
    """The MAC key for receipts, derived (HKDF) from the registry's Ed25519 private key.

    The derivation's ``info`` names the purpose and version, so the key differs from anything
    else derived from the registry key, and the MAC covers the same context implicitly.
    """

    __slots__ = ("_key",)

    def __init__(self, registry_key: Ed25519PrivateKey) -> None:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=RECEIPT_CONTEXT)
        self._key = hkdf.derive(registry_key.private_bytes_raw())

    def seal(self, row: ReceiptedRow) -> str:
        """The receipt (hex, 32 bytes) of a row's verified claims."""
        return self._mac(_message(*row))

    def check(self, receipt: str, row: ReceiptedRow) -> bool:
        """Whether ``receipt`` seals exactly this row."""
        return hmac.compare_digest(self.seal(row), receipt)

    def _mac(self, message: bytes) -> str:
        # Keyed BLAKE2b is a MAC by design (RFC 7693 section 2.5) and one pass over short
        # messages, about twice as fast as HMAC-SHA256: bulk reads check one per evidence row.
        return hashlib.blake2b(message, key=self._key, digest_size=32).hexdigest()


def _message(*fields: str) -> bytes:
    """The fields, each prefixed by its length in characters, so no two different field lists
    give the same text. One string and one encode: bulk reads build one per evidence row."""
    return "".join([f"{len(value)}:{value}" for value in fields]).encode("utf-8", "surrogatepass")

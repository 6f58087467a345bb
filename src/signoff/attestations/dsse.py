"""DSSE v1 envelopes signed with Ed25519.

Spec: https://github.com/secure-systems-lab/dsse (protocol.md, envelope.md). The signature
covers ``pae(payload_type, payload)``, so neither the payload nor its type can be swapped.
The ``keyid`` is an unauthenticated hint: ``verified_keyids`` uses it only to pick the key to
try, and reports a keyid only when that key's signature verifies.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from signoff.attestations.fields import (
    MISSING,
    field,
    loads_strict,
    require_list,
    require_object,
    require_str,
)
from signoff.errors import InvalidInputError
from signoff.keys import key_id

MAX_ENVELOPE_BYTES = 64 * 1024 * 1024
# Verification costs one signature check per signature whose keyid is in the keyring; real
# envelopes carry a handful, so a cap keeps a hostile envelope from buying unbounded CPU.
MAX_SIGNATURES = 100

_ENVELOPE_KEYS = frozenset({"payload", "payloadType", "signatures"})
_SIGNATURE_KEYS = frozenset({"keyid", "sig"})
# Standard and URL-safe alphabets (the spec requires verifiers to accept both), padding optional.
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]*={0,2}")
_URLSAFE_TO_STANDARD = str.maketrans("-_", "+/")
_HINT = "give a DSSE JSON envelope: {payload, payloadType, signatures: [{keyid, sig}]}"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding: ``DSSEv1 LEN(type) type LEN(body) body``."""
    kind = require_str(payload_type, "DSSE payload type", non_empty=False).encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


@dataclass(frozen=True)
class Signature:
    """One signature of an envelope: ``keyid`` (a hint, may be empty) and raw ``sig`` bytes."""

    keyid: str
    sig: bytes


@dataclass(frozen=True)
class Envelope:
    """A DSSE envelope: payload bytes, payload type and one or more signatures over PAE."""

    payload: bytes
    payload_type: str
    signatures: tuple[Signature, ...]

    def __post_init__(self) -> None:
        # Checked here so that every Envelope, however built, can be serialized and verified.
        if not isinstance(self.payload, bytes):
            raise InvalidInputError("DSSE payload must be bytes")
        require_str(self.payload_type, "DSSE payloadType", non_empty=False)
        if not self.signatures:
            raise InvalidInputError("DSSE envelope has no signatures", hint=_HINT)
        for signature in self.signatures:
            if not isinstance(signature, Signature):
                raise InvalidInputError("DSSE signatures must be Signature values")
            require_str(signature.keyid, "DSSE keyid", non_empty=False)
            if not isinstance(signature.sig, bytes) or not signature.sig:
                raise InvalidInputError("DSSE sig must be non-empty bytes")

    def to_json(self) -> str:
        """The standard JSON envelope (standard base64; an empty keyid is omitted)."""
        signatures: list[dict[str, str]] = []
        for signature in self.signatures:
            entry = {"keyid": signature.keyid} if signature.keyid else {}
            entry["sig"] = _b64encode(signature.sig)
            signatures.append(entry)
        return json.dumps(
            {
                "payload": _b64encode(self.payload),
                "payloadType": self.payload_type,
                "signatures": signatures,
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Envelope:
        """Parse a JSON envelope strictly; anything malformed raises ``InvalidInputError``.

        Unknown fields are refused rather than dropped: they are unauthenticated, and a
        re-serialized envelope would silently lose them.
        """
        if len(text) > MAX_ENVELOPE_BYTES:
            raise InvalidInputError(
                f"DSSE envelope is larger than {MAX_ENVELOPE_BYTES} bytes", hint=_HINT
            )
        obj = require_object(loads_strict(text, "DSSE envelope"), "DSSE envelope")
        _refuse_unknown(obj, _ENVELOPE_KEYS, "DSSE envelope")
        payload = _b64decode(field(obj, "payload"), "DSSE payload")
        payload_type = require_str(field(obj, "payloadType"), "DSSE payloadType", non_empty=False)
        entries = require_list(field(obj, "signatures"), "DSSE signatures", non_empty=True)
        if len(entries) > MAX_SIGNATURES:
            raise InvalidInputError(
                f"DSSE envelope has {len(entries)} signatures, more than {MAX_SIGNATURES}"
            )
        signatures = tuple(_parse_signature(entry, i) for i, entry in enumerate(entries))
        return cls(payload=payload, payload_type=payload_type, signatures=signatures)


def sign(payload: bytes, payload_type: str, key: Ed25519PrivateKey) -> Envelope:
    """An envelope of ``payload`` signed by ``key`` (keyid: ``keys.key_id`` of its public key)."""
    return Envelope(payload, payload_type, (_signature(payload, payload_type, key),))


def add_signature(envelope: Envelope, key: Ed25519PrivateKey) -> Envelope:
    """``envelope`` with a signature by ``key`` added (replacing one with the same keyid)."""
    new = _signature(envelope.payload, envelope.payload_type, key)
    kept = tuple(s for s in envelope.signatures if s.keyid != new.keyid)
    return Envelope(envelope.payload, envelope.payload_type, (*kept, new))


def verified_keyids(envelope: Envelope, keyring: Mapping[str, Ed25519PublicKey]) -> set[str]:
    """The keyids of ``keyring`` whose key made a valid signature over the envelope's PAE.

    A signature with an unknown keyid, or that does not verify, is skipped: this never raises
    for bad signatures. The keyring must map each key's own ``key_id`` to it (checked, so a
    returned keyid always names the key that verified).
    """
    message = pae(envelope.payload_type, envelope.payload)
    verified: set[str] = set()
    for signature in envelope.signatures:
        public_key = keyring.get(signature.keyid)
        if public_key is None or signature.keyid in verified:
            continue
        if key_id(public_key) != signature.keyid:
            raise InvalidInputError(
                f"keyring entry {signature.keyid!r} is not the key id of its key",
                hint="build keyrings as {keys.key_id(public_key): public_key}",
            )
        try:
            public_key.verify(signature.sig, message)
        except InvalidSignature:
            continue
        verified.add(signature.keyid)
    return verified


def _signature(payload: bytes, payload_type: str, key: Ed25519PrivateKey) -> Signature:
    return Signature(keyid=key_id(key.public_key()), sig=key.sign(pae(payload_type, payload)))


def _parse_signature(entry: Any, index: int) -> Signature:
    where = f"DSSE signatures[{index}]"
    obj = require_object(entry, where)
    _refuse_unknown(obj, _SIGNATURE_KEYS, where)
    keyid = obj.get("keyid", "")  # optional in the spec
    require_str(keyid, f"{where}.keyid", non_empty=False)
    sig = _b64decode(field(obj, "sig"), f"{where}.sig")
    if not sig:
        raise InvalidInputError(f"{where}.sig is empty", hint=_HINT)
    return Signature(keyid=keyid, sig=sig)


def _refuse_unknown(obj: Mapping[str, Any], known: frozenset[str], where: str) -> None:
    unknown = sorted(set(obj) - known)
    if unknown:
        raise InvalidInputError(f"{where} has unknown field {unknown[0]!r}", hint=_HINT)


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(value: Any, where: str) -> bytes:
    """Standard or URL-safe base64, padded or not (the spec allows either alphabet)."""
    if value is MISSING:
        raise InvalidInputError(f"{where} is missing", hint=_HINT)
    text = value if isinstance(value, str) else ""
    body = text.rstrip("=")
    valid = (
        isinstance(value, str)
        and _BASE64.fullmatch(text) is not None
        and len(body) % 4 != 1
        and (body == text or len(text) % 4 == 0)  # padding, when present, must be complete
    )
    if valid:
        try:
            standard = body.translate(_URLSAFE_TO_STANDARD)
            return base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
        except binascii.Error:
            pass
    raise InvalidInputError(f"{where} is not base64", hint=_HINT)

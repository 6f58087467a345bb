"""Signed tree heads: C2SP tlog checkpoints inside C2SP signed notes, with Ed25519 keys.

A checkpoint (c2sp.org/tlog-checkpoint) is the text ``<origin>\\n<size>\\n<base64 root>\\n``,
optionally followed by extension lines. A signed note (c2sp.org/signed-note) is that text, a
blank line, and lines ``— <key name> <base64(4-byte key ID || signature)>``. The format and the
key ID are those of golang.org/x/mod/sumdb/note, so Go's tooling can check our checkpoints and
we can check theirs (sum.golang.org's tree heads are such notes).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from signoff.errors import InvalidInputError

ROOT_SIZE = 32  # checkpoints carry RFC 6962/9162 SHA-256 roots
MAX_TREE_SIZE = 2**64 - 1  # sizes are uint64 in every other implementation

_SIGNATURE_PREFIX = "\u2014 "  # em dash, space
_ED25519 = b"\x01"  # the signature type byte of Ed25519 in signed-note
_ED25519_SIGNATURE_SIZE = 64
# The spec asks verifiers to bound the signature count and to accept at least 16; Go's
# x/mod/sumdb/note stops at 100, and so do we.
_MAX_SIGNATURES = 100
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f]")  # ASCII controls other than newline
_DECIMAL = re.compile("0|[1-9][0-9]*")  # no leading zeroes, ASCII digits only


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: the log's ``origin``, its ``size`` in leaves and its ``root`` hash."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "checkpoint origin")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise InvalidInputError(f"checkpoint size must be an integer, not {self.size!r}")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise InvalidInputError(f"checkpoint size {self.size} is out of range 0..2**64-1")
        if not isinstance(self.root, bytes) or len(self.root) != ROOT_SIZE:
            raise InvalidInputError(
                f"checkpoint root must be {ROOT_SIZE} bytes", hint="pass the raw SHA-256 digest"
            )
        if not isinstance(self.extensions, tuple):
            raise InvalidInputError("checkpoint extensions must be a tuple of lines")
        for line in self.extensions:
            _check_line(line, "checkpoint extension line")

    def body(self) -> str:
        """The note text of this checkpoint, ending in a newline."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode("ascii")]
        return "".join(f"{line}\n" for line in [*lines, *self.extensions])

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Read a checkpoint body (the text ``open_note`` returns), strictly.

        The size must be canonical decimal and the root canonical base64, so that
        ``Checkpoint.parse(text).body() == text``: one checkpoint, one text.
        """
        if not isinstance(text, str) or not text.endswith("\n"):
            raise _malformed_checkpoint("it must be text ending in a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise _malformed_checkpoint("it needs an origin, a size and a root hash line")
        origin, size, root, *extensions = lines
        if not _DECIMAL.fullmatch(size):
            raise _malformed_checkpoint(f"size {size!r} is not a decimal without leading zeros")
        raw_root = _b64decode(root)
        if raw_root is None or base64.b64encode(raw_root).decode("ascii") != root:
            raise _malformed_checkpoint(f"root {root!r} is not canonical base64")
        return cls(origin, int(size), raw_root, tuple(extensions))


def key_id(key_name: str, public_key: Ed25519PublicKey) -> bytes:
    """The 4-byte key ID: ``SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]``."""
    _check_key_name(key_name)
    material = key_name.encode("utf-8") + b"\n" + _ED25519 + _raw_public_key(public_key)
    return hashlib.sha256(material).digest()[:4]


def verifier_key(key_name: str, public_key: Ed25519PublicKey) -> str:
    """The vkey string ``<name>+<hex key ID>+<base64(0x01 || public key)>`` Go's tools read."""
    encoded = base64.b64encode(_ED25519 + _raw_public_key(public_key)).decode("ascii")
    return f"{key_name}+{key_id(key_name, public_key).hex()}+{encoded}"


def sign_note(body: str, key_name: str, private_key: Ed25519PrivateKey) -> str:
    """``body`` signed by ``private_key`` under ``key_name``: a signed note with one signature."""
    if not isinstance(private_key, Ed25519PrivateKey):
        raise InvalidInputError("notes are signed with an Ed25519 private key")
    if not isinstance(body, str) or not body.endswith("\n"):
        raise InvalidInputError("note text must end with a newline")
    if problem := _text_problem(body):
        raise InvalidInputError(f"note text {problem}")
    signature = private_key.sign(body.encode("utf-8"))
    encoded = base64.b64encode(key_id(key_name, private_key.public_key()) + signature)
    return f"{body}\n{_SIGNATURE_PREFIX}{key_name} {encoded.decode('ascii')}\n"


def open_note(note: str, key_name: str, public_key: Ed25519PublicKey) -> str:
    """The text of ``note`` if it carries a valid signature by this key; else InvalidInputError.

    Signatures by other keys (another name or another key ID) are ignored, as the spec
    requires; every signature by this key must verify, or the whole note is refused.
    """
    expected_id = key_id(key_name, public_key)
    key = f"{key_name}+{expected_id.hex()}"
    if not isinstance(note, str):
        raise _malformed_note("it is not text")
    if problem := _text_problem(note):
        raise _malformed_note(f"it {problem}")
    # The text ends at the last blank line; it may itself contain blank lines.
    split = note.rfind("\n\n")
    if split < 0:
        raise _malformed_note("no blank line separates the text from the signatures")
    text, signatures = note[: split + 1], note[split + 2 :]
    if not signatures.endswith("\n"):
        raise _malformed_note("it must end with signature lines, each ending in a newline")
    lines = signatures[:-1].split("\n")
    if len(lines) > _MAX_SIGNATURES:
        raise _malformed_note(f"more than {_MAX_SIGNATURES} signatures")
    message = text.encode("utf-8")
    verified = False
    for line in lines:
        if not line.startswith(_SIGNATURE_PREFIX):
            raise _malformed_note(f"{line[:80]!r} is not a signature line")
        name, _, encoded = line[len(_SIGNATURE_PREFIX) :].partition(" ")
        raw = _b64decode(encoded)
        if not _is_valid_name(name) or raw is None or len(raw) < 5:
            raise _malformed_note(f"{line[:80]!r} is not a signature line")
        if name != key_name or raw[:4] != expected_id:
            continue  # another key's signature: not ours to judge
        signature = raw[4:]
        try:
            if len(signature) != _ED25519_SIGNATURE_SIZE:
                raise InvalidSignature
            public_key.verify(signature, message)
        except InvalidSignature:
            raise InvalidInputError(
                f"note has an invalid signature by key {key}",
                hint="the note was altered after signing, or signed by a different key",
            ) from None
        verified = True
    if not verified:
        raise InvalidInputError(
            f"note has no signature by key {key}",
            hint="check the key name and public key this note is expected to be signed with",
        )
    return text


def _raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    if not isinstance(public_key, Ed25519PublicKey):
        raise InvalidInputError("note keys must be Ed25519 public keys")
    return public_key.public_bytes_raw()


def _is_valid_name(name: str) -> bool:
    # Non-empty, no Unicode spaces, no '+' (it separates the fields of a vkey); control
    # characters are refused too, as nowhere in a note may they appear.
    return (
        bool(name)
        and "+" not in name
        and not any(char.isspace() for char in name)
        and not _CONTROL.search(name)
    )


def _check_key_name(key_name: str) -> None:
    if not isinstance(key_name, str) or not _is_valid_name(key_name) or _text_problem(key_name):
        raise InvalidInputError(
            f"invalid key name {key_name!r}",
            hint="a key name is non-empty, without spaces or '+', e.g. example.com/log",
        )


def _check_line(line: str, what: str) -> None:
    if not isinstance(line, str) or not line or "\n" in line or _text_problem(line):
        raise InvalidInputError(
            f"{what} must be a non-empty line of text, not {line!r}",
            hint="no newlines or other ASCII control characters",
        )


def _text_problem(text: str) -> str | None:
    """Why ``text`` cannot be in a note (UTF-8, no ASCII controls but newline), or None."""
    if _CONTROL.search(text):
        return "contains an ASCII control character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8"
    return None


def _b64decode(text: str) -> bytes | None:
    """Standard padded base64 (RFC 4648 section 4), no whitespace or excess data; else None."""
    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (UnicodeEncodeError, binascii.Error):
        return None


def _malformed_note(why: str) -> InvalidInputError:
    return InvalidInputError(
        f"malformed signed note: {why}",
        hint="a signed note is text ending in a newline, a blank line, then lines "
        "'\u2014 <key name> <base64 signature>'",
    )


def _malformed_checkpoint(why: str) -> InvalidInputError:
    return InvalidInputError(
        f"malformed checkpoint: {why}",
        hint="a checkpoint is '<origin>', '<tree size>', '<base64 root hash>' lines, "
        "then optional extension lines",
    )

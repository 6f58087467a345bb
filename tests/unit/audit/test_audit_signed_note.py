"""Signed notes (c2sp.org/signed-note) interoperate with Go's golang.org/x/mod/sumdb/note.

Vectors:

* github.com/golang/mod, ``sumdb/note/note_test.go``: the PeterNeumann and EnochRoot keys, the
  note Go's ``Sign`` produces, ``TestOpen``'s signatures and malformed messages.
* github.com/transparency-dev/formats, ``log/note_test.go``: four more key pairs, and a real
  sum.golang.org checkpoint cosigned by three witnesses (``TestSumDBNoteParsing`` and
  ``BenchmarkParse``), checked with the key the go command pins in
  github.com/golang/go, ``src/cmd/go/internal/modfetch/key.go``.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import example, given
from hypothesis import strategies as st

from signoff.audit.checkpoint import Checkpoint, key_id, open_note, sign_note, verifier_key
from signoff.errors import InvalidInputError

PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngo"
    "tpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWL"
    "ox33WWd1RvMc+QQ=\n"
)

SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
SUMDB_NOTE = (
    "go.sum database tree\n6476701\nmb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n\n"
    "\u2014 sum.golang.org Az3grsLX85Gz+s1SiTbgkuqxgItqFq7gsMUEyVnrsa9LM7Us9S+1xbFIGu95949rj4nP"
    "RYfvimWEPWL+o3GeoWwOoAw=\n"
)
WITNESSES = {
    "monkeys+db4d9f7e+AULaJMvTtDLHPUcUrjdDad9vDlh/PTfC2VV60JUtCfWT": "\u2014 monkeys 202ffh9ve46"
    "Mqbhuyb4wnC2Pwdan5EsXQym/tF1ggXJqhjGosU4T5intH4iKMRgDLxrnXuIjRaU2NbvAnaepM6Y+8ww=\n",
    "bananas+cf639f13+AaPjhFnPCQnid/Ql32KWhmh+uk72FVRfK+2DLmO3BI3M": "\u2014 bananas z2OfE+2bbsB"
    "Z7NLgfuslc0v7NFW2QyexJ7fhePpoL2N/P7N/COd5S+JNHbQEAlYzz2C5sg0E+x/MggS1mDR6t3/9rQw=\n",
    "witness+f13a86db+AdYV1Ztajd9BvyjP2HgpwrqYL6TjOwIjGMOq8Bu42xbN": "\u2014 witness 8TqG25yWGFL"
    "dT7WPf/WoyeG3LwqtkXP+8S3yykOVm6EMh4hPgCke6eSVPU4BdtXNMPJBXKF+UpDbGgCdcpR8SVSoqAU=\n",
}
FORMATS_KEYS = [
    (
        "PRIVATE+KEY+Log+2271c621+AdEIq9FLRQni54Wg68T96VJO+iayOaulswav2DUMKgvQ",
        "Log+2271c621+AemuH5ooBpEPcr+W8onrjA1NfuzBVHdezakU81Ekarvs",
    ),
    (
        "PRIVATE+KEY+Known+451c786d+AQPRoE2+Z+Ed1HaHBA9F/FfracvcZ2rDU39kCecMEoci",
        "Known+451c786d+AXAQ0T7lbwuY4ABJ9/MYY9bWV3hmSyOGVt2x42NkmdUH",
    ),
    (
        "PRIVATE+KEY+KnownAgain+4893b26c+ARhZda/l25zjGZswYLDZsLNRzNpmv5wYTN9IoTr1OJ2+",
        "KnownAgain+4893b26c+AQ+LR7BFF/F/dkpIBjBpSvT0crkteizuUkavAoGeaYMj",
    ),
    (
        "PRIVATE+KEY+Unknown+fdbb2e08+Aav2knTC6orbhXX8pMWuNiWgO+Wwk2DB+h1eU2Q1W1nU",
        "Unknown+fdbb2e08+AWgRIYZ+8x1Vl+1Q+sR8zciNHiYI1SdlBjNw+RV0rots",
    ),
]


def signer(skey: str) -> tuple[str, Ed25519PrivateKey]:
    """Name and key of a Go signer key: PRIVATE+KEY+<name>+<id>+base64(0x01 || 32-byte seed)."""
    _, _, name, _, encoded = skey.split("+", 4)
    raw = base64.b64decode(encoded)
    assert raw[0] == 1
    return name, Ed25519PrivateKey.from_private_bytes(raw[1:])


def verifier(vkey: str) -> tuple[str, Ed25519PublicKey]:
    """Name and key of a Go verifier key: <name>+<id>+base64(0x01 || 32-byte public key)."""
    name, _, encoded = vkey.split("+", 2)
    raw = base64.b64decode(encoded)
    assert raw[0] == 1
    return name, Ed25519PublicKey.from_public_bytes(raw[1:])


def seeded(byte: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes([byte]) * 32)


# --- interoperability with Go ------------------------------------------------------------


@pytest.mark.parametrize(("skey", "vkey"), [(PETER_SKEY, PETER_VKEY), *FORMATS_KEYS])
def test_key_ids_and_vkeys_match_go(skey: str, vkey: str) -> None:
    name, private_key = signer(skey)
    assert verifier_key(name, private_key.public_key()) == vkey
    assert key_id(name, private_key.public_key()).hex() == skey.split("+")[3]


@pytest.mark.parametrize("vkey", [PETER_VKEY, ENOCH_VKEY, SUMDB_VKEY, *WITNESSES])
def test_verifier_keys_round_trip(vkey: str) -> None:
    assert verifier_key(*verifier(vkey)) == vkey


def test_sign_matches_go_byte_for_byte() -> None:
    # Ed25519 is deterministic, so Go's Sign output is reproducible exactly.
    assert sign_note(TEXT, *signer(PETER_SKEY)) == f"{TEXT}\n{PETER_SIG}"


def test_open_go_note_with_each_of_its_keys() -> None:
    note = f"{TEXT}\n{PETER_SIG}{ENOCH_SIG}"
    assert open_note(note, *verifier(PETER_VKEY)) == TEXT
    assert open_note(note, *verifier(ENOCH_VKEY)) == TEXT
    # Repeated signature lines are fine.
    assert open_note(f"{TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}", *verifier(PETER_VKEY)) == TEXT


def test_real_sum_golang_org_checkpoint_with_witness_cosignatures() -> None:
    assert open_note(SUMDB_NOTE, *verifier(SUMDB_VKEY)) == SUMDB_NOTE.split("\n\n")[0] + "\n"
    cosigned = SUMDB_NOTE + "".join(WITNESSES.values())
    for vkey in [SUMDB_VKEY, *WITNESSES]:
        body = open_note(cosigned, *verifier(vkey))  # the other signatures are ignored
        checkpoint = Checkpoint.parse(body)
        assert (checkpoint.origin, checkpoint.size) == ("go.sum database tree", 6476701)
        assert checkpoint.root == base64.b64decode("mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=")


def test_go_invalid_signature_case() -> None:
    # TestOpen inserts "ABCD" at byte 60 of the signature line; the em dash is three bytes in
    # UTF-8 but one character here, hence 58. The key ID survives, the signature does not.
    broken = PETER_SIG[:58] + "ABCD" + PETER_SIG[58:]
    with pytest.raises(
        InvalidInputError, match=re.escape("invalid signature by key PeterNeumann+c74f20a3")
    ):
        open_note(f"{TEXT}\n{broken}", *verifier(PETER_VKEY))


@pytest.mark.parametrize(
    "note",
    [
        # TestOpen's badMsgs. Go's "\xff" (invalid UTF-8) becomes a lone surrogate in a str.
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + TEXT + "\n" + PETER_SIG,
        "\udcff" + TEXT + "\n" + PETER_SIG,
        TEXT + "\n" + "\u2014 Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFY"
        "C2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        # ... and the limit on signatures.
        TEXT + "\n" + PETER_SIG * 101,
    ],
)
def test_go_malformed_notes_are_refused(note: str) -> None:
    with pytest.raises(InvalidInputError, match="malformed signed note"):
        open_note(note, *verifier(PETER_VKEY))


# --- our own keys ------------------------------------------------------------------------

NAME = "signoff.example/audit"
KEY = seeded(7)
BODY = Checkpoint("signoff.example/audit", 42, bytes(32)).body()


def test_sign_and_open_a_checkpoint() -> None:
    note = sign_note(BODY, NAME, KEY)
    assert note.startswith(BODY + "\n\u2014 signoff.example/audit ")
    assert Checkpoint.parse(open_note(note, NAME, KEY.public_key())).size == 42


names = st.text(
    st.characters(exclude_categories=("Cs", "Zs", "Zl", "Zp", "Cc"), exclude_characters="+"),
    min_size=1,
    max_size=20,
).filter(lambda s: not any(c.isspace() for c in s))
texts = st.text(
    st.characters(exclude_categories=["Cs"]).filter(lambda c: c == "\n" or ord(c) >= 0x20)
).map(lambda s: s + "\n")


@example("a\n\nb\n", NAME)
@example("a\n\n", NAME)
@example("\n", "x")
@given(texts, names)
def test_any_text_round_trips(text: str, name: str) -> None:
    # Text may contain blank lines: the last blank line of the note is the separator.
    assert open_note(sign_note(text, name, KEY), name, KEY.public_key()) == text


def test_tampered_text_is_refused() -> None:
    note = sign_note(BODY, NAME, KEY).replace("\n42\n", "\n43\n")
    with pytest.raises(InvalidInputError, match="invalid signature"):
        open_note(note, NAME, KEY.public_key())


def test_wrong_key_is_refused() -> None:
    note = sign_note(BODY, NAME, KEY)
    with pytest.raises(InvalidInputError, match=re.escape(f"no signature by key {NAME}+")):
        open_note(note, NAME, seeded(8).public_key())


def test_wrong_key_name_is_refused() -> None:
    note = sign_note(BODY, NAME, KEY)
    with pytest.raises(
        InvalidInputError, match=re.escape("no signature by key other.example/audit+")
    ):
        open_note(note, "other.example/audit", KEY.public_key())


def test_a_signature_under_our_name_and_id_by_another_key_is_refused() -> None:
    # Name and key ID match ours, so the signature must verify: it does not.
    forged = base64.b64encode(key_id(NAME, KEY.public_key()) + seeded(8).sign(BODY.encode()))
    note = f"{BODY}\n\u2014 {NAME} {forged.decode()}\n"
    with pytest.raises(InvalidInputError, match="invalid signature"):
        open_note(note, NAME, KEY.public_key())


def test_one_bad_signature_by_our_key_spoils_the_note() -> None:
    good = sign_note(BODY, NAME, KEY)
    forged = base64.b64encode(key_id(NAME, KEY.public_key()) + bytes(64)).decode()
    with pytest.raises(InvalidInputError, match="invalid signature"):
        open_note(f"{good}\u2014 {NAME} {forged}\n", NAME, KEY.public_key())


@pytest.mark.parametrize(
    "signature_line",
    [
        f"\u2014 {NAME}\n",  # no signature
        f"\u2014 {NAME} \n",
        f"\u2014 {NAME} AAAA\n",  # under five bytes
        f"\u2014 {NAME} not base64!\n",
        f"\u2014 {NAME} {base64.b64encode(bytes(68)).decode().rstrip('=')}\n",  # unpadded
        f"- {NAME} {base64.b64encode(bytes(68)).decode()}\n",  # hyphen, not em dash
        f"\u2014{NAME} {base64.b64encode(bytes(68)).decode()}\n",
        f"\u2014 a+b {base64.b64encode(bytes(68)).decode()}\n",
        "\n",
    ],
)
def test_malformed_signature_lines_are_refused(signature_line: str) -> None:
    with pytest.raises(InvalidInputError, match="malformed signed note"):
        open_note(f"{BODY}\n{signature_line}", NAME, KEY.public_key())


@pytest.mark.parametrize("text", ["no final newline", "tab\there\n", "\udc80\n", ""])
def test_sign_refuses_invalid_text(text: str) -> None:
    with pytest.raises(InvalidInputError, match="note text"):
        sign_note(text, NAME, KEY)


@pytest.mark.parametrize("name", ["", "two words", "a+b", "nbsp\u00a0name", "tab\tname"])
def test_invalid_key_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid key name"):
        sign_note(BODY, name, KEY)
    with pytest.raises(InvalidInputError, match="invalid key name"):
        verifier_key(name, KEY.public_key())
    with pytest.raises(InvalidInputError, match="invalid key name"):
        open_note(sign_note(BODY, NAME, KEY), name, KEY.public_key())


@pytest.mark.parametrize("key", [b"raw bytes", None, "key"])
def test_keys_must_be_ed25519(key: Any) -> None:
    with pytest.raises(InvalidInputError, match="Ed25519"):
        sign_note(BODY, NAME, key)
    with pytest.raises(InvalidInputError, match="Ed25519"):
        open_note(sign_note(BODY, NAME, KEY), NAME, key)

"""Key files: created 0600 and never overwritten; loose, missing or foreign keys are refused."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from signoff.errors import ConflictError, InvalidInputError
from signoff.keys import (
    KeyStore,
    generate_key,
    key_id,
    load_private_key,
    load_public_key_pem,
    public_key_pem,
    write_private_key,
)

# RFC 8032, section 7.1, test 1.
RFC8032_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def rsa_pem() -> tuple[bytes, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


def test_key_id_is_sha256_of_the_raw_public_key() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.from_private_bytes(RFC8032_SECRET)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert raw == RFC8032_PUBLIC
    assert key_id(key.public_key()) == hashlib.sha256(RFC8032_PUBLIC).hexdigest()


def test_public_key_pem_round_trips() -> None:
    public = generate_key().public_key()
    text = public_key_pem(public)
    assert text.startswith("-----BEGIN PUBLIC KEY-----")
    assert key_id(load_public_key_pem(text)) == key_id(public)


def test_non_ed25519_and_garbage_public_keys_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="not Ed25519"):
        load_public_key_pem(rsa_pem()[1])
    with pytest.raises(InvalidInputError, match="not a PEM public key"):
        load_public_key_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")


def test_written_key_is_0600_in_a_0700_directory_and_loads(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "alice.key"
    key = generate_key()
    write_private_key(path, key)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert key_id(load_private_key(path).public_key()) == key_id(key.public_key())


def test_key_is_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        write_private_key(tmp_path / "k.key", generate_key())
    finally:
        os.umask(previous)
    assert mode(tmp_path / "k.key") == 0o600


def test_overwrite_is_refused_and_the_key_kept(tmp_path: Path) -> None:
    path = tmp_path / "alice.key"
    write_private_key(path, first := generate_key())
    with pytest.raises(ConflictError, match="already exists"):
        write_private_key(path, generate_key())
    assert key_id(load_private_key(path).public_key()) == key_id(first.public_key())


def test_writing_through_a_symlink_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    (tmp_path / "alice.key").symlink_to(target)
    with pytest.raises(ConflictError):
        write_private_key(tmp_path / "alice.key", generate_key())
    assert not target.exists()


@pytest.mark.parametrize("loose", [0o644, 0o640, 0o604, 0o660, 0o602])
def test_key_readable_or_writable_by_others_is_refused(tmp_path: Path, loose: int) -> None:
    path = tmp_path / "alice.key"
    write_private_key(path, generate_key())
    path.chmod(loose)
    with pytest.raises(InvalidInputError, match="group or others") as caught:
        load_private_key(path)
    assert caught.value.hint == f"chmod 600 {path}"
    assert str(path) in caught.value.message


def test_read_only_owner_key_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "alice.key"
    write_private_key(path, generate_key())
    path.chmod(0o400)
    load_private_key(path)


def test_missing_key_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no key file") as caught:
        load_private_key(tmp_path / "nobody.key")
    assert "signoff key create" in (caught.value.hint or "")


def test_non_ed25519_and_garbage_private_keys_are_refused(tmp_path: Path) -> None:
    for name, content in [("rsa.key", rsa_pem()[0]), ("junk.key", b"not a key\n")]:
        path = tmp_path / name
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(content)
        with pytest.raises(InvalidInputError, match=name):
            load_private_key(path)


def test_a_directory_is_not_a_key(tmp_path: Path) -> None:
    (tmp_path / "dir.key").mkdir(mode=0o700)
    with pytest.raises(InvalidInputError, match="not a regular file"):
        load_private_key(tmp_path / "dir.key")


def test_keystore_creates_loads_and_refuses_a_second_key(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    assert not store.exists("alice@example.com")
    key = store.create("alice@example.com")
    assert store.path_for("alice@example.com") == tmp_path / "keys" / "alice@example.com.key"
    assert store.exists("alice@example.com")
    assert key_id(store.load("alice@example.com").public_key()) == key_id(key.public_key())
    with pytest.raises(ConflictError, match="already has a key"):
        store.create("alice@example.com")


def test_keystore_missing_key_hint_names_the_principal(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError) as caught:
        KeyStore(tmp_path).load("bob")
    assert caught.value.hint == "create one with `signoff key create bob`"


@pytest.mark.parametrize(
    "principal", ["alice", "ci-bot_1.release", "alice@example.com", "A", "7", "a" * 128]
)
def test_valid_principals(tmp_path: Path, principal: str) -> None:
    assert KeyStore(tmp_path).path_for(principal).parent == tmp_path


@pytest.mark.parametrize(
    "principal",
    [
        "",
        ".hidden",
        "-flag",
        "@alice",
        "../etc/passwd",
        "a/b",
        "a\\b",
        "a b",
        "é",
        "a" * 129,
        "alice\n",
        "a\x00b",
    ],
)
def test_invalid_principals_are_refused(tmp_path: Path, principal: str) -> None:
    store = KeyStore(tmp_path)
    for call in (store.path_for, store.exists, store.create, store.load):
        with pytest.raises(InvalidInputError, match="invalid principal name"):
            call(principal)


def test_a_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.key"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(InvalidInputError, match="not a regular file"):
        load_private_key(fifo)

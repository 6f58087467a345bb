"""Ed25519 signing keys as files: one PKCS8 PEM file per principal, readable by its owner only.

Key files are created with mode 0600 from the first byte (never chmod-ed after the fact, which
leaves a window), are never overwritten, and are refused on load when group or others may read
or write them: a key that others could have read is not proof of who signed.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from signoff.errors import ConflictError, InvalidInputError

PRINCIPAL_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")
KEY_SUFFIX = ".key"
MAX_KEY_FILE_BYTES = 64 * 1024  # an Ed25519 PKCS8 PEM is 119 bytes; refuse to slurp anything big


def generate_key() -> Ed25519PrivateKey:
    """A new random Ed25519 private key."""
    return Ed25519PrivateKey.generate()


def key_id(public_key: Ed25519PublicKey) -> str:
    """The key id: hex SHA-256 of the 32-byte raw public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    """The public key as a SubjectPublicKeyInfo PEM (``-----BEGIN PUBLIC KEY-----``)."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_key_pem(text: str) -> Ed25519PublicKey:
    """Parse a PEM public key; anything but Ed25519 raises ``InvalidInputError``."""
    try:
        key = serialization.load_pem_public_key(text.encode("utf-8"))
    except (ValueError, UnsupportedAlgorithm, UnicodeEncodeError):
        raise InvalidInputError(
            "not a PEM public key", hint="give the text `signoff key show PRINCIPAL` prints"
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInputError(
            f"public key is {type(key).__name__.removeprefix('_')}, not Ed25519",
            hint="signoff verifies Ed25519 keys only; create one with `signoff key create`",
        )
    return key


def write_private_key(path: Path, key: Ed25519PrivateKey) -> None:
    """Write ``key`` as unencrypted PKCS8 PEM to a new file of mode 0600.

    The parent directory is created with mode 0700 if missing. An existing file (or symlink) at
    ``path`` raises ``ConflictError``: keys are never overwritten.
    """
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # O_EXCL makes creation and the existence check one step (and refuses symlinks); the mode
    # applies at creation, so the key is never readable by others, not even for an instant.
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise ConflictError(
            f"key file {path} already exists",
            hint="keys are never overwritten; remove the file yourself to replace the key",
        ) from None
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(pem)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        # A half-written key would be refused on every later load and block re-creation.
        path.unlink(missing_ok=True)
        raise


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read an Ed25519 private key file, refusing one that group or others can access.

    Raises ``InvalidInputError`` for a missing or unreadable file, loose permissions, or
    content that is not an unencrypted Ed25519 PEM private key.
    """
    # O_NONBLOCK: opening a FIFO planted at the path must not hang (it is then refused below).
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise InvalidInputError(
            f"no key file at {path}", hint="create one with `signoff key create PRINCIPAL`"
        ) from None
    except OSError as error:
        raise InvalidInputError(
            f"cannot open key file {path}: {error.strerror}",
            hint="check the path and that you own the file",
        ) from None
    try:
        # fstat on the open descriptor checks the file actually read, not whatever the path
        # points to a moment later.
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInputError(
                f"key file {path} is not a regular file", hint="give the path of a .key file"
            )
        if info.st_mode & 0o077:
            raise InvalidInputError(
                f"key file {path} is accessible by group or others "
                f"(mode {stat.S_IMODE(info.st_mode):04o})",
                hint=f"chmod 600 {path}",
            )
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read(MAX_KEY_FILE_BYTES + 1)
    finally:
        os.close(fd)
    return _parse_private_key(data, path)


def _parse_private_key(data: bytes, path: Path) -> Ed25519PrivateKey:
    hint = "give a key file written by `signoff key create PRINCIPAL`"
    if len(data) > MAX_KEY_FILE_BYTES:
        raise InvalidInputError(f"key file {path} is too large to be a key", hint=hint)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:  # the PEM is encrypted
        raise InvalidInputError(
            f"key file {path} is encrypted", hint="signoff reads unencrypted keys only"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidInputError(f"key file {path} is not a PEM private key", hint=hint) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInputError(f"key file {path} holds a non-Ed25519 key", hint=hint)
    return key


def validate_principal(principal: str) -> str:
    """Return ``principal`` if it is a valid principal name, else raise ``InvalidInputError``."""
    if not PRINCIPAL_PATTERN.fullmatch(principal):
        raise InvalidInputError(
            f"invalid principal name {principal!r}",
            hint="use letters, digits, '.', '_', '@' and '-', starting with a letter or digit, "
            "at most 128 characters",
        )
    return principal


class KeyStore:
    """A directory of private keys, one ``<principal>.key`` file per principal."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    def path_for(self, principal: str) -> Path:
        """The key file of ``principal`` (validated: the name can never escape the directory)."""
        return self.directory / f"{validate_principal(principal)}{KEY_SUFFIX}"

    def exists(self, principal: str) -> bool:
        """Whether ``principal`` has a key file (not whether it is loadable)."""
        return self.path_for(principal).exists()

    def create(self, principal: str) -> Ed25519PrivateKey:
        """Generate and store a key for ``principal``; ``ConflictError`` if it already has one."""
        path = self.path_for(principal)
        key = generate_key()
        try:
            write_private_key(path, key)
        except ConflictError:
            raise ConflictError(
                f"principal {principal!r} already has a key at {path}",
                hint="keys are never overwritten; use the existing key",
            ) from None
        return key

    def load(self, principal: str) -> Ed25519PrivateKey:
        """The key of ``principal``; ``InvalidInputError`` if missing or unsafe."""
        path = self.path_for(principal)
        if not path.exists():
            raise InvalidInputError(
                f"principal {principal!r} has no key at {path}",
                hint=f"create one with `signoff key create {principal}`",
            )
        return load_private_key(path)

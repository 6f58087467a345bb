"""The root digest is byte-identical to the subject of a real OpenSSF model signing signature.

Each test signs with ``model_signing``'s public API (an elliptic-curve key made on the spot,
"files" serialization, default git ignores), reads the in-toto statement out of the DSSE
envelope of the signature bundle, and compares its subject digest and per-file resources with
``digest_path``.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import model_signing
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from signoff.artifacts import digest_path


@pytest.fixture
def signing_key(tmp_path: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "signing-key.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def sign_and_read_statement(model: Path, key: Path, signature: Path) -> dict[str, Any]:
    """Sign ``model`` with model_signing and return the in-toto statement it signed."""
    # model_signing is untyped; its Config() calls need the ignores under mypy --strict.
    hashing = model_signing.hashing.Config().use_file_serialization()  # type: ignore[no-untyped-call]
    signer = model_signing.signing.Config()  # type: ignore[no-untyped-call]
    (
        signer.use_elliptic_key_signer(private_key=key)
        .set_hashing_config(hashing)
        .sign(model, signature)
    )
    bundle = json.loads(signature.read_text())
    statement: dict[str, Any] = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    return statement


def test_directory_root_digest_equals_model_signing_subject(
    model_dir: Path, signing_key: Path, tmp_path: Path
) -> None:
    statement = sign_and_read_statement(model_dir, signing_key, tmp_path / "model.sig")
    manifest = digest_path(model_dir)

    [subject] = statement["subject"]
    assert manifest.root_digest == subject["digest"]["sha256"]
    resources = [(r["name"], r["digest"]) for r in statement["predicate"]["resources"]]
    assert [(f.path, f.sha256) for f in manifest.files] == resources
    # The tree really exercises the rules: ignored paths are absent, nested git paths are not,
    # and the order is by path components.
    paths = [f.path for f in manifest.files]
    assert not any(
        p.split("/")[0] in {".git", ".gitattributes", ".github", ".gitignore"} for p in paths
    )
    assert {"sub/.gitignore", "sub/.git/x", "empty.bin"} <= set(paths)
    assert paths.index("a/b") < paths.index("a-c")


def test_single_file_root_digest_equals_model_signing_subject(
    model_dir: Path, signing_key: Path, tmp_path: Path
) -> None:
    weights = model_dir / "weights" / "shard-00001.safetensors"
    statement = sign_and_read_statement(weights, signing_key, tmp_path / "weights.sig")
    manifest = digest_path(weights)

    [subject] = statement["subject"]
    assert manifest.root_digest == subject["digest"]["sha256"]
    resources = [(r["name"], r["digest"]) for r in statement["predicate"]["resources"]]
    assert (
        [(f.path, f.sha256) for f in manifest.files]
        == resources
        == [(".", manifest.files[0].sha256)]
    )


def test_empty_single_file_matches_model_signing(signing_key: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    statement = sign_and_read_statement(empty, signing_key, tmp_path / "empty.sig")
    assert digest_path(empty).root_digest == statement["subject"][0]["digest"]["sha256"]

"""Artifact digests: manifests of a file or directory, compatible with OpenSSF model signing.

``digest_path`` lists and validates the files (``walk``), hashes them on all cores
(``hashing``) and builds a ``Manifest`` whose root digest equals the in-toto subject digest that
``model_signing`` computes with its "files" serialization (``manifest``). ``verify`` compares a
path with a manifest (``digest``).
"""

from signoff.artifacts.digest import VerifyResult, digest_path, verify
from signoff.artifacts.manifest import FileDigest, Manifest
from signoff.artifacts.walk import list_files

__all__ = ["FileDigest", "Manifest", "VerifyResult", "digest_path", "list_files", "verify"]

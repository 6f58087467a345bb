"""An append-only, verifiable audit log: the pure parts, with no storage.

Events become leaves as their RFC 8785 canonical JSON (``canonical``); leaves form an RFC 9162
Merkle tree with inclusion and consistency proofs (``merkle``); tree heads are published as
C2SP checkpoints in Ed25519-signed notes (``checkpoint``).
"""

from signoff.audit.canonical import canonical_json, event_leaf, sha256_hex
from signoff.audit.checkpoint import Checkpoint, key_id, open_note, sign_note, verifier_key
from signoff.audit.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    MerkleTree,
    hash_leaves,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Checkpoint",
    "MerkleTree",
    "canonical_json",
    "event_leaf",
    "hash_leaves",
    "key_id",
    "leaf_hash",
    "node_hash",
    "open_note",
    "root_from_leaf_hashes",
    "sha256_hex",
    "sign_note",
    "verifier_key",
    "verify_consistency",
    "verify_inclusion",
]

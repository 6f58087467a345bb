"""Malformed input to the Merkle tree is refused with InvalidInputError, not a wrong answer."""

from __future__ import annotations

from typing import Any

import pytest

from signoff.audit.merkle import (
    MerkleTree,
    hash_leaves,
    leaf_hash,
    root_from_leaf_hashes,
    verify_inclusion,
)
from signoff.errors import InvalidInputError

LEAVES = [leaf_hash(bytes([i])) for i in range(5)]


@pytest.mark.parametrize("bad", [b"", b"x" * 31, b"x" * 33, "x" * 32, bytearray(32)])
def test_leaf_hashes_must_be_32_bytes(bad: Any) -> None:
    with pytest.raises(InvalidInputError, match="32-byte"):
        root_from_leaf_hashes([*LEAVES, bad])
    with pytest.raises(InvalidInputError, match="32-byte"):
        MerkleTree([bad])
    tree = MerkleTree(LEAVES)
    with pytest.raises(InvalidInputError):
        tree.append(bad)
    assert tree.size == len(LEAVES)  # a refused append leaves the tree unchanged


@pytest.mark.parametrize("size", [-1, 6, True])
def test_roots_exist_only_for_sizes_the_tree_has_had(size: Any) -> None:
    with pytest.raises(InvalidInputError, match="tree size"):
        MerkleTree(LEAVES).root(size)


@pytest.mark.parametrize(("index", "size"), [(-1, 5), (5, 5), (0, 0), (2, 2), (0, 6)])
def test_inclusion_proof_needs_a_leaf_inside_the_tree(index: int, size: int) -> None:
    with pytest.raises(InvalidInputError):
        MerkleTree(LEAVES).inclusion_proof(index, size)


@pytest.mark.parametrize(("old", "new"), [(-1, 5), (4, 3), (2, 6), (True, 5)])
def test_consistency_proof_needs_an_old_size_within_the_new(old: Any, new: int) -> None:
    with pytest.raises(InvalidInputError):
        MerkleTree(LEAVES).consistency_proof(old, new)


def test_trivial_consistency_proofs_are_empty() -> None:
    tree = MerkleTree(LEAVES)
    assert tree.consistency_proof(0) == []
    assert tree.consistency_proof(5) == []
    assert tree.consistency_proof(3, 3) == []


def test_verify_refuses_negative_positions_and_odd_lengths() -> None:
    tree = MerkleTree(LEAVES)
    proof = tree.inclusion_proof(0)
    assert verify_inclusion(LEAVES[0], 0, 5, proof, tree.root())
    assert not verify_inclusion(LEAVES[0], -1, 5, proof, tree.root())
    assert not verify_inclusion(LEAVES[0], 0, 5, [p + b"\x00" for p in proof], tree.root())


def test_hash_leaves_is_leaf_hash_in_bulk() -> None:
    entries = [b"", b"\x00", b"event"]
    assert hash_leaves(entries) == [leaf_hash(entry) for entry in entries]

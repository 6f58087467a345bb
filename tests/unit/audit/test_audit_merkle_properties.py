"""The fast paths agree with RFC 9162 written literally, and every proof verifies exactly once.

``merkle_reference`` is the literal recursive definition. Sizes are covered exhaustively where
that is cheap (every size to 300, every proof of every tree to 40) and by hypothesis beyond.
"""

from __future__ import annotations

import hashlib

import merkle_reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st

from signoff.audit.merkle import (
    MerkleTree,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

LEAVES = [leaf_hash(i.to_bytes(4, "big")) for i in range(300)]
SMALL = 40  # every proof of every tree up to this size
OTHER = hashlib.sha256(b"other").digest()

leaf_lists = st.lists(st.binary(max_size=8).map(leaf_hash), min_size=1, max_size=300)


def altered(value: bytes) -> bytes:
    return bytes([value[0] ^ 1]) + value[1:]


def test_fast_root_matches_the_recursive_definition_for_every_size_to_300() -> None:
    for size in range(len(LEAVES) + 1):
        assert root_from_leaf_hashes(LEAVES[:size]) == ref.mth(LEAVES[:size]), size


@settings(max_examples=60, deadline=None)
@given(leaf_lists)
def test_fast_root_matches_the_recursive_definition(leaves: list[bytes]) -> None:
    assert root_from_leaf_hashes(leaves) == ref.mth(leaves)


def test_tree_grown_one_leaf_at_a_time_keeps_every_past_root() -> None:
    tree = MerkleTree()
    for index, leaf in enumerate(LEAVES[:130]):
        assert tree.append(leaf) == index
    for size in range(131):
        assert tree.root(size) == ref.mth(LEAVES[:size]), size
    bulk = MerkleTree(LEAVES[:130])
    for index in range(0, 130, 7):
        assert tree.inclusion_proof(index) == bulk.inclusion_proof(index)
        assert tree.consistency_proof(index + 1) == bulk.consistency_proof(index + 1)


@settings(max_examples=40, deadline=None)
@given(leaf_lists, st.lists(st.integers(min_value=0, max_value=40), max_size=20))
def test_tree_extended_in_any_chunks_equals_the_tree_built_at_once(
    leaves: list[bytes], cuts: list[int]
) -> None:
    tree, start = MerkleTree(), 0
    for length in cuts:
        tree.extend(leaves[start : start + length])
        start += length
    tree.extend(leaves[start:])
    assert tree.size == len(leaves)
    assert tree.root() == root_from_leaf_hashes(leaves)
    assert tree.root(len(leaves) // 2) == ref.mth(leaves[: len(leaves) // 2])


def test_every_inclusion_proof_of_small_trees_verifies_and_tampering_fails() -> None:
    tree = MerkleTree(LEAVES[:SMALL])
    for size in range(1, SMALL + 1):
        root = tree.root(size)
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert proof == ref.path(index, LEAVES[:size]), (index, size)
            leaf = LEAVES[index]
            assert verify_inclusion(leaf, index, size, proof, root)
            assert not verify_inclusion(altered(leaf), index, size, proof, root)
            assert not verify_inclusion(leaf, index, size, proof, altered(root))
            assert not verify_inclusion(leaf, index + 1, size, proof, root)
            if index:
                assert not verify_inclusion(leaf, index - 1, size, proof, root)
            if proof:
                assert not verify_inclusion(leaf, index, size, [*proof, OTHER], root)
                assert not verify_inclusion(leaf, index, size, proof[:-1], root)
                assert not verify_inclusion(
                    leaf, index, size, [altered(proof[0]), *proof[1:]], root
                )


def test_every_consistency_proof_of_small_trees_verifies_and_altered_roots_fail() -> None:
    tree = MerkleTree(LEAVES[:SMALL])
    roots = [tree.root(size) for size in range(SMALL + 1)]
    for new in range(1, SMALL + 1):
        for old in range(1, new + 1):
            proof = tree.consistency_proof(old, new)
            assert proof == ref.proof(old, LEAVES[:new]), (old, new)
            assert verify_consistency(old, new, roots[old], roots[new], proof)
            assert not verify_consistency(old, new, altered(roots[old]), roots[new], proof)
            assert not verify_consistency(old, new, roots[old], altered(roots[new]), proof)
            if old < new:
                assert not verify_consistency(old, new, roots[new], roots[old], proof)
                # As in Go's probes, size2 * 2 and not size2 + 1: proofs do not pin the size
                # exactly (1 -> 3 and 1 -> 4 take the same path); the signed checkpoint does.
                assert not verify_consistency(old, new * 2, roots[old], roots[new], proof)
                assert not verify_consistency(old, new, roots[old], roots[new], proof[:-1])
                assert not verify_consistency(old, new, roots[old], roots[new], [*proof, OTHER])


@settings(max_examples=60, deadline=None)
@given(leaf_lists, st.data())
def test_proofs_in_larger_trees_verify(leaves: list[bytes], data: st.DataObject) -> None:
    tree = MerkleTree(leaves)
    size = data.draw(st.integers(min_value=1, max_value=len(leaves)), label="size")
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    old = data.draw(st.integers(min_value=1, max_value=size), label="old")
    root, old_root = ref.mth(leaves[:size]), ref.mth(leaves[:old])

    inclusion = tree.inclusion_proof(index, size)
    assert inclusion == ref.path(index, leaves[:size])
    assert verify_inclusion(leaves[index], index, size, inclusion, root)
    assert not verify_inclusion(leaves[index], index, size, inclusion, altered(root))

    consistency = tree.consistency_proof(old, size)
    assert consistency == ref.proof(old, leaves[:size])
    assert verify_consistency(old, size, old_root, root, consistency)
    assert not verify_consistency(old, size, altered(old_root), root, consistency)


def test_a_proof_of_another_tree_does_not_verify() -> None:
    ours, theirs = MerkleTree(LEAVES[:20]), MerkleTree(LEAVES[1:21])
    proof = theirs.inclusion_proof(5, 20)
    assert not verify_inclusion(LEAVES[5], 5, 20, proof, ours.root())
    assert not verify_consistency(7, 20, ours.root(7), ours.root(), theirs.consistency_proof(7))

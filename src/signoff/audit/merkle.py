"""RFC 9162 (Certificate Transparency v2, section 2.1) Merkle trees over SHA-256.

Leaves and interior nodes are domain-separated (``0x00`` / ``0x01`` prefixes), so a leaf can
never pass for a node. ``root_from_leaf_hashes`` is the fast path for verifying a whole log;
``MerkleTree`` grows by appending and proves inclusion and consistency at any past size; the
``verify_*`` functions check proofs with the RFC's own algorithms, independently of the tree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from signoff.errors import InvalidInputError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}), the root of the empty tree

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``: the hash of one log entry."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def hash_leaves(entries: Iterable[bytes]) -> list[bytes]:
    """``leaf_hash`` of each entry, in bulk: one comprehension, no call per entry."""
    sha256, prefix = hashlib.sha256, _LEAF_PREFIX
    return [sha256(prefix + entry).digest() for entry in entries]


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: the hash of an interior node."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """The RFC 9162 root (MTH) of a list of leaf hashes, computed level by level.

    Pairing each level left to right and carrying an odd last node up unchanged yields the
    recursive MTH, whose left subtree is always the largest perfect tree: every perfect subtree
    is hashed exactly when its two halves are, and the ragged right edge is folded last.
    """
    level = list(leaf_hashes)
    if not level:
        return EMPTY_ROOT
    _check_hashes(level)
    while len(level) > 1:
        carry = level[-1] if len(level) & 1 else None
        level = _pair_up(level)
        if carry is not None:
            level.append(carry)
    return level[0]


class MerkleTree:
    """An append-only tree of leaf hashes: roots and proofs at its current or any past size."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        # _levels[h][i] is the hash of the perfect subtree of 2**h leaves starting at leaf
        # i * 2**h. Only perfect subtrees are stored: they never change as the tree grows, and
        # every subtree hash a root or proof needs is a right fold of at most log2(n) of them.
        self._levels: list[list[bytes]] = [[]]
        self.extend(leaf_hashes)

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self._levels[0])

    def __len__(self) -> int:
        return self.size

    def append(self, leaf_hash: bytes) -> int:
        """Add one leaf hash; return its index. Amortised one node hash per leaf."""
        _check_hashes([leaf_hash])
        levels = self._levels
        index = len(levels[0])
        levels[0].append(leaf_hash)
        node, height = leaf_hash, 0
        # The new node completes a pair whenever its level becomes even: hash it upwards.
        while not len(levels[height]) & 1:
            node = node_hash(levels[height][-2], node)
            if height + 1 == len(levels):
                levels.append([])
            levels[height + 1].append(node)
            height += 1
        return index

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Add leaf hashes in order, hashing every perfect subtree they complete."""
        new = list(leaf_hashes)
        _check_hashes(new)
        self._levels[0].extend(new)
        height = 0
        while len(self._levels[height]) >= 2:
            if height + 1 == len(self._levels):
                self._levels.append([])
            lower, upper = self._levels[height], self._levels[height + 1]
            upper.extend(_pair_up(lower, 2 * len(upper)))
            height += 1

    def root(self, size: int | None = None) -> bytes:
        """The root hash of the first ``size`` leaves (default: all of them)."""
        size = self._check_size(size)
        return self._subtree(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 PATH(index, D[size]): proves leaf ``index`` is in the tree of ``size``."""
        size = self._check_size(size)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < size:
            raise InvalidInputError(
                f"leaf index {index!r} is not in a tree of size {size}",
                hint=f"use an index from 0 to {size - 1}" if size else "the tree is empty",
            )
        return self._path(index, 0, size)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """RFC 9162 PROOF(old_size, D[new_size]): proves the old tree is a prefix of the new.

        Empty when ``old_size`` is 0 or equal to ``new_size``: nothing needs proving then.
        """
        new_size = self._check_size(new_size)
        if isinstance(old_size, bool) or not isinstance(old_size, int):
            raise InvalidInputError(f"tree size must be an integer, not {old_size!r}")
        if not 0 <= old_size <= new_size:
            raise InvalidInputError(
                f"cannot prove consistency from size {old_size} to size {new_size}",
                hint="the old size must be between 0 and the new size",
            )
        if old_size == 0:
            return []
        return self._subproof(old_size, 0, new_size, True)

    def _check_size(self, size: int | None) -> int:
        if size is None:
            return self.size
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= self.size:
            raise InvalidInputError(
                f"tree size {size!r} is not between 0 and {self.size}",
                hint="proofs and roots exist only for sizes the tree has had",
            )
        return size

    def _subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]); ``start`` must be a multiple of the power of two >= the length.

        That alignment holds for every subtree RFC 9162's recursion visits. Taking the largest
        stored perfect subtree at each step then splits exactly where MTH splits.
        """
        blocks: list[bytes] = []
        while start < end:
            height = (end - start).bit_length() - 1
            assert start % (1 << height) == 0, "unaligned subtree"
            blocks.append(self._levels[height][start >> height])
            start += 1 << height
        acc = blocks.pop()
        while blocks:
            acc = node_hash(blocks.pop(), acc)
        return acc

    def _path(self, m: int, start: int, end: int) -> list[bytes]:
        """PATH(m, D[start:end]) as RFC 9162 2.1.3.1 defines it, recursively."""
        n = end - start
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return [*self._path(m, start, start + k), self._subtree(start + k, end)]
        return [*self._path(m - k, start + k, end), self._subtree(start, start + k)]

    def _subproof(self, m: int, start: int, end: int, complete: bool) -> list[bytes]:
        """SUBPROOF(m, D[start:end], b) as RFC 9162 2.1.4.1 defines it, recursively."""
        n = end - start
        if m == n:
            return [] if complete else [self._subtree(start, end)]
        k = _split(n)
        if m <= k:
            return [*self._subproof(m, start, start + k, complete), self._subtree(start + k, end)]
        return [*self._subproof(m - k, start + k, end, False), self._subtree(start, start + k)]


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows ``leaf_hash`` at ``index`` in the tree of ``size`` with ``root``.

    RFC 9162 2.1.3.2, step by step. Hashes of the wrong length fail the proof.
    """
    if not (_is_hash(leaf_hash) and _is_hash(root) and all(map(_is_hash, proof))):
        return False
    # 1. The leaf must be inside the tree.
    if not 0 <= index < size:
        return False
    # 2., 3.
    fn, sn = index, size - 1
    r = leaf_hash
    # 4.
    for p in proof:
        if sn == 0:  # a.
            return False
        if fn & 1 or fn == sn:  # b.
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1  # c.
        sn >>= 1
    # 5.
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree (``old_size``, ``old_root``) is a prefix of the new one.

    RFC 9162 2.1.4.2, step by step, for 0 < old_size < new_size. The RFC defines no proof for
    the edge cases, so: equal sizes need equal roots and an empty proof; the empty tree (whose
    root must be ``EMPTY_ROOT``) is a prefix of every tree, with an empty proof.
    """
    if not (_is_hash(old_root) and _is_hash(new_root) and all(map(_is_hash, proof))):
        return False
    if not 0 <= old_size <= new_size:
        return False
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT and (new_size > 0 or new_root == EMPTY_ROOT)
    if old_size == new_size:
        return not proof and old_root == new_root
    # 1.
    if not proof:
        return False
    path = list(proof)
    # 2.
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    # 3.
    fn, sn = old_size - 1, new_size - 1
    # 4.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5.
    fr = sr = path[0]
    # 6.
    for c in path[1:]:
        if sn == 0:  # a.
            return False
        if fn & 1 or fn == sn:  # b.
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1  # c.
        sn >>= 1
    # 7.
    return fr == old_root and sr == new_root and sn == 0


def _pair_up(level: Sequence[bytes], start: int = 0) -> list[bytes]:
    """Node hashes of the complete pairs of ``level[start:]``; an odd last node is dropped.

    The hot loop of every root: one list comprehension with locally bound names, no per-node
    function call beyond hashlib itself.
    """
    pairs = iter(level[start:])
    sha256, prefix = hashlib.sha256, _NODE_PREFIX
    # strict=False on purpose: zip(it, it) drops the unpaired last node, which callers carry.
    return [
        sha256(prefix + left + right).digest() for left, right in zip(pairs, pairs, strict=False)
    ]


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1): where MTH splits D[n]."""
    return 1 << ((n - 1).bit_length() - 1)


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _check_hashes(hashes: list[bytes]) -> None:
    # map/set run in C: about 20 ms for a million hashes, cheap beside hashing them.
    if set(map(type, hashes)) - {bytes} or set(map(len, hashes)) - {HASH_SIZE}:
        raise InvalidInputError(
            f"leaf hashes must be {HASH_SIZE}-byte SHA-256 digests",
            hint="hash entries with leaf_hash() first",
        )

"""Inclusion and consistency proofs over the audit log, anchored to signed checkpoints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from signoff.audit.merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion
from signoff.errors import InvalidInputError, NotFoundError
from signoff.store import StoreSession
from signoff.store.eventlog import Event


@dataclass(frozen=True)
class InclusionProof:
    """Proof that event ``seq`` is in the log of ``size`` events signed in ``checkpoint``."""

    event: Event
    leaf_hash: str
    size: int
    root: str
    proof: tuple[str, ...]
    checkpoint: str
    verified: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (all a verifier needs offline, with the registry's public key)."""
        return {
            "event": self.event.to_dict(),
            "leaf_hash": self.leaf_hash,
            "tree_size": self.size,
            "root": self.root,
            "inclusion_proof": list(self.proof),
            "checkpoint": self.checkpoint,
            "verified": self.verified,
        }


@dataclass(frozen=True)
class ConsistencyProof:
    """Proof that the log of ``new_size`` events extends the log of ``old_size`` events."""

    old_size: int
    new_size: int
    old_root: str
    new_root: str
    proof: tuple[str, ...]
    old_checkpoint: str | None
    new_checkpoint: str
    verified: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "old_size": self.old_size,
            "new_size": self.new_size,
            "old_root": self.old_root,
            "new_root": self.new_root,
            "consistency_proof": list(self.proof),
            "old_checkpoint": self.old_checkpoint,
            "new_checkpoint": self.new_checkpoint,
            "verified": self.verified,
        }


def _tree_to_checkpoint(tx: StoreSession) -> tuple[MerkleTree, int, str]:
    checkpoint = tx.events.latest_checkpoint()
    if checkpoint is None:
        raise NotFoundError(
            "the audit log has no signed checkpoint yet",
            hint="checkpoints are signed by the registry key on every change",
        )
    tree = MerkleTree()
    for seq, leaf in tx.events.iter_leaves():
        if seq >= checkpoint.size:
            break
        tree.append(leaf_hash(leaf.encode("utf-8")))
    return tree, checkpoint.size, checkpoint.note


def inclusion_proof(tx: StoreSession, seq: int) -> InclusionProof:
    """Prove event ``seq`` against the newest signed checkpoint."""
    event = tx.events.get(seq)
    if event is None or seq < 0:
        raise NotFoundError(f"event {seq} not found", hint="list events with `signoff audit log`")
    tree, size, note = _tree_to_checkpoint(tx)
    if seq >= size:
        raise InvalidInputError(
            f"event {seq} is newer than the last checkpoint ({size} events)",
            hint="it is sealed by the next change; try again after it",
        )
    proof = tree.inclusion_proof(seq, size)
    root = tree.root(size)
    leaf = leaf_hash(_leaf_text(tx, seq).encode("utf-8"))
    return InclusionProof(
        event=event,
        leaf_hash=leaf.hex(),
        size=size,
        root=root.hex(),
        proof=tuple(p.hex() for p in proof),
        checkpoint=note,
        verified=verify_inclusion(leaf, seq, size, proof, root),
    )


def consistency_proof(tx: StoreSession, old_size: int) -> ConsistencyProof:
    """Prove the newest signed checkpoint extends the log as it was at ``old_size``."""
    tree, size, note = _tree_to_checkpoint(tx)
    if not 1 <= old_size <= size:
        raise InvalidInputError(
            f"old size {old_size} is outside 1..{size}",
            hint="give the tree size of an earlier checkpoint",
        )
    proof = tree.consistency_proof(old_size, size)
    old_root, new_root = tree.root(old_size), tree.root(size)
    old = tx.events.checkpoint(old_size)
    return ConsistencyProof(
        old_size=old_size,
        new_size=size,
        old_root=old_root.hex(),
        new_root=new_root.hex(),
        proof=tuple(p.hex() for p in proof),
        old_checkpoint=old.note if old is not None else None,
        new_checkpoint=note,
        verified=verify_consistency(old_size, size, old_root, new_root, proof),
    )


def _leaf_text(tx: StoreSession, seq: int) -> str:
    for found, leaf in tx.events.iter_leaves(start=seq, batch=1):
        if found == seq:
            return leaf
        break
    raise NotFoundError(f"event {seq} not found")

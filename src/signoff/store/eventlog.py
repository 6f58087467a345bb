"""The audit event log inside a store transaction: append events, keep the Merkle frontier.

Each event is a leaf of an RFC 9162 Merkle tree whose leaf data is the RFC 8785 canonical JSON
of the event, stored verbatim. The single ``log_state`` row holds the tree size and its
*frontier* (the roots of the perfect subtrees along the right edge, at most log2(n) hashes), so
appending and computing the current root cost O(log n) instead of re-reading the log. Locking
that row serialises event writers: sequence numbers are gap-free and leaves are in commit order.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select
from sqlalchemy.orm import Session

from signoff.audit.canonical import event_leaf
from signoff.audit.merkle import leaf_hash, node_hash
from signoff.errors import StoreError
from signoff.store.schema import CheckpointRow, EventRow, LogStateRow

EMPTY_ROOT = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
"""RFC 9162: the hash of an empty tree is SHA-256 of the empty string."""


@dataclass(frozen=True)
class Event:
    """One audit event, parsed from its leaf."""

    seq: int
    type: str
    actor: str
    at: str
    subject: str
    data: dict[str, Any]

    @classmethod
    def from_leaf(cls, leaf: str) -> Event:
        """Parse stored leaf text; ``ValueError`` if it is not an event."""
        content = json.loads(leaf)
        if not isinstance(content, dict) or set(content) != {
            "seq",
            "type",
            "actor",
            "at",
            "subject",
            "data",
        }:
            raise ValueError("not an event")
        return cls(
            seq=int(content["seq"]),
            type=str(content["type"]),
            actor=str(content["actor"]),
            at=str(content["at"]),
            subject=str(content["subject"]),
            data=dict(content["data"]),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "seq": self.seq,
            "type": self.type,
            "actor": self.actor,
            "at": self.at,
            "subject": self.subject,
            "data": self.data,
        }


def _frontier_append(nodes: list[tuple[int, bytes]], leaf: bytes) -> list[tuple[int, bytes]]:
    nodes = [*nodes, (0, leaf)]
    while len(nodes) >= 2 and nodes[-1][0] == nodes[-2][0]:
        (height, left), (_, right) = nodes[-2], nodes[-1]
        nodes[-2:] = [(height + 1, node_hash(left, right))]
    return nodes


def frontier_root(nodes: list[tuple[int, bytes]]) -> bytes:
    """The RFC 9162 root of a tree given its frontier (right-edge perfect subtree roots)."""
    if not nodes:
        return EMPTY_ROOT
    root = nodes[-1][1]
    for _, left in reversed(nodes[:-1]):
        root = node_hash(left, root)
    return root


class EventLog:
    """Appends to and reads the audit log within one open transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session
        # The log state row and its decoded frontier, once this transaction holds the lock.
        self._locked: tuple[LogStateRow, list[tuple[int, bytes]]] | None = None

    def _state(self) -> LogStateRow:
        state = self.session.scalars(
            select(LogStateRow).where(LogStateRow.id == 1).with_for_update()
        ).one_or_none()
        if state is None:
            raise StoreError(
                "the registry has no audit log state",
                hint="the database was changed outside signoff; restore it from a backup",
            )
        return state

    def append(
        self, type_: str, *, actor: str, at: datetime, subject: str, data: Mapping[str, Any]
    ) -> Event:
        """Append one event (call last in a transaction: it takes the log lock).

        The first append locks and reads the state row; later ones in the same transaction reuse
        it (the lock is held until commit). The event row is inserted at once with a Core
        statement; the state row is updated in the session and flushed with the next query or
        the commit, so a batch of appends costs one state update, not one each.
        """
        if self._locked is None:
            state = self._state()
            self._locked = (state, _load_frontier(state.frontier))
        state, nodes = self._locked
        event = Event(state.size, type_, actor, at.isoformat(), subject, dict(data))
        leaf = event_leaf(event.to_dict())
        nodes = _frontier_append(nodes, leaf_hash(leaf))
        self._locked = (state, nodes)
        state.size = event.seq + 1
        state.frontier = {"nodes": [[height, node.hex()] for height, node in nodes]}
        # Connection-level: no autoflush of the pending state update on every append.
        self.session.connection().execute(
            insert(EventRow), [{"seq": event.seq, "leaf": leaf.decode("utf-8")}]
        )
        return event

    def head(self) -> tuple[int, bytes]:
        """The current tree size and root (from the frontier)."""
        state = self.session.get(LogStateRow, 1)
        if state is None:
            return 0, EMPTY_ROOT
        return state.size, frontier_root(_load_frontier(state.frontier))

    def add_checkpoint(self, size: int, root: bytes, note: str, at: datetime) -> None:
        """Store a signed checkpoint (at most one per size)."""
        if self.session.get(CheckpointRow, size) is None:
            self.session.add(CheckpointRow(size=size, root=root.hex(), note=note, created_at=at))
            self.session.flush()

    def latest_checkpoint(self) -> CheckpointRow | None:
        """The checkpoint over the largest tree."""
        return self.session.scalars(
            select(CheckpointRow).order_by(CheckpointRow.size.desc()).limit(1)
        ).one_or_none()

    def checkpoint(self, size: int) -> CheckpointRow | None:
        """The checkpoint at exactly ``size``, if one was signed."""
        return self.session.get(CheckpointRow, size)

    def iter_leaves(self, start: int = 0, batch: int = 20_000) -> Iterator[tuple[int, str]]:
        """``(seq, leaf text)`` from ``start`` in sequence order, streamed in batches."""
        batches = self.iter_leaf_batches(start, batch)
        try:
            for rows in batches:
                yield from rows
        finally:
            batches.close()  # closes the cursor now when the consumer stops early

    def iter_leaf_batches(
        self, start: int = 0, batch: int = 20_000
    ) -> Generator[Sequence[Row[int, str]], None, None]:
        """The same rows as ``iter_leaves``, ``batch`` at a time: a plain Core select on the
        transaction's connection (no ORM row processing), streamed with ``yield_per``."""
        statement = (
            select(EventRow.seq, EventRow.leaf).where(EventRow.seq >= start).order_by(EventRow.seq)
        )
        result = self.session.connection().execute(
            statement, execution_options={"yield_per": batch}
        )
        try:
            yield from result.partitions()
        finally:
            # A consumer that stops early must not leave a server-side cursor open.
            result.close()

    def get(self, seq: int) -> Event | None:
        """The event at ``seq``."""
        row = self.session.get(EventRow, seq)
        return Event.from_leaf(row.leaf) if row is not None else None


def _load_frontier(frontier: Mapping[str, Any]) -> list[tuple[int, bytes]]:
    return [(int(height), bytes.fromhex(node)) for height, node in frontier.get("nodes", [])]

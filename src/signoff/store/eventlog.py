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
from typing import Any, Protocol

from sqlalchemy import Connection, Row, bindparam, insert, select, update
from sqlalchemy.orm import Session

from signoff.audit.canonical import event_leaf
from signoff.audit.merkle import leaf_hash, node_hash
from signoff.errors import StoreError
from signoff.store.prepared import Prepared
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


_LOCK_STATE = Prepared(
    select(LogStateRow.size, LogStateRow.frontier).where(LogStateRow.id == 1).with_for_update()
)
_READ_STATE = Prepared(select(LogStateRow.size, LogStateRow.frontier).where(LogStateRow.id == 1))
_WRITE_STATE = Prepared(
    update(LogStateRow)
    .where(LogStateRow.id == 1)
    .values(size=bindparam("new_size"), frontier=bindparam("new_frontier"))
)
_INSERT_EVENT = Prepared(insert(EventRow))
_INSERT_CHECKPOINT = Prepared(insert(CheckpointRow))


class Transaction(Protocol):
    """What ``EventLog`` uses of its transaction (``StoreSession``)."""

    @property
    def connection(self) -> Connection:
        """The transaction's connection."""
        ...

    @property
    def session(self) -> Session:
        """An ORM session on the transaction's connection."""
        ...


class EventLog:
    """Appends to and reads the audit log within one open transaction."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx
        self._conn = tx.connection
        # The log size and decoded frontier, once this transaction holds the state row's lock.
        self._locked: tuple[int, list[tuple[int, bytes]]] | None = None
        self._appended = 0
        self._pending: list[dict[str, Any]] = []  # event rows not inserted yet
        self._sealed: int | None = None  # the size this transaction stored a checkpoint at

    @property
    def session(self) -> Session:
        """An ORM session on the transaction's connection."""
        return self._tx.session

    @property
    def appended(self) -> int:
        """How many events this transaction appended."""
        return self._appended

    def _lock(self) -> tuple[int, list[tuple[int, bytes]]]:
        row = _LOCK_STATE.first(self._conn)
        if row is None:
            raise StoreError(
                "the registry has no audit log state",
                hint="the database was changed outside signoff; restore it from a backup",
            )
        return int(row[0]), _load_frontier(row[1])

    def append(
        self, type_: str, *, actor: str, at: datetime, subject: str, data: Mapping[str, Any]
    ) -> Event:
        """Append one event (call last in a transaction: it takes the log lock).

        The first append locks and reads the state row; later ones in the same transaction reuse
        it (the lock is held until commit). The event rows, the new size and the frontier are
        written by ``flush`` before the commit (``Store`` calls it; reading events here flushes
        the rows first), so a transaction's appends cost one insert and one state update.
        """
        if self._locked is None:
            self._locked = self._lock()
        size, nodes = self._locked
        event = Event(size, type_, actor, at.isoformat(), subject, dict(data))
        leaf = event_leaf(event.to_dict())
        self._pending.append({"seq": size, "leaf": leaf.decode("utf-8")})
        self._locked = (size + 1, _frontier_append(nodes, leaf_hash(leaf)))
        self._appended += 1
        return event

    def _insert_pending(self) -> None:
        if self._pending:
            rows, self._pending = self._pending, []
            _INSERT_EVENT.run_many(self._conn, rows)

    def flush(self) -> None:
        """Write the events appended and the size and frontier they reached (before commit)."""
        self._insert_pending()
        if self._locked is None or not self._appended:
            return
        size, nodes = self._locked
        frontier = {"nodes": [[height, node.hex()] for height, node in nodes]}
        _WRITE_STATE.run(self._conn, {"new_size": size, "new_frontier": frontier})

    def head(self) -> tuple[int, bytes]:
        """The current tree size and root (from the frontier)."""
        if self._locked is not None:
            size, nodes = self._locked
            return size, frontier_root(nodes)
        row = _READ_STATE.first(self._conn)
        if row is None:
            return 0, EMPTY_ROOT
        return int(row[0]), frontier_root(_load_frontier(row[1]))

    def sealed(self, size: int) -> bool:
        """Whether a checkpoint at ``size`` exists.

        After this transaction appended, none can exist at its new size unless this transaction
        stored it (the log only grows, and this transaction holds its lock): no query then.
        """
        if self._sealed == size:
            return True
        if self._appended and self._locked is not None and self._locked[0] == size:
            return False
        return self.checkpoint(size) is not None

    def add_checkpoint(self, size: int, root: bytes, note: str, at: datetime) -> None:
        """Store a signed checkpoint (at most one per size)."""
        if self.sealed(size):
            return
        _INSERT_CHECKPOINT.run(
            self._conn, {"size": size, "root": root.hex(), "note": note, "created_at": at}
        )
        self._sealed = size

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
        self._insert_pending()
        statement = (
            select(EventRow.seq, EventRow.leaf).where(EventRow.seq >= start).order_by(EventRow.seq)
        )
        result = self._conn.execute(statement, execution_options={"yield_per": batch})
        try:
            yield from result.partitions()
        finally:
            # A consumer that stops early must not leave a server-side cursor open.
            result.close()

    def get(self, seq: int) -> Event | None:
        """The event at ``seq``."""
        self._insert_pending()
        row = self.session.get(EventRow, seq)
        return Event.from_leaf(row.leaf) if row is not None else None


def _load_frontier(frontier: Mapping[str, Any]) -> list[tuple[int, bytes]]:
    return [(int(height), bytes.fromhex(node)) for height, node in frontier.get("nodes", [])]

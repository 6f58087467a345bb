"""``audit verify``: recompute the Merkle log and cross-check every row against its events.

The log proves itself: its root is recomputed from the stored leaves and compared with the
newest checkpoint the registry key signed, so a modified, deleted, inserted or reordered event
changes the root. Rows prove themselves against the log: every version, evidence, model, key,
exception and policy row is re-digested and compared with the digest its event recorded, and
stages and aliases are compared with the last event that set them. Anything that cannot be
checked is a problem too (fail closed).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from signoff.audit.checkpoint import Checkpoint, open_note
from signoff.audit.merkle import hash_leaves, root_from_leaf_hashes
from signoff.errors import InvalidInputError, SignoffError
from signoff.governance.collector import gc_paused
from signoff.keys import load_public_key_pem
from signoff.store import StoreSession
from signoff.store.governance import KeyRecord
from signoff.store.row_digests import (
    evidence_digest,
    exception_digest,
    model_digest,
    version_digest,
)

_BATCH = 50_000  # events read, hashed and parsed per round
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class AuditReport:
    """What ``audit verify`` found: ``ok`` only when there are no problems at all."""

    size: int
    root: str
    checkpoint_size: int | None
    problems: tuple[str, ...]
    checked: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the log and every row check out."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "ok": self.ok,
            "size": self.size,
            "root": self.root,
            "checkpoint_size": self.checkpoint_size,
            "problems": list(self.problems),
            "checked": dict(self.checked),
        }


@dataclass
class _Recorded:
    """What the events say each row should be."""

    versions: dict[tuple[str, int], str] = field(default_factory=dict)
    stages: dict[tuple[str, int], str] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)
    evidence: dict[int, str] = field(default_factory=dict)
    exceptions: dict[str, str] = field(default_factory=dict)
    policies: dict[int, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    aliases: dict[tuple[str, str], tuple[int, str, str]] = field(default_factory=dict)

    def record(self, event: dict[str, Any]) -> None:
        # The most frequent kinds first: the branches exclude each other.
        kind, data = event["type"], event["data"]
        if kind == "alias.moved":
            move = (data["model"], data["alias"], data["from"], data["to"])
            self.aliases[move[:2]] = (data["to"], event["actor"], event["at"])
        elif kind == "evidence.attached":
            self.evidence[data["evidence_id"]] = data["row_digest"]
        elif kind == "stage.changed":
            self.stages[(data["model"], data["number"])] = data["to"]
        elif kind == "version.registered":
            self.versions[(data["model"], data["number"])] = data["row_digest"]
            self.stages[(data["model"], data["number"])] = "candidate"
        elif kind == "model.created":
            self.models[data["model"]] = data["row_digest"]
        elif kind == "exception.granted":
            self.exceptions[data["name"]] = data["row_digest"]
        elif kind == "policy.set":
            self.policies[data["policy_id"]] = data["digest"]
        elif kind == "key.registered":
            self.keys[data["keyid"]] = f"{data['principal']}:{data['public_key_sha256']}"
        elif kind == "key.revoked":
            self.revoked.add(data["keyid"])


def verify_audit_log(tx: StoreSession, registry_principal: str) -> AuditReport:
    """Recompute the log and cross-check all rows; never raises for what it finds."""
    with gc_paused():
        return _verify(tx, registry_principal)


def _verify(tx: StoreSession, registry_principal: str) -> AuditReport:
    problems: list[str] = []
    leaves, recorded = _read_log(tx, problems)
    size = len(leaves)
    root = root_from_leaf_hashes(leaves) if leaves else hashlib.sha256(b"").digest()
    state_size, state_root = tx.events.head()
    if (state_size, state_root) != (size, root):
        problems.append(
            f"the log holds {size} events with root {root.hex()[:16]}, but its state says "
            f"{state_size} events with root {state_root.hex()[:16]}"
        )
    checkpoint_size = _check_checkpoint(tx, registry_principal, leaves, root, problems)
    checked = _cross_check_rows(tx, recorded, problems)
    return AuditReport(
        size=size,
        root=root.hex(),
        checkpoint_size=checkpoint_size,
        problems=tuple(problems),
        checked=checked,
    )


_ALIAS_MOVED = '"type":"alias.moved"}'
_SUBJECT = '"subject":"'


def _read_log(tx: StoreSession, problems: list[str]) -> tuple[list[bytes], _Recorded]:
    """Each stored leaf's hash, up to the first missing sequence number, and what they record.

    Read in batches: a batch's sequence numbers are checked in one comparison and its leaves
    hashed by ``hash_leaves``; each leaf is parsed once (``_parse``).
    """
    recorded = _Recorded()
    record = recorded.record
    leaves: list[bytes] = []
    last_moves: dict[str, tuple[int, str]] = {}
    expected = 0
    for rows in tx.events.iter_leaf_batches(batch=_BATCH):
        seqs = [seq for seq, _ in rows]
        gap: int | None = None
        if seqs != list(range(expected, expected + len(seqs))):
            gap = next(i for i, seq in enumerate(seqs) if seq != expected + i)
            rows = rows[:gap]
        leaves.extend(hash_leaves([leaf.encode("utf-8") for _, leaf in rows]))
        for seq, leaf in rows:
            if leaf.endswith(_ALIAS_MOVED):
                # Only the last move of each alias is cross-checked (against the aliases table),
                # so keep the leaf by subject and parse the survivors once, at the end. Every
                # leaf's bytes are still hashed into the root checked against the checkpoint.
                start = leaf.rfind(_SUBJECT)
                if start != -1:
                    end = leaf.find('"', start + len(_SUBJECT))
                    last_moves[leaf[start + len(_SUBJECT) : end]] = (seq, leaf)
                    continue
            try:
                event = _parse(leaf)
                if event["seq"] != seq:
                    problems.append(f"event {seq} holds the content of event {event['seq']}")
                record(event)
            except (ValueError, KeyError, TypeError):
                problems.append(f"event {seq} is not a well-formed event")
        if gap is not None:
            missing = expected + gap
            problems.append(f"event {missing} is missing (the next stored event is {seqs[gap]})")
            break
        expected += len(rows)
    for seq, leaf in sorted(last_moves.values()):
        try:
            event = _parse(leaf)
            if event["seq"] != seq:
                problems.append(f"event {seq} holds the content of event {event['seq']}")
            record(event)
        except (ValueError, KeyError, TypeError):
            problems.append(f"event {seq} is not a well-formed event")
    return leaves, recorded


def _parse(leaf: str) -> Any:
    """``json.loads(leaf)`` without its wrapper's overhead for a leaf that starts with ``{``.

    ``json.loads`` skips leading whitespace (there is none), calls ``raw_decode`` and refuses
    anything but whitespace after the value; a leaf with anything after its value goes to
    ``json.loads`` itself, so the results and errors are the same.
    """
    if leaf[:1] == "{":
        value, end = _DECODER.raw_decode(leaf)
        if end == len(leaf):
            return value
    return json.loads(leaf)


def _check_checkpoint(
    tx: StoreSession, principal: str, leaves: list[bytes], root: bytes, problems: list[str]
) -> int | None:
    row = tx.events.latest_checkpoint()
    if row is None:
        if leaves:
            problems.append("no signed checkpoint: the log is not sealed by the registry key")
        return None
    body = _open_with_any(row.note, principal, tx.gov.list_keys(principal))
    if body is None:
        problems.append(f"checkpoint {row.size} is not signed by a registered registry key")
        return row.size
    try:
        checkpoint = Checkpoint.parse(body)
    except InvalidInputError as exc:
        problems.append(f"checkpoint {row.size} is malformed: {exc.message}")
        return row.size
    if checkpoint.size != row.size or checkpoint.root.hex() != row.root:
        problems.append(f"checkpoint {row.size}: stored size/root differ from the signed note")
    if checkpoint.size > len(leaves):
        problems.append(
            f"the signed checkpoint covers {checkpoint.size} events but only {len(leaves)} remain"
        )
    elif (
        root if checkpoint.size == len(leaves) else root_from_leaf_hashes(leaves[: checkpoint.size])
    ) != checkpoint.root:
        problems.append(
            f"the first {checkpoint.size} events do not match the signed checkpoint "
            "(an event was modified, removed, inserted or reordered)"
        )
    if checkpoint.size < len(leaves):
        problems.append(
            f"{len(leaves) - checkpoint.size} event(s) after the last checkpoint are not sealed"
        )
    return checkpoint.size


def _open_with_any(note: str, principal: str, keys: Iterable[KeyRecord]) -> str | None:
    for key in keys:
        try:
            return open_note(note, principal, load_public_key_pem(key.public_key))
        except SignoffError:
            continue
    return None


def _cross_check_rows(tx: StoreSession, rec: _Recorded, problems: list[str]) -> dict[str, int]:
    checked = {
        "versions": 0,
        "evidence": 0,
        "models": 0,
        "keys": 0,
        "exceptions": 0,
        "policies": 0,
        "aliases": 0,
    }
    seen_versions: set[tuple[str, int]] = set()
    for model, number, stage, version in tx.iter_raw_versions():
        key = (model, number)
        seen_versions.add(key)
        checked["versions"] += 1
        if key not in rec.versions:
            problems.append(f"version {model}@{number} has no registration event (inserted)")
        elif version is None or version_digest(version) != rec.versions[key]:
            problems.append(f"version {model}@{number} was modified after registration")
        if key in rec.stages and stage != rec.stages[key]:
            problems.append(
                f"version {model}@{number} is in stage {stage!r} but the log says "
                f"{rec.stages[key]!r}"
            )
    problems.extend(
        f"version {m}@{n} was deleted" for m, n in sorted(set(rec.versions) - seen_versions)
    )

    seen_models: set[str] = set()
    for registered in tx.list_models():
        seen_models.add(registered.name)
        checked["models"] += 1
        if rec.models.get(registered.name) != model_digest(registered):
            problems.append(f"model {registered.name!r} differs from its creation event")
    problems.extend(f"model {m!r} was deleted" for m in sorted(set(rec.models) - seen_models))

    seen_evidence: set[int] = set()
    for record in tx.gov.all_evidence():
        seen_evidence.add(record.id)
        checked["evidence"] += 1
        if record.id not in rec.evidence:
            problems.append(f"evidence {record.id} on {record.ref} has no event (inserted)")
        elif rec.evidence[record.id] != evidence_digest(record):
            problems.append(f"evidence {record.id} on {record.ref} was modified")
    problems.extend(f"evidence {i} was deleted" for i in sorted(set(rec.evidence) - seen_evidence))

    seen_keys: set[str] = set()
    for key_record in tx.gov.list_keys():
        seen_keys.add(key_record.keyid)
        checked["keys"] += 1
        fingerprint = hashlib.sha256(key_record.public_key.encode()).hexdigest()
        if rec.keys.get(key_record.keyid) != f"{key_record.principal}:{fingerprint}":
            problems.append(f"key {key_record.keyid[:16]} of {key_record.principal} was modified")
        if (key_record.keyid in rec.revoked) != (not key_record.active):
            problems.append(f"key {key_record.keyid[:16]} revocation differs from the log")
    problems.extend(f"key {k[:16]} was deleted" for k in sorted(set(rec.keys) - seen_keys))

    seen_exceptions: set[str] = set()
    for exception in tx.gov.list_exceptions():
        seen_exceptions.add(exception.name)
        checked["exceptions"] += 1
        if rec.exceptions.get(exception.name) != exception_digest(exception):
            problems.append(f"exception {exception.name!r} differs from its grant event")
    problems.extend(
        f"exception {n!r} was deleted" for n in sorted(set(rec.exceptions) - seen_exceptions)
    )

    seen_policies: set[int] = set()
    for policy in tx.gov.all_policies():
        seen_policies.add(policy.id)
        checked["policies"] += 1
        actual = hashlib.sha256(policy.text.encode("utf-8")).hexdigest()
        if rec.policies.get(policy.id) != actual or policy.digest != actual:
            problems.append(f"policy {policy.id} ({policy.name}) differs from its event")
    problems.extend(f"policy {p} was deleted" for p in sorted(set(rec.policies) - seen_policies))

    targets = tx.alias_targets()
    checked["aliases"] = len(targets)
    for alias_key in sorted(set(targets) | set(rec.aliases)):
        if targets.get(alias_key) != rec.aliases.get(alias_key):
            model, alias = alias_key
            problems.append(f"alias {model}@{alias} differs from its last move in the log")
    return checked

"""Digests of the rows the audit log vouches for, recorded in their events and re-checked later.

Each digest is SHA-256 over the RFC 8785 canonical JSON of the row's content as an entity, so
``audit verify`` recomputes it from what the store reads back today and compares it with what the
append-only log recorded when the row was written.
"""

from __future__ import annotations

import hashlib

from signoff.audit.canonical import canonical_json
from signoff.domain import Model, Version
from signoff.store.governance import EvidenceRecord, ExceptionRecord


def version_digest(version: Version) -> str:
    """Digest of a version's immutable content (artifact, lineage, metadata, creation)."""
    return _digest(
        {
            "model": version.model,
            "number": version.number,
            "artifact_uri": version.artifact.uri,
            "root_digest": version.artifact.root_digest,
            "total_size": version.artifact.total_size,
            "files": version.artifact.manifest.to_dict()["files"],
            "lineage": version.lineage.to_dict(),
            "metadata": version.metadata,
            "created_by": version.created_by,
            "created_at": version.created_at.isoformat(),
        }
    )


def model_digest(model: Model) -> str:
    """Digest of a model's registered attributes."""
    return _digest(model.to_dict())


def evidence_digest(record: EvidenceRecord) -> str:
    """Digest of an evidence row, including the SHA-256 of the verbatim envelope.

    The registry's receipt columns (migration 0004) count when set, so changing, adding or
    clearing them is a modified row; rows without them digest as they always did.
    """
    content: dict[str, object] = {
        "id": record.id,
        "ref": record.ref,
        "kind": record.kind,
        "predicate_type": record.predicate_type,
        "envelope_sha256": hashlib.sha256(record.envelope.encode("utf-8")).hexdigest(),
        "attached_by": record.attached_by,
        "attached_at": record.attached_at.isoformat(),
        "produced_at": record.produced_at.isoformat(),
    }
    if record.claims is not None or record.receipt is not None:
        content["claims_sha256"] = (
            hashlib.sha256(record.claims.encode("utf-8")).hexdigest()
            if record.claims is not None
            else None
        )
        content["receipt"] = record.receipt
    return _digest(content)


def _digest(content: object) -> str:
    return hashlib.sha256(canonical_json(content)).hexdigest()


def exception_digest(record: ExceptionRecord) -> str:
    """Digest of a policy exception as granted."""
    return _digest(record.to_dict())

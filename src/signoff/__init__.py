"""signoff: AI model lifecycle governance with security built in.

The public Python API is ``Registry`` plus the entities and errors it returns::

    from signoff import Registry, Lineage
    with Registry.open() as registry:
        version = registry.get_version("fraud@production")
"""

from signoff.artifacts import FileDigest, Manifest, VerifyResult, digest_path, verify
from signoff.domain import (
    AliasMove,
    Artifact,
    CodeRef,
    DatasetRef,
    Lineage,
    Model,
    RiskTier,
    Stage,
    Version,
    VersionRef,
)
from signoff.errors import (
    ArtifactError,
    CheckFailedError,
    ConflictError,
    ImmutableError,
    InvalidInputError,
    NotFoundError,
    SignoffError,
    StoreError,
)
from signoff.registry import InitResult, Registry
from signoff.version import __version__

__all__ = [
    "AliasMove",
    "Artifact",
    "ArtifactError",
    "CheckFailedError",
    "CodeRef",
    "ConflictError",
    "DatasetRef",
    "FileDigest",
    "ImmutableError",
    "InitResult",
    "InvalidInputError",
    "Lineage",
    "Manifest",
    "Model",
    "NotFoundError",
    "Registry",
    "RiskTier",
    "SignoffError",
    "Stage",
    "StoreError",
    "VerifyResult",
    "Version",
    "VersionRef",
    "__version__",
    "digest_path",
    "verify",
]

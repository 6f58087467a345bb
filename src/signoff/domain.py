"""Domain entities of the registry: immutable values the store converts rows into.

Entities are frozen dataclasses; nothing outside the store builds them from rows, and nothing
mutates them. Validation of user input lives in the constructors' helpers below so that the CLI,
the server and SDK users share one set of rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from signoff.artifacts import Manifest
from signoff.errors import InvalidInputError

MODEL_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]*")
ALIAS_PATTERN = re.compile(r"[a-z][a-z0-9._-]*")
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
COMMIT_PATTERN = re.compile(r"[0-9a-f]{7,64}")
MAX_NAME_LENGTH = 128


class RiskTier(StrEnum):
    """Risk tiers as the EU AI Act sorts AI systems (prohibited systems are never registered)."""

    MINIMAL = "minimal"
    LIMITED = "limited"
    HIGH = "high"


class Stage(StrEnum):
    """Lifecycle stage of a version; every version starts as a candidate."""

    CANDIDATE = "candidate"
    APPROVED = "approved"
    PRODUCTION = "production"
    RETIRED = "retired"


def validate_model_name(name: str) -> str:
    """Return ``name`` if it is a valid model name, else raise ``InvalidInputError``."""
    if len(name) > MAX_NAME_LENGTH or not MODEL_NAME_PATTERN.fullmatch(name):
        raise InvalidInputError(
            f"invalid model name {name!r}",
            hint="use lowercase letters, digits, '.', '_' and '-', starting with a letter or "
            f"digit, at most {MAX_NAME_LENGTH} characters",
        )
    return name


def validate_alias(alias: str) -> str:
    """Return ``alias`` if valid; aliases start with a letter so they never look like numbers."""
    if len(alias) > MAX_NAME_LENGTH or not ALIAS_PATTERN.fullmatch(alias):
        raise InvalidInputError(
            f"invalid alias {alias!r}",
            hint="use lowercase letters, digits, '.', '_' and '-', starting with a letter",
        )
    return alias


def parse_risk_tier(value: str) -> RiskTier:
    """Parse a risk tier name."""
    try:
        return RiskTier(value)
    except ValueError:
        choices = ", ".join(t.value for t in RiskTier)
        raise InvalidInputError(
            f"invalid risk tier {value!r}", hint=f"choose one of: {choices}"
        ) from None


@dataclass(frozen=True)
class VersionRef:
    """A reference ``NAME@NUMBER`` or ``NAME@ALIAS``."""

    model: str
    number: int | None = None
    alias: str | None = None

    @classmethod
    def parse(cls, text: str) -> VersionRef:
        """Parse ``name@3`` or ``name@production``."""
        name, sep, selector = text.partition("@")
        if not sep or not selector:
            raise InvalidInputError(
                f"invalid version reference {text!r}",
                hint="write NAME@NUMBER (e.g. fraud@3) or NAME@ALIAS (e.g. fraud@production)",
            )
        validate_model_name(name)
        if selector.isdigit():
            number = int(selector)
            if number < 1:
                raise InvalidInputError(
                    f"invalid version number in {text!r}", hint="version numbers start at 1"
                )
            return cls(model=name, number=number)
        return cls(model=name, alias=validate_alias(selector))

    def __str__(self) -> str:
        return f"{self.model}@{self.number if self.number is not None else self.alias}"


@dataclass(frozen=True)
class DatasetRef:
    """A dataset a version was trained or evaluated on, pinned by its SHA-256."""

    name: str
    uri: str
    sha256: str

    def __post_init__(self) -> None:
        if not self.name:
            raise InvalidInputError("dataset name is empty", hint="give each dataset a name")
        if not SHA256_PATTERN.fullmatch(self.sha256):
            raise InvalidInputError(
                f"malformed sha256 {self.sha256!r} for dataset {self.name!r}",
                hint="give the 64 lowercase hex digits that `sha256sum` prints",
            )

    @classmethod
    def parse(cls, text: str) -> DatasetRef:
        """Parse ``NAME=URI@SHA256`` as given on the command line."""
        name, eq, rest = text.partition("=")
        uri, at, digest = rest.rpartition("@")
        if not eq or not at:
            raise InvalidInputError(
                f"invalid dataset {text!r}",
                hint="write NAME=URI@SHA256, e.g. iris=file:///data/iris.csv@<64 hex digits>",
            )
        return cls(name=name, uri=uri, sha256=digest.removeprefix("sha256:"))


@dataclass(frozen=True)
class CodeRef:
    """The code a version was built from: repository and commit."""

    repo: str
    commit: str

    def __post_init__(self) -> None:
        if not COMMIT_PATTERN.fullmatch(self.commit):
            raise InvalidInputError(
                f"malformed commit {self.commit!r}",
                hint="give a git commit as 7 to 64 lowercase hex digits",
            )


@dataclass(frozen=True)
class Lineage:
    """Where a version came from: parent versions, datasets, code and the producing run."""

    parents: tuple[str, ...] = ()
    datasets: tuple[DatasetRef, ...] = ()
    code: CodeRef | None = None
    run_uri: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form, as stored and printed."""
        return {
            "parents": list(self.parents),
            "datasets": [{"name": d.name, "uri": d.uri, "sha256": d.sha256} for d in self.datasets],
            "code": {"repo": self.code.repo, "commit": self.code.commit} if self.code else None,
            "run_uri": self.run_uri,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Lineage:
        """Inverse of ``to_dict``."""
        code = data.get("code")
        return cls(
            parents=tuple(data.get("parents", ())),
            datasets=tuple(DatasetRef(**d) for d in data.get("datasets", ())),
            code=CodeRef(**code) if code else None,
            run_uri=data.get("run_uri"),
        )


@dataclass(frozen=True)
class Model:
    """A registered model: the unit owners, risk tier and policy attach to."""

    name: str
    owner: str
    team: str | None
    risk_tier: RiskTier
    intended_use: str | None
    description: str | None
    tags: dict[str, str]
    created_by: str
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "name": self.name,
            "owner": self.owner,
            "team": self.team,
            "risk_tier": self.risk_tier.value,
            "intended_use": self.intended_use,
            "description": self.description,
            "tags": dict(self.tags),
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class Artifact:
    """The exact bytes a version is: where they live and their digest manifest."""

    uri: str
    manifest: Manifest

    @property
    def root_digest(self) -> str:
        """SHA-256 root digest (hex) over the per-file digests; the version's identity."""
        return self.manifest.root_digest

    @property
    def total_size(self) -> int:
        """Total bytes over all files."""
        return self.manifest.total_size


@dataclass(frozen=True)
class Version:
    """An immutable model version, bound to its artifact digest."""

    model: str
    number: int
    artifact: Artifact
    lineage: Lineage
    created_by: str
    created_at: datetime
    stage: Stage
    metadata: dict[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        """Canonical reference ``name@number``."""
        return f"{self.model}@{self.number}"

    def to_dict(self, *, with_files: bool = True) -> dict[str, Any]:
        """Plain JSON form; ``with_files=False`` drops the per-file manifest."""
        artifact: dict[str, Any] = {
            "uri": self.artifact.uri,
            "root_digest": f"sha256:{self.artifact.root_digest}",
            "total_size": self.artifact.total_size,
            "file_count": len(self.artifact.manifest.files),
        }
        if with_files:
            artifact["files"] = self.artifact.manifest.to_dict()["files"]
        return {
            "ref": self.ref,
            "model": self.model,
            "number": self.number,
            "stage": self.stage.value,
            "aliases": list(self.aliases),
            "artifact": artifact,
            "lineage": self.lineage.to_dict(),
            "metadata": dict(self.metadata),
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class AliasMove:
    """One recorded move of an alias: who pointed it where, and when."""

    model: str
    alias: str
    from_number: int | None
    to_number: int
    moved_by: str
    moved_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "model": self.model,
            "alias": self.alias,
            "from": self.from_number,
            "to": self.to_number,
            "moved_by": self.moved_by,
            "moved_at": self.moved_at.isoformat(),
        }

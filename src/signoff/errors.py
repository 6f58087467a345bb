"""The one exception tree of signoff.

Every error raised below the edges (CLI, server) is a ``SignoffError``. Each class carries the
process exit code the CLI uses and the HTTP status the server will use, so the edges translate
errors without knowing them one by one::

    SignoffError                      exit 2
    ├── InvalidInputError             bad argument: name, reference, digest, lineage, option
    ├── ArtifactError                 a path that cannot be digested: missing, empty, symlink, ...
    ├── NotFoundError                 404: model, version, alias
    ├── ConflictError                 409: duplicate model, duplicate artifact
    ├── ImmutableError                409: an attempt to change a registered version
    ├── StoreError                    the database: missing, not a registry, schema too new/old
    └── CheckFailedError              exit 1: a check ran and did not pass
"""

from __future__ import annotations


class SignoffError(Exception):
    """Base of all signoff errors: a one-line message and, where known, how to fix it."""

    exit_code: int = 2
    http_status: int = 400

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


class InvalidInputError(SignoffError):
    """An argument is malformed: a name, a reference, a digest, a lineage entry."""


class ArtifactError(SignoffError):
    """A path cannot be digested as an artifact (missing, empty, symlink, unreadable, ...)."""


class NotFoundError(SignoffError):
    """A model, version or alias does not exist."""

    http_status = 404


class ConflictError(SignoffError):
    """The request clashes with existing state (a duplicate name, a registered artifact)."""

    http_status = 409


class ImmutableError(SignoffError):
    """Something tried to change what is immutable (a registered version's artifact or lineage)."""

    http_status = 409


class StoreError(SignoffError):
    """The database is missing, is not a signoff registry, or has an incompatible schema."""

    http_status = 500


class CheckFailedError(SignoffError):
    """A check ran to completion and did not pass (exit code 1, unlike bad input)."""

    exit_code = 1
    http_status = 422

"""The registry service: the one API the CLI, the REST server and SDK users call.

Every operation validates its input, then runs inside one store transaction, so an operation
either happens whole or not at all. Slow work that needs no lock (digesting an artifact) happens
before the transaction opens.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from signoff.artifacts import VerifyResult, digest_path, verify
from signoff.audit.canonical import sha256_hex
from signoff.audit.checkpoint import Checkpoint, sign_note
from signoff.domain import (
    AliasMove,
    Artifact,
    Lineage,
    Model,
    Stage,
    Version,
    VersionRef,
    parse_risk_tier,
    validate_alias,
    validate_model_name,
)
from signoff.errors import ConflictError, InvalidInputError, StoreError
from signoff.governance.auditor import AuditReport, verify_audit_log
from signoff.governance.proofs import (
    ConsistencyProof,
    InclusionProof,
    consistency_proof,
    inclusion_proof,
)
from signoff.governance.service import REGISTRY_PRINCIPAL, GovernanceMixin, signer
from signoff.identity import resolve_actor
from signoff.keys import KeyStore, key_id, public_key_pem
from signoff.lookup import LATEST, now, require_model, resolve
from signoff.store import (
    DatabaseLocation,
    Store,
    StoreSession,
    check_schema,
    create_registry_engine,
    migrate,
    resolve_location,
)
from signoff.store.eventlog import Event
from signoff.store.governance import KeyRecord
from signoff.store.row_digests import model_digest, version_digest

Progress = Callable[[int], None]


@dataclass(frozen=True)
class InitResult:
    """What ``Registry.init`` did: the schema revision before (``None``: created) and after."""

    location: str
    before: str | None
    after: str

    @property
    def created(self) -> bool:
        """True when the registry did not exist before."""
        return self.before is None

    @property
    def changed(self) -> bool:
        """True when the schema was created or upgraded."""
        return self.before != self.after


class Registry(GovernanceMixin):
    """A governed model registry on one database (SQLite file or PostgreSQL)."""

    def __init__(self, store: Store, location: DatabaseLocation) -> None:
        self._store = store
        self.location = location
        self.keystore = KeyStore(location.home / "keys")
        self._registry_key: Ed25519PrivateKey | None = None

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Run every registry call in the block as one transaction, sealed once at its end.

        Calls inside the block (on this thread) join one database transaction and see each
        other's writes; each still appends its audit events, and the log is sealed by one signed
        checkpoint when the block ends. If the block raises, nothing in it is written. If a
        write inside it fails and the caller catches the error, the batch still rolls back
        and the block's end raises ``StoreError``: a batch is whole or not at all. A nested
        ``batch()`` joins the outer one.
        """
        if self._store.current() is not None:
            with self._store.transaction(write=True):
                yield
            return
        with self._store.unit_of_work() as tx:
            yield
            tx.check_usable()
            self._seal(tx)

    @contextmanager
    def _write(self) -> Iterator[StoreSession]:
        """A write transaction that ends by sealing the log in a signed checkpoint.

        Inside ``batch()`` it joins the batch's transaction, which the batch seals at its end.
        """
        joined = self._store.current() is not None
        with self._store.transaction(write=True) as tx:
            yield tx
            if not joined:
                self._seal(tx)

    def _seal(self, tx: StoreSession) -> None:
        size, root = tx.events.head()
        if size == 0 or tx.events.sealed(size):
            return
        key = self._signing_key(tx)
        if key is None:
            # Without the registry key (another machine, say) events are still appended; the
            # next writer holding the key checkpoints them, and `audit verify` reports the
            # unsealed tail until then.
            return
        body = Checkpoint(origin=registry_origin(key), size=size, root=root).body()
        tx.events.add_checkpoint(size, root, sign_note(body, REGISTRY_PRINCIPAL, key), now())

    def _signing_key(self, tx: StoreSession) -> Ed25519PrivateKey | None:
        """The registry's private key, if this machine has it and it is the registered one."""
        if self._registry_key is not None:
            return self._registry_key
        if not self.keystore.exists(REGISTRY_PRINCIPAL):
            return None
        key = self.keystore.load(REGISTRY_PRINCIPAL)
        active = {k.keyid for k in tx.gov.list_keys(REGISTRY_PRINCIPAL) if k.active}
        if key_id(key.public_key()) not in active:
            return None
        self._registry_key = signer(key)
        return self._registry_key

    def _ensure_registry_key(self) -> None:
        """Give the registry its own signing key (for checkpoints and gate decisions)."""
        with self._write() as tx:
            if any(k.active for k in tx.gov.list_keys(REGISTRY_PRINCIPAL)):
                return
            if self.keystore.exists(REGISTRY_PRINCIPAL):
                key = self.keystore.load(REGISTRY_PRINCIPAL)
            else:
                key = self.keystore.create(REGISTRY_PRINCIPAL)
            self._register_public_key(tx, REGISTRY_PRINCIPAL, key.public_key(), REGISTRY_PRINCIPAL)

    def _register_public_key(
        self, tx: StoreSession, principal: str, public_key: Ed25519PublicKey, actor: str
    ) -> KeyRecord:
        when = now()
        record = KeyRecord(
            keyid=key_id(public_key),
            principal=principal,
            public_key=public_key_pem(public_key),
            created_by=actor,
            created_at=when,
            revoked_at=None,
            revoked_by=None,
            revoke_reason=None,
        )
        if tx.gov.get_key(record.keyid) is not None:
            raise ConflictError(
                f"key {record.keyid[:16]} is already registered",
                hint="each key belongs to one principal; create a new key",
            )
        tx.gov.add_key(record)
        tx.events.append(
            "key.registered",
            actor=actor,
            at=when,
            subject=f"key:{principal}",
            data={
                "keyid": record.keyid,
                "principal": principal,
                "public_key_sha256": sha256_hex(record.public_key.encode()),
            },
        )
        return record

    # --- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str | None = None, *, home: str | Path | None = None) -> Registry:
        """Open an existing registry (``url``, else ``$SIGNOFF_DB``, else ``./.signoff``).

        ``home`` is where private keys live (default: ``$SIGNOFF_HOME``, else beside a SQLite
        file, else ``~/.signoff``).
        """
        location = _located(url, home)
        if location.sqlite_path is not None and not location.sqlite_path.is_file():
            raise StoreError(
                f"no signoff registry at {location.display}",
                hint="create one with `signoff init` (add --db URL for another database)",
            )
        engine = create_registry_engine(location)
        try:
            check_schema(engine, location)
        except BaseException:
            engine.dispose()
            raise
        return cls(Store(engine), location)

    @classmethod
    def init(
        cls, url: str | None = None, *, home: str | Path | None = None
    ) -> tuple[Registry, InitResult]:
        """Create a registry, or upgrade an existing one to this code's schema (idempotent)."""
        location = _located(url, home)
        if location.sqlite_path is not None:
            if location.sqlite_path.is_dir():
                raise InvalidInputError(
                    f"{location.display} is a directory",
                    hint="give the registry database file, e.g. .signoff/registry.db",
                )
            try:
                location.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InvalidInputError(
                    f"cannot create {location.sqlite_path.parent}: {exc.strerror}",
                    hint="choose a writable location with --db",
                ) from None
        engine = create_registry_engine(location)
        try:
            before, after = migrate(engine, location)
            registry = cls(Store(engine), location)
            registry._ensure_registry_key()
            registry._ensure_policy()
        except BaseException:
            engine.dispose()
            raise
        return registry, InitResult(location.display, before, after)

    def close(self) -> None:
        """Release database connections."""
        self._store.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- models -------------------------------------------------------------------------------

    def create_model(
        self,
        name: str,
        *,
        risk_tier: str,
        owner: str | None = None,
        team: str | None = None,
        intended_use: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        actor: str | None = None,
    ) -> Model:
        """Create a model. ``owner`` defaults to the actor; ``risk_tier`` must be chosen."""
        who = resolve_actor(actor)
        model = Model(
            name=validate_model_name(name),
            owner=owner or who,
            team=team,
            risk_tier=parse_risk_tier(risk_tier),
            intended_use=intended_use,
            description=description,
            tags=_validate_tags(tags or {}),
            created_by=who,
            created_at=now(),
        )
        with self._write() as tx:
            tx.add_model(model)
            tx.events.append(
                "model.created",
                actor=who,
                at=model.created_at,
                subject=f"model:{model.name}",
                data={"model": model.name, "row_digest": model_digest(model)},
            )
            return model

    def get_model(self, name: str) -> Model:
        """The model called ``name``."""
        with self._store.transaction() as tx:
            return require_model(tx, validate_model_name(name))

    def list_models(self) -> list[Model]:
        """All models, by name."""
        with self._store.transaction() as tx:
            return tx.list_models()

    # --- versions -----------------------------------------------------------------------------

    def register_version(
        self,
        model: str,
        path: str | Path,
        *,
        actor: str | None = None,
        lineage: Lineage | None = None,
        uri: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        progress: Progress | None = None,
    ) -> Version:
        """Digest the artifact at ``path`` and register it as the next version of ``model``.

        Parents in ``lineage`` may be given as ``name@N`` or ``name@alias``; they are stored
        resolved to ``name@N``. An artifact already registered for the model is refused: the
        same bytes are the same version.
        """
        who = resolve_actor(actor)
        name = validate_model_name(model)
        lineage = lineage or Lineage()
        parents = [VersionRef.parse(parent) for parent in lineage.parents]
        self.get_model(name)  # fail fast, before digesting a large artifact
        artifact_path = Path(path)
        manifest = digest_path(artifact_path, progress=progress)
        artifact = Artifact(uri=uri or artifact_path.absolute().as_uri(), manifest=manifest)
        with self._write() as tx:
            require_model(tx, name)
            resolved = tuple(str(resolve(tx, parent).ref) for parent in parents)
            existing = tx.find_version_by_digest(name, manifest.root_digest)
            if existing is not None:
                raise ConflictError(
                    f"this artifact (sha256:{manifest.root_digest[:12]}...) is already "
                    f"registered as {existing.ref}",
                    hint="the same bytes are the same version; change the artifact to register "
                    "a new one",
                )
            version = Version(
                model=name,
                number=tx.next_version_number(name),
                artifact=artifact,
                lineage=Lineage(
                    parents=resolved,
                    datasets=lineage.datasets,
                    code=lineage.code,
                    run_uri=lineage.run_uri,
                ),
                created_by=who,
                created_at=now(),
                stage=Stage.CANDIDATE,
                metadata=dict(metadata or {}),
            )
            tx.add_version(version)
            tx.events.append(
                "version.registered",
                actor=who,
                at=version.created_at,
                subject=version.ref,
                data={
                    "model": name,
                    "number": version.number,
                    "root_digest": manifest.root_digest,
                    "row_digest": version_digest(version),
                },
            )
            return version

    def get_version(self, ref: str | VersionRef) -> Version:
        """The version ``name@N`` or ``name@alias`` (``name@latest`` is the newest)."""
        parsed = ref if isinstance(ref, VersionRef) else VersionRef.parse(ref)
        with self._store.transaction() as tx:
            return resolve(tx, parsed)

    def list_versions(self, model: str) -> list[Version]:
        """All versions of ``model``, oldest first."""
        name = validate_model_name(model)
        with self._store.transaction() as tx:
            require_model(tx, name)
            return tx.list_versions(name)

    # --- aliases ------------------------------------------------------------------------------

    def set_alias(
        self, model: str, alias: str, version: int, *, actor: str | None = None
    ) -> AliasMove:
        """Point ``alias`` of ``model`` at version number ``version``; the move is recorded."""
        who = resolve_actor(actor)
        name = validate_model_name(model)
        alias = validate_alias(alias)
        if alias == LATEST:
            raise InvalidInputError(
                f"'{LATEST}' is a built-in alias for the newest version and cannot be set",
                hint="choose another alias name",
            )
        with self._write() as tx:
            require_model(tx, name)
            target = resolve(tx, VersionRef(model=name, number=version))
            self.check_protected_alias(tx, alias, target)
            move = tx.set_alias(name, alias, target.number, actor=who, when=now())
            tx.events.append(
                "alias.moved",
                actor=who,
                at=move.moved_at,
                subject=f"{name}@{alias}",
                data={
                    "model": name,
                    "alias": alias,
                    "from": move.from_number,
                    "to": move.to_number,
                },
            )
            return move

    def alias_history(self, model: str) -> list[AliasMove]:
        """Every alias move of ``model``, oldest first."""
        name = validate_model_name(model)
        with self._store.transaction() as tx:
            require_model(tx, name)
            return tx.alias_history(name)

    # --- artifacts ----------------------------------------------------------------------------

    def verify_artifact(
        self, ref: str | VersionRef, path: str | Path, *, progress: Progress | None = None
    ) -> tuple[Version, VerifyResult]:
        """Compare the bytes at ``path`` with the manifest registered for ``ref``."""
        version = self.get_version(ref)
        return version, verify(Path(path), version.artifact.manifest, progress=progress)

    # --- audit log ----------------------------------------------------------------------------

    def audit_verify(self) -> AuditReport:
        """Recompute the Merkle log, check its signed checkpoint, cross-check every row."""
        with self._store.transaction() as tx:
            return verify_audit_log(tx, REGISTRY_PRINCIPAL)

    def audit_events(
        self, *, start: int = 0, limit: int | None = None, subject: str | None = None
    ) -> list[Event]:
        """Events from ``start`` (optionally only those about ``subject``), oldest first."""
        events: list[Event] = []
        with self._store.transaction() as tx:
            for _, leaf in tx.events.iter_leaves(start=start):
                event = Event.from_leaf(leaf)
                if (
                    subject is None
                    or event.subject == subject
                    or event.subject.startswith(f"{subject}@")
                ):
                    events.append(event)
                    if limit is not None and len(events) >= limit:
                        break
        return events

    def audit_proof(self, seq: int) -> InclusionProof:
        """Inclusion proof of event ``seq`` against the newest signed checkpoint."""
        with self._store.transaction() as tx:
            return inclusion_proof(tx, seq)

    def audit_consistency(self, old_size: int) -> ConsistencyProof:
        """Consistency proof from the log at ``old_size`` to the newest signed checkpoint."""
        with self._store.transaction() as tx:
            return consistency_proof(tx, old_size)


def _located(url: str | None, home: str | Path | None) -> DatabaseLocation:
    location = resolve_location(url)
    if home is None:
        return location
    return replace(location, home_override=Path(home).expanduser().absolute())


@functools.lru_cache(maxsize=8)
def registry_origin(key: Ed25519PrivateKey) -> str:
    """The checkpoint origin line: unique per registry (derived from its key; kept per key)."""
    return f"signoff.registry/{key_id(key.public_key())[:16]}"


def _validate_tags(tags: Mapping[str, str]) -> dict[str, str]:
    items = tags.items()
    result: dict[str, str] = {}
    for key, value in items:
        if not key or not isinstance(key, str) or not isinstance(value, str):
            raise InvalidInputError(
                f"invalid tag {key!r}={value!r}", hint="tags are non-empty string keys and values"
            )
        result[key] = value
    return result

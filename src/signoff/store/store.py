"""The registry store: rows in, immutable entities out, one transaction per unit of work.

The store knows tables and SQL; it enforces uniqueness and immutability through the database
(constraints and triggers) and translates database errors into ``SignoffError``s. Business rules
(what may be registered, who may do what) live in ``signoff.registry``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import DatabaseError, IntegrityError
from sqlalchemy.orm import Session

from signoff.artifacts import Manifest
from signoff.domain import (
    AliasMove,
    Artifact,
    Lineage,
    Model,
    RiskTier,
    Stage,
    Version,
)
from signoff.errors import (
    ConflictError,
    ImmutableError,
    InvalidInputError,
    SignoffError,
    StoreError,
)
from signoff.store.eventlog import Event, EventLog
from signoff.store.governance import GovernanceStore
from signoff.store.schema import AliasRow, ModelRow, VersionRow


class Store:
    """Hands out transactions on one registry database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def transaction(self) -> Iterator[StoreSession]:
        """One atomic unit of work: committed when the block ends, rolled back on any error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                with session.begin():
                    yield StoreSession(session)
            except DatabaseError as exc:
                raise _database_error(exc) from None

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()


def _database_error(exc: DatabaseError) -> SignoffError:
    """Translate what the database refused; triggers mark their refusals with 'signoff: '."""
    detail = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    if "signoff: " in detail:
        refusal = detail.split("signoff: ", 1)[1]
        hint = (
            "register the new artifact or lineage as a new version"
            if "versions" in refusal
            else "history cannot be changed; record a new event instead"
        )
        return ImmutableError(refusal, hint=hint)
    if isinstance(exc, IntegrityError):
        return ConflictError(f"conflicting change refused by the database: {detail}")
    return StoreError(f"database error: {detail}")


class StoreSession:
    """Reads and writes inside one open transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.events = EventLog(session)
        self.gov = GovernanceStore(session)

    # --- models -------------------------------------------------------------------------------

    def add_model(self, model: Model) -> Model:
        """Insert a model; a duplicate name is a ``ConflictError``."""
        if self._model_row(model.name) is not None:
            raise ConflictError(
                f"model {model.name!r} already exists",
                hint="choose another name, or register a new version of the existing model",
            )
        self.session.add(
            ModelRow(
                name=model.name,
                owner=model.owner,
                team=model.team,
                risk_tier=model.risk_tier.value,
                intended_use=model.intended_use,
                description=model.description,
                tags=dict(model.tags),
                created_by=model.created_by,
                created_at=model.created_at,
                version_count=0,
            )
        )
        self.session.flush()
        return model

    def get_model(self, name: str) -> Model | None:
        """The model called ``name``, if any."""
        row = self._model_row(name)
        return _model(row) if row is not None else None

    def list_models(self) -> list[Model]:
        """All models, by name."""
        rows = self.session.scalars(select(ModelRow).order_by(ModelRow.name))
        return [_model(row) for row in rows]

    def _model_row(self, name: str) -> ModelRow | None:
        return self.session.scalars(select(ModelRow).where(ModelRow.name == name)).one_or_none()

    def _model_id(self, name: str) -> int:
        model_id = self.session.scalar(select(ModelRow.id).where(ModelRow.name == name))
        if model_id is None:
            raise StoreError(f"model {name!r} vanished during the transaction")
        return model_id

    # --- versions -----------------------------------------------------------------------------

    def next_version_number(self, model: str) -> int:
        """Claim the next version number of ``model``.

        The increment is an UPDATE, so it takes the model's row lock (PostgreSQL) or the write
        lock (SQLite) until the transaction ends: concurrent registrations queue here and get
        distinct, gap-free numbers; a rolled-back registration gives its number back.
        """
        number = self.session.scalar(
            update(ModelRow)
            .where(ModelRow.name == model)
            .values(version_count=ModelRow.version_count + 1)
            .returning(ModelRow.version_count)
        )
        if number is None:
            raise StoreError(f"model {model!r} vanished during the transaction")
        return int(number)

    def add_version(self, version: Version) -> Version:
        """Insert a version (its number claimed with ``next_version_number``)."""
        row = VersionRow(
            model_id=self._model_id(version.model),
            number=version.number,
            artifact_uri=version.artifact.uri,
            root_digest=version.artifact.root_digest,
            total_size=version.artifact.total_size,
            manifest=version.artifact.manifest.to_dict(),
            lineage=version.lineage.to_dict(),
            extra=dict(version.metadata),
            created_by=version.created_by,
            created_at=version.created_at,
            stage=version.stage.value,
        )
        self.session.add(row)
        self.session.flush()
        return version

    def set_stage(self, model: str, number: int, stage: Stage) -> None:
        """Move a version to ``stage`` (the one mutable field of a version)."""
        self.session.execute(
            update(VersionRow)
            .where(
                VersionRow.model_id == self._model_id(model),
                VersionRow.number == number,
            )
            .values(stage=stage.value)
        )

    def list_versions_in_stages(self, stages: tuple[Stage, ...]) -> list[Version]:
        """Every version currently in one of ``stages``, by model and number."""
        rows = self.session.execute(
            select(VersionRow, ModelRow.name)
            .join(ModelRow, VersionRow.model_id == ModelRow.id)
            .where(VersionRow.stage.in_([s.value for s in stages]))
            .order_by(ModelRow.name, VersionRow.number)
        ).all()
        aliases: dict[int, list[str]] = {}
        for version_id, name in self.session.execute(select(AliasRow.version_id, AliasRow.name)):
            aliases.setdefault(version_id, []).append(name)
        return [self._version(name, row, aliases) for row, name in rows]

    def iter_raw_versions(self) -> Iterator[tuple[str, int, str, Version | None]]:
        """Every version as ``(model, number, stage, entity or None if unreadable)``.

        For auditing: a row whose manifest no longer matches its digest yields ``None`` instead
        of stopping the scan.
        """
        rows = self.session.execute(
            select(VersionRow, ModelRow.name)
            .join(ModelRow, VersionRow.model_id == ModelRow.id)
            .order_by(ModelRow.name, VersionRow.number)
        ).all()
        for row, name in rows:
            try:
                version: Version | None = self._version(name, row, {})
            except StoreError:
                version = None
            yield name, row.number, row.stage, version

    def alias_targets(self) -> dict[tuple[str, str], tuple[int, str, str]]:
        """Every alias now: ``{(model, alias): (number, updated_by, updated_at ISO)}``."""
        rows = self.session.execute(
            select(
                ModelRow.name,
                AliasRow.name,
                VersionRow.number,
                AliasRow.updated_by,
                AliasRow.updated_at,
            )
            .join(AliasRow, AliasRow.model_id == ModelRow.id)
            .join(VersionRow, AliasRow.version_id == VersionRow.id)
        )
        return {
            (model, alias): (number, by, at.isoformat()) for model, alias, number, by, at in rows
        }

    def get_version(self, model: str, number: int) -> Version | None:
        """Version ``number`` of ``model``, if any."""
        row = self.session.scalars(
            select(VersionRow)
            .join(ModelRow, VersionRow.model_id == ModelRow.id)
            .where(ModelRow.name == model, VersionRow.number == number)
        ).one_or_none()
        return self._version(model, row) if row is not None else None

    def find_version_by_digest(self, model: str, root_digest: str) -> Version | None:
        """The version of ``model`` whose artifact has ``root_digest``, if any."""
        row = self.session.scalars(
            select(VersionRow)
            .join(ModelRow, VersionRow.model_id == ModelRow.id)
            .where(ModelRow.name == model, VersionRow.root_digest == root_digest)
        ).one_or_none()
        return self._version(model, row) if row is not None else None

    def list_versions(self, model: str) -> list[Version]:
        """All versions of ``model``, oldest first."""
        rows = self.session.scalars(
            select(VersionRow)
            .join(ModelRow, VersionRow.model_id == ModelRow.id)
            .where(ModelRow.name == model)
            .order_by(VersionRow.number)
        ).all()
        aliases = self._aliases_by_version(model)
        return [self._version(model, row, aliases) for row in rows]

    def _version(
        self, model: str, row: VersionRow, aliases: dict[int, list[str]] | None = None
    ) -> Version:
        if aliases is None:
            aliases = self._aliases_by_version(model)
        try:
            manifest = Manifest.from_dict(row.manifest)
        except InvalidInputError as exc:
            raise StoreError(
                f"stored manifest of {model}@{row.number} is corrupt: {exc.message}",
                hint="the database was changed outside signoff; restore it from a backup",
            ) from None
        if manifest.root_digest != row.root_digest:
            raise StoreError(
                f"stored manifest of {model}@{row.number} does not match its root digest",
                hint="the database was changed outside signoff; restore it from a backup",
            )
        try:
            stage = Stage(row.stage)
        except ValueError:
            raise StoreError(
                f"stored stage of {model}@{row.number} is not a stage: {row.stage!r}",
                hint="the database was changed outside signoff; restore it from a backup",
            ) from None
        return Version(
            model=model,
            number=row.number,
            artifact=Artifact(uri=row.artifact_uri, manifest=manifest),
            lineage=Lineage.from_dict(row.lineage),
            created_by=row.created_by,
            created_at=row.created_at,
            stage=stage,
            metadata=dict(row.extra),
            aliases=tuple(sorted(aliases.get(row.id, ()))),
        )

    # --- aliases ------------------------------------------------------------------------------

    def resolve_alias(self, model: str, alias: str) -> int | None:
        """The version number ``alias`` of ``model`` points at, if the alias exists."""
        return self.session.scalar(
            select(VersionRow.number)
            .join(AliasRow, AliasRow.version_id == VersionRow.id)
            .join(ModelRow, AliasRow.model_id == ModelRow.id)
            .where(ModelRow.name == model, AliasRow.name == alias)
        )

    def set_alias(
        self, model: str, alias: str, number: int, *, actor: str, when: datetime
    ) -> AliasMove:
        """Point ``alias`` at version ``number`` and record the move."""
        model_id = self._model_id(model)
        version_id = self.session.scalar(
            select(VersionRow.id).where(
                VersionRow.model_id == model_id, VersionRow.number == number
            )
        )
        if version_id is None:
            raise StoreError(f"version {model}@{number} vanished during the transaction")
        row = self.session.scalars(
            select(AliasRow).where(AliasRow.model_id == model_id, AliasRow.name == alias)
        ).one_or_none()
        from_number: int | None = None
        if row is None:
            self.session.add(
                AliasRow(
                    model_id=model_id,
                    name=alias,
                    version_id=version_id,
                    updated_by=actor,
                    updated_at=when,
                )
            )
        else:
            from_number = self.session.scalar(
                select(VersionRow.number).where(VersionRow.id == row.version_id)
            )
            row.version_id = version_id
            row.updated_by = actor
            row.updated_at = when
        self.session.flush()
        return AliasMove(
            model=model,
            alias=alias,
            from_number=from_number,
            to_number=number,
            moved_by=actor,
            moved_at=when,
        )

    def alias_history(self, model: str) -> list[AliasMove]:
        """Every alias move of ``model``, oldest first, read from the audit log.

        The log is the history: each move is an ``alias.moved`` event, so there is no second
        copy to keep in step with it (``audit verify`` checks the ``aliases`` table against the
        last move of each alias). Leaves are filtered as text before any is parsed.
        """
        wanted_type = '"type":"alias.moved"}'
        wanted_model = f'"model":{json.dumps(model)}'
        moves: list[AliasMove] = []
        for _, leaf in self.events.iter_leaves():
            if not leaf.endswith(wanted_type) or wanted_model not in leaf:
                continue
            event = Event.from_leaf(leaf)
            data = event.data
            if event.type != "alias.moved" or data.get("model") != model:
                continue
            moves.append(
                AliasMove(
                    model=model,
                    alias=str(data["alias"]),
                    from_number=data["from"],
                    to_number=int(data["to"]),
                    moved_by=event.actor,
                    moved_at=datetime.fromisoformat(event.at),
                )
            )
        return moves

    def _aliases_by_version(self, model: str) -> dict[int, list[str]]:
        rows = self.session.execute(
            select(AliasRow.version_id, AliasRow.name)
            .join(ModelRow, AliasRow.model_id == ModelRow.id)
            .where(ModelRow.name == model)
        )
        result: dict[int, list[str]] = {}
        for version_id, name in rows:
            result.setdefault(version_id, []).append(name)
        return result


def _model(row: ModelRow) -> Model:
    tags: dict[str, Any] = row.tags or {}
    return Model(
        name=row.name,
        owner=row.owner,
        team=row.team,
        risk_tier=RiskTier(row.risk_tier),
        intended_use=row.intended_use,
        description=row.description,
        tags={str(k): str(v) for k, v in tags.items()},
        created_by=row.created_by,
        created_at=row.created_at,
    )

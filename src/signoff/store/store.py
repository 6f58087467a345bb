"""The registry store: rows in, immutable entities out, one transaction per unit of work.

The store knows tables and SQL; it enforces uniqueness and immutability through the database
(constraints and triggers) and translates database errors into ``SignoffError``s. Business rules
(what may be registered, who may do what) live in ``signoff.registry``.

Statements are built once, as module constants, and run on the transaction's connection (Core),
not through the ORM: building a statement and loading ORM entities cost several times the query
itself, and a governed registration makes a hundred or more of them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, func, insert, select, update
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
from signoff.store.prepared import Prepared
from signoff.store.schema import AliasRow, ModelRow, VersionRow


class Store:
    """Hands out transactions on one registry database.

    ``unit_of_work()`` opens a transaction that every ``transaction()`` on the same thread then
    joins until it ends: many operations, one commit (``Registry.batch`` is built on it).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()

    def current(self) -> StoreSession | None:
        """The unit of work open on this thread, if any."""
        tx: StoreSession | None = getattr(self._local, "tx", None)
        return tx

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[StoreSession]:
        """One atomic unit of work: committed when the block ends, rolled back on any error.

        Inside an open ``unit_of_work()`` on this thread the block joins it instead. A joined
        block that fails marks the whole unit failed (it will roll back) when it was a ``write``
        or the database refused something; a read that only raised (a model not found, say)
        leaves the unit usable, having written nothing.
        """
        joined = self.current()
        if joined is not None:
            joined.check_usable()
            try:
                yield joined
            except DatabaseError as exc:
                joined.fail(exc)
                raise _database_error(exc) from None
            except BaseException as exc:
                if write:
                    joined.fail(exc)
                raise
            return
        try:
            with self.engine.begin() as connection:
                tx = StoreSession(connection)
                try:
                    yield tx
                    tx.flush()
                finally:
                    tx.close()
        except DatabaseError as exc:
            raise _database_error(exc) from None

    @contextmanager
    def unit_of_work(self) -> Iterator[StoreSession]:
        """One transaction that every ``transaction()`` on this thread joins until it ends.

        Committed when the block ends; rolled back when it raises, or when any joined write
        failed even if the caller caught the error (then this raises ``StoreError``).
        """
        if self.current() is not None:
            raise StoreError("a unit of work is already open on this thread")
        try:
            with self.engine.begin() as connection:
                tx = StoreSession(connection)
                self._local.tx = tx
                try:
                    yield tx
                    tx.check_usable()
                    tx.flush()
                finally:
                    self._local.tx = None
                    tx.close()
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


_MODEL_COLUMNS = (
    ModelRow.id,
    ModelRow.name,
    ModelRow.owner,
    ModelRow.team,
    ModelRow.risk_tier,
    ModelRow.intended_use,
    ModelRow.description,
    ModelRow.tags,
    ModelRow.created_by,
    ModelRow.created_at,
)
_MODEL_BY_NAME = Prepared(select(*_MODEL_COLUMNS).where(ModelRow.name == bindparam("name")))
_ALL_MODELS = Prepared(select(*_MODEL_COLUMNS).order_by(ModelRow.name))
_INSERT_MODEL = Prepared(insert(ModelRow).returning(ModelRow.id))
_NEXT_NUMBER = Prepared(
    update(ModelRow)
    .where(ModelRow.id == bindparam("model_id"))
    .values(version_count=ModelRow.version_count + 1)
    .returning(ModelRow.version_count)
)
_VERSION_COLUMNS = (
    VersionRow.id,
    VersionRow.number,
    VersionRow.artifact_uri,
    VersionRow.root_digest,
    VersionRow.manifest,
    VersionRow.lineage,
    VersionRow.extra,
    VersionRow.created_by,
    VersionRow.created_at,
    VersionRow.stage,
)
# A version with its aliases (one row per alias), and the same with its model: resolving a
# reference in a new transaction is one query.
_VERSION_BY_NUMBER = Prepared(
    select(*_VERSION_COLUMNS, AliasRow.name)
    .outerjoin(AliasRow, AliasRow.version_id == VersionRow.id)
    .where(VersionRow.model_id == bindparam("model_id"), VersionRow.number == bindparam("number"))
)
_MODEL_AND_VERSION = Prepared(
    select(*_MODEL_COLUMNS, *_VERSION_COLUMNS, AliasRow.name)
    .select_from(ModelRow)
    .outerjoin(
        VersionRow,
        and_(VersionRow.model_id == ModelRow.id, VersionRow.number == bindparam("number")),
    )
    .outerjoin(AliasRow, AliasRow.version_id == VersionRow.id)
    .where(ModelRow.name == bindparam("name"))
)
_VERSION_BY_DIGEST = Prepared(
    select(*_VERSION_COLUMNS).where(
        VersionRow.model_id == bindparam("model_id"),
        VersionRow.root_digest == bindparam("root_digest"),
    )
)
_VERSIONS_OF_MODEL = Prepared(
    select(*_VERSION_COLUMNS)
    .where(VersionRow.model_id == bindparam("model_id"))
    .order_by(VersionRow.number)
)
_LATEST_NUMBER = Prepared(
    select(func.max(VersionRow.number)).where(VersionRow.model_id == bindparam("model_id"))
)
_ALL_VERSIONS = Prepared(
    select(*_VERSION_COLUMNS, ModelRow.name)
    .join(ModelRow, VersionRow.model_id == ModelRow.id)
    .order_by(ModelRow.name, VersionRow.number)
)
_VERSIONS_IN_STAGES = _ALL_VERSIONS.statement.where(
    VersionRow.stage.in_(bindparam("stages", expanding=True))
)
_INSERT_VERSION = Prepared(insert(VersionRow).returning(VersionRow.id))
_SET_STAGE = Prepared(
    update(VersionRow)
    .where(VersionRow.id == bindparam("version_id"))
    .values(stage=bindparam("new_stage"))
)
_VERSION_NUMBER = Prepared(
    select(VersionRow.number).where(VersionRow.id == bindparam("version_id"))
)
_ALIASES_OF_VERSION = Prepared(
    select(AliasRow.name).where(AliasRow.version_id == bindparam("version_id"))
)
_ALIASES_OF_MODEL = Prepared(
    select(AliasRow.version_id, AliasRow.name).where(AliasRow.model_id == bindparam("model_id"))
)
_ALL_ALIASES = Prepared(select(AliasRow.version_id, AliasRow.name))
_ALIAS_TARGET = Prepared(
    select(VersionRow.number)
    .join(AliasRow, AliasRow.version_id == VersionRow.id)
    .where(AliasRow.model_id == bindparam("model_id"), AliasRow.name == bindparam("alias"))
)
_ALIAS_ROW = Prepared(
    select(AliasRow.id, AliasRow.version_id).where(
        AliasRow.model_id == bindparam("model_id"), AliasRow.name == bindparam("alias")
    )
)
_INSERT_ALIAS = Prepared(insert(AliasRow))
_MOVE_ALIAS = Prepared(
    update(AliasRow)
    .where(AliasRow.id == bindparam("alias_id"))
    .values(version_id=bindparam("target"), updated_by=bindparam("by"), updated_at=bindparam("at"))
)
_ALIAS_TARGETS = Prepared(
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


class StoreSession:
    """Reads and writes inside one open transaction.

    Models and versions read in the transaction are remembered until the transaction changes
    them (a stage move, an alias move), so an operation that resolves the same reference several
    times reads it once. Write through these methods, not ``session`` directly, or the memory
    can go stale within the transaction.
    """

    def __init__(self, connection: Connection) -> None:
        self._conn = connection
        self._session: Session | None = None
        self.events = EventLog(self)
        self.gov = GovernanceStore(self)
        self._models: dict[str, tuple[int, Model]] = {}
        self._versions: dict[tuple[str, int], tuple[int, Version]] = {}
        self.failure: BaseException | None = None
        self.memo: dict[Any, Any] = {}
        """Values the service layer derived from this transaction's reads, for reuse within it.
        Keys must name everything a value depends on; nothing here is ever invalidated."""

    @property
    def connection(self) -> Connection:
        """The transaction's connection (Core statements)."""
        return self._conn

    @property
    def session(self) -> Session:
        """An ORM session on this transaction, made on first use (for the few ORM reads left).

        It joins the transaction and never commits it: ``Store`` commits or rolls back.
        """
        if self._session is None:
            self._session = Session(
                bind=self._conn, join_transaction_mode="rollback_only", expire_on_commit=False
            )
        return self._session

    def close(self) -> None:
        """Release the ORM session, if one was made."""
        if self._session is not None:
            self._session.close()

    # --- the unit of work ---------------------------------------------------------------------

    def fail(self, exc: BaseException) -> None:
        """Mark the transaction failed: it can only roll back now (the first cause is kept)."""
        if self.failure is None:
            self.failure = exc

    def check_usable(self) -> None:
        """Refuse to go on in a transaction marked failed."""
        if self.failure is not None:
            raise StoreError(
                f"the batch was rolled back: an operation in it failed ({self.failure})",
                hint="nothing in the batch was written; fix the error and run the batch again",
            )

    def flush(self) -> None:
        """Write what is held back until commit: the events appended, the log's new frontier."""
        self.events.flush()

    # --- models -------------------------------------------------------------------------------

    def add_model(self, model: Model) -> Model:
        """Insert a model; a duplicate name is a ``ConflictError``."""
        if self._model_entry(model.name) is not None:
            raise ConflictError(
                f"model {model.name!r} already exists",
                hint="choose another name, or register a new version of the existing model",
            )
        model_id = _INSERT_MODEL.scalar(
            self._conn,
            {
                "name": model.name,
                "owner": model.owner,
                "team": model.team,
                "risk_tier": model.risk_tier.value,
                "intended_use": model.intended_use,
                "description": model.description,
                "tags": dict(model.tags),
                "created_by": model.created_by,
                "created_at": model.created_at,
                "version_count": 0,
            },
        )
        self._models[model.name] = (model_id, model)
        return model

    def get_model(self, name: str) -> Model | None:
        """The model called ``name``, if any."""
        entry = self._model_entry(name)
        return entry[1] if entry is not None else None

    def list_models(self) -> list[Model]:
        """All models, by name."""
        return [_model(row) for row in _ALL_MODELS.all(self._conn)]

    def model_id(self, name: str) -> int | None:
        """The row id of model ``name``, if it exists."""
        entry = self._model_entry(name)
        return entry[0] if entry is not None else None

    def _model_entry(self, name: str) -> tuple[int, Model] | None:
        entry = self._models.get(name)
        if entry is None:
            row = _MODEL_BY_NAME.first(self._conn, {"name": name})
            if row is None:
                return None
            entry = self._models[name] = (row[0], _model(row))
        return entry

    def _model_id(self, name: str) -> int:
        model_id = self.model_id(name)
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
        number = _NEXT_NUMBER.scalar(self._conn, {"model_id": self._model_id(model)})
        if number is None:
            raise StoreError(f"model {model!r} vanished during the transaction")
        return int(number)

    def add_version(self, version: Version) -> Version:
        """Insert a version (its number claimed with ``next_version_number``)."""
        version_id = _INSERT_VERSION.scalar(
            self._conn,
            {
                "model_id": self._model_id(version.model),
                "number": version.number,
                "artifact_uri": version.artifact.uri,
                "root_digest": version.artifact.root_digest,
                "total_size": version.artifact.total_size,
                "manifest": version.artifact.manifest.to_dict(),
                "lineage": version.lineage.to_dict(),
                "metadata": dict(version.metadata),
                "created_by": version.created_by,
                "created_at": version.created_at,
                "stage": version.stage.value,
            },
        )
        self._versions[(version.model, version.number)] = (version_id, version)
        return version

    def set_stage(self, model: str, number: int, stage: Stage) -> None:
        """Move a version to ``stage`` (the one mutable field of a version)."""
        version_id = self._version_id(model, number)
        _SET_STAGE.run(self._conn, {"version_id": version_id, "new_stage": stage.value})
        entry = self._versions.get((model, number))
        if entry is not None:
            self._versions[(model, number)] = (version_id, replace(entry[1], stage=stage))

    def list_versions_in_stages(self, stages: tuple[Stage, ...]) -> list[Version]:
        """Every version currently in one of ``stages``, by model and number."""
        rows = self._conn.execute(_VERSIONS_IN_STAGES, {"stages": [s.value for s in stages]})
        aliases = self._aliases(_ALL_ALIASES.all(self._conn))
        return [self._version(row[10], row, aliases) for row in rows]

    def iter_raw_versions(self) -> Iterator[tuple[str, int, str, Version | None]]:
        """Every version as ``(model, number, stage, entity or None if unreadable)``.

        For auditing: a row whose manifest no longer matches its digest yields ``None`` instead
        of stopping the scan.
        """
        for row in _ALL_VERSIONS.all(self._conn):
            try:
                version: Version | None = self._version(row[10], row, {})
            except StoreError:
                version = None
            yield row[10], row[1], row[9], version

    def alias_targets(self) -> dict[tuple[str, str], tuple[int, str, str]]:
        """Every alias now: ``{(model, alias): (number, updated_by, updated_at ISO)}``."""
        rows = _ALIAS_TARGETS.all(self._conn)
        return {
            (model, alias): (number, by, at.isoformat()) for model, alias, number, by, at in rows
        }

    def get_version(self, model: str, number: int) -> Version | None:
        """Version ``number`` of ``model``, if any."""
        entry = self._version_entry(model, number)
        return entry[1] if entry is not None else None

    def version_id(self, model: str, number: int) -> int | None:
        """The row id of version ``number`` of ``model``, if it exists."""
        entry = self._version_entry(model, number)
        return entry[0] if entry is not None else None

    def _version_entry(self, model: str, number: int) -> tuple[int, Version] | None:
        entry = self._versions.get((model, number))
        if entry is not None:
            return entry
        rows: Sequence[Sequence[Any]]
        known = self._models.get(model)
        if known is None:
            found = _MODEL_AND_VERSION.all(self._conn, {"name": model, "number": number})
            if not found:
                return None
            self._models[model] = (found[0][0], _model(found[0][:10]))
            rows = [row[10:] for row in found]
        else:
            rows = _VERSION_BY_NUMBER.all(self._conn, {"model_id": known[0], "number": number})
        if not rows or rows[0][0] is None:
            return None
        version_id = rows[0][0]
        aliases = {version_id: [row[10] for row in rows if row[10] is not None]}
        entry = (version_id, self._version(model, rows[0], aliases))
        self._versions[(model, number)] = entry
        return entry

    def _version_id(self, model: str, number: int) -> int:
        version_id = self.version_id(model, number)
        if version_id is None:
            raise StoreError(f"version {model}@{number} vanished during the transaction")
        return version_id

    def latest_number(self, model: str) -> int | None:
        """The highest version number of ``model``, if it has versions."""
        model_id = self.model_id(model)
        if model_id is None:
            return None
        number = _LATEST_NUMBER.scalar(self._conn, {"model_id": model_id})
        return int(number) if number is not None else None

    def find_version_by_digest(self, model: str, root_digest: str) -> Version | None:
        """The version of ``model`` whose artifact has ``root_digest``, if any."""
        model_id = self.model_id(model)
        if model_id is None:
            return None
        row = _VERSION_BY_DIGEST.first(
            self._conn, {"model_id": model_id, "root_digest": root_digest}
        )
        return self._version(model, row) if row is not None else None

    def list_versions(self, model: str) -> list[Version]:
        """All versions of ``model``, oldest first."""
        model_id = self.model_id(model)
        if model_id is None:
            return []
        rows = _VERSIONS_OF_MODEL.all(self._conn, {"model_id": model_id})
        aliases = self._aliases(_ALIASES_OF_MODEL.all(self._conn, {"model_id": model_id}))
        return [self._version(model, row, aliases) for row in rows]

    @staticmethod
    def _aliases(rows: Iterable[Sequence[Any]]) -> dict[int, list[str]]:
        result: dict[int, list[str]] = {}
        for version_id, name in rows:
            result.setdefault(version_id, []).append(name)
        return result

    def _version(
        self, model: str, row: Sequence[Any], aliases: dict[int, list[str]] | None = None
    ) -> Version:
        """The entity of a ``_VERSION_COLUMNS`` row, its manifest checked against its digest."""
        (
            version_id,
            number,
            artifact_uri,
            root_digest,
            manifest_data,
            lineage,
            extra,
            created_by,
            created_at,
            stage_value,
        ) = row[:10]
        if aliases is None:
            names = _ALIASES_OF_VERSION.all(self._conn, {"version_id": version_id})
            aliases = {version_id: [name for (name,) in names]}
        try:
            manifest = Manifest.from_dict(manifest_data)
        except InvalidInputError as exc:
            raise StoreError(
                f"stored manifest of {model}@{number} is corrupt: {exc.message}",
                hint="the database was changed outside signoff; restore it from a backup",
            ) from None
        if manifest.root_digest != root_digest:
            raise StoreError(
                f"stored manifest of {model}@{number} does not match its root digest",
                hint="the database was changed outside signoff; restore it from a backup",
            )
        try:
            stage = Stage(stage_value)
        except ValueError:
            raise StoreError(
                f"stored stage of {model}@{number} is not a stage: {stage_value!r}",
                hint="the database was changed outside signoff; restore it from a backup",
            ) from None
        return Version(
            model=model,
            number=number,
            artifact=Artifact(uri=artifact_uri, manifest=manifest),
            lineage=Lineage.from_dict(lineage),
            created_by=created_by,
            created_at=created_at,
            stage=stage,
            metadata=dict(extra),
            aliases=tuple(sorted(aliases.get(version_id, ()))),
        )

    # --- aliases ------------------------------------------------------------------------------

    def resolve_alias(self, model: str, alias: str) -> int | None:
        """The version number ``alias`` of ``model`` points at, if the alias exists."""
        model_id = self.model_id(model)
        if model_id is None:
            return None
        number: int | None = _ALIAS_TARGET.scalar(
            self._conn, {"model_id": model_id, "alias": alias}
        )
        return number

    def set_alias(
        self, model: str, alias: str, number: int, *, actor: str, when: datetime
    ) -> AliasMove:
        """Point ``alias`` at version ``number`` and record the move."""
        model_id = self._model_id(model)
        version_id = self._version_id(model, number)
        row = _ALIAS_ROW.first(self._conn, {"model_id": model_id, "alias": alias})
        from_number: int | None = None
        if row is None:
            _INSERT_ALIAS.run(
                self._conn,
                {
                    "model_id": model_id,
                    "name": alias,
                    "version_id": version_id,
                    "updated_by": actor,
                    "updated_at": when,
                },
            )
        else:
            alias_id, from_version_id = row
            from_number = _VERSION_NUMBER.scalar(self._conn, {"version_id": from_version_id})
            _MOVE_ALIAS.run(
                self._conn, {"alias_id": alias_id, "target": version_id, "by": actor, "at": when}
            )
        # The moved alias changes the aliases of two versions: forget this model's versions.
        self._versions = {key: entry for key, entry in self._versions.items() if key[0] != model}
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


def _model(row: Sequence[Any]) -> Model:
    """The entity of a ``_MODEL_COLUMNS`` row."""
    _, name, owner, team, risk_tier, intended_use, description, tags, created_by, created_at = row
    return Model(
        name=name,
        owner=owner,
        team=team,
        risk_tier=RiskTier(risk_tier),
        intended_use=intended_use,
        description=description,
        tags={str(k): str(v) for k, v in (tags or {}).items()},
        created_by=created_by,
        created_at=created_at,
    )

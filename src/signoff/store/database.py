"""Connecting to a registry database: URL resolution, engine set-up and schema checks.

SQLite (the embedded default, WAL mode) and PostgreSQL (production) are the two backends. The
schema is owned by Alembic migrations shipped in ``signoff.store.migrations``; a database is a
signoff registry exactly when it has the ``signoff_schema_version`` table at a known revision.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, DBAPIError, OperationalError

from signoff.errors import InvalidInputError, StoreError
from signoff.store.schema import SCHEMA_REVISIONS, VERSION_TABLE

DEFAULT_SQLITE_PATH = Path(".signoff") / "registry.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class DatabaseLocation:
    """A resolved registry location: the SQLAlchemy URL and, for SQLite, the file path."""

    url: str
    sqlite_path: Path | None
    home_override: Path | None = None

    @property
    def home(self) -> Path:
        """Where the registry's files (private keys) live: the given home, ``$SIGNOFF_HOME``,
        else next to the SQLite file, else ``~/.signoff`` for a server database."""
        if self.home_override is not None:
            return self.home_override
        env = os.environ.get("SIGNOFF_HOME")
        if env:
            return Path(env).expanduser().absolute()
        if self.sqlite_path is not None:
            return self.sqlite_path.parent
        return Path.home() / ".signoff"

    @property
    def display(self) -> str:
        """Where the registry is, for messages (never shows a password)."""
        if self.sqlite_path is not None:
            return str(self.sqlite_path)
        return make_url(self.url).render_as_string(hide_password=True)


def resolve_location(url: str | None = None) -> DatabaseLocation:
    """Resolve ``url`` (or ``$SIGNOFF_DB``, or ``./.signoff/registry.db``) to a location.

    Accepts ``sqlite:///path``, ``postgresql://...`` (served by psycopg 3) or a bare file path.
    """
    raw = url or os.environ.get("SIGNOFF_DB") or str(DEFAULT_SQLITE_PATH)
    if "://" not in raw:
        path = Path(raw).expanduser().absolute()
        return DatabaseLocation(url=f"sqlite:///{path}", sqlite_path=path)
    try:
        parsed = make_url(raw)
    except ArgumentError:
        raise InvalidInputError(
            f"invalid database URL {raw!r}",
            hint="use sqlite:///PATH, postgresql://USER@HOST:PORT/DB or a file path",
        ) from None
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise InvalidInputError(
                "an in-memory SQLite database cannot hold a registry",
                hint="give a file, e.g. sqlite:///.signoff/registry.db",
            )
        path = Path(parsed.database).expanduser().absolute()
        return DatabaseLocation(url=f"sqlite:///{path}", sqlite_path=path)
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        return DatabaseLocation(url=parsed.render_as_string(hide_password=False), sqlite_path=None)
    raise InvalidInputError(
        f"unsupported database {parsed.get_backend_name()!r}",
        hint="signoff stores registries in SQLite or PostgreSQL",
    )


def create_registry_engine(location: DatabaseLocation) -> Engine:
    """An engine tuned for the backend: SQLite in WAL mode with immediate write transactions."""
    if location.sqlite_path is None:
        try:
            return create_engine(location.url, pool_pre_ping=True)
        except ModuleNotFoundError:
            raise StoreError(
                "PostgreSQL support is not installed",
                hint="install it with: pip install 'signoff[postgres]'",
            ) from None
    # A pooled engine: reconnecting per transaction cost ~40 % of a write (and a WAL checkpoint).
    engine = create_engine(location.url)
    _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, a busy timeout, and BEGIN IMMEDIATE.

    pysqlite's own transaction handling starts transactions lazily as DEFERRED, so two writers can
    both read, then both try to upgrade to a write lock and one fails with "database is locked".
    Taking the write lock at BEGIN (SQLAlchemy's documented recipe) serialises writers instead.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Straight on the DBAPI connection: ``exec_driver_sql`` costs ~0.1 ms of SQLAlchemy
        # machinery per transaction. A failure (the lock not granted within the busy timeout)
        # is wrapped as SQLAlchemy would, so the store reports it like any database error.
        try:
            connection.connection.dbapi_connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise DBAPIError.instance(
                "BEGIN IMMEDIATE", (), exc, sqlite3.Error, dialect=engine.dialect
            ) from exc


def head_revision() -> str:
    """The newest schema revision this code knows."""
    return SCHEMA_REVISIONS[-1]


def _known_revisions() -> set[str]:
    return set(SCHEMA_REVISIONS)


def current_revision(engine: Engine, location: DatabaseLocation) -> str | None:
    """The registry schema revision, ``None`` for an empty database.

    Raises ``StoreError`` when the database is unreachable or holds something that is not a
    signoff registry.
    """
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            if VERSION_TABLE not in tables:
                if tables:
                    raise StoreError(
                        f"{location.display} is not a signoff registry "
                        f"(it has other tables: {', '.join(sorted(tables)[:5])})",
                        hint="point --db / SIGNOFF_DB at a signoff registry or an empty database",
                    )
                return None
            # Read the version table directly: importing Alembic costs ~0.4 s, and opening a
            # registry (every CLI command) only needs this one value.
            versions = (
                connection.execute(
                    text(f"SELECT version_num FROM {VERSION_TABLE}")  # noqa: S608 - a constant
                )
                .scalars()
                .all()
            )
            if len(versions) != 1:
                raise StoreError(
                    f"{location.display} has {len(versions)} schema versions recorded",
                    hint="the registry's schema table was edited outside signoff",
                )
            return str(versions[0])
    except DatabaseError as exc:
        raise _connection_error(exc, location) from None


def _connection_error(exc: DatabaseError, location: DatabaseLocation) -> StoreError:
    detail = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    if "file is not a database" in detail or "not a database" in detail:
        return StoreError(
            f"{location.display} is not a signoff registry (not a SQLite database)",
            hint="point --db / SIGNOFF_DB at a signoff registry",
        )
    if isinstance(exc, OperationalError):
        return StoreError(
            f"cannot open the registry at {location.display}: {detail}",
            hint="check that the database server is running and the URL is right",
        )
    return StoreError(f"database error at {location.display}: {detail}")


def check_schema(engine: Engine, location: DatabaseLocation) -> None:
    """Refuse a database that is not a registry at exactly this code's schema revision."""
    revision = current_revision(engine, location)
    if revision is None:
        raise StoreError(
            f"no signoff registry at {location.display}",
            hint="create one with `signoff init` (add --db URL for another database)",
        )
    _check_revision_known(revision, location)
    if revision != head_revision():
        raise StoreError(
            f"the registry at {location.display} has an older schema ({revision})",
            hint="upgrade it with `signoff init`",
        )


def _check_revision_known(revision: str, location: DatabaseLocation) -> None:
    if revision not in _known_revisions():
        raise StoreError(
            f"the registry at {location.display} has schema {revision!r}, "
            "newer than this signoff understands",
            hint="upgrade signoff (pip install -U signoff) before using this registry",
        )


def migrate(engine: Engine, location: DatabaseLocation) -> tuple[str | None, str]:
    """Create or upgrade the schema to head in one transaction; return (before, after)."""
    before = current_revision(engine, location)
    if before is not None:
        _check_revision_known(before, location)
    head = head_revision()
    if before == head:
        return before, head
    from alembic import command  # only creating or upgrading a registry needs Alembic
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except DatabaseError as exc:
        raise _connection_error(exc, location) from None
    return before, head

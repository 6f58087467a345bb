"""Statements compiled once per dialect and run straight on the DBAPI cursor.

SQLAlchemy builds an execution context, looks the statement up in its compiled cache and wraps
the cursor in a result object on every ``Connection.execute``: ~60-80 us a statement here, many
times what SQLite takes to run one of these small queries, and a governed registration runs
about a hundred. A ``Prepared`` statement keeps SQLAlchemy's SQL for each dialect (nothing is
written by hand) and the bind and result processors its types give for that dialect (the same
public ``TypeEngine`` hooks SQLAlchemy itself calls), and runs on the transaction's own DBAPI
connection, inside the transaction SQLAlchemy began. Database errors come out as SQLAlchemy's
``DBAPIError`` subclasses, as from ``Connection.execute``, so ``Store`` translates them alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

Processor = Callable[[Any], Any] | None


class _Compiled:
    """One statement compiled for one dialect (and, for an INSERT, one set of columns)."""

    def __init__(self, statement: ClauseElement, dialect: Dialect, keys: Sequence[str]) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect, column_keys=list(keys)))
        self.compiled = compiled
        self.sql = compiled.string
        self.positions: tuple[str, ...] | None = (
            tuple(compiled.positiontup or ()) if compiled.positional else None
        )
        escaped = getattr(compiled, "escaped_bind_names", None) or {}
        self.escaped: dict[str, str] = dict(escaped)
        self.binds: dict[str, Processor] = {}
        # How each bind gets its value: the caller's parameter named by the bind's key, else
        # the value built into the statement (``construct_params`` does the same, slower).
        self.plan: list[tuple[str, str, bool, Any]] | None = []
        for bind, name in compiled.bind_names.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.binds[name] = processor
            if bind.callable is not None or bind.expanding or bind.literal_execute:
                self.plan = None  # not a plain bind: leave it to construct_params
            elif self.plan is not None:
                self.plan.append((name, bind.key, bind.required, bind.value))
        self.columns = list(getattr(statement, "exported_columns", ()))
        self.results: list[Processor] | None = None

    def parameters(self, params: Mapping[str, Any] | None) -> Sequence[Any] | dict[str, Any]:
        """The DBAPI parameters for ``params``: processed, in the dialect's paramstyle."""
        if self.plan is None:
            values = dict(self.compiled.construct_params(params, escape_names=False) or {})
        else:
            values = {}
            given = params or {}
            for name, key, required, value in self.plan:
                if key in given:
                    values[name] = given[key]
                elif name in given:
                    values[name] = given[name]
                elif required:
                    raise ValueError(f"a value is required for bind parameter {key!r}")
                else:
                    values[name] = value
        for name, processor in self.binds.items():
            if processor is not None:
                values[name] = processor(values[name])
        if self.positions is not None:
            return tuple(values[name] for name in self.positions)
        return {self.escaped.get(name, name): value for name, value in values.items()}

    def processors(self, dialect: Dialect, description: Sequence[Any]) -> list[Processor]:
        """The result processor of each column (learnt from the first cursor description)."""
        if self.results is None:
            self.results = [
                column.type.dialect_impl(dialect).result_processor(dialect, entry[1])
                for column, entry in zip(self.columns, description, strict=True)
            ]
        return self.results


class Prepared:
    """A Core statement, compiled once per dialect, run on the transaction's DBAPI cursor."""

    __slots__ = ("_compiled", "statement")

    def __init__(self, statement: Executable) -> None:
        if not isinstance(statement, ClauseElement):
            raise TypeError("a Prepared statement must be a SQL expression")
        self.statement: Any = statement  # Select, Insert or Update: build others from it
        self._compiled: dict[tuple[Any, ...], _Compiled] = {}

    def _for(self, dialect: Dialect, params: Mapping[str, Any] | None) -> _Compiled:
        # The SQL depends on the dialect class (driver), its paramstyle and the server version
        # (features such as RETURNING); an INSERT's columns are those it is given.
        keys = tuple(params) if params is not None and self._is_insert else ()
        cache_key = (type(dialect), dialect.paramstyle, dialect.server_version_info, keys)
        found = self._compiled.get(cache_key)
        if found is None:
            assert isinstance(self.statement, ClauseElement)
            found = self._compiled[cache_key] = _Compiled(self.statement, dialect, keys)
        return found

    @property
    def _is_insert(self) -> bool:
        return bool(getattr(self.statement, "is_insert", False))

    def all(
        self, connection: Connection, params: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """Every row, its values processed as SQLAlchemy would."""
        dialect = connection.dialect
        compiled = self._for(dialect, params)
        cursor = _cursor(connection)
        try:
            cursor.execute(compiled.sql, compiled.parameters(params))
            rows = cursor.fetchall()
            description = cursor.description
        except dialect.loaded_dbapi.Error as exc:
            raise _wrapped(compiled, params, exc, dialect) from exc
        finally:
            cursor.close()
        if not rows:
            return []
        processors = compiled.processors(dialect, description)
        if not any(processors):
            return [tuple(row) for row in rows]
        pairs = list(enumerate(processors))
        return [
            tuple(row[i] if p is None or row[i] is None else p(row[i]) for i, p in pairs)
            for row in rows
        ]

    def first(
        self, connection: Connection, params: Mapping[str, Any] | None = None
    ) -> tuple[Any, ...] | None:
        """The first row, or None."""
        rows = self.all(connection, params)
        return rows[0] if rows else None

    def scalar(self, connection: Connection, params: Mapping[str, Any] | None = None) -> Any:
        """The first column of the first row, or None."""
        row = self.first(connection, params)
        return row[0] if row is not None else None

    def run(self, connection: Connection, params: Mapping[str, Any] | None = None) -> int:
        """Execute a statement that returns no rows; the number of rows it changed."""
        dialect = connection.dialect
        compiled = self._for(dialect, params)
        cursor = _cursor(connection)
        try:
            cursor.execute(compiled.sql, compiled.parameters(params))
            return int(cursor.rowcount)
        except dialect.loaded_dbapi.Error as exc:
            raise _wrapped(compiled, params, exc, dialect) from exc
        finally:
            cursor.close()

    def run_many(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Execute once per parameter set (one ``executemany``); all sets share their keys."""
        if not rows:
            return
        dialect = connection.dialect
        compiled = self._for(dialect, rows[0])
        cursor = _cursor(connection)
        try:
            batch = [compiled.parameters(row) for row in rows]
            cursor.executemany(compiled.sql, cast(Sequence[Sequence[Any]], batch))
        except dialect.loaded_dbapi.Error as exc:
            raise _wrapped(compiled, rows[0], exc, dialect) from exc
        finally:
            cursor.close()


def _cursor(connection: Connection) -> DBAPICursor:
    # The transaction's own DBAPI connection: statements run inside the transaction that
    # SQLAlchemy began on it (and commits or rolls back).
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None
    return dbapi_connection.cursor()


def _wrapped(
    compiled: _Compiled, params: Mapping[str, Any] | None, exc: Exception, dialect: Dialect
) -> StatementError:
    """The DBAPI error as the SQLAlchemy exception ``Connection.execute`` would raise."""
    return DBAPIError.instance(
        compiled.sql,
        dict(params or {}),
        exc,
        dialect.loaded_dbapi.Error,
        dialect=dialect,
    )

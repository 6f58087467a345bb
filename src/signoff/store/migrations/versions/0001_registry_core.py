"""Registry core: models, immutable versions, aliases and their moves.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from signoff.store.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Columns that make a version what it is. The store never updates them; these triggers make the
# database refuse it too, so a direct SQL UPDATE cannot silently rewrite history either.
IMMUTABLE_VERSION_COLUMNS = (
    "model_id, number, artifact_uri, root_digest, total_size, manifest, lineage, metadata, "
    "created_by, created_at"
)
IMMUTABLE_MESSAGE = "signoff: versions are immutable"
NO_DELETE_MESSAGE = "signoff: versions are never deleted"


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("owner", sa.String(256), nullable=False),
        sa.Column("team", sa.String(256)),
        sa.Column("risk_tier", sa.String(16), nullable=False),
        sa.Column("intended_use", sa.Text),
        sa.Column("description", sa.Text),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("version_count", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False, index=True),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("artifact_uri", sa.Text, nullable=False),
        sa.Column("root_digest", sa.String(64), nullable=False, index=True),
        sa.Column("total_size", sa.BigInteger, nullable=False),
        sa.Column("manifest", sa.JSON, nullable=False),
        sa.Column("lineage", sa.JSON, nullable=False),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.UniqueConstraint("model_id", "number", name="uq_versions_model_number"),
        sa.UniqueConstraint("model_id", "root_digest", name="uq_versions_model_digest"),
    )
    op.create_table(
        "aliases",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("versions.id"), nullable=False),
        sa.Column("updated_by", sa.String(256), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("model_id", "name", name="uq_aliases_model_name"),
    )
    op.create_table(
        "alias_moves",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False, index=True),
        sa.Column("alias", sa.String(128), nullable=False),
        sa.Column("from_version_id", sa.Integer, sa.ForeignKey("versions.id")),
        sa.Column("to_version_id", sa.Integer, sa.ForeignKey("versions.id"), nullable=False),
        sa.Column("moved_by", sa.String(256), nullable=False),
        sa.Column("moved_at", UTCDateTime(), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgres_triggers()
    else:
        _sqlite_triggers()


def _sqlite_triggers() -> None:
    op.execute(
        f"CREATE TRIGGER versions_immutable BEFORE UPDATE OF {IMMUTABLE_VERSION_COLUMNS} "
        f"ON versions BEGIN SELECT RAISE(ABORT, '{IMMUTABLE_MESSAGE}'); END"
    )
    op.execute(
        "CREATE TRIGGER versions_no_delete BEFORE DELETE ON versions "
        f"BEGIN SELECT RAISE(ABORT, '{NO_DELETE_MESSAGE}'); END"
    )


def _postgres_triggers() -> None:
    op.execute(
        "CREATE FUNCTION signoff_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF TG_OP = 'DELETE' THEN RAISE EXCEPTION '{NO_DELETE_MESSAGE}'; END IF; "
        f"RAISE EXCEPTION '{IMMUTABLE_MESSAGE}'; END $$"
    )
    op.execute(
        f"CREATE TRIGGER versions_immutable BEFORE UPDATE OF {IMMUTABLE_VERSION_COLUMNS} "
        "ON versions FOR EACH ROW EXECUTE FUNCTION signoff_versions_immutable()"
    )
    op.execute(
        "CREATE TRIGGER versions_no_delete BEFORE DELETE ON versions "
        "FOR EACH ROW EXECUTE FUNCTION signoff_versions_immutable()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS versions_no_delete ON versions")
        op.execute("DROP TRIGGER IF EXISTS versions_immutable ON versions")
        op.execute("DROP FUNCTION IF EXISTS signoff_versions_immutable()")
    for table in ("alias_moves", "aliases", "versions", "models"):
        op.drop_table(table)

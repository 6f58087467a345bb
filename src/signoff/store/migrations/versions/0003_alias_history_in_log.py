"""Alias history lives in the audit log only: drop the ``alias_moves`` copy.

Every move is an ``alias.moved`` event (model, alias, from, to, actor, time) since 0002, so the
table held a second copy that ``audit verify`` had to re-read and cross-check row by row.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from signoff.store.schema import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("alias_moves")


def downgrade() -> None:
    # The history stays in the log; a downgrade recreates the table empty.
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

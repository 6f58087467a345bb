"""Evidence receipts: what the registry verified when it attached an envelope, sealed by its key.

``claims`` holds, as compact JSON, the keyids whose signatures verified at attach time, the other
signature keyids, and the predicate the policy reads; ``receipt`` is an HMAC over those claims
and the row's policy-relevant columns under a key derived from the registry's signing key.
Bulk reads (``coverage``) check the receipt instead of parsing the envelope and verifying an
Ed25519 signature per row. Rows attached before this revision have neither, and are verified in
full as before.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evidence") as batch:
        batch.add_column(sa.Column("claims", sa.Text))
        batch.add_column(sa.Column("receipt", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("evidence") as batch:
        batch.drop_column("receipt")
        batch.drop_column("claims")

"""Add the TLS policy of security profiles.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("security_profile") as batch:
        batch.add_column(
            sa.Column("tls_policy", sa.String(40), nullable=False, server_default="modern")
        )


def downgrade() -> None:
    with op.batch_alter_table("security_profile") as batch:
        batch.drop_column("tls_policy")

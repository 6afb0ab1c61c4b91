"""Add call detail records and the OPTIONS ping settings of SIP trunks.

Existing trunks get OPTIONS ping off, with the default interval of 60 seconds.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

NAME = 50
ENUM = 40
#: Room for an ISO 8601 UTC time with microseconds: 2026-12-05T10:00:00.000000+00:00.
TIME = 32


def upgrade() -> None:
    op.create_table(
        "cdr",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("call_id", sa.String(255), nullable=False),
        sa.Column("node", sa.String(NAME), nullable=False),
        sa.Column("direction", sa.String(ENUM), nullable=False),
        sa.Column("calling", sa.String(255), nullable=False),
        sa.Column("called", sa.String(255), nullable=False),
        sa.Column("trunk", sa.String(NAME)),
        sa.Column("start", sa.String(TIME), nullable=False),
        sa.Column("answer", sa.String(TIME)),
        sa.Column("end", sa.String(TIME), nullable=False),
        sa.Column("duration", sa.Float()),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("state", sa.String(ENUM), nullable=False),
        sa.Column("secure", sa.Boolean(), nullable=False),
        sa.Column("srtp_suite", sa.String(ENUM)),
        sa.Column("signalling_encrypted", sa.Boolean(), nullable=False),
        sa.Column("packets_sent", sa.Integer()),
        sa.Column("packets_received", sa.Integer()),
        sa.Column("packets_decrypted", sa.Integer()),
        sa.Column("packets_failed", sa.Integer()),
    )
    op.create_index("ix_cdr_start", "cdr", ["start"])
    op.create_index("ix_cdr_call_id", "cdr", ["call_id"])
    # a plain ALTER TABLE ADD COLUMN: copying sip_trunk in batch mode would drop the old
    # table, which the store's foreign keys reject or cascade into trunk_destination
    op.add_column(
        "sip_trunk",
        sa.Column("options_ping", sa.Boolean(), nullable=False, server_default="0"),
    )
    op.add_column(
        "sip_trunk",
        sa.Column("options_ping_interval", sa.Integer(), nullable=False, server_default="60"),
    )


def downgrade() -> None:
    # NOTE: batch mode copies sip_trunk; run the downgrade with foreign keys off.
    with op.batch_alter_table("sip_trunk") as batch:
        batch.drop_column("options_ping_interval")
        batch.drop_column("options_ping")
    op.drop_index("ix_cdr_call_id", table_name="cdr")
    op.drop_index("ix_cdr_start", table_name="cdr")
    op.drop_table("cdr")

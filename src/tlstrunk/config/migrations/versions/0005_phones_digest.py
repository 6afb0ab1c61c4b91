"""Add SIP phones, digest users, the node's realm and phone ports, and SRV trunks.

Existing nodes get the node name as realm and no phone listener, existing
directory numbers ring for 12 seconds, and existing trunks keep plain
addresses and no digest users.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NAME = 50
ENUM = 40
#: A hexadecimal SHA-256 digest.
HA1 = 64


def upgrade() -> None:
    # plain ALTER TABLE ADD COLUMN throughout: batch mode would copy and drop node,
    # directory_number and sip_trunk, which the store's foreign keys reject or cascade
    op.add_column("node", sa.Column("sip_realm", sa.String(255), nullable=False, server_default=""))
    op.add_column("node", sa.Column("phone_port", sa.Integer(), nullable=True))
    op.add_column("node", sa.Column("phone_secure_port", sa.Integer(), nullable=True))
    op.create_table(
        "digest_user",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(NAME), nullable=False),
        sa.Column("realm", sa.String(255), nullable=False),
        sa.Column("ha1_md5", sa.String(HA1), nullable=False),
        sa.Column("ha1_sha256", sa.String(HA1), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.UniqueConstraint("name", "realm"),
    )
    op.add_column(
        "directory_number",
        sa.Column("no_answer_timeout", sa.Integer(), nullable=False, server_default="12"),
    )
    op.create_table(
        "sip_phone",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(NAME), nullable=False, unique=True),
        sa.Column(
            "directory_number_id",
            sa.Integer(),
            sa.ForeignKey("directory_number.id"),
            nullable=False,
        ),
        sa.Column("digest_user_id", sa.Integer(), sa.ForeignKey("digest_user.id"), nullable=True),
        sa.Column("device_security_mode", sa.String(ENUM), nullable=False),
        sa.Column("transport", sa.String(ENUM), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
    )
    op.add_column(
        "sip_trunk",
        sa.Column("destination_is_srv", sa.Boolean(), nullable=False, server_default="0"),
    )
    for column in ("inbound_digest_user_id", "outbound_digest_user_id"):
        _add_digest_user_reference("sip_trunk", column)


def _add_digest_user_reference(table: str, column: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with an inline REFERENCES clause, but Alembic emits the
        # foreign key as a separate ALTER, which SQLite does not support
        op.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER REFERENCES digest_user (id)")
        return
    op.add_column(
        table, sa.Column(column, sa.Integer(), sa.ForeignKey("digest_user.id"), nullable=True)
    )


def downgrade() -> None:
    # NOTE: batch mode copies the tables; run the downgrade with foreign keys off.
    with op.batch_alter_table("sip_trunk") as batch:
        batch.drop_column("outbound_digest_user_id")
        batch.drop_column("inbound_digest_user_id")
        batch.drop_column("destination_is_srv")
    op.drop_table("sip_phone")
    with op.batch_alter_table("directory_number") as batch:
        batch.drop_column("no_answer_timeout")
    op.drop_table("digest_user")
    with op.batch_alter_table("node") as batch:
        batch.drop_column("phone_secure_port")
        batch.drop_column("phone_port")
        batch.drop_column("sip_realm")

"""Create the configuration tables.

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

NAME = 50
ENUM = 40


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), primary_key=True)


def upgrade() -> None:
    op.create_table(
        "node",
        _id(),
        sa.Column("name", sa.String(NAME), nullable=False, unique=True),
        sa.Column("address", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
    )
    op.create_table(
        "security_profile",
        _id(),
        sa.Column("name", sa.String(NAME), nullable=False, unique=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("device_security_mode", sa.String(ENUM), nullable=False),
        sa.Column("incoming_transport", sa.String(ENUM), nullable=False),
        sa.Column("outgoing_transport", sa.String(ENUM), nullable=False),
        sa.Column("enable_digest_authentication", sa.Boolean(), nullable=False),
        sa.Column("nonce_validity_time", sa.Integer(), nullable=False),
        sa.Column("x509_subject_name", sa.Text(), nullable=False),
        sa.Column("incoming_port", sa.Integer(), nullable=False),
        sa.Column("enable_application_level_authorization", sa.Boolean(), nullable=False),
        sa.Column("accept_presence_subscription", sa.Boolean(), nullable=False),
        sa.Column("accept_out_of_dialog_refer", sa.Boolean(), nullable=False),
        sa.Column("accept_unsolicited_notification", sa.Boolean(), nullable=False),
        sa.Column("accept_replaces_header", sa.Boolean(), nullable=False),
        sa.Column("transmit_security_status", sa.Boolean(), nullable=False),
        sa.Column("allow_charging_header", sa.Boolean(), nullable=False),
        sa.Column("sip_v150_outbound_sdp_offer_filtering", sa.String(ENUM), nullable=False),
    )
    op.create_table(
        "partition",
        _id(),
        sa.Column("name", sa.String(NAME), nullable=False, unique=True),
        sa.Column("description", sa.Text(), nullable=False),
    )
    op.create_table(
        "calling_search_space",
        _id(),
        sa.Column("name", sa.String(NAME), nullable=False, unique=True),
        sa.Column("description", sa.Text(), nullable=False),
    )
    op.create_table(
        "css_member",
        _id(),
        sa.Column(
            "css_id",
            sa.Integer(),
            sa.ForeignKey("calling_search_space.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("partition_id", sa.Integer(), sa.ForeignKey("partition.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.UniqueConstraint("css_id", "position"),
    )
    op.create_table(
        "sip_trunk",
        _id(),
        sa.Column("name", sa.String(NAME), nullable=False, unique=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("device_pool", sa.String(NAME), nullable=False),
        sa.Column("location", sa.String(NAME), nullable=False),
        sa.Column("srtp_allowed", sa.Boolean(), nullable=False),
        sa.Column("consider_traffic_secure", sa.String(ENUM), nullable=False),
        sa.Column(
            "security_profile_id",
            sa.Integer(),
            sa.ForeignKey("security_profile.id"),
            nullable=False,
        ),
        sa.Column("sip_profile", sa.String(NAME), nullable=False),
        sa.Column("dtmf_signaling_method", sa.String(ENUM), nullable=False),
        sa.Column("css_id", sa.Integer(), sa.ForeignKey("calling_search_space.id")),
    )
    op.create_table(
        "trunk_destination",
        _id(),
        sa.Column(
            "trunk_id",
            sa.Integer(),
            sa.ForeignKey("sip_trunk.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.UniqueConstraint("trunk_id", "position"),
    )
    op.create_table(
        "route_pattern",
        _id(),
        sa.Column("pattern", sa.String(NAME), nullable=False),
        sa.Column("partition_id", sa.Integer(), sa.ForeignKey("partition.id")),
        sa.Column("trunk_id", sa.Integer(), sa.ForeignKey("sip_trunk.id"), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
    )
    op.create_table(
        "directory_number",
        _id(),
        sa.Column("number", sa.String(NAME), nullable=False),
        sa.Column("partition_id", sa.Integer(), sa.ForeignKey("partition.id")),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("answer_mode", sa.String(ENUM), nullable=False),
        sa.Column("css_id", sa.Integer(), sa.ForeignKey("calling_search_space.id")),
    )


def downgrade() -> None:
    for table in (
        "directory_number",
        "route_pattern",
        "trunk_destination",
        "sip_trunk",
        "css_member",
        "calling_search_space",
        "partition",
        "security_profile",
        "node",
    ):
        op.drop_table(table)

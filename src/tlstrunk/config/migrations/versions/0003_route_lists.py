"""Add route groups, route lists and the called-party settings of route patterns.

A route pattern now points at a trunk or at a route list, so its trunk
becomes optional.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

NAME = 50
ENUM = 40


def upgrade() -> None:
    op.create_table(
        "route_group",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(NAME), nullable=False, unique=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("distribution", sa.String(ENUM), nullable=False),
    )
    op.create_table(
        "route_group_member",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "route_group_id",
            sa.Integer(),
            sa.ForeignKey("route_group.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("trunk_id", sa.Integer(), sa.ForeignKey("sip_trunk.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.UniqueConstraint("route_group_id", "position"),
    )
    op.create_table(
        "route_list",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(NAME), nullable=False, unique=True),
        sa.Column("description", sa.Text(), nullable=False),
    )
    op.create_table(
        "route_list_member",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "route_list_id",
            sa.Integer(),
            sa.ForeignKey("route_list.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("route_group_id", sa.Integer(), sa.ForeignKey("route_group.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.UniqueConstraint("route_list_id", "position"),
    )
    with op.batch_alter_table("route_pattern") as batch:
        batch.alter_column("trunk_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("route_list_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_route_pattern_route_list", "route_list", ["route_list_id"], ["id"]
        )
        batch.add_column(
            sa.Column("discard_digits", sa.String(ENUM), nullable=False, server_default="None")
        )
        batch.add_column(
            sa.Column("prefix_digits", sa.String(NAME), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("called_party_mask", sa.String(NAME), nullable=False, server_default="")
        )


def downgrade() -> None:
    # a pattern that points at a route list has no trunk to fall back to
    op.execute("DELETE FROM route_pattern WHERE trunk_id IS NULL")
    with op.batch_alter_table("route_pattern") as batch:
        batch.drop_constraint("fk_route_pattern_route_list", type_="foreignkey")
        batch.drop_column("called_party_mask")
        batch.drop_column("prefix_digits")
        batch.drop_column("discard_digits")
        batch.drop_column("route_list_id")
        batch.alter_column("trunk_id", existing_type=sa.Integer(), nullable=False)
    for table in ("route_list_member", "route_list", "route_group_member", "route_group"):
        op.drop_table(table)

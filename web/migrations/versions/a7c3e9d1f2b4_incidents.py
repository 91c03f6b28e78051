"""incidents: background steps that failed, parked until an admin retries them

Revision ID: a7c3e9d1f2b4
Revises: f1a2c3d4e5b6
Create Date: 2026-12-02 01:45:00

The instance status `incident` needs no schema change: statuses are stored as strings and checked in Python.
"""
import sqlalchemy as sa
from alembic import op

revision = "a7c3e9d1f2b4"
down_revision = "f1a2c3d4e5b6"
branch_labels = None
depends_on = None

IdType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "incidents",
        sa.Column("id", IdType, nullable=False),
        sa.Column("instance_id", IdType, nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=True),
        sa.Column("element_name", sa.String(length=200), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=100), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instances.id"],
                                name=op.f("fk_incidents_instance_id_process_instances")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index("ix_incidents_open", "incidents", ["resolved_at", "created_at"])
    op.create_index("ix_incidents_instance", "incidents", ["instance_id", "resolved_at"])


def downgrade():
    op.drop_index("ix_incidents_instance", table_name="incidents")
    op.drop_index("ix_incidents_open", table_name="incidents")
    op.drop_table("incidents")

"""临时救助 approval tiers per district (helper: linshi)

Revision ID: f1b3d5e7a9c2
Revises: e5a7c9b1d3f0
Create Date: 2026-12-02 07:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "f1b3d5e7a9c2"
down_revision = "e5a7c9b1d3f0"
branch_labels = None
depends_on = None

IdType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "linshi_limits",
        sa.Column("id", IdType, nullable=False),
        sa.Column("district", sa.String(length=50), nullable=False),
        sa.Column("street_multiple", sa.Numeric(precision=6, scale=2), nullable=False),
        sa.Column("joint_multiple", sa.Numeric(precision=6, scale=2), nullable=False),
        sa.Column("last_year_average_income", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("updated_by", sa.String(length=100), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_linshi_limits"),
        sa.UniqueConstraint("district", name="uq_linshi_limits_district"),
    )


def downgrade():
    op.drop_table("linshi_limits")

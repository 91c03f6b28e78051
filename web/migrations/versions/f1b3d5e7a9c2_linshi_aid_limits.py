"""临时救助 approval tiers per district (helper: linshi)

Revision ID: f1b3d5e7a9c2
Revises: e5a7c9b1d3f0
Create Date: 2026-12-02 07:00:00

"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "f1b3d5e7a9c2"
down_revision = "e5a7c9b1d3f0"
branch_labels = None
depends_on = None

IdType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    pass


def downgrade():
    pass

"""calendar coverage: years whose official holiday arrangement an admin imported

Revision ID: f1a2c3d4e5b6
Revises: e1f0a9c3d2b7
Create Date: 2026-12-02 01:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "f1a2c3d4e5b6"
down_revision = "e1f0a9c3d2b7"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "calendar_years",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_by", sa.String(length=100), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_calendar_years")),
    )


def downgrade():
    op.drop_table("calendar_years")

"""process designers: diagram drafts saved from the modeler

Revision ID: d5a1c3e7f920
Revises: eb8681b9fd10
Create Date: 2026-11-23 17:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "d5a1c3e7f920"
down_revision = "eb8681b9fd10"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "diagram_drafts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("bpmn_xml", sa.Text(), nullable=False),
        sa.Column("based_on_version", sa.Integer(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("problem_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_diagram_drafts")),
        sa.UniqueConstraint("key", name=op.f("uq_diagram_drafts_key")),
    )


def downgrade():
    op.drop_table("diagram_drafts")

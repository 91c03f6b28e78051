"""approval operations: signers, substitutes (helper: operations)

Revision ID: b3d5f7a9c1e2
Revises: a2c4e6f8b0d1
Create Date: 2026-12-02 07:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "b3d5f7a9c1e2"
down_revision = "a2c4e6f8b0d1"
branch_labels = None
depends_on = None

IdType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    # 委派 that comes back: who delegated an open task to its assignee.
    with op.batch_alter_table("human_tasks") as batch_op:
        batch_op.add_column(sa.Column("delegated_by", sa.String(length=100), nullable=True))
    # 代理: who stands in for whom, when.
    op.create_table(
        "substitutes",
        sa.Column("id", IdType, nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("substitute", sa.String(length=100), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_substitutes"),
    )
    op.create_index("ix_substitutes_substitute", "substitutes", ["substitute", "starts_at"])
    op.create_index("ix_substitutes_username", "substitutes", ["username", "starts_at"])


def downgrade():
    op.drop_index("ix_substitutes_username", table_name="substitutes")
    op.drop_index("ix_substitutes_substitute", table_name="substitutes")
    op.drop_table("substitutes")
    with op.batch_alter_table("human_tasks") as batch_op:
        batch_op.drop_column("delegated_by")

"""signers on a task: 会签, 或签, 加签 (helper: signers)

Revision ID: d6f8a0b2c4e5
Revises: c5e7a9b1d3f4
Create Date: 2026-12-02 07:35:00

"""
import sqlalchemy as sa
from alembic import op

revision = "d6f8a0b2c4e5"
down_revision = "c5e7a9b1d3f4"
branch_labels = None
depends_on = None

IdType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "task_signers",
        sa.Column("id", IdType, nullable=False),
        sa.Column("task_id", IdType, nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("phase", sa.Enum("before", "after", "countersign", native_enum=False, length=20), nullable=False),
        sa.Column("mode", sa.Enum("all", "any", "sequence", native_enum=False, length=20), nullable=False),
        sa.Column("status", sa.Enum("pending", "agreed", "rejected", "removed", "skipped", native_enum=False,
                                    length=20), nullable=False),
        sa.Column("opinion", sa.Text(), nullable=True),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("added_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["human_tasks.id"], name="fk_task_signers_task_id_human_tasks"),
        sa.PrimaryKeyConstraint("id", name="pk_task_signers"),
        sa.UniqueConstraint("task_id", "username", "phase", name="uq_task_signers_task_id"),
    )
    op.create_index("ix_task_signers_username", "task_signers", ["username", "status"])


def downgrade():
    op.drop_index("ix_task_signers_username", table_name="task_signers")
    op.drop_table("task_signers")

"""a task says whether it has signers (会签, 加签), so completing one that has none asks nothing about them; an index
for 已办 (what a person completed)

Revision ID: e7a9c1d3f5b6
Revises: d6f8a0b2c4e5
Create Date: 2026-12-02 11:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = "e7a9c1d3f5b6"
down_revision = "d6f8a0b2c4e5"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("human_tasks") as batch:
        batch.add_column(sa.Column("has_signers", sa.Boolean(), nullable=False, server_default=sa.text("false")))
    # Tasks that already have signer rows keep asking for them.
    op.execute("UPDATE human_tasks SET has_signers = true WHERE id IN (SELECT task_id FROM task_signers)")
    op.create_index("ix_tasks_completed_by", "human_tasks", ["completed_by", "status"])


def downgrade():
    op.drop_index("ix_tasks_completed_by", table_name="human_tasks")
    with op.batch_alter_table("human_tasks") as batch:
        batch.drop_column("has_signers")

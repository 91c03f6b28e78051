"""staff UI: attachments, task drafts, case copies (抄送)

Revision ID: d4c7a2e91b35
Revises: eb8681b9fd10
Create Date: 2026-11-24 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd4c7a2e91b35'
down_revision = 'eb8681b9fd10'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('attachments',
    sa.Column('id', ID, nullable=False),
    sa.Column('case_id', ID, nullable=False),
    sa.Column('task_id', ID, nullable=True),
    sa.Column('element_name', sa.String(length=200), nullable=True),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('original_name', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by', sa.String(length=100), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_attachments_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attachments')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_attachments_stored_name'))
    )
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.create_index('ix_attachments_case', ['case_id', 'id'], unique=False)

    op.create_table('task_drafts',
    sa.Column('task_id', ID, nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('saved_by', sa.String(length=100), nullable=False),
    sa.Column('saved_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['human_tasks.id'], name=op.f('fk_task_drafts_task_id_human_tasks')),
    sa.PrimaryKeyConstraint('task_id', name=op.f('pk_task_drafts'))
    )

    op.create_table('case_copies',
    sa.Column('id', ID, nullable=False),
    sa.Column('case_id', ID, nullable=False),
    sa.Column('task_id', ID, nullable=True),
    sa.Column('element_name', sa.String(length=200), nullable=True),
    sa.Column('recipient', sa.String(length=100), nullable=False),
    sa.Column('sender', sa.String(length=100), nullable=True),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('note', sa.String(length=2000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_copies_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_copies'))
    )
    with op.batch_alter_table('case_copies', schema=None) as batch_op:
        batch_op.create_index('ix_case_copies_recipient', ['recipient', 'created_at'], unique=False)
        batch_op.create_index('ix_case_copies_case', ['case_id'], unique=False)


def downgrade():
    with op.batch_alter_table('case_copies', schema=None) as batch_op:
        batch_op.drop_index('ix_case_copies_case')
        batch_op.drop_index('ix_case_copies_recipient')

    op.drop_table('case_copies')
    op.drop_table('task_drafts')
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_index('ix_attachments_case')

    op.drop_table('attachments')

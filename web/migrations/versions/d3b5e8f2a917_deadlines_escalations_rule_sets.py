"""deadlines that act: task deadline state, deadline events (recorded once), instance time limits, rule sets

Revision ID: d3b5e8f2a917
Revises: eb8681b9fd10
Create Date: 2026-11-24 12:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd3b5e8f2a917'
down_revision = 'eb8681b9fd10'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
OPEN = "status = 'open'"
OPEN_NOT_REMINDED = "status = 'open' AND reminded_at IS NULL"
RUNNING = "status = 'running'"
RUNNING_NOT_OVERDUE = "status = 'running' AND overdue_at IS NULL"


def _where(condition):
    return {"postgresql_where": sa.text(condition), "sqlite_where": sa.text(condition)}


def upgrade():
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('overdue_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('next_escalation_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('paused_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('paused_working_days', sa.Integer(), server_default='0', nullable=False))
    # Tasks created before this revision with a due date get their first escalation (the overdue mark) at it.
    op.execute("UPDATE human_tasks SET next_escalation_at = due_at WHERE status = 'open' AND due_at IS NOT NULL")
    op.create_index('ix_tasks_remind_due', 'human_tasks', ['remind_at'], **_where(OPEN_NOT_REMINDED))
    op.create_index('ix_tasks_escalation_due', 'human_tasks', ['next_escalation_at'], **_where(OPEN))
    op.create_index('ix_tasks_open_report', 'human_tasks',
                    ['district', 'street', 'role', 'name', 'due_at', 'escalation_level', 'paused_at'],
                    **_where(OPEN))
    op.create_index('ix_tasks_open_due', 'human_tasks', ['district', 'due_at'], **_where(OPEN))

    with op.batch_alter_table('process_instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('time_limit_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('time_limit_max_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('overdue_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('paused_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_instances_due', 'process_instances', ['due_at'], **_where(RUNNING_NOT_OVERDUE))
    op.create_index('ix_instances_open_due', 'process_instances', ['district', 'due_at'], **_where(RUNNING))

    op.create_table('task_deadline_events',
    sa.Column('id', ID, nullable=False),
    sa.Column('task_id', ID, nullable=False),
    sa.Column('instance_id', ID, nullable=False),
    sa.Column('kind', sa.Enum('reminder', 'overdue', 'escalated', 'urged', name='deadlineeventkind', native_enum=False, length=20), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=True),
    sa.Column('target_role', sa.String(length=50), nullable=True),
    sa.Column('target_user', sa.String(length=100), nullable=True),
    sa.Column('district', sa.String(length=50), nullable=True),
    sa.Column('street', sa.String(length=50), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['task_id'], ['human_tasks.id'], name=op.f('fk_task_deadline_events_task_id_human_tasks')),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instances.id'], name=op.f('fk_task_deadline_events_instance_id_process_instances')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_deadline_events')),
    sa.UniqueConstraint('task_id', 'kind', 'level', name=op.f('uq_task_deadline_events_task_id'))
    )
    op.create_index('ix_deadline_events_scope', 'task_deadline_events', ['district', 'at', 'kind'])
    op.create_index('ix_deadline_events_instance', 'task_deadline_events', ['instance_id', 'id'])

    op.create_table('district_rule_sets',
    sa.Column('district', sa.String(length=50), nullable=False),
    sa.Column('program', sa.String(length=50), nullable=False),
    sa.Column('process_key', sa.String(length=100), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=100), nullable=True),
    sa.PrimaryKeyConstraint('district', 'program', name=op.f('pk_district_rule_sets'))
    )


def downgrade():
    op.drop_table('district_rule_sets')
    op.drop_index('ix_deadline_events_instance', table_name='task_deadline_events')
    op.drop_index('ix_deadline_events_scope', table_name='task_deadline_events')
    op.drop_table('task_deadline_events')
    op.drop_index('ix_instances_open_due', table_name='process_instances')
    op.drop_index('ix_instances_due', table_name='process_instances')
    with op.batch_alter_table('process_instances', schema=None) as batch_op:
        batch_op.drop_column('paused_at')
        batch_op.drop_column('overdue_at')
        batch_op.drop_column('time_limit_max_days')
        batch_op.drop_column('time_limit_days')
        batch_op.drop_column('due_at')
    op.drop_index('ix_tasks_open_due', table_name='human_tasks')
    op.drop_index('ix_tasks_open_report', table_name='human_tasks')
    op.drop_index('ix_tasks_escalation_due', table_name='human_tasks')
    op.drop_index('ix_tasks_remind_due', table_name='human_tasks')
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.drop_column('paused_working_days')
        batch_op.drop_column('paused_at')
        batch_op.drop_column('next_escalation_at')
        batch_op.drop_column('overdue_at')

"""webhook subscriptions, delivery log, inbound events

Revision ID: d2e6f1a0b4c8
Revises: eb8681b9fd10
Create Date: 2026-11-23 16:20:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'd2e6f1a0b4c8'
down_revision = 'eb8681b9fd10'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table(
        'webhook_subscriptions',
        sa.Column('id', ID, nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('url', sa.String(length=500), nullable=False),
        sa.Column('secret', sa.String(length=200), nullable=False),
        sa.Column('event_types', sa.JSON(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_subscriptions')),
        sa.UniqueConstraint('name', name=op.f('uq_webhook_subscriptions_name')),
    )
    op.create_table(
        'webhook_deliveries',
        sa.Column('id', ID, nullable=False),
        sa.Column('event_id', ID, nullable=False),
        sa.Column('subscription_id', ID, nullable=False),
        sa.Column('delivery_id', sa.String(length=64), nullable=False),
        sa.Column('attempt', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('ok', sa.Boolean(), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('duration_ms', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['event_id'], ['outbox_events.id'],
                                name=op.f('fk_webhook_deliveries_event_id_outbox_events')),
        sa.ForeignKeyConstraint(['subscription_id'], ['webhook_subscriptions.id'],
                                name=op.f('fk_webhook_deliveries_subscription_id_webhook_subscriptions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
    )
    op.create_index('ix_deliveries_event', 'webhook_deliveries', ['event_id', 'subscription_id'], unique=False)
    op.create_table(
        'inbound_events',
        sa.Column('id', ID, nullable=False),
        sa.Column('source', sa.String(length=50), nullable=False),
        sa.Column('event_id', sa.String(length=100), nullable=False),
        sa.Column('type', sa.String(length=100), nullable=False),
        sa.Column('case_id', ID, nullable=True),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('outcome', sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_events')),
        sa.UniqueConstraint('source', 'event_id', name=op.f('uq_inbound_events_source')),
    )


def downgrade():
    op.drop_table('inbound_events')
    op.drop_index('ix_deliveries_event', table_name='webhook_deliveries')
    op.drop_table('webhook_deliveries')
    op.drop_table('webhook_subscriptions')

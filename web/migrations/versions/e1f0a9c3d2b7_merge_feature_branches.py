"""merge the webhook, deadline, staff-UI and modeler schema branches into one head

Revision ID: e1f0a9c3d2b7
Revises: d2e6f1a0b4c8, d3b5e8f2a917, d4c7a2e91b35, d5a1c3e7f920
Create Date: 2026-11-23 16:50:00

"""

revision = 'e1f0a9c3d2b7'
down_revision = ('d2e6f1a0b4c8', 'd3b5e8f2a917', 'd4c7a2e91b35', 'd5a1c3e7f920')
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass

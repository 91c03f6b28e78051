"""merge the incidents and the server-side sessions branches into one head

Revision ID: b8d0f2a4c6e8
Revises: a7c3e9d1f2b4, a7c9e2b4d6f1
Create Date: 2026-12-02 02:10:00

"""

revision = 'b8d0f2a4c6e8'
down_revision = ('a7c3e9d1f2b4', 'a7c9e2b4d6f1')
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass

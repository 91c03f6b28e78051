"""designed forms (form-js) stored by key with versions (helper: designed forms)

Revision ID: c5e7a9b1d3f4
Revises: b3d5f7a9c1e2
Create Date: 2026-12-02 07:05:00

"""
import sqlalchemy as sa
from alembic import op

revision = "c5e7a9b1d3f4"
down_revision = "b3d5f7a9c1e2"
branch_labels = None
depends_on = None

IdType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "designed_forms",
        sa.Column("id", IdType, nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("schema", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_designed_forms"),
        sa.UniqueConstraint("key", "version", name="uq_designed_forms_key"),
    )
    op.create_table(
        "designed_form_pins",
        sa.Column("definition_id", IdType, nullable=False),
        sa.Column("form_key", sa.String(length=100), nullable=False),
        sa.Column("form_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["definition_id"], ["process_definitions.id"],
                                name="fk_designed_form_pins_definition_id_process_definitions", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["form_key", "form_version"], ["designed_forms.key", "designed_forms.version"],
                                name="fk_designed_form_pins_form"),
        sa.PrimaryKeyConstraint("definition_id", "form_key", name="pk_designed_form_pins"),
    )


def downgrade():
    op.drop_table("designed_form_pins")
    op.drop_table("designed_forms")

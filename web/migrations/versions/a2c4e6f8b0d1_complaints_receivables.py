"""complaints and receivables (helper: complaints)

Revision ID: a2c4e6f8b0d1
Revises: f1b3d5e7a9c2
Create Date: 2026-12-02 07:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "a2c4e6f8b0d1"
down_revision = "f1b3d5e7a9c2"
branch_labels = None
depends_on = None

IdType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _money(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Numeric(precision=12, scale=2), nullable=nullable)


def upgrade():
    op.create_table(
        "complaints",
        sa.Column("id", IdType, nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("household_id_number", sa.String(length=18), nullable=True),
        sa.Column("case_id", IdType, nullable=True),
        sa.Column("recipient_id", IdType, nullable=True),
        sa.Column("district", sa.String(length=50), nullable=True),
        sa.Column("street", sa.String(length=50), nullable=True),
        sa.Column("community", sa.String(length=50), nullable=True),
        sa.Column("text", sa.String(length=2000), nullable=False),
        sa.Column("reporter", sa.String(length=100), nullable=True),
        sa.Column("contact", sa.String(length=100), nullable=True),
        sa.Column("channel", sa.Enum("public", "staff", native_enum=False, length=20), nullable=False),
        sa.Column("received_by", sa.String(length=100), nullable=True),
        sa.Column("status", sa.Enum("received", "investigating", "closed", native_enum=False, length=20),
                  nullable=False),
        sa.Column("outcome", sa.Enum("unfounded", "corrected", "fraud", native_enum=False, length=20),
                  nullable=True),
        sa.Column("finding", sa.String(length=2000), nullable=True),
        sa.Column("process_instance_id", IdType, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_complaints_case_id_cases"),
        sa.ForeignKeyConstraint(["recipient_id"], ["recipients.id"], name="fk_complaints_recipient_id_recipients"),
        sa.PrimaryKeyConstraint("id", name="pk_complaints"),
        sa.UniqueConstraint("reference", name="uq_complaints_reference"),
    )
    op.create_index("ix_complaints_household", "complaints", ["household_id_number", "created_at"])
    op.create_index("ix_complaints_scope", "complaints", ["district", "street", "status"])
    op.create_index("ix_complaints_case", "complaints", ["case_id"])
    op.create_table(
        "receivables",
        sa.Column("id", IdType, nullable=False),
        sa.Column("complaint_id", IdType, nullable=False),
        sa.Column("case_id", IdType, nullable=True),
        sa.Column("recipient_id", IdType, nullable=True),
        _money("obtained_amount"),
        sa.Column("fine_multiple", sa.Numeric(precision=4, scale=2), nullable=False),
        _money("fine_amount"),
        _money("total"),
        sa.Column("status", sa.Enum("open", "paid", "written_off", native_enum=False, length=20), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["complaint_id"], ["complaints.id"], name="fk_receivables_complaint_id_complaints"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_receivables_case_id_cases"),
        sa.ForeignKeyConstraint(["recipient_id"], ["recipients.id"], name="fk_receivables_recipient_id_recipients"),
        sa.PrimaryKeyConstraint("id", name="pk_receivables"),
        sa.UniqueConstraint("complaint_id", name="uq_receivables_complaint_id"),
    )
    op.create_index("ix_receivables_status", "receivables", ["status", "created_at"])
    op.create_table(
        "complaint_intake_counts",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_complaint_intake_counts"),
    )


def downgrade():
    op.drop_table("complaint_intake_counts")
    op.drop_index("ix_receivables_status", table_name="receivables")
    op.drop_table("receivables")
    op.drop_index("ix_complaints_case", table_name="complaints")
    op.drop_index("ix_complaints_scope", table_name="complaints")
    op.drop_index("ix_complaints_household", table_name="complaints")
    op.drop_table("complaints")

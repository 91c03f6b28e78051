"""agencies as task scope, program details on cases, a spot-check tally per program, the aid register

Revision ID: e5a7c9b1d3f0
Revises: c4e8a1f3b7d2
Create Date: 2026-12-02 07:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "e5a7c9b1d3f0"
down_revision = "c4e8a1f3b7d2"
branch_labels = None
depends_on = None

IdType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OPEN = "status = 'open'"
REPORT_COLUMNS = ["district", "street", "role", "name", "due_at", "escalation_level", "paused_at"]


def _report_index(columns):
    # The supervisor's open-task report groups by agency too: the partial index must cover it.
    op.drop_index("ix_tasks_open_report", table_name="human_tasks")
    op.create_index("ix_tasks_open_report", "human_tasks", columns, postgresql_where=sa.text(OPEN),
                    sqlite_where=sa.text(OPEN))


def upgrade():
    with op.batch_alter_table("human_tasks") as batch_op:
        batch_op.add_column(sa.Column("agency", sa.String(length=50), nullable=True))
        batch_op.create_index("ix_tasks_agency", ["agency", "status", "due_at"])
    _report_index(REPORT_COLUMNS[:3] + ["agency"] + REPORT_COLUMNS[3:])
    with op.batch_alter_table("cases") as batch_op:
        batch_op.add_column(sa.Column("details", sa.JSON(), nullable=True))
    with op.batch_alter_table("spot_check_tallies") as batch_op:
        batch_op.add_column(sa.Column("program", sa.String(length=50), server_default="dibao", nullable=False))
        batch_op.drop_constraint("uq_spot_check_tallies_district", type_="unique")
        batch_op.create_unique_constraint("uq_spot_check_tallies_district", ["district", "program", "month"])
    op.create_table(
        "aid_records",
        sa.Column("id", IdType, nullable=False),
        sa.Column("case_id", IdType, nullable=True),
        sa.Column("program", sa.String(length=50), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("agency", sa.String(length=50), nullable=False),
        sa.Column("district", sa.String(length=50), nullable=False),
        sa.Column("street", sa.String(length=50), nullable=True),
        sa.Column("community", sa.String(length=50), nullable=True),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("monthly", sa.Boolean(), nullable=False),
        sa.Column("period_from", sa.Date(), nullable=False),
        sa.Column("period_to", sa.Date(), nullable=True),
        sa.Column("status", sa.Enum("active", "ended", "revoked", native_enum=False, length=20), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("granted_by", sa.String(length=100), nullable=True),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_aid_records_case_id_cases"),
        sa.PrimaryKeyConstraint("id", name="pk_aid_records"),
    )
    op.create_index("ix_aid_records_case", "aid_records", ["case_id"])
    op.create_index("ix_aid_records_kind_period", "aid_records", ["kind", "period_from"])
    op.create_index("ix_aid_records_agency_granted", "aid_records", ["agency", "granted_at"])
    op.create_table(
        "aid_record_members",
        sa.Column("aid_id", IdType, nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.ForeignKeyConstraint(["aid_id"], ["aid_records.id"], name="fk_aid_record_members_aid_id_aid_records",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("aid_id", "id_number", name="pk_aid_record_members"),
    )
    op.create_index("ix_aid_record_members_id_number", "aid_record_members", ["id_number", "aid_id"])


def downgrade():
    op.drop_index("ix_aid_record_members_id_number", table_name="aid_record_members")
    op.drop_table("aid_record_members")
    op.drop_index("ix_aid_records_agency_granted", table_name="aid_records")
    op.drop_index("ix_aid_records_kind_period", table_name="aid_records")
    op.drop_index("ix_aid_records_case", table_name="aid_records")
    op.drop_table("aid_records")
    with op.batch_alter_table("spot_check_tallies") as batch_op:
        batch_op.drop_constraint("uq_spot_check_tallies_district", type_="unique")
        batch_op.create_unique_constraint("uq_spot_check_tallies_district", ["district", "month"])
        batch_op.drop_column("program")
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_column("details")
    _report_index(REPORT_COLUMNS)
    with op.batch_alter_table("human_tasks") as batch_op:
        batch_op.drop_index("ix_tasks_agency")
        batch_op.drop_column("agency")

"""the register, payment runs and reviews; standards per urban/rural area with a funding split

Revision ID: c4e8a1f3b7d2
Revises: b8d0f2a4c6e8
Create Date: 2026-12-02 04:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "c4e8a1f3b7d2"
down_revision = "b8d0f2a4c6e8"
branch_labels = None
depends_on = None

IdType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Money = sa.Numeric(precision=12, scale=2)


def _status(*values):
    return sa.Enum(*values, native_enum=False, length=20)


def upgrade():
    with op.batch_alter_table("jurisdictions") as batch_op:
        batch_op.add_column(sa.Column("area", sa.String(length=10), nullable=True))
    with op.batch_alter_table("local_standards") as batch_op:
        batch_op.add_column(sa.Column("area", sa.String(length=10), server_default="urban", nullable=False))
        batch_op.add_column(sa.Column("district_share", sa.Numeric(precision=4, scale=3), server_default="0.5",
                                      nullable=False))
        batch_op.add_column(sa.Column("created_by", sa.String(length=100), nullable=True))
        batch_op.drop_constraint("uq_local_standards_district", type_="unique")
        batch_op.create_unique_constraint("uq_local_standards_district",
                                          ["district", "program", "area", "effective_from"])

    op.create_table(
        "recipients",
        sa.Column("id", IdType, nullable=False),
        sa.Column("case_id", IdType, nullable=False),
        sa.Column("program", sa.String(length=50), nullable=False),
        sa.Column("rule_set", sa.String(length=50), nullable=False),
        sa.Column("district", sa.String(length=50), nullable=False),
        sa.Column("street", sa.String(length=50), nullable=False),
        sa.Column("community", sa.String(length=50), nullable=False),
        sa.Column("area", sa.String(length=10), nullable=False),
        sa.Column("head_name", sa.String(length=100), nullable=False),
        sa.Column("head_id_number", sa.String(length=18), nullable=False),
        sa.Column("household", sa.JSON(), nullable=False),
        sa.Column("household_size", sa.Integer(), nullable=False),
        sa.Column("monthly_income", Money, nullable=False),
        sa.Column("category", sa.String(length=30), nullable=False),
        sa.Column("monthly_amount", Money, nullable=False),
        sa.Column("breakdown", sa.JSON(), nullable=False),
        sa.Column("status", _status("active", "suspended", "exiting", "stopped"), nullable=False),
        sa.Column("since_month", sa.String(length=7), nullable=False),
        sa.Column("next_review_due", sa.Date(), nullable=True),
        sa.Column("end_month", sa.String(length=7), nullable=True),
        sa.Column("labour_refusals", sa.JSON(), nullable=False),
        sa.Column("bank_name", sa.String(length=100), nullable=True),
        sa.Column("account_number", sa.String(length=30), nullable=True),
        sa.Column("stop_reason", sa.String(length=2000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_recipients_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recipients")),
        sa.UniqueConstraint("case_id", name=op.f("uq_recipients_case_id")),
    )
    op.create_index("ix_recipients_scope", "recipients", ["program", "district", "street", "status"])
    op.create_index("ix_recipients_review_due", "recipients", ["status", "next_review_due"])

    op.create_table(
        "recipient_changes",
        sa.Column("id", IdType, nullable=False),
        sa.Column("recipient_id", IdType, nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("effective_month", sa.String(length=7), nullable=False),
        sa.Column("old_amount", Money, nullable=True),
        sa.Column("new_amount", Money, nullable=True),
        sa.Column("old_status", sa.String(length=20), nullable=True),
        sa.Column("new_status", sa.String(length=20), nullable=True),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["recipient_id"], ["recipients.id"],
                                name=op.f("fk_recipient_changes_recipient_id_recipients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recipient_changes")),
    )
    op.create_index("ix_recipient_changes_recipient", "recipient_changes", ["recipient_id", "effective_month", "id"])

    op.create_table(
        "payment_runs",
        sa.Column("id", IdType, nullable=False),
        sa.Column("program", sa.String(length=50), nullable=False),
        sa.Column("district", sa.String(length=50), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("status", _status("computing", "draft", "confirmed", "exported", "closed"), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("total", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("by_street", sa.JSON(), nullable=False),
        sa.Column("by_funding", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_by", sa.String(length=100), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_runs")),
        sa.UniqueConstraint("program", "district", "month", name=op.f("uq_payment_runs_program")),
    )

    op.create_table(
        "payments",
        sa.Column("id", IdType, nullable=False),
        sa.Column("run_id", IdType, nullable=False),
        sa.Column("recipient_id", IdType, nullable=False),
        sa.Column("for_month", sa.String(length=7), nullable=False),
        sa.Column("street", sa.String(length=50), nullable=False),
        sa.Column("amount", Money, nullable=False),
        sa.Column("district_share", Money, nullable=False),
        sa.Column("township_share", Money, nullable=False),
        sa.Column("status", _status("pending", "paid", "failed", "carried", "stopped"), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("carried_from_id", IdType, nullable=True),
        sa.Column("bank_name", sa.String(length=100), nullable=True),
        sa.Column("account_number", sa.String(length=30), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["payment_runs.id"], name=op.f("fk_payments_run_id_payment_runs")),
        sa.ForeignKeyConstraint(["recipient_id"], ["recipients.id"],
                                name=op.f("fk_payments_recipient_id_recipients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("run_id", "recipient_id", "for_month", name=op.f("uq_payments_run_id")),
    )
    op.create_index("ix_payments_recipient", "payments", ["recipient_id", "for_month"])
    op.create_index("ix_payments_run_status", "payments", ["run_id", "status"])

    op.create_table(
        "reviews",
        sa.Column("id", IdType, nullable=False),
        sa.Column("recipient_id", IdType, nullable=False),
        sa.Column("process_instance_id", IdType, nullable=True),
        sa.Column("trigger", sa.String(length=30), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", _status("open", "done", "cancelled"), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("reason", sa.String(length=2000), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["recipient_id"], ["recipients.id"],
                                name=op.f("fk_reviews_recipient_id_recipients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
    )
    op.create_index("ix_reviews_recipient", "reviews", ["recipient_id", "status"])
    op.create_index("ix_reviews_status_due", "reviews", ["status", "due_date"])
    op.create_index("uq_reviews_one_open", "reviews", ["recipient_id"], unique=True,
                    sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))


def downgrade():
    for index, table in (("uq_reviews_one_open", "reviews"), ("ix_reviews_status_due", "reviews"), ("ix_reviews_recipient", "reviews"),
                         ("ix_payments_run_status", "payments"), ("ix_payments_recipient", "payments"),
                         ("ix_recipient_changes_recipient", "recipient_changes"),
                         ("ix_recipients_review_due", "recipients"), ("ix_recipients_scope", "recipients")):
        op.drop_index(index, table_name=table)
    for table in ("reviews", "payments", "payment_runs", "recipient_changes", "recipients"):
        op.drop_table(table)
    with op.batch_alter_table("local_standards") as batch_op:
        batch_op.drop_constraint("uq_local_standards_district", type_="unique")
        batch_op.create_unique_constraint("uq_local_standards_district", ["district", "program", "effective_from"])
        batch_op.drop_column("created_by")
        batch_op.drop_column("district_share")
        batch_op.drop_column("area")
    with op.batch_alter_table("jurisdictions") as batch_op:
        batch_op.drop_column("area")

"""Initial schema.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "app_user",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.CheckConstraint(
            "role IN ('admin', 'investigator', 'monitor', 'statistician')", name=op.f("ck_app_user_role")
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_app_user")),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.Column("user_name", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("record_key", sa.Text(), nullable=False),
        sa.Column("old", sa.Text(), nullable=True),
        sa.Column("new", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_table(
        "site",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_site")),
    )
    op.create_table(
        "study",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("design_yaml", sa.Text(), nullable=False),
        sa.Column("design_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study")),
        sa.UniqueConstraint("study_id", name=op.f("uq_study_study_id")),
    )
    op.create_table(
        "randomization_secret",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("seed", sa.Text(), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.name"], name=op.f("fk_randomization_secret_created_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_randomization_secret")),
    )
    op.create_table(
        "subject",
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("site_code", sa.String(length=32), nullable=True),
        sa.Column("consent_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("height_cm", sa.Float(), nullable=True),
        sa.Column("strata", sa.Text(), nullable=False),
        sa.Column("stratum", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("enrolled_at", sa.DateTime(), nullable=False),
        sa.Column("enrolled_by", sa.String(length=64), nullable=False),
        sa.CheckConstraint("sex IN ('F', 'M')", name=op.f("ck_subject_sex")),
        sa.CheckConstraint(
            "status IN ('screened', 'screen_failed', 'randomised', 'completed', 'withdrawn')",
            name=op.f("ck_subject_status"),
        ),
        sa.ForeignKeyConstraint(
            ["enrolled_by"], ["app_user.name"], name=op.f("fk_subject_enrolled_by_app_user")
        ),
        sa.ForeignKeyConstraint(["site_code"], ["site.code"], name=op.f("fk_subject_site_code_site")),
        sa.PrimaryKeyConstraint("subject_id", name=op.f("pk_subject")),
    )
    op.create_table(
        "adverse_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("term", sa.Text(), nullable=False),
        sa.Column("body_system", sa.Text(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("stop_date", sa.Date(), nullable=True),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("serious", sa.Boolean(), nullable=False),
        sa.Column("relatedness", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("entered_at", sa.DateTime(), nullable=False),
        sa.Column("entered_by", sa.String(length=64), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('recovered', 'recovering', 'not_recovered', "
            "'recovered_with_sequelae', 'fatal', 'unknown')",
            name=op.f("ck_adverse_event_outcome"),
        ),
        sa.CheckConstraint(
            "relatedness IN ('not_related', 'unlikely', 'possible', 'probable', 'definite')",
            name=op.f("ck_adverse_event_relatedness"),
        ),
        sa.CheckConstraint("grade BETWEEN 1 AND 5", name=op.f("ck_adverse_event_grade")),
        sa.CheckConstraint(
            "stop_date IS NULL OR stop_date >= start_date", name=op.f("ck_adverse_event_dates")
        ),
        sa.ForeignKeyConstraint(
            ["entered_by"], ["app_user.name"], name=op.f("fk_adverse_event_entered_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.subject_id"], name=op.f("fk_adverse_event_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adverse_event")),
    )
    op.create_table(
        "randomization_list",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("stratum", sa.String(length=255), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("arm", sa.String(length=32), nullable=False),
        sa.Column("block", sa.Integer(), nullable=False),
        sa.Column("block_size", sa.Integer(), nullable=False),
        sa.Column("used_by_subject_id", sa.String(length=64), nullable=True),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["used_by_subject_id"],
            ["subject.subject_id"],
            name=op.f("fk_randomization_list_used_by_subject_id_subject"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_randomization_list")),
        sa.UniqueConstraint("stratum", "position", name=op.f("uq_randomization_list_stratum_position")),
        sa.UniqueConstraint("used_by_subject_id", name=op.f("uq_randomization_list_used_by_subject_id")),
    )
    op.create_table(
        "sample",
        sa.Column("biospecimen_id", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("visit_code", sa.String(length=32), nullable=False),
        sa.Column("assay", sa.String(length=32), nullable=False),
        sa.Column("counts_path", sa.Text(), nullable=True),
        sa.Column("collected_date", sa.Date(), nullable=True),
        sa.Column("entered_at", sa.DateTime(), nullable=False),
        sa.Column("entered_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["entered_by"], ["app_user.name"], name=op.f("fk_sample_entered_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.subject_id"], name=op.f("fk_sample_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("biospecimen_id", name=op.f("pk_sample")),
    )
    op.create_table(
        "visit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("visit_code", sa.String(length=32), nullable=False),
        sa.Column("visit_date", sa.Date(), nullable=True),
        sa.Column("entered_at", sa.DateTime(), nullable=False),
        sa.Column("entered_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["entered_by"], ["app_user.name"], name=op.f("fk_visit_entered_by_app_user")),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.subject_id"], name=op.f("fk_visit_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit")),
        sa.UniqueConstraint("subject_id", "visit_code", name=op.f("uq_visit_subject_id_visit_code")),
    )
    op.create_table(
        "allocation",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("arm", sa.String(length=32), nullable=False),
        sa.Column("stratum", sa.String(length=255), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=True),
        sa.Column("randomized_at", sa.DateTime(), nullable=False),
        sa.Column("randomized_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"], ["randomization_list.id"], name=op.f("fk_allocation_list_id_randomization_list")
        ),
        sa.ForeignKeyConstraint(
            ["randomized_by"], ["app_user.name"], name=op.f("fk_allocation_randomized_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.subject_id"], name=op.f("fk_allocation_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation")),
        sa.UniqueConstraint("list_id", name=op.f("uq_allocation_list_id")),
        sa.UniqueConstraint("subject_id", name=op.f("uq_allocation_subject_id")),
    )
    op.create_table(
        "observation",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("visit_code", sa.String(length=32), nullable=False),
        sa.Column("instrument", sa.String(length=32), nullable=False),
        sa.Column("item", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("value_num", sa.Float(), nullable=True),
        sa.Column("unit", sa.String(length=16), nullable=True),
        sa.Column("entered_at", sa.DateTime(), nullable=False),
        sa.Column("entered_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["entered_by"], ["app_user.name"], name=op.f("fk_observation_entered_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id", "visit_code"],
            ["visit.subject_id", "visit.visit_code"],
            name="fk_observation_visit",
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.subject_id"], name=op.f("fk_observation_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observation")),
        sa.UniqueConstraint(
            "subject_id",
            "visit_code",
            "instrument",
            "item",
            name=op.f("uq_observation_subject_id_visit_code_instrument_item"),
        ),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("observation")
    op.drop_table("allocation")
    op.drop_table("visit")
    op.drop_table("sample")
    op.drop_table("randomization_list")
    op.drop_table("adverse_event")
    op.drop_table("subject")
    op.drop_table("randomization_secret")
    op.drop_table("study")
    op.drop_table("site")
    op.drop_table("audit_log")
    op.drop_table("audit_head")
    op.drop_table("app_user")

"""Accounts (password hash, site scope), data queries and the data lock.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.add_column("study", sa.Column("locked_at", sa.DateTime(), nullable=True))
    op.add_column("study", sa.Column("locked_by", sa.String(length=64), nullable=True))
    op.add_column("study", sa.Column("lock_reason", sa.Text(), nullable=True))
    op.add_column("app_user", sa.Column("password_hash", sa.Text(), nullable=True))
    if sqlite:
        # SQLite cannot add a constraint to a table; a column clause ``CONSTRAINT ... REFERENCES``
        # adds the named foreign key without rebuilding app_user (which other tables refer to).
        op.execute(
            "ALTER TABLE app_user ADD COLUMN site_code VARCHAR(32) "
            "CONSTRAINT fk_app_user_site_code_site REFERENCES site (code)"
        )
    else:
        op.add_column("app_user", sa.Column("site_code", sa.String(length=32), nullable=True))
        op.create_foreign_key(op.f("fk_app_user_site_code_site"), "app_user", "site", ["site_code"], ["code"])
    op.create_table(
        "data_query",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("visit_code", sa.String(length=32), nullable=True),
        sa.Column("instrument", sa.String(length=32), nullable=True),
        sa.Column("item", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("opened_by", sa.String(length=64), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.String(length=64), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("close_note", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('open', 'answered', 'closed')", name=op.f("ck_data_query_status")),
        sa.ForeignKeyConstraint(
            ["answered_by"], ["app_user.name"], name=op.f("fk_data_query_answered_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["closed_by"], ["app_user.name"], name=op.f("fk_data_query_closed_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["opened_by"], ["app_user.name"], name=op.f("fk_data_query_opened_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.subject_id"], name=op.f("fk_data_query_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_query")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("data_query")
    with op.batch_alter_table("app_user") as batch:
        batch.drop_constraint(op.f("fk_app_user_site_code_site"), type_="foreignkey")
        batch.drop_column("site_code")
        batch.drop_column("password_hash")
    with op.batch_alter_table("study") as batch:
        batch.drop_column("lock_reason")
        batch.drop_column("locked_by")
        batch.drop_column("locked_at")

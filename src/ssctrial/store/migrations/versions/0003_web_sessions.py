"""Web sessions and failed log-ins in the database, shared by every server process.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "web_session",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_name", sa.String(length=64), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("site_code", sa.String(length=32), nullable=True),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.Column("flash", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_web_session")),
    )
    op.create_index(op.f("ix_web_session_user_name"), "web_session", ["user_name"], unique=False)
    op.create_index(op.f("ix_web_session_created_at"), "web_session", ["created_at"], unique=False)
    op.create_table(
        "web_login_failure",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_login_failure")),
    )
    op.create_index(op.f("ix_web_login_failure_key"), "web_login_failure", ["key"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_web_login_failure_key"), table_name="web_login_failure")
    op.drop_table("web_login_failure")
    op.drop_index(op.f("ix_web_session_created_at"), table_name="web_session")
    op.drop_index(op.f("ix_web_session_user_name"), table_name="web_session")
    op.drop_table("web_session")

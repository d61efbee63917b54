"""one-time SMS codes for booking online

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mobile_services.storage.types import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("challenge", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("client_hash", sa.String(length=64), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=True),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("commune_id", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("purpose IN ('booking', 'waitlist')", name="ck_web_code_purpose"),
        sa.CheckConstraint("attempts >= 0", name="ck_web_code_attempts"),
        sa.ForeignKeyConstraint(["slot_id"], ["slot.id"]),
        sa.ForeignKeyConstraint(["service_id"], ["service.id"]),
        sa.ForeignKeyConstraint(["commune_id"], ["commune.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("challenge"),
    )
    op.create_index("ix_web_code_phone_created", "web_code", ["phone", "created_at"])
    op.create_index("ix_web_code_client_created", "web_code", ["client_hash", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_web_code_client_created", table_name="web_code")
    op.drop_index("ix_web_code_phone_created", table_name="web_code")
    op.drop_table("web_code")

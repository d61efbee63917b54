"""calendars and private links

Stops keep their calendar identity across re-plans (``visit.ical_origin_id``) and carry the
walk-ins the counsellor recorded (``visit.walk_ins``); bookings get their own calendar
SEQUENCE and last change (``booking.ical_sequence``, ``booking.changed_at``); drivers' and
counsellors' private pages open with revocable tokens (``access_token``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mobile_services.storage.types import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LIVE = sa.text("revoked_at IS NULL")


def upgrade() -> None:
    # Plain ADD COLUMN on both backends (no batch copy of tables others reference).
    op.add_column("visit", sa.Column("ical_origin_id", sa.Integer(), nullable=True))
    op.add_column("visit", sa.Column("walk_ins", sa.Integer(), nullable=True))
    op.add_column("booking", sa.Column("ical_sequence", sa.Integer(), nullable=False, server_default=sa.text("0")))
    op.add_column("booking", sa.Column("changed_at", UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        "access_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("territory_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('vehicle', 'counsellor')", name="ck_access_token_kind"),
        sa.ForeignKeyConstraint(["territory_id"], ["territory.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token"),
    )
    op.create_index("ix_access_token_territory_id", "access_token", ["territory_id"])
    op.create_index(
        "uq_access_token_live_subject", "access_token", ["kind", "subject_id"], unique=True,
        sqlite_where=_LIVE, postgresql_where=_LIVE,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("uq_access_token_live_subject", table_name="access_token", sqlite_where=_LIVE, postgresql_where=_LIVE)
    op.drop_index("ix_access_token_territory_id", table_name="access_token")
    op.drop_table("access_token")
    # Plain DROP COLUMN (SQLite >= 3.35): a batch copy of booking would lose the WHERE of
    # its partial unique indexes.
    op.drop_column("booking", "changed_at")
    op.drop_column("booking", "ical_sequence")
    op.drop_column("visit", "walk_ins")
    op.drop_column("visit", "ical_origin_id")

"""seat hold: a seat kept for a resident whose stop was cancelled, until they answer

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import mobile_services.storage.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    op.create_table(
        "seat_hold",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("cancelled_booking_id", sa.Integer(), nullable=False),
        sa.Column("seat", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("created_at", mobile_services.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", mobile_services.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("seat >= 1", name="ck_seat_hold_seat"),
        sa.CheckConstraint("status IN ('open', 'taken', 'declined', 'expired')", name="ck_seat_hold_status"),
        sa.ForeignKeyConstraint(["cancelled_booking_id"], ["booking.id"]),
        sa.ForeignKeyConstraint(["resident_id"], ["resident.id"]),
        sa.ForeignKeyConstraint(["service_id"], ["service.id"]),
        sa.ForeignKeyConstraint(["slot_id"], ["slot.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("seat_hold") as batch:
        batch.create_index(batch.f("ix_seat_hold_resident_id"), ["resident_id"], unique=False)
        batch.create_index(batch.f("ix_seat_hold_slot_id"), ["slot_id"], unique=False)
        batch.create_index(
            "uq_seat_hold_open_seat", ["slot_id", "seat"], unique=True, sqlite_where=_OPEN, postgresql_where=_OPEN
        )


def downgrade() -> None:
    with op.batch_alter_table("seat_hold") as batch:
        batch.drop_index("uq_seat_hold_open_seat", sqlite_where=_OPEN, postgresql_where=_OPEN)
        batch.drop_index(batch.f("ix_seat_hold_slot_id"))
        batch.drop_index(batch.f("ix_seat_hold_resident_id"))
    op.drop_table("seat_hold")

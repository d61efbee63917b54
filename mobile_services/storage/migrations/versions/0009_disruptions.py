"""disruptions and week changes; seats offered to the waiting list

A broken-down bus, a sick counsellor, a site taken for a day or a burst of demand is kept
as a ``disruption`` with its period; each automatic re-planning of a published week
leaves a ``week_change`` coordinators can read. A seat freed at a stop is held for the
first person waiting (``seat_hold.waitlist_entry_id``) and passed on when unanswered.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import mobile_services.storage.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

def upgrade() -> None:
    with op.batch_alter_table("seat_hold") as batch:
        batch.add_column(sa.Column("waitlist_entry_id", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_seat_hold_waitlist_entry_id"), ["waitlist_entry_id"], unique=False)
    op.create_table(
        "disruption",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("territory_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=True),
        sa.Column("counsellor_id", sa.Integer(), nullable=True),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("commune_id", sa.Integer(), nullable=True),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("starts_at", mobile_services.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", mobile_services.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("created_at", mobile_services.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('vehicle', 'counsellor', 'site', 'demand')", name="ck_disruption_kind"),
        sa.CheckConstraint("ends_at > starts_at", name="ck_disruption_period"),
        sa.ForeignKeyConstraint(["commune_id"], ["commune.id"]),
        sa.ForeignKeyConstraint(["counsellor_id"], ["counsellor.id"]),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"]),
        sa.ForeignKeyConstraint(["territory_id"], ["territory.id"]),
        sa.ForeignKeyConstraint(["vehicle_id"], ["vehicle.id"]),
        sa.ForeignKeyConstraint(["visit_id"], ["visit.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("disruption") as batch:
        batch.create_index(batch.f("ix_disruption_territory_id"), ["territory_id"], unique=False)
        batch.create_index("ix_disruption_period", ["territory_id", "starts_at", "ends_at"], unique=False)
    op.create_table(
        "week_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("territory_id", sa.Integer(), nullable=False),
        sa.Column("week", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("disruption_id", sa.Integer(), nullable=True),
        sa.Column("cause_fr", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=True),
        sa.Column("to_version", sa.Integer(), nullable=True),
        sa.Column("lines_fr", sa.JSON(), nullable=False),
        sa.Column("created_at", mobile_services.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["disruption_id"], ["disruption.id"]),
        sa.ForeignKeyConstraint(["territory_id"], ["territory.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("week_change") as batch:
        batch.create_index(batch.f("ix_week_change_territory_id"), ["territory_id"], unique=False)
        batch.create_index(batch.f("ix_week_change_week"), ["week"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("week_change") as batch:
        batch.drop_index(batch.f("ix_week_change_week"))
        batch.drop_index(batch.f("ix_week_change_territory_id"))
    op.drop_table("week_change")
    with op.batch_alter_table("disruption") as batch:
        batch.drop_index("ix_disruption_period")
        batch.drop_index(batch.f("ix_disruption_territory_id"))
    op.drop_table("disruption")
    with op.batch_alter_table("seat_hold") as batch:
        batch.drop_index(batch.f("ix_seat_hold_waitlist_entry_id"))
        batch.drop_column("waitlist_entry_id")

"""seat hold withdrawn: a re-plan that leaves no seat to keep ends the hold

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = sa.text("status = 'open'")
_BEFORE = "status IN ('open', 'taken', 'declined', 'expired')"
_AFTER = "status IN ('open', 'taken', 'declined', 'expired', 'withdrawn')"


def _status_check(allowed: str) -> None:
    # batch mode: SQLite rebuilds the table to change a CHECK; the partial unique index is
    # dropped and created again around it so that its WHERE clause survives the copy.
    with op.batch_alter_table("seat_hold") as batch:
        batch.drop_index("uq_seat_hold_open_seat", sqlite_where=_OPEN, postgresql_where=_OPEN)
        batch.drop_constraint("ck_seat_hold_status", type_="check")
        batch.create_check_constraint("ck_seat_hold_status", sa.text(allowed))
    with op.batch_alter_table("seat_hold") as batch:
        batch.create_index(
            "uq_seat_hold_open_seat", ["slot_id", "seat"], unique=True, sqlite_where=_OPEN, postgresql_where=_OPEN
        )


def upgrade() -> None:
    _status_check(_AFTER)


def downgrade() -> None:
    op.execute("UPDATE seat_hold SET status = 'expired' WHERE status = 'withdrawn'")
    _status_check(_BEFORE)

"""the stop a waiting-list notice announced; open holds by expiry

``message.visit_id`` names the stop a waiting-list notice (or seat offer) is about, so a
new version of the week can tell who was told of which stop: an unchanged stop is not
announced twice, a notice still pending about a superseded stop is withdrawn, a resident
told of a stop the new version dropped is told so. The partial index serves the
every-minute pass that lets run-out holds lapse.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN and CREATE INDEX: no batch copy of the outbox.
    op.add_column("message", sa.Column("visit_id", sa.Integer(), nullable=True))
    op.create_index("ix_message_visit_id", "message", ["visit_id"], unique=False)
    op.create_index(
        "ix_seat_hold_open_expiry",
        "seat_hold",
        ["expires_at"],
        unique=False,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )


def downgrade() -> None:
    op.drop_index("ix_seat_hold_open_expiry", table_name="seat_hold")
    op.drop_index("ix_message_visit_id", table_name="message")
    op.drop_column("message", "visit_id")

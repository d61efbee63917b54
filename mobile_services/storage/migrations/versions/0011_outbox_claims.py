"""outbox batch claims: a claim token and its lease on pending messages

A dispatcher claims a batch of due messages in one statement and attempts them one by
one; ``claim_token`` names its claim and ``claim_expires_at`` ends it, so the rows a dead
dispatcher claimed but never attempted are due to anyone again (they stay ``pending``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import mobile_services.storage.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN, nullable: no copy of the outbox table.
    op.add_column("message", sa.Column("claim_token", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
    op.add_column(
        "message", sa.Column("claim_expires_at", mobile_services.storage.types.UTCDateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("message", "claim_expires_at")
    op.drop_column("message", "claim_token")

"""walk-in share per territory and per site

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy of tables others reference); NULL: the setting applies.
    op.add_column("territory", sa.Column("walk_in_share", sa.Float(), nullable=True))
    op.add_column("site", sa.Column("walk_in_share", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("site", "walk_in_share")
    op.drop_column("territory", "walk_in_share")

"""territory sms number: the Twilio number residents of a territory write to

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch mode: SQLite cannot add a constraint to an existing table in place
    with op.batch_alter_table("territory") as batch:
        batch.add_column(sa.Column("sms_number", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))
        batch.create_unique_constraint("uq_territory_sms_number", ["sms_number"])


def downgrade() -> None:
    with op.batch_alter_table("territory") as batch:
        batch.drop_constraint("uq_territory_sms_number", type_="unique")
        batch.drop_column("sms_number")

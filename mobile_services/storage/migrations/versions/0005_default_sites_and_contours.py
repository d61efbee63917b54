"""default sites and commune contours

A commune without a site of its own gets a default one ("Mairie" at its centre, marked
``site.is_default``); communes keep their outline (``commune.contour``, GeoJSON) when the
import carries it. Existing communes without any site get their default site here, with
the packaged default hours (weekdays 09:00-12:00 and 13:30-17:00); the next territory
import gives them the hours of the ``default_site_hours`` setting.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here on purpose: a migration must not change with the code or the settings.
_HOURS = {str(day): [["09:00", "12:00"], ["13:30", "17:00"]] for day in range(5)}

_commune = sa.table(
    "commune",
    sa.column("id", sa.Integer),
    sa.column("latitude", sa.Float),
    sa.column("longitude", sa.Float),
)
_site = sa.table(
    "site",
    sa.column("id", sa.Integer),
    sa.column("commune_id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("kind", sa.String),
    sa.column("address", sa.String),
    sa.column("latitude", sa.Float),
    sa.column("longitude", sa.Float),
    sa.column("opening_hours", sa.JSON),
    sa.column("market_day", sa.Integer),
    sa.column("accessible", sa.Boolean),
    sa.column("has_power", sa.Boolean),
    sa.column("bus_parking", sa.Boolean),
    sa.column("is_default", sa.Boolean),
)
_visit = sa.table("visit", sa.column("site_id", sa.Integer))


def upgrade() -> None:
    # Plain ALTER TABLE on both backends, no batch copy: rebuilding commune or site on
    # SQLite would drop a table that others reference, which foreign keys forbid.
    op.add_column("commune", sa.Column("contour", sa.JSON(), nullable=True))
    op.add_column("site", sa.Column("is_default", sa.Boolean(), nullable=False, server_default=sa.false()))

    bind = op.get_bind()
    without_site = bind.execute(
        sa.select(_commune.c.id, _commune.c.latitude, _commune.c.longitude).where(
            ~sa.exists().where(_site.c.commune_id == _commune.c.id)
        )
    ).all()
    if without_site:
        op.bulk_insert(
            _site,
            [
                {
                    "commune_id": commune_id,
                    "name": "Mairie",
                    "kind": "mairie",
                    "address": "",
                    "latitude": latitude,
                    "longitude": longitude,
                    "opening_hours": _HOURS,
                    "market_day": None,
                    "accessible": True,
                    "has_power": False,
                    "bus_parking": True,
                    "is_default": True,
                }
                for commune_id, latitude, longitude in without_site
            ],
        )


def downgrade() -> None:
    # Default sites no visit references go; the others stay as ordinary sites (the schema
    # before 0005 has no way to mark them, and their visits must keep their site).
    op.execute(
        _site.delete().where(
            _site.c.is_default == sa.true(), ~sa.exists().where(_visit.c.site_id == _site.c.id)
        )
    )
    # ALTER TABLE DROP COLUMN (SQLite 3.35 or later), not a batch copy: see upgrade().
    op.drop_column("site", "is_default")
    op.drop_column("commune", "contour")

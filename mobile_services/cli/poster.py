"""`mobile-services poster --commune 23096`: the commune's A4 poster as a PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import Session

from notifications.ports import SystemClock
from mobile_services.cli.common import console, engine_scope, friendly_errors, settings
from mobile_services.cli.planning import TerritoryOption, resolve_territory
from mobile_services.reports.poster import poster_data, write_poster


@friendly_errors
def poster(
    commune: Annotated[str, typer.Option("--commune", "-c", help="Code INSEE de la commune, par ex. 23096.")],
    out: Annotated[Path | None, typer.Option("--out", help="Fichier PDF (par défaut : data/affiches/affiche-INSEE.pdf).")] = None,
    territory: TerritoryOption = None,
) -> None:
    """Écrit l'affiche A4 d'une commune (prochaines dates, SMS, QR code vers sa page)."""
    current = settings()
    with engine_scope(current) as engine:
        with Session(engine) as session:
            territory_id = resolve_territory(session, territory).id if territory is not None else None
            data = poster_data(session, commune.strip().upper(), SystemClock().now(), current, territory_id=territory_id)
    path = write_poster(data, current, out or current.data_dir / "affiches" / f"affiche-{data.insee_code}.pdf")
    console.print(f"Affiche de {data.commune} ({len(data.stops)} date(s)) : {path}")
    console.print(f"Son QR code mène à {data.page_url}", soft_wrap=True)

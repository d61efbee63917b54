"""`mobile-services territory walk-in SHARE [--commune INSEE --site NAME]`: the share of desk
time kept for walk-ins, for a territory or one of its sites (slots of the next publication)."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlmodel import select

from mobile_services.cli.common import console, engine_scope, friendly_errors, settings
from mobile_services.cli.planning import TerritoryOption, resolve_territory
from mobile_services.domain.exceptions import InvalidInput, NotFound
from mobile_services.storage import tables as t
from mobile_services.storage.db import session_scope


@friendly_errors
def walk_in(
    share: Annotated[str, typer.Argument(help="Part du temps gardée pour les visites sans rendez-vous, de 0 à 0,9 (par ex. 0,3) ; « defaut » pour revenir au réglage.")],
    commune: Annotated[str | None, typer.Option("--commune", help="Code INSEE de la commune du lieu.")] = None,
    site: Annotated[str | None, typer.Option("--site", help="Nom du lieu (avec --commune).")] = None,
    territory: TerritoryOption = None,
) -> None:
    """Règle la part de temps gardée pour les visites sans rendez-vous (territoire ou lieu)."""
    current = settings()
    value: float | None
    if share.strip().lower() in ("defaut", "défaut", "default"):
        value = None
    else:
        try:
            value = float(share.replace(",", "."))
        except ValueError:
            value = -1.0
        if not 0.0 <= value <= 0.9:
            raise InvalidInput(f"walk-in share {share!r}", f"Part invalide « {share} » : un nombre de 0 à 0,9, par ex. 0,3.")
    if (commune is None) != (site is None):
        raise InvalidInput("--site needs --commune", "Précisez le lieu avec --commune INSEE et --site NOM.")
    with engine_scope(current) as engine, session_scope(engine) as session:
        chosen = resolve_territory(session, territory)
        shown = "le réglage" if value is None else f"{value:.0%}"
        if site is None:
            chosen.walk_in_share = value
            session.add(chosen)
            console.print(f"Territoire « {chosen.name} » : temps sans rendez-vous = {shown} (à la prochaine publication).")
            return
        row = session.exec(
            select(t.Site).join(t.Commune, t.Commune.id == t.Site.commune_id)  # type: ignore[arg-type]
            .where(t.Commune.territory_id == chosen.id, t.Commune.insee_code == commune)
        ).all()
        found = [s for s in row if s.name.casefold() == site.casefold()]
        if not found:
            raise NotFound(f"no site {site!r} in {commune}", f"Lieu « {site} » introuvable dans la commune {commune}.")
        found[0].walk_in_share = value
        session.add(found[0])
        console.print(f"Lieu « {found[0].name} » : temps sans rendez-vous = {shown} (à la prochaine publication).")

"""`mobile-services links ...`: the public and private links of a territory.

``list`` prints each commune's page and feed and every driver's (vehicle's) and counsellor's
private page (issuing the missing private links); ``rotate`` revokes one private link and
prints its replacement: the old one stops working at once.
"""

from __future__ import annotations

from typing import Annotated

import typer
from sqlmodel import Session, col, select

from config import Settings
from mobile_services.bootstrap import bootstrap
from notifications.ports import SystemClock
from mobile_services.cli.common import console, engine_scope, friendly_errors, settings
from mobile_services.cli.planning import TerritoryOption, resolve_territory
from mobile_services.domain import commands
from mobile_services.domain.exceptions import InvalidInput, NotFound
from mobile_services.service_layer import access
from mobile_services.service_layer.access import live_links
from mobile_services.storage import tables as t
from mobile_services.storage.db import session_scope

app = typer.Typer(help="Liens : pages des communes, pages privées des chauffeurs et des conseillers.", no_args_is_help=True)

KIND_FR = {"vehicle": "chauffeur", "counsellor": "conseiller"}


def private_url(current: Settings, kind: str, token: str) -> str:
    return access.private_url(current.base_url, kind, token)


def commune_urls(current: Settings, insee: str) -> tuple[str, str]:
    page = f"{current.base_url}/communes/{insee}"
    return page, f"{page}/calendar.ics"


@app.command("list")
@friendly_errors
def list_links(
    territory: TerritoryOption = None,
    communes: Annotated[bool, typer.Option("--communes/--no-communes", help="Afficher aussi les liens des communes.")] = False,
) -> None:
    """Liste les liens privés (chauffeurs, conseillers), en créant ceux qui manquent."""
    current = settings()
    with engine_scope(current) as engine:
        with session_scope(engine) as session:
            chosen = resolve_territory(session, territory)
            links = live_links(session, chosen.id, SystemClock().now(), create_missing=True)  # type: ignore[arg-type]
            rows = session.exec(
                select(t.Commune.insee_code, t.Commune.name).where(t.Commune.territory_id == chosen.id).order_by(col(t.Commune.name))
            ).all()
    console.print(f"[bold]Liens privés — {chosen.name}[/bold] (agenda : ajouter /calendar.ics)")
    for link in links:
        console.print(f"  {KIND_FR[link.kind]} {link.subject_name} : {private_url(current, link.kind, link.token)}", soft_wrap=True)
    console.print("Ces liens sont personnels : en cas de perte, « mobile-services links rotate » en donne un nouveau.")
    if communes:
        for insee, name in rows:
            page, calendar = commune_urls(current, insee)
            console.print(f"{name} ({insee}) : {page}  agenda : {calendar}", soft_wrap=True)


def _subject(session: Session, territory_id: int, vehicle: str | None, counsellor: str | None) -> tuple[str, int, str]:
    if (vehicle is None) == (counsellor is None):
        raise InvalidInput("name one vehicle or one counsellor", "Précisez --vehicle NOM ou --counsellor NOM (un seul).")
    kind, name = ("vehicle", vehicle) if vehicle is not None else ("counsellor", counsellor)
    table = t.Vehicle if kind == "vehicle" else t.Counsellor
    for row in session.exec(select(table).where(table.territory_id == territory_id)):  # type: ignore[attr-defined]
        if row.name.casefold() == name.casefold():  # type: ignore[union-attr]
            return kind, row.id, row.name
    raise NotFound(f"unknown {kind} {name!r}", f"{'Véhicule' if kind == 'vehicle' else 'Conseiller'} « {name} » introuvable.")


@app.command()
@friendly_errors
def rotate(
    territory: TerritoryOption = None,
    vehicle: Annotated[str | None, typer.Option("--vehicle", help="Nom du véhicule (lien du chauffeur).")] = None,
    counsellor: Annotated[str | None, typer.Option("--counsellor", help="Nom du conseiller.")] = None,
) -> None:
    """Remplace un lien privé : l'ancien cesse aussitôt de fonctionner."""
    current = settings()
    with engine_scope(current) as engine:
        with Session(engine) as session:
            chosen = resolve_territory(session, territory)
            kind, subject_id, name = _subject(session, chosen.id, vehicle, counsellor)  # type: ignore[arg-type]
        token = bootstrap(current, engine=engine).handle(
            commands.RotateAccessToken(territory_id=chosen.id, kind=kind, subject_id=subject_id)  # type: ignore[arg-type]
        )
    console.print(f"Nouveau lien de {KIND_FR[kind]} pour {name} : {private_url(current, kind, token)}", soft_wrap=True)
    console.print("L'ancien lien ne fonctionne plus.")

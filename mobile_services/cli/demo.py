"""`mobile-services demo`: the whole product on a synthetic territory, no set-up needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from sqlmodel import Session, select

from mobile_services.cli.common import console, engine_scope, friendly_errors, settings
from mobile_services.cli.planning import print_plan, run_plan, write_plan_html
from mobile_services.bootstrap import bootstrap
from mobile_services.domain import commands
from mobile_services.domain.calendar import week_of
from mobile_services.storage import tables as t
from mobile_services.territory.catalogue import seed_catalogue
from mobile_services.territory.generator import generate_territory
from mobile_services.territory.store import import_territory_data

DEMO_ORGANISATION = "Démonstration"
DEMO_TERRITORY = "Pays de la Vallée (démo)"


@friendly_errors
def demo(
    communes: Annotated[int, typer.Option(help="Nombre de communes du territoire de démonstration.")] = 60,
    seed: Annotated[int, typer.Option(help="Graine du territoire synthétique.")] = 2026,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Temps de calcul du plan, en secondes.")] = 20,
    week: Annotated[str | None, typer.Option("--week", help="Semaine à planifier (par défaut : la suivante).")] = None,
) -> None:
    """Construit un territoire rural synthétique, planifie et publie une semaine de tournées."""
    current = settings()
    with engine_scope(current) as engine:
        with Session(engine) as session:
            territory = session.exec(select(t.Territory).where(t.Territory.name == DEMO_TERRITORY)).first()
        if territory is None:
            data = generate_territory(seed, communes, buses=2, counsellors=6, name=DEMO_TERRITORY)
            # The catalogue is seeded, never overwritten: a coordinator's own service edits stay.
            summary = import_territory_data(engine, data.model_copy(update={"services": []}), organisation=DEMO_ORGANISATION)
            seed_catalogue(engine)
            console.print(f"[bold]Territoire « {DEMO_TERRITORY} » créé[/bold]\n{summary.french()}")
            with Session(engine) as session:
                territory = session.exec(select(t.Territory).where(t.Territory.name == DEMO_TERRITORY)).one()
        else:
            console.print(f"Territoire « {DEMO_TERRITORY} » déjà présent : réutilisé.")
        with Session(engine) as session:
            population = sum(c.population for c in session.exec(select(t.Commune).where(t.Commune.territory_id == territory.id)))
            n_communes = len(session.exec(select(t.Commune.id).where(t.Commune.territory_id == territory.id)).all())
            vehicles = session.exec(select(t.Vehicle).where(t.Vehicle.territory_id == territory.id)).all()
            counsellors = session.exec(select(t.Counsellor).where(t.Counsellor.territory_id == territory.id)).all()
        console.print(
            f"{n_communes} communes, {population} habitants, "
            f"{sum(1 for v in vehicles if v.kind == 'bus')} bus, {len(counsellors)} conseillers "
            f"({sum(1 for c in counsellors if c.travel_mode == 'car')} en voiture)."
        )
        target_week = week or week_of((datetime.now(UTC) + timedelta(days=7)).date())
        outcome = run_plan(engine, current, territory.id, target_week, time_limit)  # type: ignore[arg-type]
        print_plan(engine, outcome.plan_id, current)
        write_plan_html(engine, outcome.plan_id, current, current.data_dir / f"plan-{target_week}.html")
        bootstrap(current, engine=engine).handle(commands.PublishPlan(territory_id=territory.id, week=target_week))  # type: ignore[arg-type]
        with Session(engine) as session:
            slots = session.exec(
                select(t.Slot).join(t.Visit, t.Visit.id == t.Slot.visit_id).where(t.Visit.plan_id == outcome.plan_id)  # type: ignore[arg-type]
            ).all()
        console.print(
            f"[green]Plan {target_week} publié[/green] : {len(slots)} créneaux, "
            f"{sum(s.capacity for s in slots if not s.walk_in)} places réservables par SMS."
        )

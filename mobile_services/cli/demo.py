"""`mobile-services demo`: the whole product on a synthetic territory, no set-up needed."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, time, timedelta
from typing import Annotated

import typer
from sqlalchemy import Engine
from rich.text import Text
from sqlmodel import Session, select

from config import Settings
from mobile_services.bootstrap import bootstrap
from mobile_services.cli.common import console, engine_scope, friendly_errors, settings
from mobile_services.cli.incidents import print_change
from mobile_services.cli.links import KIND_FR, commune_urls, private_url
from mobile_services.cli.planning import print_plan, publish_confirmed, run_plan, write_plan_html
from mobile_services.conversation import SmsReply
from mobile_services.domain import commands
from mobile_services.domain.calendar import week_of
from mobile_services.reports.poster import poster_data, write_poster
from mobile_services.service_layer.access import live_links
from mobile_services.storage import tables as t
from mobile_services.storage.db import session_scope
from notifications.ports import SystemClock
from mobile_services.territory.catalogue import seed_catalogue
from mobile_services.territory.generator import generate_territory
from mobile_services.territory.store import import_territory_data

DEMO_ORGANISATION = "Démonstration"
DEMO_TERRITORY = "Pays de la Vallée (démo)"
#: libphonenumber's example French mobile; the demo only ever writes to the local outbox log.
DEMO_PHONE = "+33612345678"


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
            summary = import_territory_data(
                engine,
                data.model_copy(update={"services": []}),
                organisation=DEMO_ORGANISATION,
                default_site_hours=current.default_site_opening_hours,
            )
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
        write_plan_html(engine, outcome.plan_id, current)
        # A demo run again on the same week moves the demo resident's booking: asked first, like `publish`.
        publish_confirmed(bootstrap(current, engine=engine), commands.PublishPlan(territory_id=territory.id, week=target_week), current)  # type: ignore[arg-type]
        with Session(engine) as session:
            slots = session.exec(
                select(t.Slot).join(t.Visit, t.Visit.id == t.Slot.visit_id).where(t.Visit.plan_id == outcome.plan_id)  # type: ignore[arg-type]
            ).all()
        console.print(
            f"[green]Plan {target_week} publié[/green] : {len(slots)} créneaux, "
            f"{sum(s.capacity for s in slots if not s.walk_in)} places réservables par SMS."
        )
        _sms_booking(engine, current, outcome.plan_id)
        _print_links(engine, current, territory.id, outcome.plan_id)  # type: ignore[arg-type]
        _breakdown(engine, current.model_copy(update={"replan_time_limit_seconds": min(time_limit, current.replan_time_limit_seconds)}))


def _first_visited_commune(session: Session, plan_id: int) -> t.Commune | None:
    """The commune of the plan's first stop: where the demo resident lives."""
    return session.exec(
        select(t.Commune)
        .join(t.Site, t.Site.commune_id == t.Commune.id)  # type: ignore[arg-type]
        .join(t.Visit, t.Visit.site_id == t.Site.id)  # type: ignore[arg-type]
        .where(t.Visit.plan_id == plan_id)
        .order_by(t.Visit.start_at)  # type: ignore[arg-type]
    ).first()


def _print_links(engine: Engine, current: Settings, territory_id: int, plan_id: int) -> None:
    """The links of the demo territory: a commune's page, feed and poster; drivers' and counsellors' pages."""
    with session_scope(engine) as session:
        first = _first_visited_commune(session, plan_id)
        links = live_links(session, territory_id, SystemClock().now(), create_missing=True)
        poster = poster_data(session, first.insee_code, SystemClock().now(), current, territory_id=territory_id) if first else None
    console.print("\n[bold]Liens[/bold] (servis par « mobile-services serve ») :")
    if first is not None and poster is not None:
        page, calendar = commune_urls(current, first.insee_code)
        console.print(f"  page de {first.name} : {page}", soft_wrap=True)
        console.print(f"  agenda de {first.name} : {calendar} (ou {calendar.replace('https://', 'webcal://').replace('http://', 'webcal://')})", soft_wrap=True)
        path = write_poster(poster, current, current.data_dir / "affiches" / f"affiche-{first.insee_code}.pdf")
        console.print(f"  affiche de {first.name} : {path}", soft_wrap=True)
    for link in links:
        console.print(f"  {KIND_FR[link.kind]} {link.subject_name} : {private_url(current, link.kind, link.token)}", soft_wrap=True)


def _sms_booking(engine: Engine, current: Settings, plan_id: int) -> None:
    """A resident of the first visited commune books by SMS; the outbox sends to the local log."""
    with Session(engine) as session:
        first = _first_visited_commune(session, plan_id)
    if first is None:
        return
    bus = bootstrap(current, engine=engine)
    console.print(f"\n[bold]Réservation par SMS[/bold] (numéro fictif {DEMO_PHONE}) :")
    text: str | None = "RDV"
    for _ in range(6):
        if text is None:
            break
        reply: SmsReply = bus.handle(
            commands.ReceiveSms(message_sid=f"SMdemo{secrets.token_hex(14)}", from_number=DEMO_PHONE, body=text)
        )
        console.print(f"  [cyan]> {text}[/cyan]")
        for message in reply.messages:
            console.print("  < " + message.replace("\n", "\n    "))
        if not reply.messages:
            console.print("  [dim](pas de réponse : la confirmation part par la file d'envoi)[/dim]")
        text = _resident_answer(reply.messages[-1] if reply.messages else "", first.name)
    report = bus.handle(commands.DispatchDueMessages())
    console.print(
        f"{report.sent} SMS envoyé(s) vers le journal local {current.data_dir / 'sms-outbox.log'} "
        "(confirmation ; les rappels partiront la veille à 18 h et deux heures avant)."
    )


def _breakdown(engine: Engine, current: Settings) -> None:
    """The vehicle of the demo booking is out for the day of that booking: the system re-plans by itself.

    Its crew get demo mobile numbers, so the SMS they are sent shows in the outbox too.
    """
    with Session(engine) as session:
        resident = session.exec(select(t.Resident).where(t.Resident.phone == DEMO_PHONE)).first()
        booking = (
            session.exec(
                select(t.Booking).where(t.Booking.resident_id == resident.id, t.Booking.status == "confirmed")
            ).first()
            if resident
            else None
        )
        visit = session.get(t.Visit, booking.visit_id) if booking else None
        vehicle = session.get(t.Vehicle, visit.vehicle_id) if visit else None
    if visit is None or vehicle is None:
        return
    _give_crews_phones(engine)
    starts_at = datetime.combine(visit.day, time(0), current.tz)
    console.print(f"\n[bold]Imprévu[/bold] : {vehicle.name} en panne, immobilisé le {visit.day:%d/%m}.")
    console.print(
        Text(f"  mobile-services incident vehicle \"{vehicle.name}\" --from {visit.day:%Y-%m-%d} --reason panne"),
        style="dim",
        soft_wrap=True,
    )
    bus = bootstrap(current, engine=engine)
    with console.status("Re-planification de la journée…"):
        disruption_id = bus.handle(commands.DeclareVehicleUnavailable(
            vehicle_id=vehicle.id, starts_at=starts_at,  # type: ignore[arg-type]
            ends_at=datetime.combine(visit.day + timedelta(days=1), time(0), current.tz), reason="panne",
        ))  # fmt: skip
    with Session(engine) as session:
        for change in session.exec(select(t.WeekChange).where(t.WeekChange.disruption_id == disruption_id)).all():
            print_change(change)


#: crews' numbers in the demo, next to the demo resident's: the demo only writes to the local outbox
DEMO_CREW_PHONES = "+3361234560{}"


def _give_crews_phones(engine: Engine) -> None:
    """Counsellors of the synthetic territory get demo mobiles, to show what crews are sent."""
    with session_scope(engine) as session:
        for n, counsellor in enumerate(session.exec(select(t.Counsellor).order_by(t.Counsellor.id)).all()):  # type: ignore[arg-type]
            if counsellor.phone is None and n < 10:
                counsellor.phone = DEMO_CREW_PHONES.format(n)
                session.add(counsellor)


def _resident_answer(question: str, commune: str) -> str | None:
    """What the demo resident answers to each question of the dialogue."""
    if question.startswith("Bonjour"):
        return commune.lower()  # typed without capitals, as on a basic phone
    if question.startswith(("Quelle commune", "Créneaux")):
        return "1"
    if question.startswith("Quel service"):
        return "0"
    if question.startswith("Confirmer"):
        return "oui"
    return None

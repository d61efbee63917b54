"""`mobile-services plan` and `publish`: the coordinator's weekly loop in a terminal."""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.markup import escape
from rich.text import Text
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from config import Settings
from mobile_services.bootstrap import bootstrap
from mobile_services.cli.common import console, engine_scope, friendly_errors, settings
from mobile_services.cli.plan_table import RouteRow, StopRow, clip, plan_lines, terminal_width, unserved_lines, wrapped
from mobile_services.domain import commands
from mobile_services.domain.calendar import parse_week
from mobile_services.domain.exceptions import InvalidInput, NotFound, UserFacingError
from mobile_services.service_layer.messagebus import MessageBus
from mobile_services.service_layer.planning import PlanOutcome, latest_plan
from mobile_services.reports import publish_diff
from mobile_services.service_layer.publishing import ConfirmationRequired, PublishDiff, PublishOutcome
from mobile_services.reports.plan_view import plan_page_path, route_numbers, write_plan_page
from mobile_services.storage import tables as t
from routing.solver import SearchProgress

WeekOption = Annotated[str, typer.Option("--week", "-w", help="Semaine ISO, par ex. 2026-W49.")]
TerritoryOption = Annotated[str | None, typer.Option("--territory", "-t", help="Nom du territoire (si plusieurs).")]


def resolve_territory(session: Session, name: str | None) -> t.Territory:
    """The named territory, or the only one; a French error otherwise."""
    territories = session.exec(select(t.Territory).order_by(col(t.Territory.id))).all()
    if name is not None:
        for territory in territories:
            if territory.name.casefold() == name.casefold():
                return territory
        raise NotFound(f"unknown territory {name!r}", f"Territoire « {name} » introuvable.")
    if not territories:
        raise NotFound(
            "no territory in the database",
            "Aucun territoire : importez-en un (« mobile-services territory import ») ou lancez « mobile-services demo ».",
        )
    if len(territories) > 1:
        names = ", ".join(t_.name for t_ in territories)
        raise InvalidInput("several territories, none chosen", f"Plusieurs territoires ({names}) : précisez --territory.")
    return territories[0]


def run_plan(engine: Engine, current: Settings, territory_id: int, week: str, time_limit: float | None) -> PlanOutcome:
    """Solve with a live progress bar (time budget, best solution so far)."""
    limit = time_limit if time_limit is not None else current.solver_time_limit_seconds
    with Progress(
        TextColumn("[bold]Planification {task.fields[week]}"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[best]}"),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("plan", total=max(limit, 1), week=week, best="recherche d'une première solution...")
        started = time.monotonic()
        done = threading.Event()

        def tick() -> None:
            while not done.wait(0.2):
                progress.update(task, completed=min(limit, time.monotonic() - started))

        def on_solution(event: SearchProgress) -> None:
            progress.update(task, best=f"meilleure solution : {event.served} arrêts ({event.elapsed_s:.1f} s)")

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        try:
            bus = bootstrap(current, engine=engine, solver_progress=on_solution)
            return bus.handle(commands.PlanWeek(territory_id=territory_id, week=week, time_limit_s=limit))  # type: ignore[no-any-return]
        finally:
            done.set()
            ticker.join()


def write_plan_html(engine: Engine, plan_id: int, current: Settings, path: Path | None = None) -> Path:
    """The map and timeline of a plan, as a self-contained HTML file; prints the path.

    Every draft and publication already writes its page at the default path (an event
    handler, :mod:`service_layer.plan_pages`); this writes it again only where asked
    (``--html``) or when that page is missing.
    """
    with Session(engine) as session:
        plan = session.get(t.Plan, plan_id)
        territory = session.get(t.Territory, plan.territory_id) if plan else None
        if plan is None or territory is None:
            raise NotFound(f"plan {plan_id} not found", f"Plan {plan_id} introuvable.")
        default = plan_page_path(current.data_dir, territory.name, plan.week, plan.version)
        if path is not None or not default.exists():
            path = write_plan_page(session, plan_id, current.data_dir, current.tz, path)
        else:
            path = default
    console.print(Text(f"Carte et planning : {path.resolve()}"), soft_wrap=True)  # one line, whatever the width: copy-pastable
    return path


def print_plan(engine: Engine, plan_id: int, current: Settings) -> None:
    """Routes (one line each, numbered as on the plan page) and their stops (one line each), coverage
    figures and the communes left out with their reason, laid out for the terminal's width (``COLUMNS``)."""
    tz = current.tz
    with Session(engine) as session:
        plan = session.get(t.Plan, plan_id)
        assert plan is not None
        routes = session.exec(select(t.Route).where(t.Route.plan_id == plan_id).order_by(col(t.Route.day), col(t.Route.vehicle_id))).all()
        visits = session.exec(select(t.Visit).where(t.Visit.plan_id == plan_id).order_by(col(t.Visit.sequence))).all()
        sites = {s.id: s for s in session.exec(select(t.Site).where(col(t.Site.id).in_({v.site_id for v in visits})))}
        communes = {c.id: c for c in session.exec(select(t.Commune).where(col(t.Commune.id).in_({s.commune_id for s in sites.values()})))}
        vehicles = {v.id: v for v in session.exec(select(t.Vehicle).where(t.Vehicle.territory_id == plan.territory_id))}
        people = {c.id: c for c in session.exec(select(t.Counsellor).where(t.Counsellor.territory_id == plan.territory_id))}

    width = terminal_width(console)
    numbers = route_numbers(routes)
    by_route: dict[int | None, list[t.Visit]] = {}
    for visit in visits:
        by_route.setdefault(visit.route_id, []).append(visit)
    rows = []
    for route in sorted(routes, key=lambda r: numbers.get(r.id or -1, 0)):
        stops = tuple(
            StopRow(
                visit_id=visit.id or 0,
                start=f"{visit.start_at.astimezone(tz):%H:%M}",
                end=f"{visit.end_at.astimezone(tz):%H:%M}",
                commune=communes[sites[visit.site_id].commune_id].name,
                site=sites[visit.site_id].name,
                pinned=visit.pinned,
                expected=visit.expected_demand,
            )
            for visit in sorted(by_route.get(route.id, []), key=lambda v: v.start_at)
        )
        pause = (
            f"{route.break_start_at.astimezone(tz):%H:%M}-{route.break_end_at.astimezone(tz):%H:%M}"
            if route.break_start_at and route.break_end_at
            else None
        )
        rows.append(
            RouteRow(
                number=numbers.get(route.id or -1, 0),
                day=route.day,
                vehicle=vehicles[route.vehicle_id].name,
                crew=tuple(people[c].name for c in route.crew if c in people),
                km=route.distance_km,
                driving_minutes=route.driving_minutes,
                pause=pause,
                stops=stops,
            )
        )

    def say(line: str, style: str = "") -> None:
        console.print(Text(line, style=style), width=width, no_wrap=True, overflow="crop")

    status = {"draft": "brouillon", "published": "publié", "superseded": "remplacé"}.get(plan.status, plan.status)
    say(clip(f"Plan {plan.week} v{plan.version} ({status}) : {len(rows)} tournées, {len(visits)} arrêts", width), "bold")
    for line, style in plan_lines(rows, width):
        say(line, style)
    k = plan.kpis
    console.print()
    for paragraph in (
        f"Communes visitées : {k.get('communes_visited')} / {k.get('communes_with_demand')} avec demande "
        f"({k.get('communes')} au total) · population couverte : {k.get('population_covered')} / {k.get('population')} · "
        f"demande servie : {100 * float(k.get('demand_served_share', 0)):.0f} % "
        f"({k.get('demand_served')} / {k.get('demand_expected')} personnes attendues)",
        f"{k.get('km')} km · {k.get('driving_hours')} h de conduite · {k.get('co2_kg')} kg de CO2 · "
        f"{k.get('cost_eur')} € de frais kilométriques · calcul {plan.solve_seconds} s ({plan.solver_status})",
    ):
        for line in wrapped(paragraph, width, indent=""):
            say(line)
    if plan.unserved:
        say("")
        say(clip(f"Communes sans arrêt cette semaine ({len(plan.unserved)}), les plus demandeuses d'abord :", width), "bold")
        for line in unserved_lines(plan.unserved, width):
            say(line)


@friendly_errors
def plan(
    week: WeekOption,
    territory: TerritoryOption = None,
    time_limit: Annotated[float | None, typer.Option("--time-limit", help="Temps de calcul en secondes.")] = None,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Fichier HTML de la carte et du planning (par défaut : plans/plan-TERRITOIRE-SEMAINE-vN.html dans le dossier de données)."),
    ] = None,
) -> None:
    """Calcule le plan de la semaine à partir de la demande et l'enregistre en brouillon."""
    current = settings()
    parse_week(week)
    with engine_scope(current) as engine:
        with Session(engine) as session:
            territory_id = resolve_territory(session, territory).id
        outcome = run_plan(engine, current, territory_id, week, time_limit)  # type: ignore[arg-type]
        for message in outcome.messages:
            console.print(f"[yellow]• {message}[/yellow]")
        print_plan(engine, outcome.plan_id, current)
        write_plan_html(engine, outcome.plan_id, current, html)
        console.print(f"Brouillon v{outcome.version} enregistré.")
        console.print(Text(f"Publiez-le avec : mobile-services publish --week {week}"), soft_wrap=True)


@friendly_errors
def publish(
    week: WeekOption,
    territory: TerritoryOption = None,
    version: Annotated[int | None, typer.Option("--version", help="Version relue (par défaut : la dernière).")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Ne pas demander de confirmation (scripts).")] = False,
) -> None:
    """Publie la dernière version de la semaine : les créneaux deviennent réservables.

    Si la publication déplace ou annule des rendez-vous, ses changements sont affichés
    et une confirmation est demandée (--yes pour un script ; sans terminal ni --yes,
    rien n'est publié).
    """
    current = settings()
    parse_week(week)
    with engine_scope(current) as engine:
        with Session(engine) as session:
            territory_id = resolve_territory(session, territory).id
        command = commands.PublishPlan(territory_id=territory_id, week=week, version=version)  # type: ignore[arg-type]
        outcome = publish_confirmed(bootstrap(current, engine=engine), command, current, yes=yes)
    if outcome.status == "already_published":
        when = f" (le {outcome.published_at.astimezone(current.tz):%d/%m/%Y à %H:%M})" if outcome.published_at else ""
        console.print(f"Plan {week} v{outcome.version} déjà publié{when} : rien à faire.")
        return
    console.print(
        f"Plan {week} v{outcome.version} publié : {outcome.slots} créneaux "
        f"({outcome.bookable_seats} places réservables, le reste en accueil libre)."
    )


def interactive() -> bool:
    """Someone at a terminal can answer the confirmation question."""
    return sys.stdin.isatty()


def publish_confirmed(bus: MessageBus, command: commands.PublishPlan, current: Settings, *, yes: bool = False) -> PublishOutcome:
    """Publish; when that moves or cancels bookings, show what it does and ask first.

    The diff comes from the service layer's own run of the publication, rolled back
    (:class:`ConfirmationRequired`); the answer confirms that very diff, so a booking
    made while the coordinator reads is shown before anything happens.
    """
    if yes:
        command = dataclasses.replace(command, confirmed=True)
    while True:
        try:
            outcome: PublishOutcome = bus.handle(command)
        except ConfirmationRequired as needed:
            if needed.changed:
                console.print("[yellow]Les réservations ont changé pendant la relecture : voici les changements à jour.[/yellow]")
            print_publish_diff(needed.diff, needed.week, current)
            if not interactive():
                raise UserFacingError(
                    "publish needs a confirmation and there is no terminal",
                    "Rien n'a été publié : cette publication déplace ou annule des rendez-vous et doit être confirmée. "
                    "Relancez-la dans un terminal, ou avec --yes depuis un script.",
                ) from None
            if not ask_yes_no(f"Publier {needed.week} v{needed.diff.version} et envoyer ces SMS ?"):
                console.print("Publication annulée : rien n'a changé, aucun SMS envoyé.")
                raise typer.Exit(code=1) from None
            command = dataclasses.replace(command, confirmed_diff=needed.diff.fingerprint)
            continue
        if outcome.diff is not None and outcome.diff.previous_id is not None:
            print_publish_diff(outcome.diff, outcome.week, current)
        return outcome


def ask_yes_no(question: str) -> bool:
    """oui / non in French (o, n; y, yes are understood too); anything else asks again."""
    while True:
        answer = typer.prompt(f"{question} (oui/non)", default="non", show_default=False).strip().casefold()
        if answer in ("o", "oui", "y", "yes"):
            return True
        if answer in ("n", "non", "no"):
            return False
        console.print("Répondez oui ou non.")


DIFF_LINES = 10


def print_publish_diff(diff: PublishDiff, week: str, current: Settings) -> None:
    """Stops added, moved, removed; bookings kept, moved, cancelled; the SMS it sends."""
    console.print(f"[bold]{escape(publish_diff.header(diff, week))}[/bold]")
    for summary, details in publish_diff.sections(diff, current.tz):
        console.print(f"  {summary}", markup=False, soft_wrap=True)
        _print_some([f"    {line}" for line in details])


def _print_some(lines: list[str]) -> None:
    for line in lines[:DIFF_LINES]:
        console.print(line, markup=False, soft_wrap=True)
    if len(lines) > DIFF_LINES:
        console.print(f"    ... et {len(lines) - DIFF_LINES} autres")


def _set_pinned(visit_id: int, pinned: bool) -> None:
    current = settings()
    with engine_scope(current) as engine, Session(engine) as session:
        visit = session.get(t.Visit, visit_id)
        plan = session.get(t.Plan, visit.plan_id) if visit else None
        if visit is None or plan is None:
            raise NotFound(f"visit {visit_id} not found", f"Arrêt #{visit_id} introuvable.")
        latest = latest_plan(session, plan.territory_id, plan.week)
        if latest is None or latest.id != plan.id:
            raise InvalidInput(
                f"visit {visit_id} is not in the latest plan of {plan.week}",
                f"L'arrêt #{visit_id} n'est pas dans le dernier plan de {plan.week} : affichez-le avec « plan ».",
            )
        visit.pinned = pinned
        session.add(visit)
        session.commit()
        state = "épinglé : le prochain calcul le gardera tel quel" if pinned else "désépinglé"
        console.print(f"Arrêt #{visit_id} ({visit.day:%d/%m}, {visit.half_day}) {state}.")


@friendly_errors
def pin(visit_id: Annotated[int, typer.Argument(help="Numéro de l'arrêt (#) affiché par « plan ».")]) -> None:
    """Épingle un arrêt : véhicule, jour et demi-journée seront gardés au prochain calcul."""
    _set_pinned(visit_id, True)


@friendly_errors
def unpin(visit_id: Annotated[int, typer.Argument(help="Numéro de l'arrêt (#) affiché par « plan ».")]) -> None:
    """Retire l'épingle d'un arrêt."""
    _set_pinned(visit_id, False)

"""`mobile-services incident ...` and `mobile-services week changes`: the week as it really goes.

A coordinator declares what went wrong (a bus broke down, a counsellor is ill, a room is
taken, a stop is cancelled, requests came in); the system re-plans the published days it
touches by itself and prints what it did. ``week changes`` reads those reports again.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, time, timedelta
from typing import Annotated

import typer
from rich.markup import escape
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from config import Settings
from mobile_services.bootstrap import bootstrap
from mobile_services.cli.common import console, engine_scope, friendly_errors, settings
from mobile_services.cli.planning import TerritoryOption, WeekOption, resolve_territory
from mobile_services.domain import commands
from mobile_services.domain.calendar import parse_week
from mobile_services.domain.exceptions import InvalidInput, NotFound
from mobile_services.domain.messages import Command
from mobile_services.storage import tables as t

app = typer.Typer(help="Déclarer un imprévu : la semaine publiée est re-planifiée aussitôt.", no_args_is_help=True)
week_app = typer.Typer(help="Ce qui est arrivé à une semaine publiée.", no_args_is_help=True)

FromOption = Annotated[str, typer.Option("--from", help="Début : « 2026-12-08 10:00 » ou « 08/12/2026 10:00 » (heure de Paris).")]
ToOption = Annotated[
    str | None, typer.Option("--to", help="Fin (par défaut : la fin de la journée de début).")
]
ReasonOption = Annotated[str, typer.Option("--reason", help="Motif, repris dans le compte rendu (ex. « panne »).")]


def parse_moment(text: str, current: Settings) -> datetime:
    """A local date and time typed by a coordinator, in the territory's time zone."""
    cleaned = " ".join(text.replace("T", " ").split())
    for pattern in ("%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M", "%Y-%m-%d", "%d/%m/%Y"):
        try:
            moment = datetime.strptime(cleaned, pattern)
        except ValueError:
            continue
        return moment.replace(tzinfo=current.tz)
    raise InvalidInput(
        f"unreadable date {text!r}",
        f"Date illisible : « {text} ». Écrivez par exemple « 2026-12-08 10:00 » ou « 08/12/2026 10:00 ».",
    )


def parse_day(text: str, current: Settings) -> date:
    return parse_moment(text, current).date()


def _period(start: str, end: str | None, current: Settings) -> tuple[datetime, datetime]:
    starts_at = parse_moment(start, current)
    ends_at = (
        parse_moment(end, current)
        if end is not None
        else datetime.combine(starts_at.date() + timedelta(days=1), time(0), current.tz)
    )
    return starts_at, ends_at


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text.casefold()) if not unicodedata.combining(c)).strip()


def _named(session: Session, model: type[t.Vehicle] | type[t.Counsellor], territory_id: int, name: str, what: str) -> int:
    rows = session.exec(select(model).where(model.territory_id == territory_id)).all()  # type: ignore[attr-defined]
    found = [r for r in rows if _fold(r.name) == _fold(name)] or [r for r in rows if _fold(name) in _fold(r.name)]
    if len(found) != 1:
        names = ", ".join(sorted(r.name for r in rows)) or "aucun"
        raise NotFound(f"{what} {name!r}: {len(found)} matches", f"{what.capitalize()} « {name} » introuvable ou ambigu (connus : {names}).")
    return found[0].id  # type: ignore[return-value]


def _commune(session: Session, territory_id: int, text: str) -> int:
    communes = session.exec(select(t.Commune).where(t.Commune.territory_id == territory_id)).all()
    found = [c for c in communes if c.insee_code == text.strip()] or [c for c in communes if _fold(c.name) == _fold(text)]
    if len(found) != 1:
        raise NotFound(f"commune {text!r}: {len(found)} matches", f"Commune « {text} » introuvable (code INSEE ou nom exact).")
    return found[0].id  # type: ignore[return-value]


def _declare(engine: Engine, current: Settings, command: Command) -> None:
    """Hand the command to the bus (it re-plans at once) and print what was done."""
    bus = bootstrap(current, engine=engine)
    with console.status("Re-planification des jours touchés…"):
        disruption_id = bus.handle(command)
    with Session(engine) as session:
        disruption = session.get(t.Disruption, disruption_id)
        changes = session.exec(
            select(t.WeekChange).where(t.WeekChange.disruption_id == disruption_id).order_by(col(t.WeekChange.id))
        ).all()
        if not changes:
            assert disruption is not None
            console.print(
                f"Imprévu n° {disruption_id} enregistré. Aucune semaine publiée n'est touchée : "
                "le prochain « plan » en tiendra compte.",
                soft_wrap=True,
            )
            return
        for change in changes:
            print_change(change)


def print_change(change: t.WeekChange) -> None:
    versions = f"v{change.from_version} -> v{change.to_version}" if change.to_version else "non re-planifiée"
    console.print(f"[bold]{escape(change.week)} ({versions}) : {escape(change.cause_fr)}[/bold]", soft_wrap=True)
    for line in change.lines_fr:
        console.print(f"  {line}", markup=False, soft_wrap=True)


@app.command("vehicle")
@friendly_errors
def vehicle(
    name: Annotated[str, typer.Argument(help="Nom du véhicule (ex. « Bus Nord »).")],
    start: FromOption,
    end: ToOption = None,
    reason: ReasonOption = "",
    territory: TerritoryOption = None,
) -> None:
    """Un véhicule est indisponible (panne, contrôle) : ses jours publiés sont re-planifiés."""
    _declare_absence(t.Vehicle, "véhicule", name, start, end, reason, territory)


@app.command("counsellor")
@friendly_errors
def counsellor(
    name: Annotated[str, typer.Argument(help="Nom du conseiller.")],
    start: FromOption,
    end: ToOption = None,
    reason: ReasonOption = "",
    territory: TerritoryOption = None,
) -> None:
    """Un conseiller est absent (maladie, congé, formation) : ses jours publiés sont re-planifiés."""
    _declare_absence(t.Counsellor, "conseiller", name, start, end, reason, territory)


def _declare_absence(
    model: type[t.Vehicle] | type[t.Counsellor], what: str, name: str, start: str, end: str | None, reason: str,
    territory: str | None,
) -> None:
    """A vehicle or a counsellor, found by name, is out for a period."""
    current = settings()
    starts_at, ends_at = _period(start, end, current)
    with engine_scope(current) as engine:
        with Session(engine) as session:
            territory_id = resolve_territory(session, territory).id
            subject_id = _named(session, model, territory_id, name, what)  # type: ignore[arg-type]
        command: Command = (
            commands.DeclareVehicleUnavailable(vehicle_id=subject_id, starts_at=starts_at, ends_at=ends_at, reason=reason)
            if model is t.Vehicle
            else commands.DeclareCounsellorUnavailable(
                counsellor_id=subject_id, starts_at=starts_at, ends_at=ends_at, reason=reason
            )
        )
        _declare(engine, current, command)


@app.command("site")
@friendly_errors
def site(
    site_id: Annotated[int, typer.Argument(help="Numéro du lieu.")],
    day: Annotated[str, typer.Option("--date", help="Jour où le lieu n'est pas disponible (2026-12-10).")],
    reason: ReasonOption = "",
) -> None:
    """Un lieu n'est pas disponible un jour (salle prise, travaux) : ce jour est re-planifié."""
    current = settings()
    with engine_scope(current) as engine:
        _declare(engine, current, commands.BlockSite(site_id=site_id, day=parse_day(day, current), reason=reason))


@app.command("cancel-stop")
@friendly_errors
def cancel_stop(
    visit_id: Annotated[int, typer.Argument(help="Numéro de l'arrêt (#) affiché par « plan ».")],
    reason: ReasonOption = "",
) -> None:
    """Annule un arrêt publié : sa journée est re-planifiée sans lui, les inscrits sont prévenus."""
    current = settings()
    with engine_scope(current) as engine:
        _declare(engine, current, commands.CancelStop(visit_id=visit_id, reason=reason))


@app.command("demand")
@friendly_errors
def demand(
    commune: Annotated[str, typer.Argument(help="Code INSEE ou nom de la commune.")],
    count: Annotated[int, typer.Option("--count", help="Nombre de personnes qui ont demandé de l'aide.")],
    source: Annotated[str, typer.Option("--source", help="D'où vient l'information (mairie, téléphone...).")] = "mairie",
    territory: TerritoryOption = None,
) -> None:
    """Des habitants demandent un passage : les jours restants de la semaine publiée sont re-planifiés."""
    current = settings()
    with engine_scope(current) as engine:
        with Session(engine) as session:
            territory_id = resolve_territory(session, territory).id
            commune_id = _commune(session, territory_id, commune)  # type: ignore[arg-type]
        _declare(engine, current, commands.ReportDemand(commune_id=commune_id, count=count, source=source))


@week_app.command("changes")
@friendly_errors
def changes(week: WeekOption, territory: TerritoryOption = None) -> None:
    """Les re-planifications de la semaine après des imprévus, la plus ancienne d'abord."""
    current = settings()
    parse_week(week)
    with engine_scope(current) as engine:
        with Session(engine) as session:
            territory_id = resolve_territory(session, territory).id
            rows = session.exec(
                select(t.WeekChange)
                .where(t.WeekChange.territory_id == territory_id, t.WeekChange.week == week)
                .order_by(col(t.WeekChange.id))
            ).all()
            if not rows:
                console.print(f"Aucun imprévu n'a changé la semaine {week}.")
                return
            for change in rows:
                console.print(f"{change.created_at.astimezone(current.tz):%d/%m/%Y %H:%M}", style="dim")
                print_change(change)

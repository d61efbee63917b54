"""Disruptions: the week never goes as planned, and the system reacts by itself.

A bus breaks down, a counsellor is ill, the salle des fêtes is taken, a coordinator
cancels a stop, a commune off the plan suddenly has requests. Each is a command
(imperative), kept as a :class:`~mobile_services.storage.tables.Disruption` with its
period (so the planner reads it for every week it touches, also the next ``plan``), and
announced by its past-tense event. The event's handler, :func:`replan_touched_days`,
re-plans only the days of the published week it touches, with the real planner:

* what already happened is frozen, the stops of the other days are pinned where they
  are, the search warm-starts from the published version with a short time limit
  (``replan_time_limit_seconds``);
* the new version is published through the same command as ``publish``
  (:mod:`publishing`): bookings follow their stops, seats are held nearby, residents are
  told, waiting residents hear of new stops;
* drivers and counsellors whose day changed get one SMS each;
* a :class:`~mobile_services.storage.tables.WeekChange` records, in French, what was done
  and why (``mobile-services week changes``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlmodel import Session, col, select

from config import Settings
from mobile_services.domain import commands, events
from mobile_services.domain.calendar import week_days, week_of
from mobile_services.domain.exceptions import InvalidInput, NotFound, UserFacingError
from mobile_services.domain.phones import reachable_mobile
from mobile_services.reports import publish_diff
from mobile_services.service_layer.access import link_for, private_url
from mobile_services.service_layer.booking import renderer
from mobile_services.service_layer.planning import latest_plan
from mobile_services.service_layer.unit_of_work import UnitOfWork
from mobile_services.storage import tables as t
from notifications.ports import Clock

logger = logging.getLogger(__name__)

#: A demand report re-plans the days left of the published weeks within this horizon.
DEMAND_HORIZON_DAYS = 7


# --------------------------------------------------------------------------- commands


def _period(starts_at: datetime, ends_at: datetime) -> None:
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InvalidInput("disruption period must be timezone-aware", "La période doit préciser son fuseau horaire.")
    if ends_at <= starts_at:
        raise InvalidInput(
            f"disruption ends {ends_at.isoformat()} before it starts {starts_at.isoformat()}",
            "La fin de l'indisponibilité doit être après son début.",
        )


def _record(uow: UnitOfWork, row: t.Disruption, event: Any) -> int:
    uow.session.add(row)
    uow.session.flush()
    uow.emit(event(row))
    uow.commit()
    logger.info("disruption %s recorded: %s", row.id, row.kind)
    return row.id  # type: ignore[return-value]


def declare_vehicle_unavailable(command: commands.DeclareVehicleUnavailable, *, uow: UnitOfWork, clock: Clock) -> int:
    _period(command.starts_at, command.ends_at)
    with uow:
        vehicle = uow.session.get(t.Vehicle, command.vehicle_id)
        if vehicle is None:
            raise NotFound(f"vehicle {command.vehicle_id} not found", f"Véhicule {command.vehicle_id} introuvable.")
        row = t.Disruption(
            territory_id=vehicle.territory_id, kind="vehicle", vehicle_id=vehicle.id, starts_at=command.starts_at,
            ends_at=command.ends_at, reason=command.reason, created_at=clock.now(),
        )  # fmt: skip
        return _record(uow, row, lambda r: events.VehicleDeclaredUnavailable(
            disruption_id=r.id, territory_id=r.territory_id, vehicle_id=r.vehicle_id))  # fmt: skip


def declare_counsellor_unavailable(command: commands.DeclareCounsellorUnavailable, *, uow: UnitOfWork, clock: Clock) -> int:
    _period(command.starts_at, command.ends_at)
    with uow:
        counsellor = uow.session.get(t.Counsellor, command.counsellor_id)
        if counsellor is None:
            raise NotFound(f"counsellor {command.counsellor_id} not found", f"Conseiller {command.counsellor_id} introuvable.")
        row = t.Disruption(
            territory_id=counsellor.territory_id, kind="counsellor", counsellor_id=counsellor.id,
            starts_at=command.starts_at, ends_at=command.ends_at, reason=command.reason, created_at=clock.now(),
        )  # fmt: skip
        return _record(uow, row, lambda r: events.CounsellorDeclaredUnavailable(
            disruption_id=r.id, territory_id=r.territory_id, counsellor_id=r.counsellor_id))  # fmt: skip


def _whole_day(day: date, settings: Settings) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), settings.tz)
    return start, datetime.combine(day + timedelta(days=1), time(0), settings.tz)


def _territory_of_site(session: Session, site_id: int) -> tuple[t.Site, int]:
    site = session.get(t.Site, site_id)
    commune = session.get(t.Commune, site.commune_id) if site else None
    if site is None or commune is None:
        raise NotFound(f"site {site_id} not found", f"Lieu {site_id} introuvable.")
    return site, commune.territory_id


def block_site(command: commands.BlockSite, *, uow: UnitOfWork, clock: Clock, settings: Settings) -> int:
    with uow:
        site, territory_id = _territory_of_site(uow.session, command.site_id)
        starts_at, ends_at = _whole_day(command.day, settings)
        row = t.Disruption(
            territory_id=territory_id, kind="site", site_id=site.id, starts_at=starts_at, ends_at=ends_at,
            reason=command.reason, created_at=clock.now(),
        )  # fmt: skip
        return _record(uow, row, lambda r: events.SiteBlocked(
            disruption_id=r.id, territory_id=r.territory_id, site_id=r.site_id, day=command.day))  # fmt: skip


def cancel_stop(command: commands.CancelStop, *, uow: UnitOfWork, clock: Clock, settings: Settings) -> int:
    """The stop's site is blocked on its day, so the re-plan fills the day without it."""
    now = clock.now()
    with uow:
        visit = uow.session.get(t.Visit, command.visit_id)
        plan = uow.session.get(t.Plan, visit.plan_id) if visit else None
        if visit is None or plan is None:
            raise NotFound(f"stop {command.visit_id} not found", f"Arrêt n° {command.visit_id} introuvable.")
        if plan.status != "published" or visit.status != "planned":
            raise InvalidInput(
                f"stop {visit.id} is not a planned stop of a published week ({plan.status}, {visit.status})",
                f"L'arrêt n° {visit.id} n'est pas un arrêt publié à venir : rien à annuler.",
            )
        if visit.start_at <= now:
            raise InvalidInput(
                f"stop {visit.id} already started", f"L'arrêt n° {visit.id} a déjà commencé : il ne peut plus être annulé."
            )
        site, territory_id = _territory_of_site(uow.session, visit.site_id)
        starts_at, ends_at = _whole_day(visit.day, settings)
        row = t.Disruption(
            territory_id=territory_id, kind="site", site_id=site.id, visit_id=visit.id, starts_at=starts_at,
            ends_at=ends_at, reason=command.reason, created_at=now,
        )  # fmt: skip
        return _record(uow, row, lambda r: events.StopCancelled(
            disruption_id=r.id, territory_id=r.territory_id, visit_id=r.visit_id))  # fmt: skip


def report_demand(command: commands.ReportDemand, *, uow: UnitOfWork, clock: Clock, settings: Settings) -> int:
    """People asking in a commune raise its demand (a signal the demand model reads) from today."""
    if command.count < 1:
        raise InvalidInput(f"demand count {command.count} < 1", "Indiquez au moins une personne.")
    now = clock.now()
    with uow:
        commune = uow.session.get(t.Commune, command.commune_id)
        if commune is None:
            raise NotFound(f"commune {command.commune_id} not found", f"Commune {command.commune_id} introuvable.")
        today = now.astimezone(settings.tz).date()
        uow.session.add(t.DemandSignal(
            commune_id=commune.id, service_id=command.service_id, source=command.source, weight=float(command.count),  # type: ignore[arg-type]
            observed_on=today,
        ))  # fmt: skip
        row = t.Disruption(
            territory_id=commune.territory_id, kind="demand", commune_id=commune.id, starts_at=now,
            ends_at=now + timedelta(days=DEMAND_HORIZON_DAYS), reason=f"{command.count} demande(s) ({command.source})",
            created_at=now,
        )  # fmt: skip
        return _record(uow, row, lambda r: events.DemandReported(
            disruption_id=r.id, territory_id=r.territory_id, commune_id=r.commune_id, count=command.count))  # fmt: skip


# --------------------------------------------------------------------------- re-planning


@dataclass(frozen=True)
class _Day:
    """What a driver or counsellor sees of one route-day: where and when."""

    stops: tuple[tuple[int, datetime], ...]
    crew: frozenset[int]
    first_commune: str


def replan_touched_days(
    event: events.VehicleDeclaredUnavailable
    | events.CounsellorDeclaredUnavailable
    | events.SiteBlocked
    | events.StopCancelled
    | events.DemandReported,
    *,
    uow: UnitOfWork,
    bus: Any,
    clock: Clock,
    settings: Settings,
) -> None:
    """Re-plan and publish each published week the disruption touches, days touched only."""
    now = clock.now()
    today = now.astimezone(settings.tz).date()
    with uow:
        disruption = uow.session.get(t.Disruption, event.disruption_id)
        assert disruption is not None
        touched = _touched_days(disruption, today, settings)
        cause = _cause_fr(uow.session, disruption, settings)
    for week, days in sorted(touched.items()):
        with uow:
            published = latest_plan(uow.session, disruption.territory_id, week, "published")
            if published is None:
                logger.info("disruption %s touches %s, not published: the next plan will read it", disruption.id, week)
                continue
            before = _route_days(uow.session, published, settings)
            previous_version = published.version
        keep = tuple(d for d in week_days(week) if d not in days)
        try:
            planned = bus.handle(commands.PlanWeek(
                territory_id=disruption.territory_id, week=week, time_limit_s=settings.replan_time_limit_seconds,
                keep_days=keep,
            ))  # fmt: skip
            outcome = bus.handle(commands.PublishPlan(
                territory_id=disruption.territory_id, week=week, version=planned.version, confirmed=True,
            ))  # fmt: skip
        except UserFacingError as exc:
            logger.warning("re-planning %s after disruption %s failed: %s", week, disruption.id, exc)
            _store_change(uow, disruption, week, cause, previous_version, None, [f"Re-planification impossible : {exc.french()}"], now)
            continue
        with uow:
            new_plan = uow.session.get(t.Plan, outcome.plan_id)
            assert new_plan is not None
            after = _route_days(uow.session, new_plan, settings)
            told = _tell_staff(uow.session, new_plan, before, after, today, now, settings)
            lines = [publish_diff.header(outcome.diff, week)] if outcome.diff is not None else []
            if outcome.diff is not None:
                for summary, details in publish_diff.sections(outcome.diff, settings.tz):
                    lines.append(summary)
                    lines += [f"  {line}" for line in details]
            lines.append(f"Équipes prévenues par SMS : {len(told)}" + (f" ({', '.join(sorted(told))})" if told else ""))
            uow.commit()
        moved = len(outcome.diff.bookings_moved) if outcome.diff is not None else 0
        cancelled = len(outcome.diff.bookings_cancelled) if outcome.diff is not None else 0
        _store_change(uow, disruption, week, cause, previous_version, outcome.version, lines, now, moved=moved, cancelled=cancelled)


def _store_change(
    uow: UnitOfWork, disruption: t.Disruption, week: str, cause: str, from_version: int | None,
    to_version: int | None, lines: list[str], now: datetime, *, moved: int = 0, cancelled: int = 0,
) -> None:
    with uow:
        change = t.WeekChange(
            territory_id=disruption.territory_id, week=week, disruption_id=disruption.id, cause_fr=cause[:400],
            from_version=from_version, to_version=to_version, lines_fr=lines, created_at=now,
        )  # fmt: skip
        uow.session.add(change)
        uow.session.flush()
        if to_version is not None:
            plan = latest_plan(uow.session, disruption.territory_id, week, "published")
            uow.emit(events.WeekReplanned(
                territory_id=disruption.territory_id, week=week, plan_id=plan.id, change_id=change.id,  # type: ignore[union-attr,arg-type]
                what_fr=_what_fr(uow.session, disruption), bookings_moved=moved, bookings_cancelled=cancelled,
            ))  # fmt: skip
        uow.commit()


def _touched_days(disruption: t.Disruption, today: date, settings: Settings) -> dict[str, set[date]]:
    """Local days from today on that the disruption touches, by ISO week."""
    start = disruption.starts_at.astimezone(settings.tz).date()
    end = (disruption.ends_at - timedelta(microseconds=1)).astimezone(settings.tz).date()
    if disruption.kind == "demand":
        start = max(start, today + timedelta(days=1))  # not today's tours: they are on the road
    out: dict[str, set[date]] = defaultdict(set)
    day = max(start, today)
    while day <= end:
        out[week_of(day)].add(day)
        day += timedelta(days=1)
    return dict(out)


def _cause_fr(session: Session, disruption: t.Disruption, settings: Settings) -> str:
    def when(moment: datetime) -> str:
        return f"{moment.astimezone(settings.tz):%d/%m %H:%M}"

    def period() -> str:
        start, end = disruption.starts_at.astimezone(settings.tz), disruption.ends_at.astimezone(settings.tz)
        last = (end - timedelta(minutes=1)).date()
        if last == start.date():
            until = "la fin de la journée" if (end - timedelta(minutes=1)).time() >= time(23, 58) else f"{end:%H:%M}"
            since = "" if start.time() == time(0) else f" de {start:%H:%M} à {until}"
            return f"le {start:%d/%m}{since}"
        return f"du {when(disruption.starts_at)} au {when(disruption.ends_at)}"

    reason = f" ({disruption.reason})" if disruption.reason and disruption.kind != "demand" else ""
    if disruption.kind == "vehicle":
        vehicle = session.get(t.Vehicle, disruption.vehicle_id)
        return f"{vehicle.name if vehicle else 'Véhicule'} indisponible {period()}{reason}"
    if disruption.kind == "counsellor":
        counsellor = session.get(t.Counsellor, disruption.counsellor_id)
        name = counsellor.name if counsellor else "Conseiller"
        return f"{name} indisponible {period()}{reason}"
    if disruption.kind == "site":
        site = session.get(t.Site, disruption.site_id)
        commune = session.get(t.Commune, site.commune_id) if site else None
        place = f"{commune.name if commune else ''} ({site.name if site else ''})"
        day = f"{disruption.starts_at.astimezone(settings.tz):%d/%m}"
        if disruption.visit_id is not None:
            return f"Arrêt n° {disruption.visit_id} annulé : {place}, le {day}{reason}"
        return f"Lieu indisponible : {place}, le {day}{reason}"
    commune = session.get(t.Commune, disruption.commune_id)
    return f"Demande signalée à {commune.name if commune else ''} : {disruption.reason}"


def _what_fr(session: Session, disruption: t.Disruption) -> str:
    """The disruption in a few words, for an SMS: « Bus Nord indisponible »."""
    if disruption.kind == "vehicle":
        vehicle = session.get(t.Vehicle, disruption.vehicle_id)
        return f"{vehicle.name if vehicle else 'Véhicule'} indisponible"
    if disruption.kind == "counsellor":
        counsellor = session.get(t.Counsellor, disruption.counsellor_id)
        return f"{counsellor.name if counsellor else 'Conseiller'} indisponible"
    site = session.get(t.Site, disruption.site_id) if disruption.site_id else None
    commune = session.get(t.Commune, site.commune_id if site else disruption.commune_id)
    name = commune.name if commune else ""
    if disruption.kind == "site":
        return f"Arrêt annulé à {name}" if disruption.visit_id is not None else f"Lieu indisponible à {name}"
    return f"Demande signalée à {name}"


def _route_days(session: Session, plan: t.Plan, settings: Settings) -> dict[tuple[int, date], _Day]:
    rows = session.exec(
        select(t.Visit, t.Commune.name)
        .join(t.Site, col(t.Site.id) == t.Visit.site_id)
        .join(t.Commune, col(t.Commune.id) == t.Site.commune_id)
        .where(t.Visit.plan_id == plan.id, t.Visit.status == "planned")
        .order_by(col(t.Visit.start_at))
    ).all()
    by_day: dict[tuple[int, date], list[tuple[t.Visit, str]]] = defaultdict(list)
    for visit, commune in rows:
        by_day[(visit.vehicle_id, visit.day)].append((visit, commune))
    return {
        key: _Day(
            stops=tuple((v.site_id, v.start_at) for v, _ in stops),
            crew=frozenset(c for v, _ in stops for c in v.crew),
            first_commune=stops[0][1],
        )
        for key, stops in by_day.items()
    }


def _tell_staff(
    session: Session,
    plan: t.Plan,
    before: dict[tuple[int, date], _Day],
    after: dict[tuple[int, date], _Day],
    today: date,
    now: datetime,
    settings: Settings,
) -> set[str]:
    """One SMS to each driver and counsellor whose day changed; returns their names."""
    told: set[str] = set()
    render = renderer(settings.timezone)
    for key in sorted(set(before) | set(after)):
        vehicle_id, day = key
        old, new = before.get(key), after.get(key)
        if day < today or (old is not None and new is not None and old.stops == new.stops and old.crew == new.crew):
            continue
        vehicle = session.get(t.Vehicle, vehicle_id)
        if vehicle is None:
            continue
        people: list[tuple[str, str | None, str, int]] = [
            (d.name, d.phone, "vehicle", vehicle_id)
            for d in session.exec(select(t.Driver).where(t.Driver.vehicle_id == vehicle_id, t.Driver.active == True))  # noqa: E712
        ]
        crew = (old.crew if old else frozenset()) | (new.crew if new else frozenset())
        people += [
            (c.name, c.phone, "counsellor", c.id)  # type: ignore[misc]
            for c in (session.get(t.Counsellor, cid) for cid in sorted(crew)) if c is not None
        ]
        end_of_day = datetime.combine(day + timedelta(days=1), time(0), settings.tz)
        for name, raw_phone, kind, subject_id in people:
            phone = reachable_mobile(raw_phone)
            if phone is None:
                continue
            link = private_url(settings.base_url, kind, link_for(
                session, territory_id=plan.territory_id, kind=kind, subject_id=subject_id, now=now))  # fmt: skip
            body = render.render(
                "staff_day_changed",
                day=day,
                vehicle=vehicle.name,
                stops=len(new.stops) if new else 0,
                first_start=new.stops[0][1] if new else None,
                first_commune=new.first_commune if new else "",
                link=link,
            )
            key_text = f"staff_day:{plan.id}:{vehicle_id}:{day.isoformat()}:{phone}"
            if session.exec(select(t.Message.id).where(t.Message.idempotency_key == key_text)).first() is not None:
                continue
            session.add(t.Message(
                recipient=phone, kind="staff_day_changed", body=body, idempotency_key=key_text, due_at=now,
                expires_at=end_of_day, created_at=now,
            ))  # fmt: skip
            told.add(name)
    return told

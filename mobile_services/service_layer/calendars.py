"""Stops as calendars and pages see them: published stops of a commune, a vehicle or a
counsellor, each with a stable identity across re-plans.

A re-plan publishes a new version of the week with new visit rows. So that calendar apps
replace an event instead of duplicating it, each new visit inherits the identity of the
previous version's visit it continues (:func:`carry_calendar_identity`: same site first,
then same commune; same day first, then nearest in time), with its SEQUENCE bumped when
its time or place changed. A stop of the previous version that nothing continues stays in
the feeds as cancelled (it is read from the superseded version) while it is in the window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_
from sqlmodel import Session, col, func, select

from mobile_services.storage import tables as t

__all__ = [
    "StopView",
    "carry_calendar_identity",
    "commune_stops",
    "counsellor_stops",
    "vehicle_stops",
]

_VISIBLE_PLANS = ("published", "superseded")


@dataclass(frozen=True, kw_only=True)
class StopView:
    """One published stop (or one dropped by a re-plan, ``cancelled``), ready to show."""

    visit_id: int
    origin_id: int
    territory_id: int
    start_at: datetime
    end_at: datetime
    site_name: str
    site_address: str
    latitude: float
    longitude: float
    accessible: bool
    commune_name: str
    insee_code: str
    services: tuple[str, ...]
    sequence: int
    cancelled: bool
    last_modified: datetime
    vehicle_id: int
    crew: tuple[int, ...]
    bookings: int


def origin_of(visit: t.Visit) -> int:
    return visit.ical_origin_id if visit.ical_origin_id is not None else visit.id  # type: ignore[return-value]


def carry_calendar_identity(session: Session, previous: t.Plan, new: t.Plan) -> None:
    """Give each visit of ``new`` the identity of the ``previous`` visit it continues."""
    old_rows = session.exec(
        select(t.Visit, t.Site)
        .join(t.Site, col(t.Site.id) == t.Visit.site_id)
        .where(t.Visit.plan_id == previous.id, t.Visit.status == "planned")
        .order_by(col(t.Visit.start_at), col(t.Visit.id))
    ).all()
    unmatched = list(
        session.exec(
            select(t.Visit, t.Site)
            .join(t.Site, col(t.Site.id) == t.Visit.site_id)
            .where(t.Visit.plan_id == new.id, t.Visit.status == "planned")
            .order_by(col(t.Visit.start_at), col(t.Visit.id))
        ).all()
    )
    for old, old_site in old_rows:
        pool = [row for row in unmatched if row[1].id == old_site.id] or [
            row for row in unmatched if row[1].commune_id == old_site.commune_id
        ]
        if not pool:
            continue
        match = min(pool, key=lambda row: (row[0].day != old.day, abs((row[0].start_at - old.start_at).total_seconds())))
        unmatched.remove(match)
        visit, site = match
        changed = (visit.start_at, visit.end_at, site.id) != (old.start_at, old.end_at, old_site.id)
        visit.ical_origin_id = origin_of(old)
        visit.ical_sequence = old.ical_sequence + (1 if changed else 0)
        session.add(visit)
    session.flush()


def commune_stops(session: Session, insee_code: str, since: datetime, until: datetime) -> list[StopView]:
    """Stops at the commune's sites overlapping [since, until), cancelled ones included."""
    return _stops(session, col(t.Commune.insee_code) == insee_code, since, until)


def vehicle_stops(session: Session, vehicle_id: int, since: datetime, until: datetime) -> list[StopView]:
    """The vehicle's stops; one a re-plan gave to another vehicle shows as cancelled here."""
    vehicle = session.get(t.Vehicle, vehicle_id)
    if vehicle is None:
        return []
    return _stops(
        session, col(t.Plan.territory_id) == vehicle.territory_id, since, until, belongs=lambda v: v.vehicle_id == vehicle_id
    )


def counsellor_stops(
    session: Session, counsellor_id: int, territory_id: int, since: datetime, until: datetime
) -> list[StopView]:
    """Stops whose crew includes the counsellor (crews are JSON lists: filtered here); one a
    re-plan gave to another crew shows as cancelled here."""
    return _stops(session, col(t.Plan.territory_id) == territory_id, since, until, belongs=lambda v: counsellor_id in v.crew)


_Row = tuple[t.Visit, t.Site, t.Commune, t.Plan]


def _stops(
    session: Session, condition: object, since: datetime, until: datetime, belongs: Callable[[t.Visit], bool] | None = None
) -> list[StopView]:
    rows = session.exec(
        select(t.Visit, t.Site, t.Commune, t.Plan)
        .join(t.Site, col(t.Site.id) == t.Visit.site_id)
        .join(t.Commune, col(t.Commune.id) == t.Site.commune_id)
        .join(t.Plan, col(t.Plan.id) == t.Visit.plan_id)
        .where(
            condition,  # type: ignore[arg-type]
            col(t.Plan.published_at).is_not(None),
            col(t.Plan.status).in_(_VISIBLE_PLANS),
            t.Visit.end_at > since,
            t.Visit.start_at < until,
        )
        .order_by(col(t.Visit.start_at), col(t.Visit.id))
    ).all()
    if not rows:
        return []
    groups: dict[int, list[_Row]] = defaultdict(list)
    for row in rows:
        groups[origin_of(row[0])].append(row)  # type: ignore[arg-type]
    # Per stop: its current row (the published version, else the newest superseded one), and
    # whether it is shown cancelled: dropped by a re-plan, or given to another vehicle or crew.
    shown: list[tuple[_Row, bool, t.Plan | None]] = []  # row, dropped, plan that took it away
    for group in groups.values():
        current = max(group, key=lambda row: _rank(row[3]))
        if belongs is None or belongs(current[0]):
            shown.append((current, current[3].status != "published", None))
            continue
        theirs = [row for row in group if belongs(row[0])]
        if theirs:
            shown.append((max(theirs, key=lambda row: _rank(row[3])), True, current[3]))
    dropped = [origin_of(row[0]) for row, gone, taker in shown if gone and taker is None]
    alive_elsewhere = _published_elsewhere(session, dropped)
    shown = [item for item in shown if not (item[1] and item[2] is None and origin_of(item[0][0]) in alive_elsewhere)]
    weeks = _publication_times(session, {(row[3].territory_id, row[3].week) for row, gone, taker in shown if gone and taker is None})
    live = [row[0] for row, gone, _ in shown if not gone]
    services = _services_by_visit(session, [row[0] for row, _, _ in shown])
    counts = dict(
        session.exec(
            select(t.Booking.visit_id, func.count())
            .where(col(t.Booking.visit_id).in_([v.id for v in live]), col(t.Booking.status).in_(("confirmed", "attended", "no_show")))
            .group_by(t.Booking.visit_id)
        ).all()
    )
    result = []
    for (visit, site, commune, plan), gone, taker in sorted(shown, key=lambda item: (item[0][0].start_at, item[0][0].id)):
        cancelled = gone or visit.status == "cancelled"
        if taker is not None:
            modified = taker.published_at
        elif gone:
            modified = weeks.get((plan.territory_id, plan.week), plan.published_at)
        else:
            modified = plan.published_at
        result.append(
            StopView(
                visit_id=visit.id,  # type: ignore[arg-type]
                origin_id=origin_of(visit),
                territory_id=plan.territory_id,
                start_at=visit.start_at,
                end_at=visit.end_at,
                site_name=site.name,
                site_address=site.address,
                latitude=site.latitude,
                longitude=site.longitude,
                accessible=site.accessible,
                commune_name=commune.name,
                insee_code=commune.insee_code,
                services=tuple(services.get(visit.id, ())),  # type: ignore[arg-type]
                sequence=visit.ical_sequence + (1 if cancelled else 0),
                cancelled=cancelled,
                last_modified=modified,  # type: ignore[arg-type]
                vehicle_id=visit.vehicle_id,
                crew=tuple(visit.crew),
                bookings=0 if cancelled else counts.get(visit.id, 0),  # type: ignore[call-overload]
            )
        )
    return result


def _rank(plan: t.Plan) -> tuple[int, datetime, int]:
    return (1 if plan.status == "published" else 0, plan.published_at, plan.id)  # type: ignore[return-value]


def _published_elsewhere(session: Session, keys: Sequence[int]) -> set[int]:
    """Stops whose published version lies outside the window (moved far): not cancelled."""
    if not keys:
        return set()
    rows = session.exec(
        select(t.Visit.id, t.Visit.ical_origin_id)
        .join(t.Plan, col(t.Plan.id) == t.Visit.plan_id)
        .where(
            t.Plan.status == "published",
            or_(col(t.Visit.ical_origin_id).in_(keys), col(t.Visit.id).in_(keys)),
        )
    ).all()
    return {origin if origin is not None else visit_id for visit_id, origin in rows}  # type: ignore[misc]


def _publication_times(session: Session, weeks: set[tuple[int, str]]) -> dict[tuple[int, str], datetime]:
    """When the version now published for each (territory, week) was published."""
    if not weeks:
        return {}
    rows = session.exec(
        select(t.Plan.territory_id, t.Plan.week, t.Plan.published_at).where(
            t.Plan.status == "published", col(t.Plan.week).in_({week for _, week in weeks})
        )
    ).all()
    return {(territory, week): at for territory, week, at in rows if (territory, week) in weeks and at is not None}


def _services_by_visit(session: Session, visits: list[t.Visit]) -> dict[int, list[str]]:
    """Labels of what each stop offers: the crew's skills, and its group workshops."""
    counsellor_ids = {cid for visit in visits for cid in visit.crew}
    skills = (
        dict(session.exec(select(t.Counsellor.id, t.Counsellor.skills).where(col(t.Counsellor.id).in_(counsellor_ids))).all())
        if counsellor_ids
        else {}
    )
    catalogue = session.exec(select(t.Service).order_by(col(t.Service.id))).all()
    workshops: dict[int, set[int]] = defaultdict(set)
    for visit_id, service_id in session.exec(
        select(t.Slot.visit_id, t.Slot.service_id)
        .where(col(t.Slot.visit_id).in_([v.id for v in visits]), col(t.Slot.service_id).is_not(None))
        .distinct()
    ):
        workshops[visit_id].add(service_id)  # type: ignore[arg-type]
    result: dict[int, list[str]] = {}
    for visit in visits:
        crew_skills = {s for cid in visit.crew for s in skills.get(cid, [])}
        result[visit.id] = [  # type: ignore[index]
            s.label
            for s in catalogue
            if (not s.is_group and (s.required_skill is None or s.required_skill in crew_skills))
            or (s.is_group and s.id in workshops[visit.id])  # type: ignore[index]
        ]
    return result

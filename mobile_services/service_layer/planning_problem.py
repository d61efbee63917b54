"""Database -> routing: build the week's :class:`routing.problem.Problem`.

This is the translator DESIGN.md asks for: it reads the territory (communes, sites,
vehicles, counsellors, demand, past visits, pins) and turns it into plain routing data,
keeping the id maps needed to store the plan back. All calendar knowledge (public
holidays, days off, leave) is applied here; ``routing`` has no calendar.

Choices worth knowing:

* Location ids: sites keep their id; depots/homes are offset (``DEPOT_OFFSET``) so the
  travel matrix has one key space.
* Candidate ids are site ids; a commune with several sites offers several candidates,
  and routing keeps at most one stop per commune unless demand asks for more.
* A bus is a :class:`routing.problem.Resource` of kind BUS crewed by the counsellors
  who ride it that day; a counsellor by car is a CAR resource (their car is a vehicle
  row of kind ``car``). Sites without room for a bus (``bus_parking`` false) get the
  ``vehicle:car`` requirement; outdoor sites (a market square) need ``vehicle:bus``.
* Prize = demand the stop can serve (:mod:`mobile_services.domain.demand`); routing
  raises it for fairness from ``weeks_since_visit``. A commune whose last visit is
  ``max_gap_weeks`` ago or more becomes mandatory.
* A candidate requires a skill when at least ``SKILL_REQUEST_THRESHOLD`` explicit
  requests (waiting list, unserved bookings) in its commune are for services needing it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlmodel import Session, col, select

from mobile_services.domain.calendar import public_holiday, week_days
from mobile_services.domain.demand import CommuneDemand, DemandModel, StopValue, stop_value
from mobile_services.domain.exceptions import NotFound
from mobile_services.storage import tables as t
from mobile_services.adapters.travel_times import HaversineProvider, MatrixProvider
from routing.matrix import DEFAULT_SPEED_KMH
from routing.problem import (
    Break,
    Candidate,
    Crew,
    CrewMember,
    Location,
    OpeningHours,
    Pin,
    Problem,
    Resource,
    ResourceKind,
    Shift,
    Site,
    TimeWindow,
)

DEPOT_OFFSET = 10_000_000
SKILL_REQUEST_THRESHOLD = 2
BUS_ONLY = "vehicle:bus"
CAR_ONLY = "vehicle:car"
OUTDOOR_KINDS = frozenset({"place_du_marche", "parking"})
WORKING_DAYS = (0, 1, 2, 3, 4)


@dataclass(frozen=True, kw_only=True)
class PlanningOptions:
    """What a coordinator may tune for one planning run."""

    working_days: tuple[int, ...] = WORKING_DAYS
    max_gap_weeks: int | None = 8
    lunch: Break = field(default_factory=Break)
    demand: DemandModel = field(default_factory=DemandModel)
    road_factor: float = 1.3


@dataclass(frozen=True, kw_only=True)
class ClosedDay:
    """A resource-day removed before solving, and why (shown to the coordinator)."""

    day: date
    vehicle_id: int | None
    reason_fr: str


@dataclass(kw_only=True)
class WeekProblem:
    """A routing problem plus everything needed to store its plan back."""

    territory: t.Territory
    week: str
    days: list[date]
    problem: Problem
    sites: dict[int, t.Site]
    communes: dict[int, t.Commune]
    vehicles: dict[int, t.Vehicle]
    counsellors: dict[int, t.Counsellor]
    values: dict[int, StopValue]
    closed: list[ClosedDay]
    demand_by_commune: dict[int, float]


def build_week_problem(
    session: Session,
    territory_id: int,
    week: str,
    options: PlanningOptions,
    travel: MatrixProvider | None = None,
) -> WeekProblem:
    territory = session.get(t.Territory, territory_id)
    if territory is None:
        raise NotFound(f"territory {territory_id} not found", f"Territoire {territory_id} introuvable.")
    days = week_days(week)

    communes = {c.id: c for c in session.exec(select(t.Commune).where(t.Commune.territory_id == territory_id))}
    sites = {
        s.id: s
        for s in session.exec(select(t.Site).where(col(t.Site.commune_id).in_(list(communes))))
        if s.id is not None
    }
    vehicles = {
        v.id: v
        for v in session.exec(
            select(t.Vehicle).where(t.Vehicle.territory_id == territory_id, t.Vehicle.active == True)  # noqa: E712
        )
    }
    counsellors = {
        c.id: c
        for c in session.exec(
            select(t.Counsellor).where(t.Counsellor.territory_id == territory_id, t.Counsellor.active == True)  # noqa: E712
        )
    }

    resources, shifts, closed = _resources_and_shifts(territory, days, vehicles, counsellors, options)
    demand_inputs = _commune_demand(session, territory_id, communes, days[0], options)
    desks = max((v.desks for v in vehicles.values()), default=1)
    values = {cid: stop_value(d, desks, options.demand) for cid, d in demand_inputs.items()}
    skills_needed = _requested_skills(session, list(communes))

    candidates: list[Candidate] = []
    for site in sites.values():
        commune = communes[site.commune_id]
        longest = max(
            (_minutes(end) - _minutes(start) for day, windows in site.opening_hours.items()
             if int(day) in options.working_days for start, end in windows),
            default=0,
        )
        value = stop_value(demand_inputs[commune.id], desks, options.demand, longest_opening=longest or None)
        if value.expected_demand <= 0 or longest == 0:
            continue
        weeks = demand_inputs[commune.id].weeks_since_visit
        mandatory = weeks is not None and options.max_gap_weeks is not None and weeks >= options.max_gap_weeks
        requirements = set(skills_needed.get(commune.id, ()))
        if not site.bus_parking:
            requirements.add(CAR_ONLY)
        elif site.kind in OUTDOOR_KINDS:
            requirements.add(BUS_ONLY)
        candidates.append(
            Candidate(
                id=site.id,  # type: ignore[arg-type]
                site=Site(
                    id=site.id,  # type: ignore[arg-type]
                    commune_id=commune.id,  # type: ignore[arg-type]
                    location=Location(id=site.id, lat=site.latitude, lon=site.longitude, name=site.name),  # type: ignore[arg-type]
                    opening=opening_hours(site.opening_hours),
                    market_days=frozenset({site.market_day}) if site.market_day is not None else frozenset(),
                    name=f"{commune.name} - {site.name}",
                ),
                duration=value.duration_minutes,
                prize=round(value.prize, 3),
                weeks_since_visit=min(weeks if weeks is not None else options.demand.never_visited_weeks, 52),
                mandatory=mandatory,
                max_visits=value.max_visits,
                skills=frozenset(requirements),
                market_bonus=round(value.prize * options.demand.market_day_bonus, 3)
                if site.market_day is not None
                else 0.0,
            )
        )

    pins = _pins(session, territory_id, week, days, sites)
    locations = [c.site.location for c in candidates] + [loc for r in resources for loc in (r.start, r.end_location)]
    speeds = dict(DEFAULT_SPEED_KMH)
    for kind in ResourceKind:
        kind_speeds = [v.speed_kmh for v in vehicles.values() if v.kind == kind.value]
        if kind_speeds:
            speeds[kind.value] = min(kind_speeds)
    matrices = (travel or HaversineProvider(options.road_factor)).matrices(locations, speeds)
    problem = Problem(
        resources=tuple(resources),
        shifts=tuple(shifts),
        candidates=tuple(sorted(candidates, key=lambda c: c.id)),
        pins=tuple(p for p in pins if any(c.id == p.candidate_id for c in candidates)),
        matrices=matrices,
    )
    return WeekProblem(
        territory=territory,
        week=week,
        days=days,
        problem=problem,
        sites=sites,
        communes=communes,
        vehicles=vehicles,
        counsellors=counsellors,
        values=values,
        closed=closed,
        demand_by_commune={cid: v.expected_demand for cid, v in values.items()},
    )


def opening_hours(stored: dict[str, list[list[str]]]) -> OpeningHours:
    """The site's stored weekly hours (``{"0": [["09:00", "12:00"]]}``) as routing windows."""
    by_day: dict[int, list[TimeWindow]] = {}
    for day, windows in stored.items():
        by_day[int(day)] = [TimeWindow(_minutes(start), _minutes(end)) for start, end in windows]
    return OpeningHours.weekly(by_day)


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _available(counsellor: t.Counsellor, day: date) -> bool:
    return day.weekday() not in counsellor.days_off and day.isoformat() not in counsellor.unavailable_dates


def _resources_and_shifts(
    territory: t.Territory,
    days: list[date],
    vehicles: dict[int, t.Vehicle],
    counsellors: dict[int, t.Counsellor],
    options: PlanningOptions,
) -> tuple[list[Resource], list[Shift], list[ClosedDay]]:
    resources: list[Resource] = []
    shifts: list[Shift] = []
    closed: list[ClosedDay] = []
    riders: dict[int, list[t.Counsellor]] = defaultdict(list)
    floating: list[t.Counsellor] = []
    drivers_by_car: dict[int, t.Counsellor] = {}
    for counsellor in counsellors.values():
        if counsellor.travel_mode == "car" and counsellor.vehicle_id in vehicles:
            drivers_by_car[counsellor.vehicle_id] = counsellor  # type: ignore[index]
        elif counsellor.travel_mode == "bus":
            if counsellor.vehicle_id in vehicles:
                riders[counsellor.vehicle_id].append(counsellor)  # type: ignore[index]
            else:
                floating.append(counsellor)

    for vehicle in sorted(vehicles.values(), key=lambda v: v.id or 0):
        kind = ResourceKind.BUS if vehicle.kind == "bus" else ResourceKind.CAR
        if kind is ResourceKind.CAR and vehicle.id not in drivers_by_car:
            continue  # a car with no counsellor driving it is not a resource
        depot = Location(
            id=DEPOT_OFFSET + vehicle.id,  # type: ignore[operator]
            lat=vehicle.depot_latitude,
            lon=vehicle.depot_longitude,
            name=vehicle.depot_name or vehicle.name,
        )
        resources.append(
            Resource(
                id=vehicle.id,  # type: ignore[arg-type]
                kind=kind,
                start=depot,
                cost_per_km=round(vehicle.cost_per_km * 100),
                skills=frozenset({BUS_ONLY if kind is ResourceKind.BUS else CAR_ONLY}),
                name=vehicle.name,
            )
        )

    for day in days:
        if day.weekday() not in options.working_days:
            continue
        holiday = public_holiday(day, territory.departement)
        if holiday:
            closed.append(ClosedDay(day=day, vehicle_id=None, reason_fr=f"jour férié ({holiday})"))
            continue
        spare = [c for c in floating if _available(c, day)]
        for resource in resources:
            vehicle = vehicles[resource.id]
            if resource.kind is ResourceKind.BUS:
                crew_people = [c for c in riders.get(resource.id, []) if _available(c, day)]
                while not crew_people and spare:
                    crew_people.append(spare.pop(0))
            else:
                driver = drivers_by_car[resource.id]
                crew_people = [driver] if _available(driver, day) else []
            if not crew_people:
                reason = "sans équipage disponible" if resource.kind is ResourceKind.BUS else "conseiller absent"
                closed.append(ClosedDay(day=day, vehicle_id=resource.id, reason_fr=f"{vehicle.name} : {reason}"))
                continue
            shifts.append(
                Shift(
                    resource_id=resource.id,
                    day=day.weekday(),
                    window=TimeWindow(vehicle.shift_start_minute, vehicle.shift_end_minute),
                    lunch=options.lunch,
                    max_driving=vehicle.max_driving_minutes,
                    crew=Crew(
                        members=tuple(
                            CrewMember(counsellor_id=c.id, skills=frozenset(c.skills))  # type: ignore[arg-type]
                            for c in crew_people
                        )
                    ),
                )
            )
    return resources, shifts, closed


def _commune_demand(
    session: Session,
    territory_id: int,
    communes: dict[int, t.Commune],
    monday: date,
    options: PlanningOptions,
) -> dict[int, CommuneDemand]:
    ids = list(communes)
    last_visit: dict[int, date] = {}
    rows = session.exec(
        select(t.Site.commune_id, t.Visit.day)
        .join(t.Visit, col(t.Visit.site_id) == t.Site.id)
        .join(t.Plan, col(t.Plan.id) == t.Visit.plan_id)
        .where(
            t.Plan.territory_id == territory_id,
            t.Plan.status.in_(("published", "superseded")),  # type: ignore[attr-defined]
            t.Visit.status != "cancelled",
            t.Visit.day < monday,
        )
    ).all()
    for commune_id, day in rows:
        if commune_id not in last_visit or day > last_visit[commune_id]:
            last_visit[commune_id] = day

    waitlist = Counter(
        commune_id
        for commune_id in session.exec(
            select(t.WaitlistEntry.commune_id).where(
                col(t.WaitlistEntry.commune_id).in_(ids), t.WaitlistEntry.status == "open"
            )
        )
    )
    signals: dict[int, float] = defaultdict(float)
    since = monday - timedelta(weeks=options.demand.accumulation_cap_weeks)
    for commune_id, weight in session.exec(
        select(t.DemandSignal.commune_id, t.DemandSignal.weight).where(
            col(t.DemandSignal.commune_id).in_(ids), t.DemandSignal.observed_on >= since
        )
    ):
        signals[commune_id] += weight

    result: dict[int, CommuneDemand] = {}
    for cid, commune in communes.items():
        last = last_visit.get(cid)
        result[cid] = CommuneDemand(
            population=commune.population,
            fragility=commune.fragility,
            weeks_since_visit=None if last is None else max(0, (monday - last).days // 7),
            waitlist=waitlist.get(cid, 0),
            signals=signals.get(cid, 0.0),
        )
    return result


def _requested_skills(session: Session, commune_ids: list[int]) -> dict[int, set[str]]:
    counts: Counter[tuple[int, str]] = Counter()
    rows = session.exec(
        select(t.WaitlistEntry.commune_id, t.Service.required_skill)
        .join(t.Service, col(t.Service.id) == t.WaitlistEntry.service_id)
        .where(col(t.WaitlistEntry.commune_id).in_(commune_ids), t.WaitlistEntry.status == "open")
    ).all()
    for commune_id, skill in rows:
        if skill:
            counts[(commune_id, skill)] += 1
    result: dict[int, set[str]] = defaultdict(set)
    for (commune_id, skill), count in counts.items():
        if count >= SKILL_REQUEST_THRESHOLD:
            result[commune_id].add(skill)
    return result


def _pins(session: Session, territory_id: int, week: str, days: list[date], sites: dict[int, t.Site]) -> list[Pin]:
    """Pinned visits of the week's latest plan become pins of the next solve."""
    latest = session.exec(
        select(t.Plan)
        .where(t.Plan.territory_id == territory_id, t.Plan.week == week)
        .order_by(col(t.Plan.version).desc())
    ).first()
    if latest is None:
        return []
    pins: list[Pin] = []
    for visit in session.exec(select(t.Visit).where(t.Visit.plan_id == latest.id, t.Visit.pinned == True)):  # noqa: E712
        if visit.site_id not in sites or visit.day not in days or visit.status == "cancelled":
            continue
        half = TimeWindow(0, 12 * 60 - 1) if visit.half_day == "am" else TimeWindow(12 * 60, 24 * 60 - 1)
        pins.append(Pin(candidate_id=visit.site_id, resource_id=visit.vehicle_id, day=visit.day.weekday(), start=half))
    return pins

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
* A stop lasts what its commune's demand needs, at most a half-day and at least
  ``min_stop_minutes``, and no longer than the site's hours and the drive from the
  nearest depot that may use it allow (:func:`usable_minutes`). A commune with more demand
  offers several stops (``max_visits``); the planner keeps one day's stops of a commune on
  one route, so two of them make a full day there, lunch between.
* Prize = people the stop can see with the desks of the route-day that makes it
  (``Shift.desks``: a bus's desks its crew can staff, a car one), a second and later stop
  weighted down (coverage before repetition; :mod:`mobile_services.domain.demand`); routing
  raises it for fairness from ``weeks_since_visit``. A commune whose last visit is
  ``max_gap_weeks`` ago or more becomes mandatory.
* A candidate requires a skill when at least ``SKILL_REQUEST_THRESHOLD`` explicit
  requests (waiting list, unserved bookings) in its commune are for services needing it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlmodel import Session, col, select

from mobile_services.domain.calendar import public_holiday, week_days
from mobile_services.domain.demand import CommuneDemand, DemandModel, StopValue, expected_demand, stop_minutes, stop_value
from mobile_services.domain.exceptions import NotFound
from mobile_services.service_layer.outages import WeekOutages, remaining, week_outages
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
    timezone: str = "Europe/Paris"


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
    #: why a site offered no stop at all (site id -> (English, French)), for the plan's reasons
    site_issues: dict[int, SiteIssue] = field(default_factory=dict)
    options: PlanningOptions = field(default_factory=PlanningOptions)


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

    outages = week_outages(session, territory_id, days, options.timezone)
    resources, shifts, closed = _resources_and_shifts(territory, days, vehicles, counsellors, options, outages)
    demand_inputs = _commune_demand(session, territory_id, communes, days[0], options)
    skills_needed = _requested_skills(session, list(communes))

    locations = [_site_location(site) for site in sites.values()]
    locations += [loc for r in resources for loc in (r.start, r.end_location)]
    speeds = dict(DEFAULT_SPEED_KMH)
    for kind in ResourceKind:
        kind_speeds = [v.speed_kmh for v in vehicles.values() if v.kind == kind.value]
        if kind_speeds:
            speeds[kind.value] = min(kind_speeds)
    matrices = (travel or HaversineProvider(options.road_factor)).matrices(locations, speeds)
    by_id = {r.id: r for r in resources}

    candidates: list[Candidate] = []
    values: dict[int, StopValue] = {}
    site_issues: dict[int, SiteIssue] = {}
    for site in sites.values():
        commune = communes[site.commune_id]
        demand = expected_demand(demand_inputs[commune.id], options.demand)
        if demand <= 0:
            continue
        requirements = set(skills_needed.get(commune.id, ()))
        if not site.bus_parking:
            requirements.add(CAR_ONLY)
        elif site.kind in OUTDOOR_KINDS:
            requirements.add(BUS_ONLY)
        kind_needed = requirements & {BUS_ONLY, CAR_ONLY}
        eligible = [s for s in shifts if kind_needed <= by_id[s.resource_id].skills]
        opening = _without_blocked_days(opening_hours(site.opening_hours), outages.sites.get(site.id, {}))  # type: ignore[arg-type]
        usable = max(
            (usable_minutes(opening, s, by_id[s.resource_id], site.id, matrices, options) for s in eligible),
            default=0,
        )
        desks = sorted({s.desks for s in eligible}) or [1]
        duration = stop_minutes(demand, desks[0], usable, options.demand)
        if duration is None:
            site_issues[site.id] = _short_site_issue(site, opening, eligible, usable, options, by_id, matrices)
            continue
        value = stop_value(demand_inputs[commune.id], duration, desks, options.demand)
        if commune.id not in values or value.prize > values[commune.id].prize:
            values[commune.id] = value
        weeks = demand_inputs[commune.id].weeks_since_visit
        mandatory = weeks is not None and options.max_gap_weeks is not None and weeks >= options.max_gap_weeks
        candidates.append(
            Candidate(
                id=site.id,  # type: ignore[arg-type]
                site=Site(
                    id=site.id,  # type: ignore[arg-type]
                    commune_id=commune.id,  # type: ignore[arg-type]
                    location=_site_location(site),
                    opening=opening,
                    market_days=frozenset({site.market_day}) if site.market_day is not None else frozenset(),
                    name=f"{commune.name} - {site.name}",
                ),
                duration=value.duration_minutes,
                prize=round(value.prize, 3),
                prizes_by_desks=value.prizes_by_desks,
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
        demand_by_commune={cid: expected_demand(d, options.demand) for cid, d in demand_inputs.items()},
        site_issues=site_issues,
        options=options,
    )


FRENCH_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def _hours_fr(opening: OpeningHours, days: Iterable[int]) -> str:
    """``mardi 14:00-17:30, jeudi 09:00-12:00`` for the given days with hours."""
    parts = [
        f"{FRENCH_DAYS[d]} " + " et ".join(str(w) for w in opening.on(d)) for d in sorted(set(days)) if opening.on(d)
    ]
    return ", ".join(parts)


@dataclass(frozen=True, kw_only=True)
class SiteIssue:
    """Why no stop fits at a site at all: a key of the left-out texts and their numbers."""

    key: str
    fields: dict[str, object]
    english: str


def _short_site_issue(
    site: t.Site,
    opening: OpeningHours,
    eligible: list[Shift],
    usable: int,
    options: PlanningOptions,
    resources: dict[int, Resource],
    matrices: dict,
) -> SiteIssue:
    """Why no stop fits at ``site``, from the shift that comes closest."""
    if not eligible:
        bus_only = site.bus_parking and site.kind in OUTDOOR_KINDS
        return SiteIssue(
            key="no_vehicle_kind",
            fields={"kind": "un bus" if bus_only else "un conseiller en voiture", "site": site.name},
            english=f"only {'a bus' if bus_only else 'a car'} can stop at site {site.id} and none works this week",
        )
    if not any(opening.on(s.day) for s in eligible):
        worked = ", ".join(FRENCH_DAYS[d] for d in sorted({s.day for s in eligible}))
        return SiteIssue(
            key="closed_on_route_days",
            fields={"site": site.name, "worked": worked, "hours": _hours_fr(opening, range(7)) or "jamais"},
            english=f"site {site.id} is never open on a day a crew works there",
        )

    def reach(s: Shift) -> int:
        return usable_minutes(opening, s, resources[s.resource_id], site.id, matrices, options)

    best = max((s for s in eligible if opening.on(s.day)), key=reach)
    resource = resources[best.resource_id]
    drive = matrices[resource.kind].minutes_between(resource.start.id, site.id)
    return SiteIssue(
        key="too_short",
        fields={
            "vehicle": resource.name,
            "shift": f"{FRENCH_DAYS[best.day]} {best.window}",
            "usable": max(0, usable),
            "site": site.name,
            "drive": drive,
            "depot": resource.start.name or "le dépôt",
            "hours": _hours_fr(opening, [best.day]),
            "minimum": options.demand.min_stop_minutes,
        },
        english=f"site {site.id}: at most {usable} min fit ({resource.name}, drive {drive} min); a stop needs "
        f"{options.demand.min_stop_minutes} min",
    )


def _without_blocked_days(opening: OpeningHours, blocked: dict[date, str]) -> OpeningHours:
    """The site's hours with the days it is blocked this week (taken, works) closed."""
    if not blocked:
        return opening
    closed_days = {day.weekday() for day in blocked}
    return OpeningHours(days=tuple(() if d in closed_days else windows for d, windows in enumerate(opening.days)))


def _site_location(site: t.Site) -> Location:
    return Location(id=site.id, lat=site.latitude, lon=site.longitude, name=site.name)  # type: ignore[arg-type]


def usable_minutes(
    opening: OpeningHours, shift: Shift, resource: Resource, site_id: int, matrices: dict, options: PlanningOptions
) -> int:
    """Longest stop ``resource`` can make at the site on ``shift``'s day, coming from its depot.

    The opening window is cut to the part reachable after leaving at the shift's start
    and left in time to be back by its end (shifts are working time, drive included), and
    to the part that leaves the lunch break outside the stop (before 12:45 or after
    13:15 with the default break): the longest stop worth offering.
    """
    matrix = matrices[resource.kind]
    t_out = matrix.minutes_between(resource.start.id, site_id)
    t_back = matrix.minutes_between(site_id, resource.end_location.id)
    if shift.max_driving is not None and t_out + t_back > shift.max_driving:
        return 0
    best = 0
    for window in opening.on(shift.day):
        lo = max(window.start, shift.window.start + t_out)
        hi = min(window.end, shift.window.end - t_back)
        if hi <= lo:
            continue
        if shift.lunch is None:
            best = max(best, hi - lo)
            continue
        lunch = shift.lunch
        before = min(hi, lunch.latest_start) - lo  # lunch after the stop
        after = hi - max(lo, lunch.window.start + lunch.duration)  # lunch before it
        best = max(best, before, after)
    return best



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
    outages: WeekOutages,
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
        spare = [c for c in floating if _available(c, day) and not outages.counsellor(c.id, day)]  # type: ignore[arg-type]
        for resource in resources:
            vehicle = vehicles[resource.id]
            window = TimeWindow(vehicle.shift_start_minute, vehicle.shift_end_minute)
            lost = list(outages.vehicle(resource.id, day))
            if resource.kind is ResourceKind.BUS:
                crew_people = [c for c in riders.get(resource.id, []) if _available(c, day)]
                # a counsellor away for part of the day leaves the crew for that day; if
                # nobody is left, the last one keeps the bus for the hours they work
                present = [c for c in crew_people if not any(o.overlaps(window) for o in outages.counsellor(c.id, day))]  # type: ignore[arg-type]
                partial = [c for c in crew_people if not any(o.covers(window) for o in outages.counsellor(c.id, day))]  # type: ignore[arg-type]
                if not present and partial:
                    present = partial[:1]
                    lost += outages.counsellor(partial[0].id, day)  # type: ignore[arg-type]
                crew_people = present
                while not crew_people and spare:
                    crew_people.append(spare.pop(0))
            else:
                driver = drivers_by_car[resource.id]
                crew_people = [driver] if _available(driver, day) else []
                lost += outages.counsellor(driver.id, day)  # type: ignore[arg-type]
            if not crew_people:
                reason = "sans équipage disponible" if resource.kind is ResourceKind.BUS else "conseiller absent"
                closed.append(ClosedDay(day=day, vehicle_id=resource.id, reason_fr=f"{vehicle.name} : {reason}"))
                continue
            worked = remaining(window, lost) if lost else window
            if worked is None:
                why = next((o.reason for o in lost if o.reason), "")
                closed.append(
                    ClosedDay(day=day, vehicle_id=resource.id, reason_fr=f"{vehicle.name} : indisponible" + (f" ({why})" if why else ""))
                )
                continue
            lunch = options.lunch
            if lunch is not None and not (worked.start <= lunch.latest_start and lunch.window.start + lunch.duration <= worked.end):
                lunch = None  # a half-day left: no lunch break in it
            shifts.append(
                Shift(
                    resource_id=resource.id,
                    day=day.weekday(),
                    # people seen at once: a bus's desks its crew can staff, a car one
                    desks=max(1, min(vehicle.desks, len(crew_people))) if resource.kind is ResourceKind.BUS else 1,
                    window=worked,
                    lunch=lunch,
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

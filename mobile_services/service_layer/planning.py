"""Planning handlers: solve a week into a draft plan; cut a plan's stops into slots.

The database side of planning; the optimisation itself is :mod:`routing` (pure). The
translation DB -> routing lives in :mod:`planning_problem`; this module stores the
result and computes the coordinator's figures. Publishing a version is :mod:`publishing`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, delete, func, select

from config import Settings
from mobile_services.domain import commands, events
from mobile_services.domain.calendar import local_datetime, minute_of_day, week_days
from mobile_services.domain.demand import DemandModel
from mobile_services.adapters.travel_times import MatrixProvider
from mobile_services.domain.exceptions import InvalidInput, PlanningError
from mobile_services.service_layer.left_out import explain_left_out
from mobile_services.service_layer.planning_problem import PlanningOptions, WeekProblem, build_week_problem
from mobile_services.service_layer.unit_of_work import UnitOfWork
from mobile_services.storage import tables as t
from notifications.ports import Clock
from routing.params import SolveParams, Strategy
from routing.problem import MINUTES_PER_DAY, OpeningHours, Pin, Problem, TimeWindow, split_week_minute
from routing.result import Plan as RoutingPlan
from routing.result import Route as RoutingRoute
from routing.result import Visit as RoutingVisit
from routing.result import SolveStatus, UnservedReason
from routing.slots import ServiceSpec, Workshop, make_slots
from routing.solver import SearchProgress, solve

logger = logging.getLogger(__name__)

SolverProgress = Callable[[SearchProgress], None]


WALK_IN_SHARE = 0.25
STORE_RESERVE = 0.03  # share of the planning time limit kept for decoding and storing the plan
SLOT_MINUTES = 30
#: code of the common slots, shared by every service of at most SLOT_MINUTES
COMMON_SLOT = "rdv"


def service_specs(catalogue: Sequence[t.Service], skills: set[str]) -> list[ServiceSpec]:
    """What a crew with ``skills`` offers, as slot specs: common slots weighted by the number
    of short services, plus one spec per longer service (its own duration). A crew offered
    nothing of the catalogue (or an empty one) still gives common slots, for general help."""
    offered = [s for s in catalogue if not s.is_group and (s.required_skill is None or s.required_skill in skills)]
    longer = [s for s in offered if s.duration_minutes > SLOT_MINUTES]
    short = len(offered) - len(longer)
    specs = [ServiceSpec(code=COMMON_SLOT, duration=SLOT_MINUTES, weight=float(short or 1))] if short or not longer else []
    return specs + [ServiceSpec(code=s.code, duration=s.duration_minutes) for s in longer]


@dataclass(frozen=True, kw_only=True)
class PlanOutcome:
    """What `plan_week` returns to the CLI or web layer."""

    plan_id: int
    version: int
    status: SolveStatus
    kpis: dict[str, float | int]
    messages: tuple[str, ...]


def options_from(settings: Settings) -> PlanningOptions:
    demand = DemandModel(
        repeat_stop_weight=settings.repeat_stop_weight,
        min_stop_minutes=settings.min_stop_minutes,
        max_stops_per_week=settings.max_stops_per_week,
    )
    return PlanningOptions(road_factor=settings.road_factor, demand=demand, timezone=settings.timezone)


def plan_week(
    command: commands.PlanWeek,
    *,
    uow: UnitOfWork,
    settings: Settings,
    clock: Clock,
    travel: MatrixProvider,
    solver_progress: SolverProgress | None = None,
) -> PlanOutcome:
    """Solve the week from demand and store it as a new draft version."""
    budget_started = time.monotonic()
    if command.time_limit_s is not None and not (math.isfinite(command.time_limit_s) and command.time_limit_s > 0):
        raise InvalidInput(
            f"time limit must be a positive number of seconds, got {command.time_limit_s}",
            f"Le temps de calcul (--time-limit) doit être un nombre de secondes positif, pas {command.time_limit_s:g}.",
        )
    refuse_past_week(command.week, clock.now(), settings, "plan")
    with uow:
        week = build_week_problem(uow.session, command.territory_id, command.week, options_from(settings), travel)
        if not week.problem.shifts:
            closed = "; ".join(f"{c.day.isoformat()} {c.reason_fr}" for c in week.closed) or "aucun véhicule actif"
            raise PlanningError(
                f"no route-day available in {command.week} for territory {command.territory_id}",
                f"Aucune tournée possible en {command.week} : {closed}.",
            )
        # The coordinator's time limit covers the whole planning, reading the territory
        # and the travel times included, and storing the plan afterwards (a reserve of
        # 3 %, 1.8 s of a minute at 1 000 communes): the solver gets what is left (>= 1 s).
        budget = command.time_limit_s or settings.solver_time_limit_seconds
        params = SolveParams(
            time_limit_s=max(1.0, budget * (1 - STORE_RESERVE) - (time.monotonic() - budget_started)),
            seed=command.seed if command.seed is not None else settings.solver_seed,
            strategy=Strategy(settings.solver_strategy),
            workers=settings.solver_workers,
        )
        # Warm start from what residents were shown (the published version), never from a
        # draft that was not published: that one was discarded, not agreed.
        previous = latest_plan(uow.session, command.territory_id, command.week, "published")
        initial = stored_plan_as_routing(uow.session, week, previous, settings) if previous is not None else None
        frozen_before = _week_minute(clock.now(), week.days[0], settings) if initial is not None else None
        if frozen_before is not None:
            week.problem = dataclasses.replace(week.problem, frozen_before=frozen_before)
            assert initial is not None
            week.problem = _room_for_frozen_stops(week.problem, initial, frozen_before)
        if command.keep_days and previous is not None:
            pins = week.problem.pins + _kept_stops(uow.session, week, previous, command.keep_days, frozen_before, settings.tz)
            week.problem = _only_pins_on(dataclasses.replace(week.problem, pins=pins), {d.weekday() for d in command.keep_days})
        started = time.monotonic()
        result = solve(week.problem, params, progress=solver_progress, initial=initial)
        elapsed = time.monotonic() - started
        logger.info(
            "planned %s for territory %s: %s, %d visits in %.1fs",
            command.week, command.territory_id, result.status, len(result.visits), elapsed,
        )
        if result.status is SolveStatus.NO_SOLUTION:
            raise PlanningError(
                f"solver found no plan for {command.week}",
                f"Aucune solution trouvée pour {command.week} dans le temps imparti ; augmentez --time-limit.",
            )
        plan = _store_plan(uow.session, week, result, elapsed, clock.now(), settings)
        uow.emit(events.PlanDrafted(plan_id=plan.id, territory_id=command.territory_id, week=command.week))  # type: ignore[arg-type]
        uow.commit()
        return PlanOutcome(
            plan_id=plan.id,  # type: ignore[arg-type]
            version=plan.version,
            status=result.status,
            kpis=plan.kpis,
            messages=tuple(result.messages) + tuple(f"{c.day.isoformat()} : {c.reason_fr}" for c in week.closed),
        )


def _store_plan(
    session: Session, week: WeekProblem, result: RoutingPlan, elapsed: float, now: datetime, settings: Settings
) -> t.Plan:
    tz = settings.tz
    version = (
        session.exec(
            select(func.max(t.Plan.version)).where(t.Plan.territory_id == week.territory.id, t.Plan.week == week.week)
        ).one()
        or 0
    ) + 1
    plan = t.Plan(
        territory_id=week.territory.id,  # type: ignore[arg-type]
        week=week.week,
        version=version,
        status="draft",
        solver_status=str(result.status),
        objective=float(result.objective) if result.objective is not None else None,
        solve_seconds=round(elapsed, 2),
        created_at=now,
    )
    session.add(plan)
    session.flush()

    def at(week_minute: int) -> datetime:
        day_index, minute = split_week_minute(week_minute)
        return local_datetime(week.days[day_index], minute, tz)

    pins = week.problem.pins

    def is_pinned(candidate_id: int, resource_id: int, day: int, start: int) -> bool:
        # a pin holds one half-day: the other half of a full day there is not pinned
        return any(
            (p.candidate_id, p.resource_id, p.day) == (candidate_id, resource_id, day)
            and (p.start is None or p.start.contains(start % MINUTES_PER_DAY))
            for p in pins
        )

    served_communes: set[int] = set()
    population_covered = 0
    co2_kg = 0.0
    seen = _people_seen(week, result)
    for route in result.routes:
        if not route.visits:
            continue
        vehicle = week.vehicles[route.resource_id]
        lunch = route.lunch
        stored_route = t.Route(
            plan_id=plan.id,  # type: ignore[arg-type]
            day=week.days[route.day],
            vehicle_id=route.resource_id,
            crew=list(route.crew_ids),
            start_at=at(route.start),
            end_at=at(route.end),
            break_start_at=at(lunch[0]) if lunch else None,
            break_end_at=at(lunch[1]) if lunch else None,
            distance_km=round(route.km, 2),
            driving_minutes=route.driving_min,
        )
        session.add(stored_route)
        session.flush()
        co2_kg += route.km * vehicle.co2_g_per_km / 1000
        for sequence, visit in enumerate(route.visits, start=1):
            site = week.sites[visit.site_id]
            commune = week.communes[site.commune_id]
            minute_of_day = visit.start % MINUTES_PER_DAY
            session.add(
                t.Visit(
                    plan_id=plan.id,  # type: ignore[arg-type]
                    route_id=stored_route.id,
                    site_id=visit.site_id,
                    day=week.days[route.day],
                    half_day="am" if minute_of_day < 12 * 60 else "pm",
                    start_at=at(visit.start),
                    end_at=at(visit.end),
                    arrival_at=at(visit.arrive),
                    vehicle_id=route.resource_id,
                    crew=list(route.crew_ids),
                    sequence=sequence,
                    pinned=is_pinned(visit.candidate_id, route.resource_id, route.day, visit.start),
                    expected_demand=round(seen[(route.resource_id, route.day, visit.start)], 1),
                )
            )
            if commune.id not in served_communes:
                served_communes.add(commune.id)  # type: ignore[arg-type]
                population_covered += commune.population

    demand_served = sum(seen.values())
    total_demand = sum(week.demand_by_commune.values())
    routing_kpis = result.kpis()
    plan.kpis = {
        "communes": len(week.communes),
        "communes_with_demand": sum(1 for d in week.demand_by_commune.values() if d >= 1.0),
        "communes_visited": len(served_communes),
        "population": sum(c.population for c in week.communes.values()),
        "population_covered": population_covered,
        "demand_expected": round(total_demand, 1),
        "demand_served": round(demand_served, 1),
        "demand_served_share": round(demand_served / total_demand, 3) if total_demand else 0.0,
        "visits": routing_kpis.visits,
        "routes": sum(1 for r in result.routes if r.visits),
        "km": round(routing_kpis.km, 1),
        "driving_hours": round(routing_kpis.driving_min / 60, 1),
        "co2_kg": round(co2_kg, 1),
        "cost_eur": round(routing_kpis.cost / 100, 2),
        "mandatory_unserved": routing_kpis.mandatory_unserved,
    }
    plan.unserved = [
        {
            "commune_id": item.commune_id,
            "commune": week.communes[item.commune_id].name,
            "site": item.site,
            "reason": item.reason,
            "reason_fr": item.text_fr,
            "detail": item.detail,
            "mandatory": item.mandatory,
            "expected_demand": round(week.demand_by_commune.get(item.commune_id, 0.0), 1),
        }
        for item in explain_left_out(week, result, max_gap_weeks=week.options.max_gap_weeks)
    ]
    session.add(plan)
    session.flush()
    return plan


def _people_seen(week: WeekProblem, result: RoutingPlan) -> dict[tuple[int, int, int], float]:
    """People each stop can expect: its desks x minutes, out of what its commune's earlier stops left.

    Keyed by (resource, day, start). Stops of a commune are taken in time order, so the
    afternoon of a full day expects what the morning could not see.
    """
    desks = {s.key: s.desks for s in week.problem.shifts}
    minutes = week.options.demand.minutes_per_person
    stops = sorted(
        ((r.day, v.start, r.resource_id, v.commune_id, v.end - v.start) for r in result.routes for v in r.visits)
    )
    left = dict(week.demand_by_commune)
    out: dict[tuple[int, int, int], float] = {}
    for day, start, resource_id, commune_id, length in stops:
        capacity = desks.get((resource_id, day), 1) * length / minutes
        people = min(capacity, max(0.0, left.get(commune_id, 0.0)))
        left[commune_id] = left.get(commune_id, 0.0) - people
        out[(resource_id, day, start)] = people
    return out


def refuse_past_week(week: str, now: datetime, settings: Settings, action: str) -> None:
    """A week whose Sunday is over can be neither planned nor published (``action``: plan, publish).

    The current week still can: a re-plan during the week keeps what already happened.
    """
    days = week_days(week)
    today = now.astimezone(settings.tz).date()
    if days[-1] >= today:
        return
    done = {"plan": "planifiée", "publish": "publiée"}[action]
    raise PlanningError(
        f"cannot {action} {week}: the week ended on {days[-1].isoformat()} (today is {today.isoformat()})",
        f"La semaine {week} (du {days[0]:%d/%m} au {days[-1]:%d/%m/%Y}) est passée : elle ne peut plus être {done}.",
    )


def _week_minute(now: datetime, monday: date, settings: Settings) -> int | None:
    """Minutes since Monday 00:00 (local) when ``now`` falls inside the week, else None.

    A re-plan during the week keeps everything that already started (routing freezes
    the stops of the previous plan that start before this point).
    """
    local = now.astimezone(settings.tz)
    offset = (local.date() - monday).days
    if not 0 <= offset < 7:
        return None
    return offset * MINUTES_PER_DAY + local.hour * 60 + local.minute


def stored_plan_as_routing(session: Session, week: WeekProblem, plan: t.Plan, settings: Settings) -> RoutingPlan:
    """The stored plan in routing's terms, for a warm start (only what the search reads:
    which candidate, on which route-day, at what time)."""
    tz = settings.tz
    candidates = {c.id: c for c in week.problem.candidates}
    by_route: dict[tuple[int, int], list[RoutingVisit]] = {}
    visits = session.exec(
        select(t.Visit).where(t.Visit.plan_id == plan.id, t.Visit.status != "cancelled").order_by(col(t.Visit.start_at))
    ).all()
    for visit in visits:
        candidate = candidates.get(visit.site_id)
        if candidate is None or visit.day not in week.days:
            continue
        day = week.days.index(visit.day)
        start = day * MINUTES_PER_DAY + minute_of_day(visit.start_at, tz)
        by_route.setdefault((visit.vehicle_id, day), []).append(
            RoutingVisit(
                candidate_id=candidate.id, site_id=candidate.site.id, commune_id=candidate.commune_id,
                location_id=candidate.site.location.id, visit_index=0, arrive=start, start=start,
                end=start + candidate.duration, prize=candidate.prize, pinned=visit.pinned,
            )
        )
    routes = []
    for (resource_id, day), stops in by_route.items():
        try:
            resource = week.problem.resource(resource_id)
        except KeyError:
            continue
        routes.append(
            RoutingRoute(
                resource_id=resource_id, day=day, kind=str(resource.kind), crew_ids=(),
                start_location_id=resource.start.id, end_location_id=resource.end_location.id,
                start=stops[0].start, end=stops[-1].end, visits=tuple(stops), legs=(), lunch=None,
                metres=0, driving_min=0, cost=0,
            )
        )
    return RoutingPlan(status=SolveStatus.FEASIBLE, routes=tuple(routes), unserved=())


def _room_for_frozen_stops(problem: Problem, initial: RoutingPlan, frozen_before: int) -> Problem:
    """Shifts long enough for the stops that already started, and the way back from them.

    A bus that breaks down at 10:00 during a stop begun at 09:00 has its day cut at 10:00
    (:mod:`outages`); the stop under way is kept to its end (the crew finishes on the spot),
    so the shift must still hold it: stops that started are history, not choices.
    """
    shifts = []
    for shift in problem.shifts:
        started = [
            v for r in initial.routes if (r.resource_id, r.day) == shift.key for v in r.visits if v.start < frozen_before
        ]
        if not started:
            shifts.append(shift)
            continue
        resource = problem.resource(shift.resource_id)
        matrix = problem.matrix(resource.kind)
        offset = shift.day * MINUTES_PER_DAY
        first, last = min(started, key=lambda v: v.start), max(started, key=lambda v: v.end)
        start = min(shift.window.start, first.start - offset - matrix.minutes_between(resource.start.id, first.location_id))
        end = max(shift.window.end, last.end - offset + matrix.minutes_between(last.location_id, resource.end_location.id))
        shifts.append(dataclasses.replace(shift, window=TimeWindow(max(0, start), min(MINUTES_PER_DAY, end))))
    return dataclasses.replace(problem, shifts=tuple(shifts))


def _kept_stops(
    session: Session, week: WeekProblem, published: t.Plan, keep_days: Sequence[date], frozen_before: int | None, tz: ZoneInfo
) -> tuple[Pin, ...]:
    """Pins for the published stops of ``keep_days``: a re-plan of the other days leaves them be.

    Pinned at their published start: a stop that shifted by ten minutes would move every
    booking in it, and the point of re-planning one day is that the others stay as told.
    """
    candidates = {c.id for c in week.problem.candidates}
    routes = {s.key for s in week.problem.shifts}
    pins: list[Pin] = list(week.problem.pins)  # the coordinator's own pins come first
    for visit in session.exec(
        select(t.Visit).where(t.Visit.plan_id == published.id, t.Visit.status == "planned", col(t.Visit.day).in_(list(keep_days)))
    ):
        day = visit.day.weekday()
        if visit.site_id not in candidates or (visit.vehicle_id, day) not in routes:
            continue
        started = week.days.index(visit.day) * MINUTES_PER_DAY + minute_of_day(visit.start_at, tz)
        if frozen_before is not None and started < frozen_before:
            continue  # already started: frozen, not pinned
        # at the very minute it was published: residents booked these times
        minute = minute_of_day(visit.start_at, tz)
        if any(
            (p.candidate_id, p.resource_id, p.day) == (visit.site_id, visit.vehicle_id, day)
            and (p.start is None or p.start.start <= minute <= p.start.end)
            for p in pins
        ):
            continue
        pins.append(Pin(candidate_id=visit.site_id, resource_id=visit.vehicle_id, day=day, start=TimeWindow(minute, minute)))
    return tuple(pins[len(week.problem.pins) :])


def _only_pins_on(problem: Problem, kept: set[int]) -> Problem:
    """No new stop on the kept days: each site opens those days only for its own pinned stops.

    The routes of those days stay in the problem (the commune rules count their stops) but
    nothing is added to them: drivers and residents of the days a disruption spares keep
    exactly what they were told.
    """
    pinned_days = {(p.candidate_id, p.day) for p in problem.pins}
    candidates = []
    for c in problem.candidates:
        days = tuple(
            () if d in kept and (c.id, d) not in pinned_days else windows for d, windows in enumerate(c.site.opening.days)
        )
        if days != c.site.opening.days:
            c = dataclasses.replace(c, site=dataclasses.replace(c.site, opening=OpeningHours(days=days)))
        candidates.append(c)
    return dataclasses.replace(problem, candidates=tuple(candidates))


def latest_plan(session: Session, territory_id: int, week: str, status: str | None = None) -> t.Plan | None:
    query = select(t.Plan).where(t.Plan.territory_id == territory_id, t.Plan.week == week)
    if status:
        query = query.where(t.Plan.status == status)
    return session.exec(query.order_by(col(t.Plan.version).desc())).first()


def create_slots(session: Session, plan: t.Plan, settings: Settings | None = None) -> int:
    """Cut every visit of ``plan`` into slots, as the catalogue says (idempotent: existing
    slots are replaced).

    Each service the crew can give gets slots of its own duration: services of at most
    ``SLOT_MINUTES`` share the common slots (``service_id`` None, any of them may book one),
    longer ones get slots of their own (``service_id`` set). The share of desk time kept for
    walk-ins is the site's, else the territory's, else the ``walk_in_share`` setting. A stop
    of a full day also gets the catalogue's group workshop (its duration and capacity) when
    the crew has its skill.
    """
    visits = session.exec(select(t.Visit).where(t.Visit.plan_id == plan.id, t.Visit.status == "planned")).all()
    if not visits:
        return 0
    session.exec(delete(t.Slot).where(col(t.Slot.visit_id).in_([v.id for v in visits])))  # type: ignore[call-overload]
    counsellors = {c.id: c for c in session.exec(select(t.Counsellor).where(col(t.Counsellor.id).in_({i for v in visits for i in v.crew})))}
    vehicles = {v.id: v for v in session.exec(select(t.Vehicle).where(col(t.Vehicle.id).in_({v.vehicle_id for v in visits})))}
    sites = {s.id: s for s in session.exec(select(t.Site).where(col(t.Site.id).in_({v.site_id for v in visits})))}
    territory = session.get(t.Territory, plan.territory_id)
    default_share = settings.walk_in_share if settings is not None else WALK_IN_SHARE
    if territory is not None and territory.walk_in_share is not None:
        default_share = territory.walk_in_share
    catalogue = session.exec(select(t.Service).order_by(col(t.Service.id))).all()
    by_code = {s.code: s for s in catalogue}
    group = next((s for s in catalogue if s.is_group), None)
    workshop = (
        Workshop(code=group.code, duration=group.duration_minutes, capacity=group.group_capacity, at_start=True,
                 skill=group.required_skill)
        if group is not None
        else None
    )  # fmt: skip
    count = 0
    for visit in visits:
        skills = {s for cid in visit.crew if cid in counsellors for s in counsellors[cid].skills}
        minutes = int((visit.end_at - visit.start_at).total_seconds() // 60)
        long_enough = workshop is not None and minutes >= max(2 * 180, workshop.duration)
        site = sites.get(visit.site_id)
        share = site.walk_in_share if site is not None and site.walk_in_share is not None else default_share
        slots = make_slots(
            0,
            minutes,
            desks=vehicles[visit.vehicle_id].desks,
            services=service_specs(catalogue, skills),
            walk_in_share=share,
            walk_in_slot=SLOT_MINUTES,
            workshop=workshop if long_enough else None,
            crew_skills=skills | {"rdv"},
        )
        for slot in slots:
            service = by_code.get(slot.service_code) if slot.service_code not in (None, COMMON_SLOT) else None
            session.add(
                t.Slot(
                    visit_id=visit.id,  # type: ignore[arg-type]
                    service_id=service.id if service is not None else None,
                    start_at=visit.start_at + timedelta(minutes=slot.start),
                    end_at=visit.start_at + timedelta(minutes=slot.end),
                    capacity=slot.capacity,
                    walk_in=slot.walk_in,
                    desk=slot.desk + 1,
                )
            )
            count += 1
    session.flush()
    return count

"""From OR-Tools' solution to the :class:`~routing.result.Plan`: timetable, unserved stops and why, status.

A solution fixes, for each route-day of the :class:`~routing.model.Model`, the order of
its stops and when each one starts (the ``time`` cumul). The rest of the plan is computed
here from those alone:

* the timetable (:func:`timetable`): the model only guarantees that the lunch break fits
  somewhere; this picks its start and places each drive, before, after or around it;
* each visit's value (the prize units its stop is worth on that route-day, without the
  re-planning bonus), each route's kilometres, cost, driving and load;
* every candidate left out, with the rule that binds *in this plan* (:func:`decode`):
  a pin or frozen stop that could not be kept, a mandatory visit with no room beside the
  other hard stops, a commune that already has its stops, a commune served by another
  route on each day this one could serve it, a load that no longer fits, or simply worth
  less than what was served. Candidates no route-day could ever take were explained
  before the search by :mod:`routing.precheck`;
* the status: ``INFEASIBLE_INPUT`` when the input contradicts itself or a hard stop was
  dropped, ``OPTIMAL`` only when OR-Tools proved it.
"""

from __future__ import annotations

from collections.abc import Sequence

from ortools.constraint_solver import pywrapcp

from routing.model import Model
from routing.precheck import NodeSpec, RouteDay
from routing.result import Leg, Plan, Route, SolveStatus, Unserved, UnservedReason, Visit


def decode(model: Model, solution: pywrapcp.Assignment, messages: list[str], elapsed: float, optimal: bool) -> Plan:
    """The plan of ``solution``; ``messages`` so far are kept and this adds its own."""
    routing, manager = model.routing, model.manager
    routes: list[Route] = []
    served_nodes: set[int] = set()
    route_load = [0] * len(model.days)
    for v, rd in enumerate(model.days):
        index = routing.Start(v)
        stops: list[tuple[int, int]] = []  # (spec k, start)
        index = solution.Value(routing.NextVar(index))
        while not routing.IsEnd(index):
            k = manager.IndexToNode(index) - model.n_places
            stops.append((k, solution.Value(model.time.CumulVar(index))))
            served_nodes.add(k)
            route_load[v] += model.loads[model.n_places + k]
            index = solution.Value(routing.NextVar(index))
        if not stops:
            continue
        lunch_hint = solution.StartValue(model.breaks[v]) if v in model.breaks else None
        routes.append(_route(model, rd, stops, lunch_hint, messages))

    unserved, hard_missed = _unserved(model, solution, served_nodes, route_load, messages)
    if model.prep.contradictions or hard_missed:
        status = SolveStatus.INFEASIBLE_INPUT
    elif optimal:
        status = SolveStatus.OPTIMAL
    else:
        status = SolveStatus.FEASIBLE
    return Plan(
        status=status,
        routes=tuple(routes),
        unserved=tuple(sorted(unserved, key=lambda u: u.candidate_id)),
        messages=tuple(messages),
        objective=solution.ObjectiveValue(),
        elapsed_s=elapsed,
    )


def no_solution(model: Model, messages: list[str], elapsed: float) -> Plan:
    """The plan when the search found none: every candidate not explained before is unserved for that reason."""
    unserved = list(model.prep.unserved)
    seen = {u.candidate_id for u in unserved}
    for spec in model.specs:
        c = spec.candidate
        if c.id not in seen:
            seen.add(c.id)
            unserved.append(
                Unserved(
                    candidate_id=c.id,
                    reason=UnservedReason.NO_SOLUTION,
                    detail="the search found no plan within its time limit",
                    mandatory=c.mandatory,
                    prize=c.prize,
                )
            )
    messages.append("no solution found: try a longer time limit")
    return Plan(
        status=SolveStatus.NO_SOLUTION,
        routes=(),
        unserved=tuple(sorted(unserved, key=lambda u: u.candidate_id)),
        messages=tuple(messages),
        elapsed_s=elapsed,
    )


def _unserved(
    model: Model,
    solution: pywrapcp.Assignment,
    served_nodes: set[int],
    route_load: list[int],
    messages: list[str],
) -> tuple[list[Unserved], bool]:
    """Candidates left out (precheck's and this plan's, one entry each) and whether a hard stop was dropped.

    A candidate is reported once, with the first rule that binds in this plan; a dropped
    pin, frozen stop or mandatory visit also adds a message.
    """
    days = model.days
    unserved = list(model.prep.unserved)
    served_candidates = {model.specs[k].candidate.id for k in served_nodes}
    commune_visits: dict[int, int] = {}
    commune_days: dict[int, dict[int, int]] = {}  # commune -> day -> route-day serving it
    for v, rd in enumerate(days):
        for k in _served_on(model, solution, v):
            commune = model.specs[k].candidate.commune_id
            commune_visits[commune] = commune_visits.get(commune, 0) + 1
            commune_days.setdefault(commune, {})[rd.day] = v
    reported: set[int] = set()
    hard_missed = False
    specs_of: dict[int, list[NodeSpec]] = {}
    for spec in model.specs:
        specs_of.setdefault(spec.candidate.id, []).append(spec)
    for k, spec in enumerate(model.specs):
        c = spec.candidate
        if k in served_nodes:
            continue
        if spec.hard:
            hard_missed = True
            what = "frozen stop" if spec.frozen else "pin" if spec.pinned else "mandatory visit"
            messages.append(f"candidate {c.id}: {what} could not be kept together with the other constraints")
        if c.id in served_candidates or c.id in reported:
            continue
        reported.add(c.id)
        if any(s.pinned or s.frozen for s in specs_of[c.id]):
            reason = UnservedReason.INFEASIBLE_PIN
            detail = "the pin conflicts with other pins, frozen stops or route limits"
        elif spec.mandatory:
            reason = UnservedReason.NO_ROOM
            detail = "mandatory, and could be served alone, but not together with the pinned and mandatory stops"
        elif commune_visits.get(c.commune_id, 0) >= model.caps[c.commune_id]:
            reason = UnservedReason.COMMUNE_VISITED
            detail = f"commune {c.commune_id} already gets its stop(s) this week from another candidate"
        elif all(commune_days.get(c.commune_id, {}).get(days[v].day, v) != v for v in spec.options):
            reason = UnservedReason.COMMUNE_VISITED
            detail = (
                f"commune {c.commune_id} already gets a stop from another route on each day this one "
                "could serve it (one route a day per commune)"
            )
        elif (
            model.capacities is not None
            and c.load > 0
            and all(route_load[v] + c.load > model.capacities[v] for v in spec.options)
        ):
            reason = UnservedReason.OVER_CAPACITY
            detail = (
                f"its load {c.load} does not fit what is left of the capacity of any route-day it "
                "could use; the stops served there are worth more"
            )
        else:
            reason = UnservedReason.NOT_WORTH_IT
            detail = "could be served, but the stops that were served are worth more"
        unserved.append(Unserved(candidate_id=c.id, reason=reason, detail=detail, mandatory=c.mandatory, prize=c.prize))
    return unserved, hard_missed


def _served_on(model: Model, solution: pywrapcp.Assignment, v: int) -> list[int]:
    """Spec positions served by route-day ``v`` in ``solution``, in order."""
    routing, out = model.routing, []
    index = solution.Value(routing.NextVar(routing.Start(v)))
    while not routing.IsEnd(index):
        out.append(model.manager.IndexToNode(index) - model.n_places)
        index = solution.Value(routing.NextVar(index))
    return out


def _route(
    model: Model, rd: RouteDay, stops: Sequence[tuple[int, int]], lunch_hint: int | None, messages: list[str]
) -> Route:
    """Route-day ``rd`` serving ``stops`` (spec position, start) with its legs, lunch and totals."""
    specs = [model.specs[k] for k, _ in stops]
    services = [
        (s.candidate.site.location.id, start, start + s.candidate.duration) for s, (_, start) in zip(specs, stops)
    ]
    legs, lunch = timetable(rd, services, lunch_hint)
    if legs is None:
        messages.append(f"{rd.label()}: could not lay out the lunch break around the stops (please report)")
        legs, lunch = timetable(rd, services, None, ignore_lunch=True)
        assert legs is not None
    visits = []
    for leg, spec, (loc, start, end) in zip(legs, specs, services):
        visits.append(
            Visit(
                candidate_id=spec.candidate.id,
                site_id=spec.candidate.site.id,
                commune_id=spec.candidate.commune_id,
                location_id=loc,
                visit_index=spec.visit_index,
                arrive=leg.arrive,
                start=start,
                end=end,
                prize=round(model.base_value(spec, rd), 6),
                pinned=spec.pinned,
                frozen=spec.frozen,
            )
        )
    metres = sum(leg.metres for leg in legs)
    return Route(
        resource_id=rd.resource.id,
        day=rd.day,
        kind=rd.resource.kind.value,
        crew_ids=rd.crew_ids,
        start_location_id=rd.resource.start.id,
        end_location_id=rd.resource.end_location.id,
        start=legs[0].depart,
        end=legs[-1].arrive,
        visits=tuple(visits),
        legs=tuple(legs),
        lunch=lunch,
        metres=metres,
        driving_min=sum(leg.drive_min for leg in legs),
        cost=(metres * rd.resource.cost_per_km + 500) // 1000,
        load=sum(s.candidate.load for s in specs),
    )


def timetable(
    rd: RouteDay,
    services: Sequence[tuple[int, int, int]],
    lunch_hint: int | None,
    *,
    ignore_lunch: bool = False,
) -> tuple[list[Leg] | None, tuple[int, int] | None]:
    """Concrete legs and lunch for fixed service times ``(location, start, end)``.

    The solver guarantees that a break of the right length fits somewhere; this picks a
    break start (the solver's first, then the edges of every gap) and places each drive:
    the first leg leaves as late as possible (no idle crew at the first stop), the others
    leave right after the previous stop; when the break falls in a gap the drive goes
    before it, after it, or, if neither fits, around it (lunch on the way).
    """
    s0, s1 = rd.window.start, rd.window.end
    locs = [rd.resource.start.id] + [loc for loc, _, _ in services] + [rd.resource.end_location.id]
    drive = [rd.matrix.minutes_between(a, b) for a, b in zip(locs, locs[1:])]
    dist = [rd.matrix.metres_between(a, b) for a, b in zip(locs, locs[1:])]
    lows = [s0] + [end for _, _, end in services]
    highs = [start for _, start, _ in services] + [s1]
    last = len(drive) - 1

    def plain(k: int) -> tuple[int, int]:
        depart = highs[k] - drive[k] if k == 0 else lows[k]
        return depart, depart + drive[k]

    def legs_for(b: int | None, length: int) -> list[tuple[int, int]] | None:
        out = []
        for k in range(len(drive)):
            lo, hi, t = lows[k], highs[k], drive[k]
            if b is None:
                out.append(plain(k))
                continue
            e = b + length
            if b >= lo and e <= hi:  # the break is in this gap
                if hi - lo < t + length:
                    return None
                if k == 0 and hi - e >= t:
                    depart = hi - t
                elif k == 0 and b - t >= lo:
                    depart = b - t
                elif b - lo >= t:
                    depart = lo
                elif hi - e >= t:
                    depart = e
                else:  # drive around the break: leave now, lunch on the way
                    out.append((lo, lo + t + length))
                    continue
                out.append((depart, depart + t))
            elif k == 0 and b < lo:  # (partly) before the shift: leave after it
                depart = hi - t
                if depart < max(lo, e):
                    return None
                out.append((depart, hi))
            elif k == last and e > hi:  # (partly) after the shift: be back before it
                if lo + t > b:
                    return None
                out.append((lo, lo + t))
            else:
                out.append(plain(k))
        return out

    brk = None if ignore_lunch else rd.shift.lunch
    lunch: tuple[int, int] | None = None
    chosen: list[tuple[int, int]] | None = None
    if brk is None:
        chosen = legs_for(None, 0)
    else:
        offset = rd.offset
        bs, bl = offset + brk.window.start, offset + brk.latest_start
        length = brk.duration
        options: list[int] = [] if lunch_hint is None else [lunch_hint]
        for k in range(len(drive)):
            options += [lows[k], lows[k] + drive[k], highs[k] - length, highs[k] - length - drive[k]]
        options += [bs, bl]
        seen: set[int] = set()
        for b in options:
            b = min(max(b, bs), bl)
            if b in seen:
                continue
            seen.add(b)
            if any(b < end and b + length > start for _, start, end in services):
                continue
            chosen = legs_for(b, length)
            if chosen is not None:
                lunch = (b, b + length)
                break
        if chosen is None:
            return None, None
    assert chosen is not None
    legs = [
        Leg(from_location_id=a, to_location_id=b, depart=d, arrive=r, drive_min=t, metres=m)
        for a, b, (d, r), t, m in zip(locs, locs[1:], chosen, drive, dist)
    ]
    return legs, lunch

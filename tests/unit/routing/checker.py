"""An independent feasibility checker for plans.

It shares no code with the solver or the pre-checks: it reads the problem's data and its
travel matrices and recomputes every time, distance and rule from scratch, so a bug in
the model (or in the timetable the solver reports) shows up as a violation here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from routing.problem import Problem, ResourceKind
from routing.result import Plan, SolveStatus, UnservedReason

DAY = 1440


def violations(
    problem: Problem, plan: Plan, *, frozen: Sequence[tuple[int, int, int, int]] = ()
) -> list[str]:
    """Every broken hard rule of ``plan`` (empty when feasible).

    ``frozen`` lists ``(candidate_id, resource_id, day, start)`` stops that must appear
    exactly as given (re-planning).
    """
    out: list[str] = []
    shifts = {(s.resource_id, s.day): s for s in problem.shifts}
    resources = {r.id: r for r in problem.resources}
    candidates = {c.id: c for c in problem.candidates}
    visits_by_candidate: dict[int, list[tuple[int, int, int]]] = defaultdict(list)  # (day, resource, start)
    visits_by_commune: dict[int, list[int]] = defaultdict(list)
    seen_routes: set[tuple[int, int]] = set()

    for route in plan.routes:
        key = (route.resource_id, route.day)
        tag = f"route r{route.resource_id} d{route.day}"
        if key in seen_routes:
            out.append(f"{tag}: appears twice")
        seen_routes.add(key)
        shift = shifts.get(key)
        if shift is None:
            out.append(f"{tag}: no such shift")
            continue
        resource = resources[route.resource_id]
        if resource.kind is ResourceKind.BUS and shift.crew is None:
            out.append(f"{tag}: bus route without crew")
        skills = set(resource.skills) | (set(shift.crew.skills) if shift.crew else set())
        matrix = problem.matrix(resource.kind)
        lo, hi = route.day * DAY + shift.window.start, route.day * DAY + shift.window.end
        if not route.visits:
            out.append(f"{tag}: empty route reported")
        if len(route.legs) != len(route.visits) + 1:
            out.append(f"{tag}: {len(route.legs)} legs for {len(route.visits)} visits")
            continue
        places = [resource.start.id] + [candidates[v.candidate_id].site.location.id for v in route.visits]
        places.append((resource.end or resource.start).id)
        if route.start != route.legs[0].depart or route.end != route.legs[-1].arrive:
            out.append(f"{tag}: start/end differ from first departure/last arrival")
        if route.start < lo or route.end > hi:
            out.append(f"{tag}: works {route.start}-{route.end} outside shift {lo}-{hi}")
        driving = 0
        metres = 0
        load = 0
        busy: list[tuple[int, int, str]] = []  # intervals the lunch may not overlap
        clock = route.legs[0].depart
        for k, leg in enumerate(route.legs):
            a, b = places[k], places[k + 1]
            if (leg.from_location_id, leg.to_location_id) != (a, b):
                out.append(f"{tag}: leg {k} goes {leg.from_location_id}->{leg.to_location_id}, expected {a}->{b}")
            minutes = matrix.minutes_between(a, b)
            dist = matrix.metres_between(a, b)
            driving += minutes
            metres += dist
            if leg.drive_min != minutes or leg.metres != dist:
                out.append(f"{tag}: leg {k} claims {leg.drive_min} min/{leg.metres} m, matrix says {minutes}/{dist}")
            if leg.depart < clock:
                out.append(f"{tag}: leg {k} departs at {leg.depart} before the previous stop ended ({clock})")
            if leg.arrive - leg.depart < minutes:
                out.append(f"{tag}: leg {k} drives {minutes} min in {leg.arrive - leg.depart}")
            busy.append((leg.depart, leg.arrive, f"leg {k}"))
            if k < len(route.visits):
                v = route.visits[k]
                c = candidates.get(v.candidate_id)
                if c is None:
                    out.append(f"{tag}: unknown candidate {v.candidate_id}")
                    continue
                if v.arrive != leg.arrive or v.start < v.arrive:
                    out.append(f"{tag}: c{c.id} starts {v.start} before arriving {leg.arrive}")
                if v.end - v.start != c.duration:
                    out.append(f"{tag}: c{c.id} lasts {v.end - v.start}, expected {c.duration}")
                day, minute = divmod(v.start, DAY)
                if day != route.day:
                    out.append(f"{tag}: c{c.id} is on day {day}")
                if not any(w.start <= minute and minute + c.duration <= w.end for w in c.site.opening.on(route.day)):
                    out.append(f"{tag}: c{c.id} at {minute}-{minute + c.duration} outside opening hours")
                if not set(c.skills) <= skills:
                    out.append(f"{tag}: c{c.id} needs {sorted(c.skills)}, crew has {sorted(skills)}")
                if v.site_id != c.site.id or v.commune_id != c.site.commune_id:
                    out.append(f"{tag}: c{c.id} reported at the wrong site/commune")
                busy.append((v.start, v.end, f"service c{c.id}"))
                load += c.load
                visits_by_candidate[c.id].append((route.day, route.resource_id, v.start))
                visits_by_commune[c.site.commune_id].append((route.day, route.resource_id))
                clock = v.end
        if shift.max_driving is not None and driving > shift.max_driving:
            out.append(f"{tag}: drives {driving} min > {shift.max_driving}")
        if route.driving_min != driving or route.metres != metres:
            out.append(f"{tag}: totals {route.driving_min} min/{route.metres} m, recomputed {driving}/{metres}")
        if shift.capacity is not None and load > shift.capacity:
            out.append(f"{tag}: load {load} > capacity {shift.capacity}")
        if route.load != load:
            out.append(f"{tag}: reports load {route.load}, recomputed {load}")
        if shift.lunch is None:
            continue
        if route.lunch is None:
            out.append(f"{tag}: no lunch break")
            continue
        b0, b1 = route.lunch
        w = shift.lunch.window
        if b1 - b0 != shift.lunch.duration:
            out.append(f"{tag}: lunch lasts {b1 - b0}, expected {shift.lunch.duration}")
        if b0 < route.day * DAY + w.start or b1 > route.day * DAY + w.end:
            out.append(f"{tag}: lunch {b0}-{b1} outside its window")
        for s, e, what in busy:
            if b0 < e and b1 > s:
                leg_k = int(what.split()[1]) if what.startswith("leg") else None
                if leg_k is not None and s <= b0 and b1 <= e:
                    # lunch taken on the way: the leg must hold the drive and the break
                    if e - s < route.legs[leg_k].drive_min + (b1 - b0):
                        out.append(f"{tag}: lunch inside {what} leaves too little time to drive")
                    continue
                out.append(f"{tag}: lunch {b0}-{b1} overlaps {what} {s}-{e}")

    for cid, visits in visits_by_candidate.items():
        c = candidates[cid]
        if len(visits) > c.max_visits:
            out.append(f"c{cid}: {len(visits)} visits > max_visits {c.max_visits}")
    for commune, stops in visits_by_commune.items():
        allowed = max(c.max_visits for c in problem.candidates if c.site.commune_id == commune)
        if len(stops) > allowed:
            out.append(f"commune {commune}: {len(stops)} visits > {allowed}")
        # several stops of one day make a full day there: one route only
        for day in {d for d, _ in stops}:
            if len({r for d, r in stops if d == day}) > 1:
                out.append(f"commune {commune}: served by two routes on day {day}")

    unserved = {u.candidate_id: u for u in plan.unserved}
    if len(unserved) != len(plan.unserved):
        out.append("a candidate is listed twice as unserved")
    for c in problem.candidates:
        served = c.id in visits_by_candidate
        if served == (c.id in unserved):
            out.append(f"c{c.id}: must be either served or explained (served={served})")
        if c.mandatory and not served and plan.status is not SolveStatus.INFEASIBLE_INPUT:
            out.append(f"c{c.id}: mandatory, unserved, yet status {plan.status}")
    for p in problem.pins:
        ok = any(
            (d, r) == (p.day, p.resource_id) and (p.start is None or p.start.contains(start - d * DAY))
            for d, r, start in visits_by_candidate.get(p.candidate_id, [])
        )
        if not ok:
            u = unserved.get(p.candidate_id)
            explained = u is not None and u.reason in (UnservedReason.INFEASIBLE_PIN, UnservedReason.NO_ROUTE)
            if not explained or plan.status is not SolveStatus.INFEASIBLE_INPUT:
                out.append(f"pin of c{p.candidate_id} not honoured nor reported")
    for cid, resource_id, day, start in frozen:
        if (day, resource_id, start) not in visits_by_candidate.get(cid, []):
            out.append(f"frozen stop of c{cid} (r{resource_id} d{day} {start}) was not kept")
    return out


def assert_feasible(problem: Problem, plan: Plan, **kw: object) -> None:
    """Fail with the list of violations, and the plan, if any."""
    found = violations(problem, plan, **kw)  # type: ignore[arg-type]
    assert not found, "\n".join(found) + "\n" + plan.summary()

"""Independent feasibility checks, in the instance's own units and distance convention.

Nothing here trusts a solver: arrival times are recomputed from the instance data with
exact rational arithmetic (:class:`fractions.Fraction`), distances from the coordinates
with the benchmark's truncation rule (:func:`truncated_distance`). This module shares no
code with the solver adapters beyond the parsed instance records, so a scaling or
rounding mistake in an adapter shows up as a violation instead of as a good score.

Rules checked (the usual ones of the literature, see ``shared/benchmarks/*/README.md``):

* every tour leaves the depot at or after the depot's opening and is back by its
  closing time (the tour limit ``Tmax`` for TOPTW);
* arriving early means waiting; service *starts* no later than the closing time of the
  customer's window and lasts its service duration;
* travel time equals the truncated distance;
* TOPTW: at most ``m`` non-empty tours, each customer at most once; the score is the
  sum of the visited customers' scores;
* VRPTW: at most the fleet size, every customer exactly once, load within capacity;
  the cost is the total truncated distance.

:func:`check_rural` checks plans of the synthetic territories against the subset of the
planning model PyVRP can express (see :mod:`benchmarks.rural`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol


def truncated_distance(ax: Fraction, ay: Fraction, bx: Fraction, by: Fraction, decimals: int) -> Fraction:
    """Euclidean distance rounded *down* to ``decimals`` decimals, exactly.

    ``floor(sqrt(q))`` equals ``isqrt(floor(q))`` for any rational ``q >= 0``, so no
    floating point is involved: ``(3, 4)`` gives exactly 5, and coordinates such as
    ``-29.730`` do not drift across a truncation boundary.
    """
    k = 10**decimals
    dx, dy = Fraction(bx) - Fraction(ax), Fraction(by) - Fraction(ay)
    q = (dx * dx + dy * dy) * k * k
    return Fraction(math.isqrt(q.numerator // q.denominator), k)


class Point(Protocol):
    """What the checker needs of a node: coordinates, service, window (original units)."""

    @property
    def x(self) -> Fraction: ...

    @property
    def y(self) -> Fraction: ...

    @property
    def service(self) -> Fraction: ...

    @property
    def open(self) -> Fraction: ...

    @property
    def close(self) -> Fraction: ...


@dataclass(frozen=True)
class TourCheck:
    """Verdict on a set of tours: feasible or not (with every violation found)."""

    feasible: bool
    violations: tuple[str, ...]
    visited: tuple[int, ...]
    score: int
    distance: Fraction
    tours: int

    @property
    def first_violation(self) -> str:
        """The first violation, or '' when feasible."""
        return self.violations[0] if self.violations else ""


def _walk(
    nodes: Sequence[Point],
    tours: Sequence[Sequence[int]],
    decimals: int,
    violations: list[str],
) -> tuple[Fraction, list[int]]:
    """Time-feasibility of each tour from depot 0; returns (total distance, visits in order)."""
    depot = nodes[0]
    total = Fraction(0)
    visited: list[int] = []

    def dist(a: int, b: int) -> Fraction:
        return truncated_distance(nodes[a].x, nodes[a].y, nodes[b].x, nodes[b].y, decimals)

    for t, tour in enumerate(tours):
        if not tour:
            continue
        clock = depot.open
        here = 0
        for c in tour:
            if not 1 <= c < len(nodes):
                violations.append(f"tour {t}: unknown customer {c}")
                return total, visited
            d = dist(here, c)
            total += d
            start = max(clock + d, nodes[c].open)
            if start > nodes[c].close:
                late = f"starts at {float(start):g} after its window closes ({float(nodes[c].close):g})"
                violations.append(f"tour {t}: service of customer {c} {late}")
            clock = start + nodes[c].service
            here = c
            visited.append(c)
        d = dist(here, 0)
        total += d
        if clock + d > depot.close:
            violations.append(f"tour {t}: back at the depot at {float(clock + d):g} after {float(depot.close):g}")
    return total, visited


def check_toptw(
    nodes: Sequence[Point], scores: Sequence[int], tours: Sequence[Sequence[int]], m: int, decimals: int
) -> TourCheck:
    """Check TOPTW tours (lists of customer ids 1..N, depot 0 implicit at both ends)."""
    violations: list[str] = []
    used = [t for t in tours if t]
    if len(used) > m:
        violations.append(f"{len(used)} non-empty tours for m = {m}")
    distance, visited = _walk(nodes, used, decimals, violations)
    seen: set[int] = set()
    for c in visited:
        if c in seen:
            violations.append(f"customer {c} visited twice")
        seen.add(c)
    score = sum(scores[c] for c in seen)
    return TourCheck(not violations, tuple(violations), tuple(visited), score, distance, len(used))


def check_vrptw(
    nodes: Sequence[Point],
    demands: Sequence[int],
    capacity: int,
    vehicles: int,
    routes: Sequence[Sequence[int]],
    decimals: int = 1,
) -> TourCheck:
    """Check VRPTW routes: every customer once, capacity, windows, fleet size."""
    violations: list[str] = []
    used = [r for r in routes if r]
    if len(used) > vehicles:
        violations.append(f"{len(used)} routes for a fleet of {vehicles}")
    for k, route in enumerate(used):
        load = sum(demands[c] for c in route if 1 <= c < len(nodes))
        if load > capacity:
            violations.append(f"route {k}: load {load} exceeds capacity {capacity}")
    distance, visited = _walk(nodes, used, decimals, violations)
    counts: dict[int, int] = {}
    for c in visited:
        counts[c] = counts.get(c, 0) + 1
    twice = sorted(c for c, n in counts.items() if n > 1)
    missing = [c for c in range(1, len(nodes)) if c not in counts]
    if twice:
        violations.append(f"customers visited more than once: {twice[:10]}")
    if missing:
        violations.append(f"{len(missing)} customers not visited, e.g. {missing[:10]}")
    return TourCheck(not violations, tuple(violations), tuple(visited), 0, distance, len(used))


# --------------------------------------------------------------------------- rural subset


@dataclass(frozen=True)
class RuralStop:
    """A stop as the rural checker sees it: which candidate, when (week-minutes)."""

    candidate_id: int
    start: int


@dataclass(frozen=True)
class RuralRoute:
    """One route-day: resource, day, stops in order."""

    resource_id: int
    day: int
    stops: tuple[RuralStop, ...]


@dataclass(frozen=True)
class RuralCheck:
    """Verdict on a rural plan, with the figures the table reports."""

    feasible: bool
    violations: tuple[str, ...]
    stops: int
    communes: int
    demand: float
    km: float


class _Minutes(Protocol):
    def minutes_between(self, origin: int, destination: int) -> int: ...

    def metres_between(self, origin: int, destination: int) -> int: ...


def check_rural(
    problem: object,
    routes: Sequence[RuralRoute],
    *,
    one_visit_per_commune: bool = True,
) -> RuralCheck:
    """Check ``routes`` against the subset model of a :class:`routing.problem.Problem`.

    Checked: the route-day exists (and a bus has a crew); each stop lies wholly inside an
    opening window of its site on that day; the route leaves and returns inside the
    shift, with travel times from the problem's matrix for the resource's kind; the
    route-day has the candidate's skills; each candidate (and, with
    ``one_visit_per_commune``, each commune) at most once, else at most ``max_visits``
    on different days. Not checked: lunch breaks and the daily driving limit (the
    routing unit tests cover those; PyVRP cannot express them).
    """
    p = problem  # duck-typed: routing.problem.Problem
    shifts = {(s.resource_id, s.day): s for s in p.shifts}  # type: ignore[attr-defined]
    resources = {r.id: r for r in p.resources}  # type: ignore[attr-defined]
    candidates = {c.id: c for c in p.candidates}  # type: ignore[attr-defined]
    matrices: Mapping[object, _Minutes] = p.matrices  # type: ignore[attr-defined]
    violations: list[str] = []
    metres = 0
    days_of_commune: dict[int, list[int]] = {}
    days_of_candidate: dict[int, list[int]] = {}
    demand = 0.0
    n_stops = 0
    for route in routes:
        if not route.stops:
            continue
        label = f"resource {route.resource_id} day {route.day}"
        shift = shifts.get((route.resource_id, route.day))
        resource = resources.get(route.resource_id)
        if shift is None or resource is None:
            violations.append(f"{label}: no such shift")
            continue
        if resource.kind.value == "bus" and shift.crew is None:
            violations.append(f"{label}: a bus without crew")
        skills = set(resource.skills) | (set(shift.crew.skills) if shift.crew else set())
        matrix = matrices[resource.kind]
        offset = route.day * 1440
        clock = offset + shift.window.start
        here = resource.start.id
        for stop in route.stops:
            c = candidates.get(stop.candidate_id)
            if c is None:
                violations.append(f"{label}: unknown candidate {stop.candidate_id}")
                continue
            there = c.site.location.id
            clock += matrix.minutes_between(here, there)
            metres += matrix.metres_between(here, there)
            if stop.start < clock:
                violations.append(f"{label}: candidate {c.id} starts at {stop.start} before it can arrive ({clock})")
            end = stop.start + c.duration
            if not any(offset + w.start <= stop.start and end <= offset + w.end for w in c.site.opening.on(route.day)):
                violations.append(f"{label}: candidate {c.id} [{stop.start}, {end}] outside its site's opening hours")
            if not set(c.skills) <= skills:
                violations.append(f"{label}: candidate {c.id} needs {sorted(set(c.skills) - skills)}")
            clock = max(clock, end)
            here = there
            n_stops += 1
            demand += c.prize
            days_of_commune.setdefault(c.commune_id, []).append(route.day)
            days_of_candidate.setdefault(c.id, []).append(route.day)
        back = resource.end_location.id
        clock += matrix.minutes_between(here, back)
        metres += matrix.metres_between(here, back)
        if clock > offset + shift.window.end:
            violations.append(f"{label}: back at {clock}, after the shift ends ({offset + shift.window.end})")
    for cid, days in days_of_candidate.items():
        cap = 1 if one_visit_per_commune else candidates[cid].max_visits
        if len(days) > cap or len(set(days)) < len(days):
            violations.append(f"candidate {cid} visited {len(days)} times (days {sorted(days)})")
    commune_cap: dict[int, int] = {}
    for c in candidates.values():
        commune_cap[c.commune_id] = max(commune_cap.get(c.commune_id, 1), c.max_visits)
    for commune, days in days_of_commune.items():
        cap = 1 if one_visit_per_commune else commune_cap[commune]
        if len(days) > cap:
            violations.append(f"commune {commune} visited {len(days)} times (at most {cap})")
        elif len(set(days)) < len(days):
            violations.append(f"commune {commune} visited twice on one day")
    return RuralCheck(
        feasible=not violations,
        violations=tuple(violations),
        stops=n_stops,
        communes=len(days_of_commune),
        demand=round(demand, 3),
        km=round(metres / 1000.0, 1),
    )

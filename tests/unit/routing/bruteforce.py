"""Exhaustive search for the best total prize on tiny problems (no pins, max_visits = 1).

Routes are explored stop by stop with earliest-time propagation, branching on whether the
lunch break is taken in each gap (taking it as early as possible dominates). The rules
are the same as the checker's: a stop lies inside one opening window, the route leaves
and returns inside its shift, the break lies in its window, never overlaps a service, and
when it falls in a gap the gap holds the drive plus the break.
"""

from __future__ import annotations

from collections.abc import Sequence

from routing.problem import Candidate, Problem, ResourceKind, Shift, boosted_prize

DAY = 1440
INF = 10**9


def _earliest_start(c: Candidate, day: int, ready: int) -> int | None:
    for w in c.site.opening.on(day):
        s = max(ready, day * DAY + w.start)
        if s + c.duration <= day * DAY + w.end:
            return s
    return None


class _Vehicle:
    def __init__(self, problem: Problem, shift: Shift) -> None:
        r = next(r for r in problem.resources if r.id == shift.resource_id)
        self.shift = shift
        self.day = shift.day
        self.matrix = problem.matrix(r.kind)
        self.start_loc, self.end_loc = r.start.id, (r.end or r.start).id
        self.lo, self.hi = shift.week_window().start, shift.week_window().end
        self.skills = set(r.skills) | (set(shift.crew.skills) if shift.crew else set())
        self.exists = not (r.kind is ResourceKind.BUS and shift.crew is None)
        if shift.lunch:
            self.bs = self.day * DAY + shift.lunch.window.start
            self.bl = self.day * DAY + shift.lunch.latest_start
            self.L = shift.lunch.duration
        else:
            self.bs = self.bl = self.L = None  # type: ignore[assignment]

    def t(self, a: int, b: int) -> int:
        return self.matrix.minutes_between(a, b)


def _feasible_routes(v: _Vehicle, cands: Sequence[Candidate]) -> dict[frozenset[int], bool]:
    """Every set of candidate ids that vehicle ``v`` can serve in some order."""
    found: dict[frozenset[int], bool] = {frozenset(): True}
    limit = v.shift.max_driving if v.shift.max_driving is not None else INF
    has_lunch = v.L is not None

    def can_close(loc: int, end: int, lunch_done: bool, drove: int) -> bool:
        t = v.t(loc, v.end_loc)
        if drove + t > limit or end + t > v.hi:
            return False
        if lunch_done or not has_lunch:
            return True
        after_return = max(end + t, v.bs) <= v.bl
        on_the_way = max(end, v.bs) <= v.bl and end + t + v.L <= v.hi
        return after_return or on_the_way

    def extend(loc: int, end: int, lunch_done: bool, drove: int, used: frozenset[int], first: bool) -> None:
        if used and can_close(loc, end, lunch_done, drove):
            found[used] = True
        for c in cands:
            if c.id in used or not set(c.skills) <= v.skills:
                continue
            if any(o.site.commune_id == c.site.commune_id for o in cands if o.id in used):
                continue
            t = v.t(loc, c.site.location.id)
            if drove + t > limit:
                continue
            options: list[tuple[int, bool]] = []
            base = v.lo + t if first else end + t
            options.append((base, lunch_done))
            if has_lunch and not lunch_done:
                if first:
                    if v.bs >= v.lo:
                        ready = max(v.lo + t + v.L, v.bs + v.L)
                    else:
                        ready = max(v.lo, v.bs + v.L) + t
                    if v.bs <= v.bl:
                        options.append((ready, True))
                else:
                    b = max(end, v.bs)
                    if b <= v.bl:
                        options.append((max(end + t + v.L, b + v.L), True))
            for ready, done in options:
                start = _earliest_start(c, v.day, ready)
                if start is None or start + c.duration > v.hi:
                    continue
                if has_lunch and not done:
                    # the break can no longer happen before this stop: it must fit after
                    if max(start + c.duration, v.bs) > v.bl:
                        continue
                extend(c.site.location.id, start + c.duration, done, drove + t, used | {c.id}, False)

    extend(v.start_loc, v.lo, False, 0, frozenset(), True)
    return found


def best_prize(problem: Problem, *, per_week: float = 0.1, max_factor: float = 3.0) -> float:
    """Largest total (boosted) prize any feasible plan can collect."""
    cands = list(problem.candidates)
    assert all(c.max_visits == 1 and c.market_bonus == 0 for c in cands) and not problem.pins
    value = {c.id: boosted_prize(c.prize, c.weeks_since_visit, per_week=per_week, max_factor=max_factor) for c in cands}
    vehicles = [_Vehicle(problem, s) for s in problem.shifts]
    vehicles = [v for v in vehicles if v.exists]
    sets_per_vehicle = [list(_feasible_routes(v, cands)) for v in vehicles]
    commune = {c.id: c.site.commune_id for c in cands}
    best = 0.0

    def combine(k: int, used: frozenset[int], communes: frozenset[int], total: float) -> None:
        nonlocal best
        if k == len(sets_per_vehicle):
            best = max(best, total)
            return
        for s in sets_per_vehicle[k]:
            if s & used:
                continue
            cs = frozenset(commune[i] for i in s)
            if cs & communes:
                continue
            combine(k + 1, used | s, communes | cs, total + sum(value[i] for i in s))

    combine(0, frozenset(), frozenset(), 0.0)
    return best
